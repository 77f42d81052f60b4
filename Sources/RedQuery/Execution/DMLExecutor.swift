import RedCore
import RedEngine

/// INSERT, UPDATE and DELETE for tables and document collections.
///
/// Writes are validated row by row before they reach the store: values are
/// coerced to the column type (22P02/22003 on failure), NOT NULL is checked
/// (23502) and unique indexes reject duplicates (23505). UPDATE and DELETE
/// first collect every target row, then write, so a statement never sees its
/// own changes. A failing statement leaves its transaction to the session,
/// which rolls it back (autocommit) or marks it failed (inside BEGIN).
struct DMLExecutor {
    let context: ExecutionContext
    /// Where an INSERT's VALUES keep their bound expressions for the statement's next run
    /// (`StatementExecutor.planMemo`; see `keptValues`).
    var planMemo: (memo: PlanMemo, definitions: UInt64)?
    var store: TableStore { context.store }
    var tx: Transaction { context.transaction }

    // MARK: INSERT

    /// 428C9: a value given for a GENERATED ALWAYS identity column.
    static func generatedAlwaysError(_ column: String, insert: Bool) -> RedError {
        RedError(.invalidOperation, insert ? "cannot insert a non-DEFAULT value into column \"\(column)\""
                                           : "column \"\(column)\" can only be updated to DEFAULT",
                 detail: "Column \"\(column)\" is an identity column defined as GENERATED ALWAYS."
                     + (insert ? " Use OVERRIDING SYSTEM VALUE to override." : ""), condition: "428C9")
    }

    /// 428C9: a value given for a generated column.
    static func generatedColumnError(_ column: String, insert: Bool) -> RedError {
        RedError(.invalidOperation, insert ? "cannot insert a non-DEFAULT value into column \"\(column)\""
                                           : "column \"\(column)\" can only be updated to DEFAULT",
                 detail: "Column \"\(column)\" is a generated column.", condition: "428C9")
    }

