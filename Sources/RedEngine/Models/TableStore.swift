import RedCore
import RedStorage
import Synchronization

/// An opened collection: its engine handle, decoded schema and index storage.
public struct TableHandle: Sendable {
    public let collection: Collection
    public let schema: CollectionSchema
    /// Engine collections of `schema.indexes`, in the same order.
    public let indexCollections: [Collection]
    /// `schema.indexes` with their collections, as objects: inserting a row passes each by
    /// reference, where an `IndexDefinition` (three reference-counted fields) was copied,
    /// retained and released per row and index.
    let indexTargets: [IndexTarget]
    /// The name SQL calls it by: a temporary table's own, without its namespace.
    public let name: String
    /// A session's temporary table (`TemporaryNamespace`).
    public let isTemporary: Bool
    /// The name within its schema (`app.t` → `t`; `SchemaCatalog`), which the names PostgreSQL
    /// generates for its constraints and indexes start with.
    public var localName: String { Self.localName(of: name) }

    /// A name that reaches exactly this table whatever the search path (`public.t`, `app.t`; a
    /// temporary table's own): what statements run on the engine's behalf name it by.
    public var exactName: String { isTemporary ? name : SchemaCatalog.exact(name) }

    /// `app.t` → `t`: the name PostgreSQL's messages give a relation (its `relname`).
    public static func localName(of name: String) -> String {
        name.firstIndex(of: ".").map { String(name[name.index(after: $0)...]) } ?? name
    }
    /// How many unique indexes the table has: the most keys a row takes (`TableStore.uniqueKeys`).
    public var uniqueIndexCount: Int { schema.indexes.count { $0.unique } }
    /// What computes each index's entries, in `schema.indexes` order: nil for a plain index.
    public var indexPrograms: [(any IndexRowProgram)?] { indexTargets.map(\.program) }

    /// `programs`: for each index, in order, what computes an expression or partial index's
    /// entries (nil for a plain one).
    init(collection: Collection, schema: CollectionSchema, indexCollections: [Collection], programs: [(any IndexRowProgram)?] = []) {
        self.collection = collection
        isTemporary = TemporaryNamespace.isTemporary(collection.name)
        name = isTemporary ? TemporaryNamespace.displayName(of: collection.name) : collection.name
        self.schema = schema
        self.indexCollections = indexCollections
        indexTargets = zip(schema.indexes, indexCollections).enumerated().map { i, pair in
            IndexTarget(pair.0, pair.1, program: i < programs.count ? programs[i] : nil)
        }
    }
}

/// One index of a table and the engine collection holding its entries (see `TableHandle.indexTargets`).
final class IndexTarget: Sendable {
    let definition: IndexDefinition
    let storage: Collection
    /// Computes the entries of an expression or partial index; nil for a plain one.
    let program: (any IndexRowProgram)?

    init(_ definition: IndexDefinition, _ storage: Collection, program: (any IndexRowProgram)?) {
        self.definition = definition
        self.storage = storage
        self.program = program
    }
}

/// Row and index maintenance for tables, documents and KV stores, inside a
/// caller's transaction.
///
/// Invariants:
/// - Every row write updates every index of the table in the same transaction.
/// - A unique index entry whose values hold no NULL is keyed by the values alone,
///   so two transactions inserting the same value write the same key: the probe
///   of the second finds a committed one (23505, even one committed after its
///   snapshot), and if both are in flight the second to commit gets 40001 (first
///   committer wins) instead of a duplicate. (INSERT locks its unique keys first,
///   `uniqueKeys`, so that the second waits for the first to end instead.)
///   Entries with a NULL (which never conflicts, as in PostgreSQL) and all
///   non-unique entries append the rid to stay distinct.
/// - Row ids come from an in-memory counter per collection, seeded from the
///   highest stored key on first use: allocation never conflicts, and ids are
///   never reused while the process runs (gaps after rollbacks are fine).
public final class TableStore: Sendable {
    public let engine: StorageEngine
    /// The last row id handed out per collection (`reserveRowIDs`, `giveBack`).
    let ridCounters = Mutex<[UInt32: Int64]>([:])
    private let schemaCache = Mutex<[UInt32: (metadata: [UInt8], schema: CollectionSchema)]>([:])
    /// Opened handles by name, valid for the catalog version they were read at (see `open`).
    private let handleCache = Mutex<[String: (version: UInt64, handle: TableHandle?)]>([:])
    static let maxCachedHandles = 4096

