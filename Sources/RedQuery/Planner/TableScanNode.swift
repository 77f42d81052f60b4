import RedCore
import RedEngine

/// How a table scan reaches its rows.
enum AccessPath: Sendable {
    case fullScan
    /// Rows whose first index column equals one of the values (`=` or `IN`).
    case indexEquality(index: Int, values: [BoundExpr])
    /// Rows whose first index column lies between the bounds.
    case indexRange(index: Int, lower: (BoundExpr, inclusive: Bool)?, upper: (BoundExpr, inclusive: Bool)?)
    /// Every row, in index order (serves ORDER BY … LIMIT).
    case indexOrder(index: Int, descending: Bool)
    /// Every row, nearest to a vector first (serves pgvector's ORDER BY … LIMIT; `VectorOrder`).
    case vectorOrder(VectorOrder)
}

/// Scans one collection: a table, a document collection or a KV store.
///
/// Row layout: tables give their columns in schema order then the hidden
/// `rid`, `created_at`, `updated_at`, `_metadata`; documents give `rid`, `body`
/// then the hidden times and metadata; KV gives `key`, `value` then the same. Rows whose TTL
/// has passed (expiry ≤ the statement clock) are skipped. `filter` holds every
/// predicate pushed to this table; index access only narrows what is read,
/// the filter is always rechecked.
final class TableScanNode: PlanNode, @unchecked Sendable {
    let handle: TableHandle
    let label: String
    let columns: [ScopeColumn]
    var filter: BoundExpr?
    var access = AccessPath.fullScan

    /// Before a system column's name where the table has a column of that name (`\u{1}created_at`).
    static let shadowedPrefix = "\u{1}"

    init(handle: TableHandle, qualifier: String) {
        self.handle = handle
        self.label = handle.name == qualifier ? handle.name : "\(handle.name) \(qualifier)"
        self.columns = Self.columns(of: handle.schema, qualifier: qualifier)
    }

    static func columns(of schema: CollectionSchema, qualifier: String?) -> [ScopeColumn] {
        // A table that declares its own `created_at` or `updated_at` (PostgreSQL schemas often
        // do) is read by those names; the system column keeps its place in the row under a
        // name no statement can write.
        func system(_ name: String) -> String { schema.model == .table && schema.column(named: name) != nil ? Self.shadowedPrefix + name : name }
        let times = [ScopeColumn(qualifier: qualifier, name: system("created_at"), type: .timestamp, hidden: true),
                     ScopeColumn(qualifier: qualifier, name: system("updated_at"), type: .timestamp, hidden: true),
                     ScopeColumn(qualifier: qualifier, name: "_metadata", type: .json, hidden: true)]
        switch schema.model {
        case .table:
            // A declared width travels as the column's surface type, so PG-wire describes `integer` as int4.
            return schema.columns.map {
                ScopeColumn(qualifier: qualifier, name: $0.name, type: $0.type, element: $0.arrayElement, surfaceType: $0.surfaceTypeName,
                            enumLabels: $0.enumVariants)
            }
                + [ScopeColumn(qualifier: qualifier, name: "rid", type: .integer, hidden: true)] + times
        case .document:
            return [ScopeColumn(qualifier: qualifier, name: "rid", type: .integer),
                    ScopeColumn(qualifier: qualifier, name: "body", type: .json, isDocumentBody: true)] + times
        case .kv:
            return [ScopeColumn(qualifier: qualifier, name: "key", type: .text),
                    ScopeColumn(qualifier: qualifier, name: "value", type: .any)] + times
        case .vector:
            return [ScopeColumn(qualifier: qualifier, name: "rid", type: .integer),
                    ScopeColumn(qualifier: qualifier, name: "dense", type: .vector),
                    ScopeColumn(qualifier: qualifier, name: "content", type: .text),
                    ScopeColumn(qualifier: qualifier, name: "metadata", type: .json, isDocumentBody: true)] + times
        case .graph:
            return [ScopeColumn(qualifier: qualifier, name: "rid", type: .integer),
                    ScopeColumn(qualifier: qualifier, name: "kind", type: .text),
                    ScopeColumn(qualifier: qualifier, name: "label", type: .text),
                    ScopeColumn(qualifier: qualifier, name: "node_type", type: .text),
                    ScopeColumn(qualifier: qualifier, name: "from_rid", type: .integer),
                    ScopeColumn(qualifier: qualifier, name: "to_rid", type: .integer),
                    ScopeColumn(qualifier: qualifier, name: "weight", type: .float),
                    ScopeColumn(qualifier: qualifier, name: "properties", type: .json, isDocumentBody: true)] + times
        }
    }