    func insert(_ statement: InsertStatement) throws -> QueryResult {
        var handle = try store.open(tx, statement.table)
        if handle == nil {
            switch statement.model {
            case .row:
                if try ViewCatalog.definition(of: statement.table, tx) != nil {
                    throw RedError(.invalidOperation, "cannot insert into view \"\(statement.table)\"")
                }
                throw RedError(.undefinedCollection, "relation \"\(statement.table)\" does not exist")
            case .document: handle = try store.create(tx, statement.table, schema: CollectionSchema(model: .document))
            case .kv: handle = try store.create(tx, statement.table, schema: CollectionSchema(model: .kv))
            case .vector: handle = try store.create(tx, statement.table, schema: .implicitVectorCollection)
            case .node, .edge: handle = try store.create(tx, statement.table, schema: CollectionSchema(model: .graph))
            }
        }
        guard var handle else { throw RedError(.internalError, "no target collection") }
        try refuseMaterializedView(handle)
        if statement.model == .document, handle.schema.model != .document {
            throw RedError(.invalidOperation, "model mismatch: \(statement.table) is a \(handle.schema.model.rawValue), not a document collection")
        }
        if [.node, .edge].contains(statement.model) != (handle.schema.model == .graph) {
            throw RedError(.invalidOperation, handle.schema.model == .graph
                ? "\(statement.table) is a graph: insert with INSERT INTO \(statement.table) NODE (label, …) or EDGE (label, from, to, …)"
                : "model mismatch: \(statement.table) is a \(handle.schema.model.rawValue), not a graph")
        }
        if (statement.model == .vector) != (handle.schema.model == .vector) {
            throw RedError(.invalidOperation, statement.model == .vector
                ? "model mismatch: \(statement.table) is a \(handle.schema.model.rawValue), not a vector collection"
                : "\(statement.table) is a vector collection: insert with INSERT INTO \(statement.table) VECTOR (dense, content, metadata) VALUES …")
        }
        let planner = Planner(context: context)
        let sourceRows = try evaluateSource(statement, planner)
        let embedded = try statement.autoEmbed.map { try autoEmbedVectors($0, statement, sourceRows, handle) }
        var embeddedRows: [(rid: Int64, text: String, vector: [Float])] = []
        let expiresAt = try expiry(ttl: statement.ttlMilliseconds, at: statement.expiresAt, schema: handle.schema, planner: planner)
        if expiresAt != nil, handle.schema.model != .kv { handle = try store.noteExpiringItems(tx, handle) }
        var returned: [[Value]] = []
        let returning = try statement.returning.map { try bindReturning($0, handle: handle, alias: nil, planner: planner) }
        var defaults = DefaultValues(planner: planner, context: context)
        let checks = try CheckConstraints(handle, planner: planner)
        let generated = try GeneratedColumns(handle, planner: planner)
        let metadata = try metadataValue(statement.metadata, planner)
        let upsert = try statement.onConflict.map { try UpsertPlan(onConflict: $0, handle: handle, executor: self, planner: planner) }
        let foreignKeys = ForeignKeyEnforcement.of(handle, context: context)
        let triggers = try TableTriggers.of(handle, .insert, context: context)
        // ON CONFLICT DO UPDATE fires UPDATE triggers too: statement ones after INSERT's before, before
        // INSERT's after, and row events in one queue with INSERT's (PostgreSQL's order).
        let updateTriggers = try upsert.flatMap {
            $0.updates ? try TableTriggers.of(handle, .update, setColumns: $0.setColumns, context: context, sharing: triggers) : nil
        }
        if statement.firesBeforeStatementTriggers {
            try triggers?.fireBeforeStatement()
            try updateTriggers?.fireBeforeStatement()
        }
        var affected = 0
        var touched = Set<Int64>()
        let eval = context.evaluation([])
        // Resolved once per row width, not per row; `adoptable`: see `tableRow`.
        var targets: (count: Int, columns: [ColumnDefinition], cells: [CellTarget], adoptable: [UInt16]?)?
        var rowIDs: Range<Int64> = 0..<0  // taken for the statement's rows at once, not one by one
        var upsertLocked = 0
        // When the statement locks what it writes (`locksBeforeInserting`), every row is built
        // and checked before any is written, as UPDATE does, so that the locks can be taken,
        // and waited for, before the first write; otherwise (a bulk load) each row is written
        // as soon as it is built. Rows already decoded come from a load (COPY, the RedWire and
        // gRPC bulk inserts, CREATE TABLE AS), which locks nothing whatever its size: taking
        // and releasing a lock per key was a third of the server's time in a 1,000-row batch
        // (`red bench surfaces`), and a load's conflicts stay commit-time ones (40001).
        let buffered = statement.decodedRows == nil && locksBeforeInserting(rowCount: sourceRows.count, handle)
        var rows: [StoredRow] = []  // buffered: the rows built, before any is written
        var keyBuffer: [UInt8] = []  // every row's index keys are built in it (`TableStore.insert`)
        /// Writes row `r` (or, ON CONFLICT, what it resolves to).
        func write(_ proposed: StoredRow, _ r: Int) throws {
            var row = proposed
            if let upsert, let existing = try upsert.conflict(with: row, executor: self) {
                if upsert.updates { try lockUpsertTarget(existing, handle, locked: &upsertLocked) }
                guard let updated = try upsert.resolve(existing: existing, proposed: row, touched: &touched, defaults: &defaults,
                                                       executor: self, eval: eval, triggers: updateTriggers) else { return }
                try foreignKeys?.updated(handle, old: existing, new: updated)
                try updateTriggers?.rowWritten(new: updated, old: existing)
                row = updated
            } else {
                try store.insert(tx, handle, row, now: context.now, concurrentDuplicate: upsert == nil ? .uniqueViolation : .serializationFailure,
                                 keyBuffer: &keyBuffer)
                foreignKeys?.inserted(handle, row)
                try triggers?.rowWritten(new: row, old: nil)
                if upsert != nil { touched.insert(row.rid) }  // only ON CONFLICT reads it
                if let item = embedded?[r] { embeddedRows.append((row.rid, item.text, item.vector)) }
            }
            affected += 1
            if let returning {
                let values = TableScanNode.values(of: row, key: StoredRow.key(rid: row.rid), schema: handle.schema)
                returned.append(try returning.exprs.map { try eval.evaluate($0, values) })
            }
        }
        var start = 0
        while start < sourceRows.count {
            // A BEFORE ROW trigger sees the rows before its own written, as in PostgreSQL: one row at a time.
            let end = buffered && triggers?.hasBeforeRow != true ? sourceRows.count : start + 1
            if buffered { rows.removeAll(keepingCapacity: true) }  // (a bulk load's rows never enter it)
            for r in start..<end {
                var row: StoredRow
                switch handle.schema.model {
                case .table:
                    let width = sourceRows.width(of: r)
                    if targets?.count != width {
                        let columns = try insertTargets(statement.columns, valueCount: width, handle)
                        let cells = columns.map { CellTarget($0, overriding: statement.overriding) }
                        targets = (width, columns, cells, statement.decodedRows == nil ? nil : Self.adoptableIDs(cells, handle.schema))
                    }
                    if rowIDs.isEmpty { rowIDs = try store.reserveRowIDs(tx, handle, count: min(1_000, sourceRows.count - r)) }
                    row = try tableRow(targets!.columns, targets!.cells, sourceRows, r, handle, &defaults, rid: rowIDs.lowerBound,
                                       expiresAt: expiresAt, checkNotNull: triggers?.hasBeforeRow != true, adoptable: targets!.adoptable)
                    rowIDs = rowIDs.dropFirst()
                    if let triggers, triggers.hasBeforeRow {
                        guard let changed = try triggers.beforeRow(new: row, old: nil) else { continue }  // NULL: the row is skipped
                        row = changed
                    }
                    try generated.fill(&row)
                    try checks.verify(row)  // before any conflict check, as PostgreSQL does
                case .document: row = try documentRow(statement.columns, sourceRows.row(r), handle, expiresAt: expiresAt)
                case .vector: row = try vectorRow(statement.columns, sourceRows.row(r), handle, expiresAt: expiresAt)
                case .graph: row = try graphRow(statement.model == .edge, statement.columns, sourceRows.row(r), handle, expiresAt: expiresAt)
                case .kv:
                    try insertKV(statement.columns, sourceRows.row(r), handle, expiresAt: expiresAt)
                    continue
                }
                if let metadata { row.values[StoredRow.metadataColumnID] = metadata }
                // Unbuffered, a row is written as soon as it is built: no array, no copy.
                if buffered { rows.append(row) } else { try write(row, r) }
            }
            if buffered {
                try lockBeforeInserting(rows, handle, upsert)
                for (offset, row) in rows.enumerated() { try write(row, start + offset) }
            }
            start = end
        }
        if handle.schema.model == .kv { affected = sourceRows.count }
        try foreignKeys?.settle()
        try triggers?.fireAfterRows()
        try updateTriggers?.fireAfterRows()
        if statement.firesAfterStatementTriggers {
            try updateTriggers?.fireAfterStatement()
            try triggers?.fireAfterStatement()
        }
        try foreignKeys?.fireCascadedAfterTriggers()
        if let autoEmbed = statement.autoEmbed { try storeEmbeddings(embeddedRows, of: handle.name, autoEmbed) }
        return finish(type: "insert", tag: "INSERT 0 \(affected)", affected: affected, returning: returning, rows: returned)
    }

