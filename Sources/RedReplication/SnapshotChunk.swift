import RedCore

/// One message of a replication snapshot (`ReplicationSnapshotStream`): keys copied from the
/// primary at one snapshot. `entries` holds, little-endian and back to back,
/// `u32 collection id | u16 key length | key | u32 value length | u32 offset | u32 part length | part`;
/// a value longer than a chunk is split into parts at increasing offsets (the same key,
/// consecutive, possibly across chunks).
public struct SnapshotChunk: Sendable, Equatable {
    /// The LSN the snapshot is consistent with (every chunk carries it).
    public var snapshotLSN: UInt64
    public var entries: [UInt8]
    public var entryCount: Int
    public var done: Bool
    /// The first chunk names the primary (its `ReplicationPrimary.primaryID`).
    public var primaryID: String?

    public init(snapshotLSN: UInt64, entries: [UInt8], entryCount: Int, done: Bool, primaryID: String? = nil) {
        self.snapshotLSN = snapshotLSN
        self.entries = entries
        self.entryCount = entryCount
        self.done = done
        self.primaryID = primaryID
    }

    /// Target size of one chunk's entries.
    public static let targetBytes = 1 << 20

    public struct Entry: Sendable, Equatable {
        public var collectionID: UInt32
        public var key: [UInt8]
        public var valueLength: Int
        public var offset: Int
        public var part: [UInt8]
    }

    public static func append(_ entry: Entry, to writer: inout ByteWriter) {
        writer.u32(entry.collectionID)
        writer.u16(UInt16(entry.key.count))
        writer.append(entry.key)
        writer.u32(UInt32(entry.valueLength))
        writer.u32(UInt32(entry.offset))
        writer.u32(UInt32(entry.part.count))
        writer.append(entry.part)
    }

    /// The entries, checked: lengths within the engine's limits and the message.
    public func decodedEntries() throws -> [Entry] {
        var r = ByteReader(entries, context: "replication snapshot chunk")
        var out: [Entry] = []
        while !r.isAtEnd {
            let id = try r.u32()
            let keyLength = Int(try r.u16())
            guard keyLength <= Limits.maxKeyBytes else { throw RedError(.protocolViolation, "replication snapshot: key of \(keyLength) bytes") }
            let key = try r.take(keyLength)
            let valueLength = Int(try r.u32()), offset = Int(try r.u32()), partLength = Int(try r.u32())
            guard valueLength <= Limits.maxValueBytes, offset <= valueLength, partLength <= valueLength - offset else {
                throw RedError(.protocolViolation, "replication snapshot: a value part does not fit its value")
            }
            out.append(Entry(collectionID: id, key: key, valueLength: valueLength, offset: offset, part: try r.take(partLength)))
        }
        return out
    }
}