    static func values(of row: StoredRow, key: [UInt8], schema: CollectionSchema) -> [Value] {
        let times: [Value] = [.timestamp(row.createdAt * 1000), .timestamp(row.updatedAt * 1000), row.values[StoredRow.metadataColumnID] ?? .null]
        switch schema.model {
        case .table:
            var out: [Value] = []
            out.reserveCapacity(schema.columns.count + 3)
            for column in schema.columns { out.append(row.values[column.id] ?? .null) }
            out.append(.integer(row.rid))
            return out + times
        case .document:
            return [.integer(row.rid), row.values[0] ?? .null] + times
        case .kv:
            return [.text(String(decoding: key, as: UTF8.self)), row.values[0] ?? .null] + times
        case .vector:
            return [.integer(row.rid), row.values[0] ?? .null, row.values[1] ?? .null, row.values[2] ?? .null] + times
        case .graph:
            return [.integer(row.rid)] + (0...GraphItem.propertiesColumn).map { row.values[UInt16($0)] ?? .null } + times
        }
    }

    /// Local positions the query reads; nil = all. Unread columns are skipped while decoding.
    var neededColumns: Set<Int>?

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        if case .vectorOrder(let order) = access { return try openVectorOrder(order, context: context, eval: context.evaluation(outerRows)) }
        return try openRows(context, outerRows: outerRows)
    }

    /// Where each stored column id lands in the produced row (-1: not decoded).
    func decodePositions() -> (positions: [Int], metadata: Int?) {
        let schema = handle.schema
        let width = columns.count
        func needed(_ p: Int) -> Bool { neededColumns?.contains(p) ?? true }
        switch schema.model {
        case .table:
            var positions = [Int](repeating: -1, count: Int(schema.nextColumnID))
            for (i, column) in schema.columns.enumerated() where Int(column.id) < positions.count && needed(i) { positions[Int(column.id)] = i }
            return (positions, needed(width - 1) ? width - 1 : nil)
        case .document, .kv:
            return ([needed(1) ? 1 : -1], needed(width - 1) ? width - 1 : nil)
        case .vector:
            return ((1...3).map { needed($0) ? $0 : -1 }, needed(width - 1) ? width - 1 : nil)
        case .graph:
            return ((1...7).map { needed($0) ? $0 : -1 }, needed(width - 1) ? width - 1 : nil)
        }
    }

    /// Opens the scan. With `probe`, rows come from the index `probe.index` where its first
    /// column equals `probe.value` (an index nested-loop join's inner side) instead of `access`.
    func openRows(_ context: ExecutionContext, outerRows: [[Value]], probe: (index: Int, value: Value)? = nil) throws -> TableRowIterator {
        let eval = context.evaluation(outerRows)
        let source = try probe.map { try equalitySource(index: $0.index, values: [$0.value], context) }
            ?? accessSource(eval, context)
        return rows(from: source, eval: eval, context: context)
    }

    /// This scan's rows (decoded, expired ones skipped, the filter applied) from `source`.
    /// `unsharedFilter` gives the iterator a copy of the filter's expression nodes of its own:
    /// parts running on other threads would otherwise take and drop references to the same
    /// nodes for every row, and those counts bounce between the cores' caches.
    func rows(from source: @escaping RowSource, eval: Evaluation, context: ExecutionContext, unsharedFilter: Bool = false) -> TableRowIterator {
        let (positions, metadata) = decodePositions()
        return TableRowIterator(source: source, schema: handle.schema, width: columns.count, positions: positions,
                                metadataPosition: metadata, filter: unsharedFilter ? filter?.mapColumns { .column($0) } : filter, eval: eval, context: context)
    }

    /// A `RowSource` over a cursor of stored rows, lending each where the cursor keeps it.
    static func source(_ cursor: RowCursor) -> RowSource {
        { body in try cursor.nextRaw(body) }
    }

    /// This full scan as `count` scans of consecutive row-id ranges, in id order, each with a
    /// context of its own so that they can run on different threads; nil when the scan is not
    /// a full scan of a table or document collection, or its row ids span fewer than
    /// `minimumRows`. The ranges split the span between the first and last id evenly, which
    /// for rows appended over time splits the rows about evenly too.
    func openPartitions(_ context: ExecutionContext, count: Int, minimumRows: Int) throws -> [(rows: TableRowIterator, context: ExecutionContext)]? {
        guard case .fullScan = access, handle.schema.model != .kv,
              let ranges = try Self.ridRanges(handle, count: count, minimumRows: minimumRows, context) else { return nil }
        return try ranges.map { range in
            let partContext = context.partition()
            let cursor = try context.store.scan(context.transaction, handle, rids: range)
            return (rows(from: Self.source(cursor), eval: partContext.evaluation([]), context: partContext, unsharedFilter: true), partContext)
        }
    }

    /// `count` consecutive row-id ranges covering a rid-keyed collection (nil bounds: open),
    /// splitting the span between its first and last id evenly; nil when `count` is 1 or the
    /// ids span fewer than `minimumRows`.
    static func ridRanges(_ handle: TableHandle, count: Int, minimumRows: Int, _ context: ExecutionContext) throws -> [(lower: Int64?, upper: Int64?)]? {
        guard count > 1 else { return nil }
        let store = context.store, tx = context.transaction
        guard let first = try store.scan(tx, handle).nextRaw()?.key, let last = try store.scan(tx, handle, reverse: true).nextRaw()?.key,
              first.count == 8, last.count == 8 else { return nil }
        let low = StoredRow.rid(fromKey: first), high = StoredRow.rid(fromKey: last)
        guard low >= 0, high >= low, high - low >= Int64(minimumRows) - 1 else { return nil }
        let step = (high - low) / Int64(count) + 1
        return (0..<count).map { part in
            (part == 0 ? nil : low + Int64(part) * step, part == count - 1 ? nil : low + Int64(part + 1) * step)
        }
    }

    /// Lends the next stored key and record bytes to the body it is given (valid only there);
    /// false at the end.
    typealias RowSource = (_ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Void) throws -> Bool

    /// A source that hands over arrays made per row (index lookups) as a `RowSource`.
    static func filling(_ next: @escaping () throws -> (key: [UInt8], value: [UInt8])?) -> RowSource {
        { body in
            guard let entry = try next() else { return false }
            try entry.key.withUnsafeBytes { key in try entry.value.withUnsafeBytes { try body(key, $0) } }
            return true
        }
    }

    /// The stored rows `access` reaches (before the filter).
    func accessSource(_ eval: Evaluation, _ context: ExecutionContext) throws -> RowSource {
        let source: RowSource
        let store = context.store, tx = context.transaction, handle = self.handle
        switch access {
        case .fullScan, .vectorOrder:  // `open` orders a vector order's rows; read as they come, they are all the rows
            source = Self.source(try store.scan(tx, handle))
        case .indexOrder(let index, let descending):
            let cursor = try store.indexScan(tx, handle, indexPosition: index, range: .all, reverse: descending)
            let rows = IndexHitFetcher(store: store, tx: tx, handle: handle)
            source = Self.filling { try Self.fetch(cursor, rows) }
        case .indexEquality(let index, let probes):
            source = try equalitySource(index: index, values: probes.map { try eval.evaluate($0, []) }, context)
        case .indexRange(let index, let lower, let upper):
            let type = columnType(index)
            var range = KeyRange(lower: nil, lowerInclusive: true, upper: [0xF0], upperInclusive: false)
            var empty = false
            if let (expr, inclusive) = lower {
                let v = try eval.evaluate(expr, [])
                if v.isNull { empty = true } else if let c = try? type.coerce(v) {
                    var k: [UInt8] = []
                    KeyEncoding.append(c, to: &k)
                    range.lower = inclusive ? k : KeyEncoding.end(ofValues: k)
                }
            }
            if let (expr, inclusive) = upper {
                let v = try eval.evaluate(expr, [])
                if v.isNull { empty = true } else if let c = try? type.coerce(v) {
                    var k: [UInt8] = []
                    KeyEncoding.append(c, to: &k)
                    range.upper = inclusive ? KeyEncoding.end(ofValues: k) : k
                }
            }
            if empty { source = { _ in false } } else {
                let cursor = try store.indexScan(tx, handle, indexPosition: index, range: range)
                let rows = IndexHitFetcher(store: store, tx: tx, handle: handle)
                source = Self.filling { try Self.fetch(cursor, rows) }
            }
        }
        return source
    }

    /// Rows whose index `index` first column equals one of `values`: one exact lookup for a
    /// single value on a unique single-column index, prefix cursors otherwise. NULLs and values
    /// that cannot be the column's type match nothing.
    func equalitySource(index: Int, values: [Value], _ context: ExecutionContext) throws -> RowSource {
        let store = context.store, tx = context.transaction, handle = self.handle
        let type = columnType(index)
        let definition = handle.schema.indexes[index]
        if values.count == 1, definition.unique, definition.columnIDs.count == 1 {
            var rid: Int64?
            if !values[0].isNull, let coerced = try? type.coerce(values[0]) {
                rid = try store.uniqueLookup(tx, handle, indexPosition: index, value: coerced)
            }
            return Self.filling {
                guard let id = rid else { return nil }
                rid = nil
                return try store.getRaw(tx, handle, rid: id).map { (StoredRow.key(rid: id), $0) }
            }
        }
        var prefixes: [[UInt8]] = []
        var seen = Set<[UInt8]>()
        for v in values {
            if v.isNull { continue }
            guard let coerced = try? type.coerce(v) else { continue }
            var p: [UInt8] = []
            KeyEncoding.append(coerced, to: &p)
            if seen.insert(p).inserted { prefixes.append(p) }
        }
        var position = 0
        var cursor: IndexCursor?
        let rows = IndexHitFetcher(store: store, tx: tx, handle: handle)
        return Self.filling {
            while true {
                if let c = cursor, let entry = try Self.fetch(c, rows) { return entry }
                guard position < prefixes.count else { return nil }
                cursor = try store.indexScan(tx, handle, indexPosition: index, range: .values(prefixes[position]))
                position += 1
            }
        }
    }

    /// The type lookups in index `index` coerce their values to: its first column's, or its
    /// first expression's (see `IndexExpressions`).
    func columnType(_ index: Int) -> DataType {
        if let program = handle.indexPrograms[index] as? SQLIndexProgram, case .expression(_, let type) = program.keys[0] { return type }
        let id = handle.schema.indexes[index].columnIDs[0]
        return handle.schema.columns.first { $0.id == id }?.type ?? .any
    }

    /// The next index hit's row that the transaction sees.
    static func fetch(_ cursor: IndexCursor, _ rows: IndexHitFetcher) throws -> (key: [UInt8], value: [UInt8])? {
        while let rid = try cursor.next() {
            if let entry = try rows.fetch(rid) { return entry }
        }
        return nil
    }

    func explain(_ depth: Int) -> [String] {
        let filterText = filter == nil ? "" : " (filtered)"
        switch access {
        case .fullScan: return [line(depth, "Seq Scan on \(label)\(filterText)")]
        case .indexEquality(let i, let values):
            return [line(depth, "Index Scan using \(handle.schema.indexes[i].name) on \(label) (\(values.count == 1 ? "=" : "IN"))\(filterText)")]
        case .indexRange(let i, _, _): return [line(depth, "Index Range Scan using \(handle.schema.indexes[i].name) on \(label)\(filterText)")]
        case .indexOrder(let i, let d): return [line(depth, "Index Scan\(d ? " Backward" : "") using \(handle.schema.indexes[i].name) on \(label)\(filterText)")]
        case .vectorOrder(let order):
            let symbol = VectorFunctions.operatorFunctions.first { $0.value == order.distance.rawValue }?.key ?? order.distance.rawValue
            return [line(depth, "Nearest-First Scan on \(label) by \(handle.schema.columns[order.columnPosition].name) \(symbol)\(filterText)")]
        }
    }
}