    /// An INSERT's source rows: decoded bulk rows as they came (not copied into a row of
    /// optional cells each), or evaluated rows whose nil cells stand for DEFAULT.
    struct SourceRows {
        private var decoded = RowBlock()
        private var cells: [[Value?]] = []
        private let isDecoded: Bool

        init(decoded: RowBlock) {
            self.decoded = decoded
            isDecoded = true
        }

        init(cells: [[Value?]]) {
            self.cells = cells
            isDecoded = false
        }

        var count: Int { isDecoded ? decoded.count : cells.count }
        func width(of r: Int) -> Int { isDecoded ? decoded.width : cells[r].count }
        /// Cell `c` of row `r`; nil: DEFAULT.
        subscript(r: Int, c: Int) -> Value? { isDecoded ? decoded[decoded.startIndex + r, c] : cells[r][c] }
        func row(_ r: Int) -> [Value?] { isDecoded ? decoded[decoded.startIndex + r].map { $0 } : cells[r] }
        /// Row `r` as decoded, sharing the block's storage; nil for evaluated rows.
        func decodedRow(_ r: Int) -> ArraySlice<Value>? { isDecoded ? decoded[decoded.startIndex + r] : nil }
    }

    /// `r.*` in a VALUES list: a record's fields (a whole row, elsewhere).
    static func isRecordStar(_ expr: Expr) -> Bool {
        if case .column(let path) = expr, path.count == 2, path[1] == "*" { return true }
        return false
    }