    /// Longest index key in bytes (values plus rid).
    public static let maxIndexKeyBytes = 1000

    /// Sequences' values (their definitions are catalog records, read through a transaction).
    public let sequences: SequenceRegistry
    private let indexCompiler = Mutex<(any IndexProgramCompiler)?>(nil)

    /// In-memory copies of vector collections' vectors, for searches.
    public let vectorItems: VectorItemCache

    public init(engine: StorageEngine) {
        self.engine = engine
        self.vectorItems = VectorItemCache(budgetBytes: engine.options.vectorCacheBytes)
        self.sequences = SequenceRegistry(engine: engine)
    }

    /// The query layer's compiler of expression and partial indexes (the database installs it
    /// when it opens). Without one, writes to a table with such an index fail.
    public func install(indexCompiler: any IndexProgramCompiler) {
        self.indexCompiler.withLock { $0 = indexCompiler }
        handleCache.withLock { $0.removeAll() }
    }

    static func indexStorageName(collectionID: UInt32, number: UInt32) -> String { "__index/\(collectionID)/\(number)" }

    // MARK: Opening and DDL

    /// The collection called `name` as `tx` sees it, or nil.
    ///
    /// Opening reads the registry (and each index's entry) through the transaction, a few
    /// tree lookups. While no DDL has committed since, the result is the same for every
    /// transaction whose snapshot includes the latest DDL, so it is cached per catalog
    /// version; transactions that changed the catalog themselves, or see an older
    /// catalog, always read it.
    ///
    /// A temporary table of the transaction's session hides a permanent one of the same name;
    /// its collection name (a sequence's owner) reaches it too. An unqualified name is then
    /// looked up along the search path (`SchemaCatalog.candidates`): this is the lookup for
    /// names a user wrote; a name the catalog keeps (a foreign key's table) is exact, and is
    /// opened with `open(_:_:temporary:)`.
    public func open(_ tx: Transaction, _ name: String) throws -> TableHandle? {
        let (unqualified, temporaryOnly) = TemporaryNamespace.unqualified(name)
        if temporaryOnly { return try open(tx, unqualified, temporary: true) }
        if let namespace = tx.temporaryNamespace, namespace.isUsed {
            if let temporary = try openCollection(tx, namespace.physicalName(name)) {
                namespace.noteOpened()
                return temporary
            }
            if namespace.owns(name) { return try openCollection(tx, name) }
        }
        guard !name.hasPrefix("__") else { return nil }
        if tx.searchPath == nil, !name.hasPrefix("public.") { return try openCollection(tx, name) }  // most statements: no array made
        for candidate in SchemaCatalog.candidates(for: name, tx) {
            if let handle = try openCollection(tx, candidate) { return handle }
        }
        return nil
    }

    /// The permanent table a name a user wrote means: along the search path when unqualified
    /// (a foreign key's REFERENCES, which never reaches a temporary table from a permanent one).
    public func openPermanent(_ tx: Transaction, named name: String) throws -> TableHandle? {
        guard !name.hasPrefix("__"), !TemporaryNamespace.isTemporary(name) else { return nil }
        for candidate in SchemaCatalog.candidates(for: name, tx) {
            if let handle = try openCollection(tx, candidate) { return handle }
        }
        return nil
    }

    func openCollection(_ tx: Transaction, _ name: String) throws -> TableHandle? {
        let state = engine.catalogState
        let cacheable = tx.snapshot >= state.changeTS && !tx.hasCatalogWrites
        if cacheable, let hit = handleCache.withLock({ $0[name] }), hit.version == state.version { return hit.handle }
        var opened: TableHandle?
        if let collection = try tx.collectionIfExists(named: name) { opened = try handle(tx, collection) }
        if cacheable {
            handleCache.withLock { cache in
                if cache.count >= Self.maxCachedHandles { cache.removeAll(keepingCapacity: true) }
                cache[name] = (state.version, opened)
            }
        }
        return opened
    }

