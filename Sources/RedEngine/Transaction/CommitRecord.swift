import RedCore

/// A committed transaction as written to the WAL (record kind `kind`).
///
/// The WAL is a *logical* redo log: replaying a commit record re-applies its
/// mutations at its commit timestamp, which gives the same tree no matter
/// which pages a checkpoint had or had not written.
/// ```
/// u64 commitTS | varint count | count × mutation
/// mutation: u8 op | varint collectionID | varint keyLength | key | (op 1) varint valueLength | value
/// op 1 = put, 2 = delete, 3 = delete every key of the collection (drop),
/// op 4 = the commit's wall-clock time: collection 0, an 8-byte "key" holding the
///        Unix milliseconds (little-endian); always first, not counted as a write
/// op 5 = a change-feed change (`PendingChange.encoded`), collection 0, in place of the key;
///        last, and only on a replication primary, whose replicas republish them
/// ```
/// `commitTS` and the time are patched in after encoding (they are assigned under
/// the commit lock, while the bytes are built outside it). The time is what
/// point-in-time restore cuts at (`StorageEngine.commitTime(ofRecord:)`); records
/// written before it existed have none.
struct CommitRecord {
    static let kind: UInt8 = 1

    enum Mutation: Equatable {
        case put(key: [UInt8], value: [UInt8])
        case delete(key: [UInt8])
        case deleteCollection(id: UInt32)

        /// The tree key a put or delete writes.
        var key: [UInt8]? {
            switch self {
            case .put(let key, _), .delete(let key): return key
            case .deleteCollection: return nil
            }
        }
    }

    var commitTS: UInt64
    var mutations: [Mutation]
    /// Unix milliseconds at commit; nil in records older than the time mutation.
    var commitTime: Int64? = nil
    /// The change-feed changes a primary logged with the commit.
    var changes: [PendingChange] = []
    static let changeOp: UInt8 = 5

    static let timeOp: UInt8 = 4
    /// Where the time's 8 bytes start when the count's varint is `countBytes` long.
    static func timeOffset(countBytes: Int) -> Int { 8 + countBytes + 3 }

    /// Encodes with commitTS 0 at offset 0; patch it with `patchCommitTS`.
    static func encode(_ mutations: [Mutation]) -> [UInt8] { encode([], then: mutations) }

    /// Encodes the key writes of `runs`, then `extra`, as one record: what a commit writes,
    /// without first building a `Mutation` per key.
    static func encode(_ runs: [KeyWrites], then extra: [Mutation], changes: [[UInt8]] = []) -> [UInt8] {
        // An upper bound: op, collection id, two lengths (varints of at most 5, 5, 10 and 10 bytes).
        let perWrite = 1 + 5 + 10 + 10
        var bound = 8 + 10 + 11 + extra.count * (perWrite + 4) + changes.reduce(0) { $0 + 1 + 1 + 10 + $1.count }
        var keyCount = 0
        for run in runs {
            keyCount += run.count
            for write in run.writes { bound += perWrite + write.key.count + (write.value?.count ?? 0) }
        }
        for m in extra {
            if case .put(let k, let v) = m { bound += k.count + v.count } else if let k = m.key { bound += k.count }
        }
        return [UInt8](unsafeUninitializedCapacity: bound) { buffer, written in
            var w = RawByteWriter(buffer.baseAddress!)
            w.u64(0)
            w.varint(UInt64(keyCount + extra.count + 1 + changes.count))
            w.u8(timeOp)  // the time, patched in at commit
            w.varint(0)
            w.varint(8)
            w.u64(0)
            // Takes the writer as an argument: a nested function capturing `w` would box it and
            // check exclusive access to it at run time on every key.
            func keyWrite(_ w: inout RawByteWriter, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer?) {
                w.u8(value == nil ? 2 : 1)
                w.varint(UInt64(Keyspace.collectionID(of: key)))
                w.lengthPrefixed(UnsafeRawBufferPointer(rebasing: key[4...]))
                if let value { w.lengthPrefixed(value) }
            }
            for run in runs {
                for write in run.writes { keyWrite(&w, write.key, write.value) }
            }
            for m in extra {
                switch m {
                case .put(let key, let value):
                    key.withUnsafeBytes { k in value.withUnsafeBytes { keyWrite(&w, k, $0) } }
                case .delete(let key):
                    key.withUnsafeBytes { keyWrite(&w, $0, nil) }
                case .deleteCollection(let id):
                    w.u8(3)
                    w.varint(UInt64(id))
                    w.varint(0)
                }
            }
            for change in changes {
                w.u8(changeOp)
                w.varint(0)
                change.withUnsafeBytes { w.lengthPrefixed($0) }
            }
            written = w.pointer - buffer.baseAddress!
            precondition(written <= bound, "commit record overran its bound")
        }
    }