    /// The source rows; `nil` cells stand for DEFAULT (written or omitted).
    func evaluateSource(_ statement: InsertStatement, _ planner: Planner) throws -> SourceRows {
        if let decoded = statement.decodedRows { return SourceRows(decoded: decoded) }  // one width (`RowBlock(insertRows:)`)
        if case .values(let rows) = statement.source.body, statement.source.orderBy.isEmpty, statement.source.limit == nil {
            let eval = context.evaluation([])
            let kept = keptValues()
            if case .kept(let node) = kept { return SourceRows(cells: try node.rows.map { row in try row.map { try $0.map { try eval.evaluate($0, []) } } }) }
            // As PostgreSQL: checked before any row is inserted, not when the short row is reached
            // (with `OLD.*` in them, once they are expanded).
            let expandsRecords = rows.joined().contains(where: Self.isRecordStar)
            if let width = rows.first?.count, rows.contains(where: { $0.count != width }), !expandsRecords {
                throw RedError(.syntaxError, "VALUES lists must all be the same length")
            }
            let ctx = BindingContext(scope: Scope([], parent: nil), aggregatesForbiddenIn: "VALUES")
            var out: [[Value?]] = []
            out.reserveCapacity(rows.count)
            // A short list of a statement that runs again keeps its bound cells (`keptValues`).
            let keeping = kept == .unknown && rows.count * (rows.first?.count ?? 0) <= Self.maxKeptCells
            var bound: [[BoundExpr?]] = []
            for written in rows {
                // `VALUES (OLD.*)` in a trigger: the record's fields, one value each.
                let row = !expandsRecords ? written : written.flatMap { expr -> [Expr] in
                    guard case .column(let path) = expr, path.count == 2, path[1] == "*" else { return [expr] }
                    return planner.routineRecordFields(path[0], ctx.scope) ?? [expr]
                }
                var values: [Value?] = []
                var cells: [BoundExpr?] = []
                for expr in row {
                    // Bulk loads are all literals: no binding or evaluation needed. DEFAULT is nil.
                    let cell: BoundExpr?
                    if case .literal(let value) = expr {
                        values.append(value)
                        cell = .constant(value)
                    } else if case .function(let call) = expr, call.name == "__default" {
                        values.append(nil)
                        cell = nil
                    } else {
                        let bound = try planner.bind(expr, ctx)
                        values.append(try eval.evaluate(bound, []))
                        cell = bound
                    }
                    if keeping { cells.append(cell) }
                }
                out.append(values)
                if keeping { bound.append(cells) }
            }
            if let width = out.first?.count, out.contains(where: { $0.count != width }) {
                throw RedError(.syntaxError, "VALUES lists must all be the same length")
            }
            if keeping { keepValues(bound, planner) }
            return SourceRows(cells: out)
        }
        let plan = try planner.planQuery(statement.source, outer: nil)
        let iterator = try context.open(plan, outerRows: [])
        var out: [[Value?]] = []
        while let row = try iterator.next() {
            out.append(row.map { $0 })
            try context.checkMaterialized(out.count, "INSERT … SELECT")
        }
        return SourceRows(cells: out)
    }

    func metadataValue(_ items: [(String, Expr)], _ planner: Planner) throws -> Value? {
        guard !items.isEmpty else { return nil }
        let ctx = BindingContext(scope: Scope([], parent: nil), aggregatesForbiddenIn: "WITH METADATA")
        let eval = context.evaluation([])
        var members: [(String, JSONValue)] = []
        for (key, expr) in items {
            let value = try eval.evaluate(try planner.bind(expr, ctx), []).jsonValue
            members.removeAll { $0.0 == key }
            members.append((key, value))
        }
        return .json(try JSONValue.checkedNesting(.object(members)))
    }

    func expiry(ttl: Int64?, at: Expr?, schema: CollectionSchema, planner: Planner) throws -> Int64? {
        if let at {
            let v = try context.evaluation([]).evaluate(try planner.bind(at, BindingContext(scope: Scope([], parent: nil))), [])
            switch v {
            case .integer(let ms): return ms
            case .timestamp(let us): return CalendarMath.milliseconds(us)
            case .text(let s):
                if let ms = Int64(s) { return ms }
                if case .timestamp(let us) = try DataType.timestamp.coerce(.text(s)) { return CalendarMath.milliseconds(us) }
            default: break
            }
            throw RedError(.invalidTextRepresentation, "WITH EXPIRES AT needs unix milliseconds or a timestamp, got \(v.displayText)")
        }
        if let ttl = ttl ?? schema.defaultTTLMilliseconds { return context.now + ttl }
        return nil
    }