    func handle(_ tx: Transaction, _ collection: Collection) throws -> TableHandle {
        let schema = try decodeSchema(collection)
        var indexCollections: [Collection] = []
        for index in schema.indexes { indexCollections.append(try tx.collection(named: index.storageName)) }
        guard !schema.indexes.allSatisfy(\.isPlain) else {
            return TableHandle(collection: collection, schema: schema, indexCollections: indexCollections)
        }
        let compiler = indexCompiler.withLock { $0 }
        let programs = schema.indexes.map { index -> (any IndexRowProgram)? in
            guard !index.isPlain else { return nil }
            guard let compiler else {
                return UnavailableIndexProgram(error: RedError(.featureNotSupported, "index \"\(index.name)\" indexes expressions, which need the SQL layer to compute"))
            }
            do {
                return try compiler.compile(index, table: TemporaryNamespace.displayName(of: collection.name), schema: schema, tx: tx, store: self)
            } catch {
                return UnavailableIndexProgram(error: RedError(.internalError, "index \"\(index.name)\" cannot be computed: \(error)"))
            }
        }
        return TableHandle(collection: collection, schema: schema, indexCollections: indexCollections, programs: programs)
    }

    func decodeSchema(_ collection: Collection) throws -> CollectionSchema {
        if let cached = schemaCache.withLock({ $0[collection.id] }), cached.metadata == collection.metadata { return cached.schema }
        let schema = try CollectionSchema.decode(collection.metadata, collection: collection.name)
        schemaCache.withLock { $0[collection.id] = (collection.metadata, schema) }
        return schema
    }

    /// User-visible collections (tables, documents, KV stores), ordered by name.
    public func list(_ tx: Transaction) throws -> [TableHandle] {
        try tx.collections().filter { !$0.name.hasPrefix("__") }.map { try handle(tx, $0) }
    }

    /// Creates a table; a `temporary` one in the transaction's session's namespace, any other
    /// by its stored name (`app.t` is schema `app`'s, `public.t` and `t` public's). SQL has
    /// chosen the schema and checked it exists (`SchemaCatalog.creationName`); the other
    /// surfaces name collections freely, dots included, as before schemas.
    public func create(_ tx: Transaction, _ name: String, schema: CollectionSchema, temporary: Bool = false) throws -> TableHandle {
        guard !name.hasPrefix("__") else { throw RedError(.invalidArgument, "names starting with \"__\" are reserved: \(name)") }
        guard !name.hasPrefix(TemporaryNamespace.qualifier) else {
            throw RedError(.featureNotSupported, "only tables can be temporary (\(name))")
        }
        let physical = try temporary ? Self.temporaryName(tx, name) : SchemaCatalog.canonical(name)
        // Its name within its schema, which its constraints' names start with (`items_pkey`).
        let name = temporary ? name : try SchemaCatalog.split(physical, tx).name
        if try tx.collectionIfExists(named: physical) != nil {
            throw RedError(.duplicateCollection, "relation \"\(name)\" already exists")
        }
        let collection = try tx.createCollection(physical, metadata: schema.encoded())
        // PRIMARY KEY and UNIQUE columns get their constraint index now.
        var handle = TableHandle(collection: collection, schema: schema, indexCollections: [])
        // Named as PostgreSQL names them: `<table>_pkey`, `<table>_<column>_key`.
        for column in schema.columns where column.primaryKey || column.unique {
            handle = try createIndex(tx, handle, name: column.primaryKey ? "\(name)_pkey" : "\(name)_\(column.name)_key", columnIDs: [column.id],
                                     unique: true, method: .btree, isConstraint: true, now: 0)
        }
        return handle
    }

    /// Stores a new definition of the table. A `structural` change (the default: columns,
    /// indexes, constraints, …) conflicts with concurrent writes to the table, whichever
    /// commits later failing with 40001 (`CollectionStamps`); operator marks and bookkeeping
    /// flags, which no write depends on, pass false.
    public func setSchema(_ tx: Transaction, _ handle: TableHandle, _ schema: CollectionSchema, structural: Bool = true) throws -> TableHandle {
        if structural { tx.noteDefinitionChange(of: handle.collection, basedOnData: true) }
        let collection = try tx.setMetadata(schema.encoded(), of: handle.collection.name)
        return try self.handle(tx, collection)
    }

    /// Renames a table within its schema (`ALTER TABLE app.t RENAME TO u` makes `app.u`).
    public func rename(_ tx: Transaction, _ handle: TableHandle, to newName: String) throws -> TableHandle {
        guard !newName.hasPrefix("__") else { throw RedError(.invalidArgument, "names starting with \"__\" are reserved: \(newName)") }
        // A dotted new name would read as another schema's relation (`SchemaCatalog`).
        if !handle.isTemporary, let dot = newName.firstIndex(of: "."), try SchemaCatalog.exists(String(newName[..<dot]), tx) {
            throw RedError(.featureNotSupported, "a table cannot be renamed into another schema (\(newName))")
        }
        let physical = try handle.isTemporary ? Self.temporaryName(tx, newName)
            : SchemaCatalog.physicalName(newName, inSchema: SchemaCatalog.split(handle.collection.name, tx).schema)
        if try tx.collectionIfExists(named: physical) != nil {
            throw RedError(.duplicateCollection, "relation \"\(newName)\" already exists")
        }
        return try self.handle(tx, try tx.renameCollection(handle.collection.name, to: physical))
    }