/// Produces a table scan's rows; the stored row of the last one is decoded on request (DML).
///
/// Each stored row is decoded where its cursor keeps it (`RowSource` lends the bytes): a scan
/// that filters or aggregates copies no record. Only a caller that asks for the stored rows
/// (`keepsStoredRecords`: UPDATE and DELETE) has each returned one's key and bytes copied.
final class TableRowIterator: RowIterator {
    let source: TableScanNode.RowSource
    let schema: CollectionSchema
    let width: Int
    let positions: [Int]
    let metadataPosition: Int?
    let filter: BoundExpr?
    let eval: Evaluation
    let context: ExecutionContext
    /// Set before the first `next()` for `currentKey` and `currentRow`.
    var keepsStoredRecords = false
    /// The returned row's stored key and bytes (kept only with `keepsStoredRecords`).
    private(set) var currentKey: [UInt8] = []
    private var currentBytes: [UInt8] = []
    /// The returned row's id (its key read as one; 0 for KV).
    private(set) var currentRid: Int64 = 0
    /// The row array handed out last. A consumer that does not keep it (aggregation, a filter
    /// that rejects it) leaves it uniquely referenced, and the next row reuses its storage
    /// instead of allocating; one that keeps it gets a fresh copy on the next write (copy on write).
    private var row: [Value] = []
    /// The positions `StoredRow.decode` may write: reset to NULL before each row, since a
    /// stored row omits the columns it has no value for.
    private let decodedPositions: [Int]