    /// The columns an INSERT's values go to, in order; checks names, repeats and the value count.
    func insertTargets(_ columnNames: [String]?, valueCount: Int, _ handle: TableHandle) throws -> [ColumnDefinition] {
        let schema = handle.schema
        let targets: [ColumnDefinition]
        if let columnNames {
            targets = try columnNames.map { name in
                guard let column = schema.column(named: name) else {
                    throw RedError(.undefinedColumn, "column \"\(name)\" of relation \"\(handle.name)\" does not exist")
                }
                return column
            }
            if Set(targets.map(\.id)).count != targets.count {
                throw RedError(.syntaxError, "column specified more than once in INSERT")
            }
        } else {
            targets = Array(schema.columns.prefix(valueCount))
        }
        // Without a column list `targets` is at most every column, so this also catches too many values.
        guard valueCount <= targets.count else { throw RedError(.syntaxError, "INSERT has more expressions than target columns") }
        guard valueCount >= targets.count else { throw RedError(.syntaxError, "INSERT has more target columns than expressions") }
        return targets
    }

    /// One table row from source values for `targets` (see `insertTargets`); `nil` cells take the default.
    /// Row `r` of `source` as a stored row of `handle`'s table (`targets`: the column of each cell).
    /// What filling one cell of an inserted row needs, without a reference-counted field: a
    /// `ColumnDefinition` (name, default, ENUM variants) was copied, retained and released for
    /// every cell of every row, about a sixth of a bulk load's insert time. (So the 428C9
    /// refusal is built when thrown, not kept: a `RedError` holds strings too.)
    struct CellTarget {
        let id: UInt16
        let type: DataType
        /// No ENUM variants or declared widths to check: the type's coercion is all.
        let plain: Bool

        /// An identity column's value given by the INSERT is dropped (OVERRIDING USER VALUE),
        /// so the sequence gives it.
        let ignoresValue: Bool

        init(_ column: ColumnDefinition, overriding: IdentityGeneration? = nil) {
            id = column.id
            type = column.type
            // (A `timestamp` column reads text its own way: `ColumnDefinition.coerce`.)
            plain = column.enumVariants == nil && column.arrayElement == nil && column.declared == nil && column.type != .timestamp
            ignoresValue = column.identity != nil && overriding == .byDefault
            generated = column.generatedSQL != nil
            refusesValue = generated || (column.identity == IdentityGeneration.always.rawValue && overriding == nil)
        }
        /// A GENERATED ALWAYS identity column or a generated column: a value given (not DEFAULT) is 428C9 (`refusal`).
        let refusesValue: Bool
        private let generated: Bool

        /// The 428C9 a value given for `column` (this target's) gets.
        func refusal(_ column: ColumnDefinition) -> RedError {
            generated ? DMLExecutor.generatedColumnError(column.name, insert: true) : DMLExecutor.generatedAlwaysError(column.name, insert: true)
        }
    }

    /// The column ids under which a decoded row's values can be adopted as they are
    /// (`ColumnValues.init(ids:values:)`), or nil: every column of the table is given, in id
    /// order, and each only needs its type's coercion (no default to fill in, no value the
    /// sequence replaces or that is refused — generated, identity ALWAYS without OVERRIDING —
    /// and no ENUM or width check), so a row whose values that coercion leaves unchanged is
    /// already the stored row's values.
    static func adoptableIDs(_ cells: [CellTarget], _ schema: CollectionSchema) -> [UInt16]? {
        let ids = cells.map(\.id)
        guard cells.count == schema.columns.count, zip(ids, ids.dropFirst()).allSatisfy({ $0 < $1 }),
              cells.allSatisfy({ $0.plain && !$0.ignoresValue && !$0.refusesValue }) else { return nil }
        return ids
    }

