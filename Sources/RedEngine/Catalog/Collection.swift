import RedCore
import RedStorage

/// A named collection: an ordered map from keys to values inside the one
/// keyspace. Tables, documents, KV stores … are all built on collections.
///
/// Handles are obtained from a transaction (`createCollection`,
/// `collection(named:)`); their `id` is never reused, so a handle to a
/// dropped collection simply sees nothing in later snapshots.
public struct Collection: Sendable, Hashable {
    public let id: UInt32
    public let name: String
    /// Free-form bytes the layer above stores with the collection (e.g. a table schema).
    public let metadata: [UInt8]

    init(id: UInt32, name: String, metadata: [UInt8]) {
        self.id = id
        self.name = name
        self.metadata = metadata
    }

    /// Longest collection name, in UTF-8 bytes.
    public static let maxNameBytes = 255

    /// Registry value: `u32 id | varint length | metadata`.
    func encodeEntry() -> [UInt8] {
        var w = ByteWriter()
        w.u32(id)
        w.lengthPrefixed(metadata)
        return w.bytes
    }

    static func decodeEntry(name: String, _ bytes: [UInt8]) throws -> Collection {
        var r = ByteReader(bytes, context: "catalog entry for collection \(name)")
        let id = try r.u32()
        let metadata = try r.lengthPrefixed(limit: Limits.maxValueBytes)
        return Collection(id: id, name: name, metadata: metadata)
    }
}

/// Bounds of a key range within one collection.
public struct KeyRange: Sendable, Equatable {
    public var lower: [UInt8]?
    public var lowerInclusive: Bool
    public var upper: [UInt8]?
    public var upperInclusive: Bool

    public init(lower: [UInt8]? = nil, lowerInclusive: Bool = true, upper: [UInt8]? = nil, upperInclusive: Bool = false) {
        self.lower = lower
        self.lowerInclusive = lowerInclusive
        self.upper = upper
        self.upperInclusive = upperInclusive
    }

    /// Every key.
    public static let all = KeyRange()

    /// Index keys whose leading values are exactly the complete value encodings in `values`
    /// (see `KeyEncoding.end(ofValues:)`; `prefix` would also take in longer numerics).
    public static func values(_ values: [UInt8]) -> KeyRange {
        KeyRange(lower: values, upper: KeyEncoding.end(ofValues: values))
    }

    /// Keys starting with `prefix`.
    public static func prefix(_ prefix: [UInt8]) -> KeyRange {
        var upper = prefix
        while let last = upper.last, last == 0xFF { upper.removeLast() }
        if upper.isEmpty { return KeyRange(lower: prefix) }
        upper[upper.count - 1] += 1
        return KeyRange(lower: prefix, upper: upper)
    }

    func contains(_ key: [UInt8]) -> Bool {
        if let lower {
            let c = compareKeys(key, lower)
            if c < 0 || (c == 0 && !lowerInclusive) { return false }
        }
        if let upper {
            let c = compareKeys(key, upper)
            if c > 0 || (c == 0 && !upperInclusive) { return false }
        }
        return true
    }
}