    init(source: @escaping TableScanNode.RowSource, schema: CollectionSchema, width: Int, positions: [Int],
         metadataPosition: Int?, filter: BoundExpr?, eval: Evaluation, context: ExecutionContext) {
        self.source = source; self.schema = schema; self.width = width; self.positions = positions
        self.metadataPosition = metadataPosition; self.filter = filter; self.eval = eval; self.context = context
        decodedPositions = positions.filter { $0 >= 0 } + (metadataPosition.map { [$0] } ?? [])
        row = [Value](repeating: .null, count: width)
    }

    /// The stored form of the row `next()` last returned.
    var currentRow: StoredRow? {
        keepsStoredRecords ? try? StoredRow.decode(rid: currentRid, currentBytes) : nil
    }

    func next() throws -> [Value]? {
        let now = context.now, model = schema.model, width = self.width, positions = self.positions
        let metadataPosition = self.metadataPosition, filter = self.filter, eval = self.eval, context = self.context
        let decodedPositions = self.decodedPositions
        // Worked on as a local: each write to the stored property would be an exclusivity check.
        var row = self.row
        self.row = []
        defer { self.row = row }
        var found = false, rid: Int64 = 0
        while !found, try source({ key, bytes in
            try context.countScanned()
            for position in decodedPositions { row[position] = .null }
            let header = try StoredRow.decode(bytes, positions: positions, metadataPosition: metadataPosition, into: &row)
            guard header.isVisible(at: now) else { return }
            // Every layout ends with created_at, updated_at, _metadata; the rid (or KV key) sits
            // before them for tables and first for documents and KV.
            rid = model == .kv ? 0 : StoredRow.rid(fromKey: key)
            switch model {
            case .table: row[width - 4] = .integer(rid)
            case .document, .vector, .graph: row[0] = .integer(rid)
            case .kv: row[0] = .text(String(decoding: key, as: UTF8.self))
            }
            row[width - 3] = .timestamp(header.createdAt * 1000)  // kept in milliseconds
            row[width - 2] = .timestamp(header.updatedAt * 1000)
            if let filter, try Evaluation.truth(try eval.evaluate(filter, row)) != true { return }
            found = true
            if keepsStoredRecords {
                currentKey = Array(key)
                currentBytes = Array(bytes)
            }
        }) {}
        currentRid = rid
        return found ? row : nil
    }
}

extension CollectionSchema {
    /// The columns a collection shows, as definitions, for the places that describe one (SHOW
    /// COLUMNS, psql's `\d`, information_schema): a table's own columns; for the other models
    /// the visible columns of their scan, `rid` (or KV's `key`) as the primary key.
    public var describedColumns: [ColumnDefinition] {
        guard model != .table else { return columns.filter { !$0.name.hasPrefix("_") } }
        return TableScanNode.columns(of: self, qualifier: nil).filter { !$0.hidden }.enumerated().map { i, c in
            ColumnDefinition(id: UInt16(i), name: c.name, type: c.type, primaryKey: c.name == "rid" || c.name == "key")
        }
    }
}