    /// `targets` are the columns the source's values go to, `cells` the same as `CellTarget`s.
    /// With `adoptable` ids (`adoptableIDs`), a decoded row that needs no change (each value
    /// already of its column's kind, so no NULL: `DataType.keepsAsIs`) keeps its values where
    /// they lie, a slice of the load's `RowBlock`: a bulk-loaded row then allocates nothing
    /// here, and no value is coerced or compared. Any other row takes the general path below.
    func tableRow(_ targets: [ColumnDefinition], _ cells: [CellTarget], _ source: SourceRows, _ r: Int, _ handle: TableHandle,
                  _ defaults: inout DefaultValues, rid: Int64, expiresAt: Int64?, checkNotNull: Bool = true,
                  adoptable: [UInt16]? = nil) throws -> StoredRow {
        if let adoptable, let given = source.decodedRow(r) {
            var unchanged = true
            for i in cells.indices where !cells[i].type.keepsAsIs(given[given.startIndex + i]) {
                unchanged = false
                break
            }
            if unchanged {
                return StoredRow(rid: rid, values: ColumnValues(ids: adoptable, values: given), expiresAt: expiresAt,
                                 createdAt: context.now, updatedAt: context.now)
            }
        }
        let schema = handle.schema
        var values = ColumnValues()
        values.reserveCapacity(schema.columns.count)
        var sawNull = false
        for i in cells.indices {
            if let v = source[r, i] {
                let cell = cells[i]
                if cell.ignoresValue { continue }
                if cell.refusesValue { throw cell.refusal(targets[i]) }
                let coerced: Value
                if cell.plain {
                    do { coerced = try cell.type.coerce(v) } catch let error as RedError { throw columnError(error, targets[i], handle) }
                } else {
                    coerced = try coerce(v, targets[i], handle)
                }
                sawNull = sawNull || coerced.isNull
                values[cell.id] = coerced
            }
        }
        if values.count < schema.columns.count {  // omitted columns and DEFAULT cells
            for column in schema.columns where values[column.id] == nil {
                // Serial columns made before sequences existed take the row id.
                let value = column.serial == true && column.defaultSQL == nil && column.sequence == nil
                    ? .integer(rid) : try defaults.value(for: column, handle: handle)
                sawNull = sawNull || value.isNull
                values[column.id] = value
            }
        }
        if sawNull {
            // Generated columns are computed (and checked) after this; BEFORE ROW triggers check after they ran.
            for column in schema.columns where checkNotNull && column.notNull && column.generatedSQL == nil && (values[column.id] ?? .null).isNull {
                throw RedError(.notNullViolation, "null value in column \"\(column.name)\" of relation \"\(handle.name)\" violates not-null constraint")
            }
            values.removeAll { $0.value.isNull }
        }
        return StoredRow(rid: rid, values: values, expiresAt: expiresAt, createdAt: context.now, updatedAt: context.now)
    }

    func coerce(_ v: Value, _ column: ColumnDefinition, _ handle: TableHandle) throws -> Value {
        do { return try column.coerce(context.readingInstant(v, for: column)) } catch let error as RedError { throw columnError(error, column, handle) }
    }

    /// A coercion error, naming the column and the relation.
    func columnError(_ error: RedError, _ column: ColumnDefinition, _ handle: TableHandle) -> RedError {
        RedError(error.code, "\(error.message) (column \"\(column.name)\" of relation \"\(handle.name)\")", detail: error.detail,
                 condition: error.condition)
    }

    func documentRow(_ columnNames: [String]?, _ source: [Value?], _ handle: TableHandle, expiresAt: Int64?) throws -> StoredRow {
        if let columnNames, columnNames != ["body"] {
            throw RedError(.undefinedColumn, "document inserts take one column, body (got \(columnNames.joined(separator: ", ")))")
        }
        guard source.count == 1, let value = source[0] else { throw RedError(.syntaxError, "a document insert takes exactly one value: the JSON body") }
        let body: JSONValue
        switch value {
        case .json(let j): body = j
        case .text(let s):
            do { body = try JSONValue.parse(s) } catch { throw RedError(.invalidTextRepresentation, "invalid JSON body: \(s)") }
        default: throw RedError(.invalidTextRepresentation, "a document body must be a JSON object, got \(value.kindName)")
        }
        guard case .object = body else { throw RedError(.invalidTextRepresentation, "a document body must be a JSON object") }
        let rid = try store.nextRowID(tx, handle)
        return StoredRow(rid: rid, values: [0: .json(body)], expiresAt: expiresAt, createdAt: context.now, updatedAt: context.now)
    }