    /// The leading puts and deletes of `mutations` as parallel arrays, and what follows them:
    /// the shape `StorageEngine.apply` takes (a commit writes its keys first, in order).
    static func splitLeadingKeyWrites(_ mutations: [Mutation]) -> (keys: [[UInt8]], writes: [Transaction.Write], rest: [Mutation]) {
        var keys: [[UInt8]] = []
        var writes: [Transaction.Write] = []
        var i = 0
        loop: while i < mutations.count {
            switch mutations[i] {
            case .put(let key, let value):
                keys.append(key)
                writes.append(.put(value))
            case .delete(let key):
                keys.append(key)
                writes.append(.delete)
            case .deleteCollection:
                break loop
            }
            i += 1
        }
        return (keys, writes, Array(mutations[i...]))
    }

    static func patchCommitTS(_ bytes: inout [UInt8], _ ts: UInt64) {
        for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: ts >> (8 * UInt64(i))) }
    }

    /// Writes the commit's wall-clock time into a record `encode` built (it always has the slot).
    static func patchCommitTime(_ bytes: inout [UInt8], _ unixMilliseconds: Int64) {
        let offset = timeOffset(countBytes: varintLength(bytes, at: 8))
        precondition(bytes[offset - 3] == timeOp, "commit record without a time slot")
        for i in 0..<8 { bytes[offset + i] = UInt8(truncatingIfNeeded: UInt64(bitPattern: unixMilliseconds) >> (8 * UInt64(i))) }
    }

    /// The commit time of an encoded record, read without decoding its writes; nil when it has none.
    static func commitTime(of bytes: [UInt8]) -> Int64? {
        guard bytes.count > 8 else { return nil }
        let offset = timeOffset(countBytes: varintLength(bytes, at: 8))
        guard offset + 8 <= bytes.count, bytes[offset - 3] == timeOp, bytes[offset - 2] == 0, bytes[offset - 1] == 8 else { return nil }
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        return Int64(bitPattern: value)
    }

    private static func varintLength(_ bytes: [UInt8], at start: Int) -> Int {
        var i = start
        while i < bytes.count, bytes[i] & 0x80 != 0 { i += 1 }
        return i - start + 1
    }

    static func decode(_ bytes: [UInt8], lsn: UInt64) throws -> CommitRecord {
        var r = ByteReader(bytes, context: "WAL commit record at LSN \(lsn)")
        let ts = try r.u64()
        let count = try r.count(limit: Limits.maxTransactionBytes, "mutation count")
        var mutations: [Mutation] = []
        mutations.reserveCapacity(min(count, 1 << 20))
        var time: Int64?
        var changes: [PendingChange] = []
        for _ in 0..<count {
            let op = try r.u8()
            let collection = try r.count(limit: Int(UInt32.max), "collection id")
            if op == changeOp {
                guard collection == 0 else { throw RedError(.dataCorrupted, "WAL commit record at LSN \(lsn): malformed change") }
                changes.append(try PendingChange(encoded: try r.lengthPrefixed(limit: Limits.maxValueBytes)))
                continue
            }
            guard changes.isEmpty else { throw RedError(.dataCorrupted, "WAL commit record at LSN \(lsn): a write after its changes") }
            let userKey = try r.lengthPrefixed(limit: Limits.maxKeyBytes)
            if op == timeOp {
                guard collection == 0, userKey.count == 8, time == nil, mutations.isEmpty else {
                    throw RedError(.dataCorrupted, "WAL commit record at LSN \(lsn): malformed commit time")
                }
                time = Int64(bitPattern: userKey.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
                continue
            }
            let key = Keyspace.key(UInt32(collection), userKey)
            switch op {
            case 1: mutations.append(.put(key: key, value: try r.lengthPrefixed(limit: Limits.maxValueBytes)))
            case 2: mutations.append(.delete(key: key))
            case 3: mutations.append(.deleteCollection(id: UInt32(collection)))
            default: throw RedError(.dataCorrupted, "WAL commit record at LSN \(lsn): unknown mutation \(op)")
            }
        }
        guard r.isAtEnd else { throw RedError(.dataCorrupted, "WAL commit record at LSN \(lsn): trailing bytes") }
        return CommitRecord(commitTS: ts, mutations: mutations, commitTime: time, changes: changes)
    }
}