    public func drop(_ tx: Transaction, _ handle: TableHandle) throws {
        for index in handle.schema.indexes { try tx.dropCollection(named: index.storageName) }
        try tx.dropCollection(named: handle.collection.name)
    }

    /// Creates an index and fills it from the visible rows; duplicates in a unique index fail with 23505.
    /// `expressions` and `predicate` make an expression or partial index (see `IndexDefinition`).
    public func createIndex(_ tx: Transaction, _ handle: TableHandle, name: String, columnIDs: [UInt16], unique: Bool,
                            method: IndexDefinition.Method, isConstraint: Bool, primaryKey: Bool = false,
                            expressions: [String?]? = nil, predicate: String? = nil, nullsNotDistinct: Bool = false,
                            now: Int64) throws -> TableHandle {
        var schema = handle.schema
        let storageName = Self.indexStorageName(collectionID: handle.collection.id, number: schema.nextIndexNumber)
        schema.nextIndexNumber += 1
        var definition = IndexDefinition(name: name, columnIDs: columnIDs, unique: unique, method: method,
                                         storageName: storageName, isConstraint: isConstraint)
        if primaryKey { definition.primaryKey = true }
        definition.expressions = expressions
        definition.predicate = predicate
        if nullsNotDistinct, unique { definition.nullsNotDistinct = true }
        _ = try tx.createCollection(storageName)
        schema.indexes.append(definition)
        let updated = try setSchema(tx, handle, schema)
        try fillIndex(tx, updated, updated.indexTargets[updated.indexTargets.count - 1], now: now)
        return updated
    }

    /// Rebuilds an index from the visible rows (REINDEX), in place: every entry this
    /// transaction sees is deleted and every visible row's entry written again, in the index's
    /// own storage. Concurrent writers therefore conflict with it on the entries both touch
    /// (first committer wins, 40001 for the other), and an entry a writer adds meanwhile is
    /// never lost, as it would be with fresh storage the writer does not know of. Stale
    /// entries go; the definition, its place and its storage stay; the index is marked ready.
    /// A unique index over duplicate rows fails with 23505.
    public func rebuildIndex(_ tx: Transaction, _ handle: TableHandle, named name: String, now: Int64) throws -> TableHandle {
        guard let position = handle.schema.indexes.firstIndex(where: { $0.name == name }) else {
            throw RedError(.undefinedObject, "index \"\(name)\" does not exist")
        }
        var updated = handle
        if handle.schema.indexes[position].status != nil {
            var schema = handle.schema
            schema.indexes[position].status = nil
            updated = try setSchema(tx, handle, schema, structural: false)
        }
        let target = updated.indexTargets[position]
        let entries = try tx.scan(target.storage)
        var keys: [[UInt8]] = []
        while let (key, _) = try entries.next() { keys.append(key) }
        for key in keys { _ = try tx.delete(target.storage, key) }
        try fillIndex(tx, updated, target, now: now)
        return updated
    }

    /// Adds every visible row of the table to a new, empty index.
    private func fillIndex(_ tx: Transaction, _ handle: TableHandle, _ target: IndexTarget, now: Int64) throws {
        let cursor = try tx.scan(handle.collection)
        while let entry = try cursor.next() {
            let row = try StoredRow.decode(rid: StoredRow.rid(fromKey: entry.key), entry.value)
            try insertIndexEntry(tx, handle, target, row, now: now)
        }
    }

    /// Sets an index's marks (nil leaves one as it is); see `IndexDefinition.status`.
    public func markIndex(_ tx: Transaction, _ handle: TableHandle, named name: String,
                          status: IndexDefinition.Status?, enabled: Bool?) throws -> (TableHandle, IndexDefinition) {
        var schema = handle.schema
        guard let position = schema.indexes.firstIndex(where: { $0.name == name }) else {
            throw RedError(.undefinedCollection, "relation \"\(name)\" does not exist")
        }
        if let status { schema.indexes[position].status = status == .ready ? nil : status }
        if let enabled { schema.indexes[position].enabled = enabled ? nil : false }
        return (try setSchema(tx, handle, schema, structural: false), schema.indexes[position])
    }