    func insertKV(_ columnNames: [String]?, _ source: [Value?], _ handle: TableHandle, expiresAt: Int64?) throws {
        let names = columnNames ?? ["key", "value"]
        guard let k = names.firstIndex(of: "key"), let v = names.firstIndex(of: "value"), names.count == 2, source.count == 2 else {
            throw RedError(.syntaxError, "KV inserts take the columns (key, value)")
        }
        guard let key = source[k], !key.isNull else { throw RedError(.notNullViolation, "a KV key cannot be null") }
        let kv = KVExecutor(context: context)
        try kv.put(handle, key: key.displayText, value: source[v] ?? .null, expiresAt: expiresAt,
                   existing: try kv.liveItem(handle, key: key.displayText))
    }

    // MARK: UPDATE / DELETE

    func writableTarget(_ table: String) throws -> TableHandle {
        guard let handle = try store.open(tx, table) else {
            if try ViewCatalog.definition(of: table, tx) != nil { throw RedError(.invalidOperation, "cannot change view \"\(table)\"") }
            throw RedError(.undefinedCollection, "relation \"\(table)\" does not exist")
        }
        return handle
    }

    func targetScan(table: String, alias: String?, whereClause: Expr?, planner: Planner, opened: TableHandle? = nil) throws -> TableScanNode {
        let handle = try opened ?? writableTarget(table)
        let scan = TableScanNode(handle: handle, qualifier: try alias ?? SchemaCatalog.localName(table, context.transaction))
        if let whereClause {
            let scope = Scope(scan.columns, parent: nil)
            scan.addPredicates(try planner.bind(whereClause, BindingContext(scope: scope, aggregatesForbiddenIn: "WHERE")).conjuncts)
        }
        return scan
    }

    /// Every (key, stored row, values) the statement targets, read before any write.
    func collectTargets(_ scan: TableScanNode) throws -> [(key: [UInt8], row: StoredRow, values: [Value])] {
        let iterator = try scan.openRows(context, outerRows: [])
        iterator.keepsStoredRecords = true
        var targets: [(key: [UInt8], row: StoredRow, values: [Value])] = []
        while let values = try iterator.next() {
            guard let row = iterator.currentRow else { continue }
            targets.append((iterator.currentKey, row, values))
            try context.checkMaterialized(targets.count, "UPDATE/DELETE")
        }
        return targets
    }

    /// The rows an UPDATE/DELETE touches and the scope its expressions see: the target
    /// table's rows, or (with FROM/USING) the target joined with the other tables, one
    /// row per target row (the first match, as PostgreSQL leaves it unspecified).
    func targets(table: String, opened: TableHandle, alias: String?, joined: TableRef?, whereClause: Expr?, planner: Planner,
                 statement: String) throws -> (handle: TableHandle, scope: Scope, rows: [(key: [UInt8], row: StoredRow, values: [Value])]) {
        guard let joined else {
            let scan = try targetScan(table: table, alias: alias, whereClause: whereClause, planner: planner, opened: opened)
            try refuseAppendOnly(scan.handle, statement)
            let rows = try collectTargets(scan)
            try awaitRowLocks(scan.handle, rows)
            return (scan.handle, Scope(scan.columns, parent: nil), rows)
        }
        let handle = opened
        try refuseAppendOnly(handle, statement)
        guard handle.schema.model == .table else {
            throw RedError(.featureNotSupported, "\(statement) with \(statement == "UPDATE" ? "FROM" : "USING") works on tables; \(table) is a \(handle.schema.model.rawValue) collection")
        }
        let (plan, scope, _) = try planner.planFrom(.join(.table(table, alias: alias), joined, .cross, on: nil), whereClause: whereClause, outer: nil)
        let ridPosition = handle.schema.columns.count  // the target is the first input; its hidden rid follows its columns
        let iterator = try context.open(plan, outerRows: [])
        var seen = Set<Int64>()
        var rows: [(key: [UInt8], row: StoredRow, values: [Value])] = []
        while let values = try iterator.next() {
            guard case .integer(let rid) = values[ridPosition], seen.insert(rid).inserted,
                  let stored = try store.get(tx, handle, rid: rid) else { continue }
            rows.append((StoredRow.key(rid: rid), stored, values))
            try context.checkMaterialized(rows.count, statement)
        }
        try awaitRowLocks(handle, rows)
        return (handle, scope, rows)
    }

