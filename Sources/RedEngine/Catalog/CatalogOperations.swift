import RedCore
import RedStorage

/// The catalog: which collections exist, plus free-form catalog storage for
/// the layers above. Both live in reserved collections of the keyspace and
/// change inside ordinary transactions, so DDL is transactional and two
/// concurrent creations of one name cannot both commit.
extension Transaction {
    static let registry = Collection(id: Keyspace.collectionsID, name: "__collections", metadata: [])
    static let catalogStorage = Collection(id: Keyspace.catalogID, name: "__catalog", metadata: [])
    static let system = Collection(id: Keyspace.systemID, name: "__system", metadata: [])
    static let nextCollectionIDKey = Array("next_collection_id".utf8)
    static let droppedPrefix = Array("dropped/".utf8)

    /// Creates a collection; throws `.duplicateCollection` if the name is taken.
    public func createCollection(_ name: String, metadata: [UInt8] = []) throws -> Collection {
        let nameBytes = try Self.validate(name: name)
        guard try get(Self.registry, nameBytes) == nil else {
            throw RedError(.duplicateCollection, "collection \"\(name)\" already exists")
        }
        var id = Keyspace.firstUserID
        if let stored = try get(Self.system, Self.nextCollectionIDKey) {
            var r = ByteReader(stored, context: "collection id counter")
            id = try r.u32()
        }
        guard id < UInt32.max - 1 else { throw RedError(.limitExceeded, "collection ids are exhausted") }
        var counter = ByteWriter()
        counter.u32(id + 1)
        try put(Self.system, Self.nextCollectionIDKey, counter.bytes)
        let collection = Collection(id: id, name: name, metadata: metadata)
        try put(Self.registry, nameBytes, collection.encodeEntry())
        return collection
    }

    /// The collection called `name`; throws `.undefinedCollection` if there is none.
    public func collection(named name: String) throws -> Collection {
        guard let found = try collectionIfExists(named: name) else {
            throw RedError(.undefinedCollection, "collection \"\(name)\" does not exist")
        }
        return found
    }

    public func collectionIfExists(named name: String) throws -> Collection? {
        let nameBytes = try Self.validate(name: name)
        guard let entry = try get(Self.registry, nameBytes) else { return nil }
        return try Collection.decodeEntry(name: name, entry)
    }

    /// Every collection, ordered by name.
    public func collections() throws -> [Collection] {
        try scan(Self.registry).collect().map { entry in
            try Collection.decodeEntry(name: String(decoding: entry.key, as: UTF8.self), entry.value)
        }
    }

    /// The collections whose names start with `prefix`, ordered by name.
    public func collections(startingWith prefix: String) throws -> [Collection] {
        try scan(Self.registry, .prefix(Array(prefix.utf8))).collect().map { entry in
            try Collection.decodeEntry(name: String(decoding: entry.key, as: UTF8.self), entry.value)
        }
    }

    /// Replaces the metadata stored with a collection.
    @discardableResult
    public func setMetadata(_ metadata: [UInt8], of name: String) throws -> Collection {
        let existing = try collection(named: name)
        let updated = Collection(id: existing.id, name: name, metadata: metadata)
        try put(Self.registry, Array(name.utf8), updated.encodeEntry())
        return updated
    }

    /// Renames a collection, keeping its id (so its records and handles stay valid).
    @discardableResult
    public func renameCollection(_ name: String, to newName: String) throws -> Collection {
        let existing = try collection(named: name)
        let newBytes = try Self.validate(name: newName)
        guard try get(Self.registry, newBytes) == nil else {
            throw RedError(.duplicateCollection, "collection \"\(newName)\" already exists")
        }
        _ = try delete(Self.registry, Array(name.utf8))
        let renamed = Collection(id: existing.id, name: newName, metadata: existing.metadata)
        try put(Self.registry, newBytes, renamed.encodeEntry())
        return renamed
    }

    /// Drops a collection. Its records disappear from later snapshots at once and are
    /// reclaimed in the background once no open snapshot can still see them.
    public func dropCollection(named name: String) throws {
        let existing = try collection(named: name)
        try delete(Self.registry, Array(name.utf8))
        var marker = ByteWriter()
        marker.u32(existing.id)
        try put(Self.system, Self.droppedPrefix + Keyspace.prefix(existing.id), marker.bytes)
        state.withLock { $0.dropsCollection = true }
        // A writer that began before the drop must not commit rows into the dropped id.
        noteDefinitionChange(of: existing, basedOnData: false)
    }

    // MARK: Catalog storage

    public func catalogGet(_ key: [UInt8]) throws -> [UInt8]? { try get(Self.catalogStorage, key) }
    public func catalogPut(_ key: [UInt8], _ value: [UInt8]) throws { try put(Self.catalogStorage, key, value) }
    @discardableResult
    public func catalogDelete(_ key: [UInt8]) throws -> Bool { try delete(Self.catalogStorage, key) }
    public func catalogScan(_ range: KeyRange = .all) throws -> RangeCursor { try scan(Self.catalogStorage, range) }

    static func validate(name: String) throws -> [UInt8] {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= Collection.maxNameBytes else {
            throw RedError(.invalidArgument, "collection names must be 1 to \(Collection.maxNameBytes) bytes of UTF-8")
        }
        return bytes
    }
}