/// All collections share one ordered keyspace: a tree key is the collection
/// id (4 bytes, big-endian, so a collection's keys are contiguous and ordered)
/// followed by the user's key.
enum Keyspace {
    /// Registry of collections: name → `CollectionEntry`.
    static let collectionsID: UInt32 = 0
    /// Free-form catalog storage for the layers above (schemas, views, settings).
    static let catalogID: UInt32 = 1
    /// Engine bookkeeping: the collection id counter and drop markers.
    static let systemID: UInt32 = 2
    /// First id handed to a user collection.
    static let firstUserID: UInt32 = 16

    static func key(_ collection: UInt32, _ userKey: [UInt8]) -> [UInt8] {
        var k = [UInt8]()
        k.reserveCapacity(4 + userKey.count)
        k.append(UInt8(truncatingIfNeeded: collection >> 24))
        k.append(UInt8(truncatingIfNeeded: collection >> 16))
        k.append(UInt8(truncatingIfNeeded: collection >> 8))
        k.append(UInt8(truncatingIfNeeded: collection))
        k.append(contentsOf: userKey)
        return k
    }

    static func prefix(_ collection: UInt32) -> [UInt8] { key(collection, []) }

    /// The tree key of row `rid` of `collection` (its user key is the rid, 8 bytes big-endian).
    /// Calls `body` with it, built on the stack.
    static func withRowKey<R>(_ collection: UInt32, rid: Int64, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var key: (UInt64, UInt64) = (0, 0)
        return try withUnsafeMutableBytes(of: &key) { out in
            out.storeBytes(of: collection.bigEndian, toByteOffset: 0, as: UInt32.self)
            out.storeBytes(of: UInt64(bitPattern: rid).bigEndian, toByteOffset: 4, as: UInt64.self)
            return try body(UnsafeRawBufferPointer(rebasing: out[0..<12]))
        }
    }

    /// A tree key for error messages: "collection 17, key 0x616263".
    static func describe(_ key: [UInt8]) -> String {
        guard key.count >= 4 else { return "key of \(key.count) bytes" }
        let hex = key[4...].prefix(64).map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
        return "collection \(collectionID(of: key)), key 0x\(hex)\(key.count > 68 ? "…" : "")"
    }

    static func collectionID(of key: [UInt8]) -> UInt32 {
        UInt32(key[0]) << 24 | UInt32(key[1]) << 16 | UInt32(key[2]) << 8 | UInt32(key[3])
    }

    static func collectionID(of key: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(bigEndian: key.loadUnaligned(as: UInt32.self))
    }
}