    /// Before the first write: waits for the row locks other transactions hold on the target
    /// rows (`SELECT … FOR UPDATE`, or another block's UPDATE or DELETE), by stopping the
    /// statement to run again; then locks the rows itself, unless there are more than the
    /// session allows (`SessionLocks.lockRowsForWrite`). A row waited for or locked that a commit the
    /// statement's snapshot does not see changed fails now with 40001 rather than at commit:
    /// REPEATABLE READ's answer, and under READ COMMITTED the session's cue to run the
    /// statement again on a fresh snapshot (`Session.runWaitingForLocks`).
    func awaitRowLocks(_ handle: TableHandle, _ rows: [(key: [UInt8], row: StoredRow, values: [Value])]) throws {
        guard let locks = context.locks, !rows.isEmpty, [.table, .document].contains(handle.schema.model) else { return }
        let relation = (id: handle.collection.id, name: handle.name)
        var check = try locks.awaitRowsForWrite(rows.lazy.map { StoredRow.rid(fromKey: $0.key) }, of: relation)
        if rows.count <= context.rowLocksPerWrite {
            check += try locks.lockRowsForWrite(rows.map { StoredRow.rid(fromKey: $0.key) }, of: relation)
        }
        for rid in check where try tx.changedSinceSnapshot(handle.collection, key: StoredRow.key(rid: rid)) {
            throw LockRowsNode.concurrentUpdate(of: handle.name)
        }
    }

    /// A materialized view's rows change by REFRESH alone, as in PostgreSQL.
    func refuseMaterializedView(_ handle: TableHandle) throws {
        if handle.schema.materializedQuery != nil, context.refreshingMaterializedView != handle.name {
            throw RedError(.invalidOperation, "cannot change materialized view \"\(handle.name)\"")
        }
    }

    func refuseAppendOnly(_ handle: TableHandle, _ statement: String) throws {
        try refuseMaterializedView(handle)
        if handle.schema.appendOnly {
            throw RedError(.invalidOperation, "table \"\(handle.name)\" is APPEND ONLY: \(statement) is not allowed")
        }
    }

    // MARK: RETURNING

    struct Returning {
        let exprs: [BoundExpr]
        let columns: [ScopeColumn]
    }

    func bindReturning(_ items: [SelectItem], handle: TableHandle, alias: String?, planner: Planner) throws -> Returning {
        try bindReturning(items, scope: Scope(TableScanNode.columns(of: handle.schema, qualifier: alias ?? SchemaCatalog.localName(handle.name, context.transaction)), parent: nil), planner: planner)
    }

    func bindReturning(_ items: [SelectItem], scope: Scope, planner: Planner) throws -> Returning {
        let columns = scope.columns
        let ctx = BindingContext(scope: scope, aggregatesForbiddenIn: "RETURNING")
        var exprs: [BoundExpr] = []
        var out: [ScopeColumn] = []
        for item in items {
            if case .star(let qualifier) = item.expr {
                // `RETURNING t.*`: that table's columns only (UPDATE … FROM brings others into scope).
                if let qualifier, !columns.contains(where: { $0.qualifier == qualifier }) {
                    throw RedError(.undefinedCollection, "missing FROM-clause entry for table \"\(qualifier)\"")
                }
                for (i, c) in columns.enumerated() where !c.hidden && (qualifier == nil || c.qualifier == qualifier) {
                    exprs.append(.column(i))
                    out.append(ScopeColumn(qualifier: nil, name: c.name, type: c.type, element: c.element, surfaceType: c.surfaceType))
                }
                continue
            }
            var bound = try planner.bind(item.expr, ctx)
            out.append(planner.outputColumn(&bound, named: item.alias ?? Planner.columnName(item.expr), ctx))
            exprs.append(bound)
        }
        return Returning(exprs: exprs, columns: out)
    }

    func finish(type: String, tag: String, affected: Int, returning: Returning?, rows: [[Value]]) -> QueryResult {
        guard let returning else { return QueryResult(columns: [], rows: [], rowsAffected: affected, statementType: type, commandTag: tag) }
        return QueryResult(columns: StatementExecutor.resultColumns(returning.columns, rows), rows: rows, rowsAffected: affected,
                           statementType: type, commandTag: tag)
    }
}