    public func dropIndex(_ tx: Transaction, _ handle: TableHandle, named name: String) throws -> TableHandle {
        var schema = handle.schema
        guard let position = schema.indexes.firstIndex(where: { $0.name == name }) else {
            throw RedError(.undefinedObject, "index \"\(name)\" does not exist")
        }
        try tx.dropCollection(named: schema.indexes[position].storageName)
        schema.indexes.remove(at: position)
        return try setSchema(tx, handle, schema)
    }

    // MARK: Rows

    public func nextRowID(_ tx: Transaction, _ handle: TableHandle) throws -> Int64 {
        try reserveRowIDs(tx, handle, count: 1).lowerBound
    }

    /// `count` consecutive new row ids (at least one): a statement inserting many rows takes
    /// them at once. Ids a failed or rolled-back statement took are not reused (as a
    /// PostgreSQL sequence's values are not) — but those of an attempt the client never saw
    /// are given back (`RowIDAttempt`).
    public func reserveRowIDs(_ tx: Transaction, _ handle: TableHandle, count: Int) throws -> Range<Int64> {
        let id = handle.collection.id
        let n = Int64(max(1, count))
        let ids: Range<Int64>
        if let first = ridCounters.withLock({ counters -> Int64? in
            guard let last = counters[id] else { return nil }
            counters[id] = last + n
            return last + 1
        }) {
            ids = first..<(first + n)
        } else {
            let cursor = try tx.scan(handle.collection, reverse: true)
            let highest = try cursor.next().map { StoredRow.rid(fromKey: $0.key) } ?? 0
            ids = ridCounters.withLock { counters in
                let first = max(counters[id] ?? 0, highest) + 1
                counters[id] = first + n - 1
                return first..<(first + n)
            }
        }
        Self.rowIDAttempt?.reserved.append((id, ids))
        return ids
    }

    public func get(_ tx: Transaction, _ handle: TableHandle, rid: Int64) throws -> StoredRow? {
        guard let bytes = try tx.get(handle.collection, StoredRow.key(rid: rid)) else { return nil }
        return try StoredRow.decode(rid: rid, bytes)
    }

    /// Every stored row in rid order (expired rows included: the caller filters by its clock).
    public func scan(_ tx: Transaction, _ handle: TableHandle, reverse: Bool = false) throws -> RowCursor {
        RowCursor(cursor: try tx.scan(handle.collection, reverse: reverse))
    }

    /// The rows whose ids fall in `rids` (nil bounds: unbounded), in id order. Ids are keyed
    /// big-endian, so for ids ≥ 0 key order is id order.
    public func scan(_ tx: Transaction, _ handle: TableHandle, rids: (lower: Int64?, upper: Int64?)) throws -> RowCursor {
        RowCursor(cursor: try tx.scan(handle.collection, KeyRange(lower: rids.lower.map(StoredRow.key(rid:)),
                                                                   upper: rids.upper.map(StoredRow.key(rid:)))))
    }

    /// Marks the collection as holding items with a TTL (once; later calls return at once).
    public func noteExpiringItems(_ tx: Transaction, _ handle: TableHandle) throws -> TableHandle {
        guard handle.schema.hasExpiringItems != true else { return handle }
        var schema = handle.schema
        schema.hasExpiringItems = true
        return try setSchema(tx, handle, schema, structural: false)
    }

    /// Adds `row` and its index entries. A unique key that a transaction committed after `tx`'s snapshot holds (invisible to
    /// it) is a duplicate too: 23505 as PostgreSQL reports it, or with `concurrentDuplicate`
    /// `.serializationFailure` 40001 (an ON CONFLICT insert, whose arbiter could not see the
    /// row: READ COMMITTED runs the statement again and then finds it).
    public func insert(_ tx: Transaction, _ handle: TableHandle, _ row: StoredRow, now: Int64,
                       concurrentDuplicate: ConcurrentDuplicate = .uniqueViolation) throws {
        var keyBuffer: [UInt8] = []
        try insert(tx, handle, row, now: now, concurrentDuplicate: concurrentDuplicate, keyBuffer: &keyBuffer)
    }

    /// `insert`, building each index key in `keyBuffer`: a caller inserting many rows keeps
    /// one buffer for all of them, where a fresh key array per row and index was one of the
    /// few allocations a bulk-loaded row still made.
    public func insert(_ tx: Transaction, _ handle: TableHandle, _ row: StoredRow, now: Int64,
                       concurrentDuplicate: ConcurrentDuplicate = .uniqueViolation, keyBuffer: inout [UInt8]) throws {
        for target in handle.indexTargets {
            try insertIndexEntry(tx, handle, target, row, now: now, concurrentDuplicate: concurrentDuplicate, keyBuffer: &keyBuffer)
        }
        try Keyspace.withRowKey(handle.collection.id, rid: row.rid) { key in
            if let bound = row.encodedSizeBound, bound <= Limits.maxValueBytes {
                try tx.put(treeKey: key, valueBound: bound) { row.encode(into: &$0) }  // straight into the write set
            } else {
                try row.encoded().withUnsafeBytes { try tx.put(treeKey: key, $0) }
            }
        }
        if !handle.isTemporary { tx.noteRowChange(collection: handle.name, kind: handle.schema.model.rawValue, operation: .insert, rid: row.rid) }
    }

    /// Rewrites row `old` as `new` (the same row: `new` keeps `old`'s rid), moving only the
    /// index entries whose values changed.
    public func update(_ tx: Transaction, _ handle: TableHandle, old: StoredRow, new: StoredRow, now: Int64) throws {
        precondition(old.rid == new.rid, "an update keeps the row's id")
        for target in handle.indexTargets {
            // The common case (an UPDATE of other columns) is told without building either key.
            if target.program == nil,
               target.definition.columnIDs.allSatisfy({ (old.values[$0] ?? .null).isIdentical(to: new.values[$0] ?? .null) }) { continue }
            let oldKey = try indexTreeKey(tx, target, old)?.key
            if oldKey == (try indexTreeKey(tx, target, new)?.key) { continue }  // same values (and rid), or in neither
            if let oldKey { try tx.delete(treeKey: oldKey) }
            try insertIndexEntry(tx, handle, target, new, now: now)
        }
        try tx.put(handle.collection, StoredRow.key(rid: new.rid), new.encoded())
        if !handle.isTemporary { tx.noteRowChange(collection: handle.name, kind: handle.schema.model.rawValue, operation: .update, rid: new.rid) }
    }

    public func delete(_ tx: Transaction, _ handle: TableHandle, _ row: StoredRow) throws {
        for target in handle.indexTargets {
            if let key = try indexTreeKey(tx, target, row)?.key { try tx.delete(treeKey: key) }
        }
        _ = try tx.delete(handle.collection, StoredRow.key(rid: row.rid))
        if !handle.isTemporary { tx.noteRowChange(collection: handle.name, kind: handle.schema.model.rawValue, operation: .delete, rid: row.rid) }
    }

    // MARK: Indexes

    /// The tree key of `row`'s entry in `index` (kept in `storage`), built in place: the
    /// collection prefix, the indexed values, then the rid unless the index is unique and no
    /// value is NULL (see the invariants above). Also says whether a value was NULL. nil when
    /// the row has no entry (outside a partial index).
    func indexTreeKey(_ tx: Transaction, _ target: IndexTarget, _ row: StoredRow) throws -> (key: [UInt8], hasNull: Bool)? {
        var key: [UInt8] = []
        guard let hasNull = try buildIndexTreeKey(tx, target, row, into: &key) else { return nil }
        return (key, hasNull)
    }

    /// `indexTreeKey` built in `key` (emptied first, its capacity kept); returns whether a
    /// value was NULL, or nil when the row has no entry.
    func buildIndexTreeKey(_ tx: Transaction, _ target: IndexTarget, _ row: StoredRow, into key: inout [UInt8]) throws -> Bool? {
        key.removeAll(keepingCapacity: true)
        key.reserveCapacity(4 + 16 * target.definition.columnIDs.count + 8)
        withUnsafeBytes(of: target.storage.id.bigEndian) { key.append(contentsOf: $0) }
        var hasNull = false
        if let program = target.program {
            guard let values = try program.keyValues(of: row, tx: tx, store: self) else { return nil }
            for value in values {
                hasNull = hasNull || value.isNull
                KeyEncoding.append(value, to: &key)
            }
        } else {
            for id in target.definition.columnIDs {
                let value = row.values[id] ?? .null
                hasNull = hasNull || value.isNull
                KeyEncoding.append(value, to: &key)
            }
        }
        // NULLS NOT DISTINCT: a NULL is a value like any other, so such a key is unique too.
        if target.definition.nullsNotDistinct == true { hasNull = false }
        if !target.definition.unique || hasNull { withUnsafeBytes(of: UInt64(bitPattern: row.rid).bigEndian) { key.append(contentsOf: $0) } }
        return hasNull
    }

    /// What a unique key committed after the writer's snapshot, which it cannot see, makes
    /// an insert throw (see `insert`).
    public enum ConcurrentDuplicate: Sendable { case uniqueViolation, serializationFailure }

    /// Adds `row`'s entry to `index`, after checking a unique index for another live row with
    /// the same values. Runs once per index for every inserted row.
    func insertIndexEntry(_ tx: Transaction, _ handle: TableHandle, _ target: IndexTarget, _ row: StoredRow, now: Int64,
                          concurrentDuplicate: ConcurrentDuplicate = .uniqueViolation) throws {
        var keyBuffer: [UInt8] = []
        try insertIndexEntry(tx, handle, target, row, now: now, concurrentDuplicate: concurrentDuplicate, keyBuffer: &keyBuffer)
    }

    /// `insertIndexEntry` with the key built in `key` (see `insert(…keyBuffer:)`).
    func insertIndexEntry(_ tx: Transaction, _ handle: TableHandle, _ target: IndexTarget, _ row: StoredRow, now: Int64,
                          concurrentDuplicate: ConcurrentDuplicate, keyBuffer key: inout [UInt8]) throws {
        guard let hasNull = try buildIndexTreeKey(tx, target, row, into: &key) else { return }
        guard key.count - 4 <= Self.maxIndexKeyBytes else {
            throw RedError(.limitExceeded, "index row size \(key.count - 4) exceeds the maximum \(Self.maxIndexKeyBytes) bytes for index \"\(target.definition.name)\"")
        }
        if target.definition.unique, !hasNull {
            switch try tx.probeUnique(treeKey: key, collectionID: target.storage.id) {
            case .absent: break
            case .visible(let existing):
                let otherRID = StoredRow.rid(fromKey: existing)
                guard otherRID != row.rid else { break }
                // An expired row still holds its entry until reclaimed: reclaim it now.
                if let other = try get(tx, handle, rid: otherRID), !other.isVisible(at: now) {
                    try delete(tx, handle, other)
                } else {
                    throw try duplicateKeyError(tx, handle, target, row)
                }
            case .committedAfterSnapshot(let newest):
                // The entry of this very row, moved here by a concurrent UPDATE of it: a write
                // conflict (40001, run again or retried), not a duplicate.
                if StoredRow.rid(fromKey: newest) == row.rid {
                    throw RedError(.serializationFailure, "could not serialize access due to concurrent update",
                                   detail: "Another transaction changed this row of \"\(handle.name)\" after this one's snapshot.")
                }
                if concurrentDuplicate == .serializationFailure {
                    throw RedError(.serializationFailure, "could not serialize access due to concurrent update",
                                   detail: "Another transaction inserted a row with the same key of index \"\(target.definition.name)\" after this one's snapshot.")
                }
                throw try duplicateKeyError(tx, handle, target, row)
            }
        }
        // The entry's value is the row id (8 bytes big-endian), passed from the stack.
        try withUnsafeBytes(of: UInt64(bitPattern: row.rid).bigEndian) { rid in
            try key.withUnsafeBytes { try tx.put(treeKey: $0, rid) }
        }
    }

    /// One key a row takes in a unique index (`uniqueKeys`).
    public struct UniqueKey: Sendable {
        /// The index's storage collection.
        public var index: UInt32
        public var indexName: String
        /// The key's bytes hashed: two equal keys always agree; two different ones collide
        /// about once in 2^64, which only makes an insert wait for nothing.
        public var hash: Int64
    }

    /// The keys `row` takes in the table's unique indexes (none for an index it has a NULL in,
    /// or is outside of): what an INSERT locks, so that another transaction inserting the same
    /// key waits for this one to end, as PostgreSQL makes it wait, instead of one of them failing
    /// at commit. With `old` (an UPDATE's row before), only the keys it did not have already.
    public func uniqueKeys(_ tx: Transaction, _ handle: TableHandle, _ row: StoredRow, replacing old: StoredRow? = nil) throws -> [UniqueKey] {
        var keys: [UniqueKey] = []
        for target in handle.indexTargets where target.definition.unique {
            if let old, target.program == nil,
               target.definition.columnIDs.allSatisfy({ (old.values[$0] ?? .null).isIdentical(to: row.values[$0] ?? .null) }) { continue }
            guard let (key, hasNull) = try indexTreeKey(tx, target, row), !hasNull else { continue }
            if let old, try indexTreeKey(tx, target, old)?.key == key { continue }
            var hasher = Hasher()
            key.withUnsafeBytes { hasher.combine(bytes: $0) }
            keys.append(UniqueKey(index: target.storage.id, indexName: target.definition.name, hash: Int64(hasher.finalize())))
        }
        return keys
    }

    /// 23505 for `row`'s values in unique index `target`, worded as PostgreSQL words it.
    private func duplicateKeyError(_ tx: Transaction, _ handle: TableHandle, _ target: IndexTarget, _ row: StoredRow) throws -> RedError {
        let index = target.definition
        let names = index.columnIDs.enumerated().map { i, id in
            index.expressions?[i] ?? handle.schema.columns.first { $0.id == id }?.name ?? "?"
        }
        let values = try target.program?.keyValues(of: row, tx: tx, store: self) ?? index.columnIDs.map { row.values[$0] ?? .null }
        return RedError(.uniqueViolation, "duplicate key value violates unique constraint \"\(index.name)\"",
                        detail: "Key (\(names.joined(separator: ", ")))=(\(values.map { $0.isNull ? "null" : $0.displayText }.joined(separator: ", "))) already exists.")
    }

    /// The key values row `row` has in the index at `indexPosition`, nil when it has no entry
    /// there (outside a partial index): what ON CONFLICT looks up.
    public func indexKeyValues(_ tx: Transaction, _ handle: TableHandle, indexPosition: Int, _ row: StoredRow) throws -> [Value]? {
        let target = handle.indexTargets[indexPosition]
        if let program = target.program { return try program.keyValues(of: row, tx: tx, store: self) }
        return target.definition.columnIDs.map { row.values[$0] ?? .null }
    }

    /// The row id a unique single-column index maps `value` to (one tree lookup, no cursor).
    public func uniqueLookup(_ tx: Transaction, _ handle: TableHandle, indexPosition: Int, value: Value) throws -> Int64? {
        guard !value.isNull else { return nil }
        var key: [UInt8] = []
        KeyEncoding.append(value, to: &key)
        return try tx.get(handle.indexCollections[indexPosition], key).map(StoredRow.rid(fromKey:))
    }

    /// Row ids whose index key lies in `range`, in index order.
    public func indexScan(_ tx: Transaction, _ handle: TableHandle, indexPosition: Int, range: KeyRange,
                          reverse: Bool = false) throws -> IndexCursor {
        IndexCursor(cursor: try tx.scan(handle.indexCollections[indexPosition], range, reverse: reverse))
    }
}

/// Iterates stored rows of one collection.
public final class RowCursor {
    let cursor: RangeCursor
    init(cursor: RangeCursor) { self.cursor = cursor }

    public func next() throws -> StoredRow? {
        guard let entry = try cursor.next() else { return nil }
        return try StoredRow.decode(rid: StoredRow.rid(fromKey: entry.key), entry.value)
    }

    /// The next stored key and record bytes, undecoded.
    public func nextRaw() throws -> (key: [UInt8], value: [UInt8])? { try cursor.next() }

    /// The next stored key and record bytes copied into `key` and `value`, reusing their
    /// storage; false at the end.
    public func nextRaw(key: inout [UInt8], value: inout [UInt8]) throws -> Bool { try cursor.next(key: &key, value: &value) }

    /// The next stored key and record bytes lent to `body` in place; false at the end.
    public func nextRaw(_ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        try cursor.next(body)
    }

    /// The raw next entry (KV stores key rows by user key, not rid).
    public func nextEntry() throws -> (key: [UInt8], row: StoredRow)? {
        guard let entry = try cursor.next() else { return nil }
        return (entry.key, try StoredRow.decode(rid: entry.key.count == 8 ? StoredRow.rid(fromKey: entry.key) : 0, entry.value))
    }
}

extension TableStore {
    /// The record bytes of row `rid`, undecoded.
    public func getRaw(_ tx: Transaction, _ handle: TableHandle, rid: Int64) throws -> [UInt8]? {
        try tx.get(handle.collection, StoredRow.key(rid: rid))
    }
}

/// Iterates the row ids of an index range.
public final class IndexCursor {
    let cursor: RangeCursor
    init(cursor: RangeCursor) { self.cursor = cursor }

    public func next() throws -> Int64? {
        guard let entry = try cursor.next() else { return nil }
        return StoredRow.rid(fromKey: entry.value)
    }
}
