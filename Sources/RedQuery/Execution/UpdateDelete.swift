import RedCore
import RedEngine

/// UPDATE and DELETE (`DMLExecutor`): the target rows are read first (`targets`), then written;
/// SET's assignments bound and applied; the table's triggers fired around and between the
/// writes (`TableTriggers`).
extension DMLExecutor {
    func update(table: String, alias: String?, assignments: [Assignment], from: TableRef?, whereClause: Expr?,
                returning: [SelectItem]?) throws -> QueryResult {
        let planner = Planner(context: context)
        let opened = try writableTarget(table)
        let triggers = try TableTriggers.of(opened, .update, setColumns: Set(assignments.map { $0.column.lowercased() }), context: context)
        let (handle, scope, targets) = try self.targets(table: table, opened: opened, alias: alias, joined: from, whereClause: whereClause,
                                                        planner: planner, statement: "UPDATE")
        // After the targets are read: the statement does not see what the trigger writes, as
        // PostgreSQL's snapshot, taken before, does not.
        try triggers?.fireBeforeStatement()
        let ctx = BindingContext(scope: scope, aggregatesForbiddenIn: "UPDATE")
        var defaults = DefaultValues(planner: planner, context: context)
        let checks = try CheckConstraints(handle, planner: planner)
        let generated = try GeneratedColumns(handle, planner: planner)
        let bound = try bindAssignments(assignments, handle: handle, ctx: ctx, planner: planner)
        let returningExprs = try returning.map { try bindReturning($0, scope: scope, planner: planner) }
        let targetWidth = TableScanNode.columns(of: handle.schema, qualifier: nil).count
        let eval = context.evaluation([])
        var returned: [[Value]] = []
        let foreignKeys = ForeignKeyEnforcement.of(handle, context: context)
        var updates: [(key: [UInt8], old: StoredRow, new: StoredRow)] = []
        func write(_ u: (key: [UInt8], old: StoredRow, new: StoredRow)) throws {
            // A BEFORE STATEMENT trigger may have changed it since the statement read it (27000).
            if let triggers, triggers.hasBeforeStatement, !triggers.hasBeforeRow { try triggers.requireUnchangedSinceRead(u.old) }
            if handle.schema.model == .kv {
                try store.putKV(tx, handle, key: String(decoding: u.key, as: UTF8.self), row: u.new, previous: u.old)
            } else {
                try store.update(tx, handle, old: u.old, new: u.new, now: context.now)
                try foreignKeys?.updated(handle, old: u.old, new: u.new)
                try triggers?.rowWritten(new: u.new, old: u.old)
            }
            if let returningExprs {
                // The new row in place of the old one; joined tables' columns stay as matched.
                let joinedValues = targets.first { $0.key == u.key }.map { Array($0.values.dropFirst(targetWidth)) } ?? []
                let values = TableScanNode.values(of: u.new, key: u.key, schema: handle.schema) + joinedValues
                returned.append(try returningExprs.exprs.map { try eval.evaluate($0, values) })
            }
        }
        if let triggers, triggers.hasBeforeRow {
            // SET is evaluated for every row first, against the rows as the statement read them
            // (PostgreSQL's snapshot); then the rows go one at a time, as PostgreSQL goes, so a
            // row's trigger sees the rows written before it.
            let applied = try targets.map {
                try applying(bound, to: $0.row, values: $0.values, handle: handle, defaults: &defaults, eval: eval, checkNotNull: false)
            }
            let locksKeys = locksBeforeInserting(rowCount: targets.count, handle)  // the statement's limit, not one row's
            for (target, applied) in zip(targets, applied) {
                try triggers.requireUnchangedSinceRead(target.row)  // a trigger changed it since the statement read it: 27000
                guard let changed = try triggers.beforeRow(new: applied, old: target.row) else { continue }  // NULL: the row is skipped
                let new = try generated.filled(changed)
                try checks.verify(new, old: target.row)
                try triggers.requireUnchangedSinceRead(target.row)  // its own trigger changed it
                if locksKeys { try lockUniqueKeys(of: [new], handle, replacing: [target.row]) }
                updates.append((target.key, target.row, new))
                try write(updates[updates.count - 1])
            }
        } else {
            // Every new row is validated before any is written (the statement is atomic either way; this keeps errors early).
            for target in targets {
                let new = try generated.filled(try applying(bound, to: target.row, values: target.values, handle: handle, defaults: &defaults, eval: eval))
                try checks.verify(new, old: target.row)
                updates.append((target.key, target.row, new))
            }
            try lockUniqueKeys(of: updates.map(\.new), handle, replacing: updates.map(\.old))
            for u in updates { try write(u) }
        }
        try foreignKeys?.settle()
        try triggers?.fireAfter()
        try foreignKeys?.fireCascadedAfterTriggers()
        return finish(type: "update", tag: "UPDATE \(updates.count)", affected: updates.count, returning: returningExprs, rows: returned)
    }

    func delete(table: String, alias: String?, using: TableRef?, whereClause: Expr?, returning: [SelectItem]?) throws -> QueryResult {
        let planner = Planner(context: context)
        let opened = try writableTarget(table)
        let triggers = try TableTriggers.of(opened, .delete, context: context)
        let (handle, scope, targets) = try self.targets(table: table, opened: opened, alias: alias, joined: using, whereClause: whereClause,
                                                        planner: planner, statement: "DELETE")
        try triggers?.fireBeforeStatement()  // after the targets are read, as UPDATE's
        let returningExprs = try returning.map { try bindReturning($0, scope: scope, planner: planner) }
        let eval = context.evaluation([])
        var returned: [[Value]] = []
        let foreignKeys = ForeignKeyEnforcement.of(handle, context: context)
        var deleted = 0
        for target in targets {
            if let triggers, triggers.hasBeforeRow || triggers.hasBeforeStatement {
                try triggers.requireUnchangedSinceRead(target.row)  // a trigger changed it since the statement read it: 27000
                guard try triggers.beforeRow(new: nil, old: target.row) != nil else { continue }
                try triggers.requireUnchangedSinceRead(target.row)
            }
            try store.deleteScanned(tx, handle, key: target.key, row: target.row)
            try foreignKeys?.deleted(handle, target.row)
            try triggers?.rowWritten(new: nil, old: target.row)
            deleted += 1
            if let returningExprs { returned.append(try returningExprs.exprs.map { try eval.evaluate($0, target.values) }) }
        }
        try foreignKeys?.settle()
        try triggers?.fireAfter()
        try foreignKeys?.fireCascadedAfterTriggers()
        return finish(type: "delete", tag: "DELETE \(deleted)", affected: deleted, returning: returningExprs, rows: returned)
    }

    /// One SET item, bound: the column (tables), the JSON path (documents) or the value (KV); nil value = DEFAULT.
    struct BoundAssignment {
        let column: ColumnDefinition?
        let path: [String]
        let value: BoundExpr?
    }

    func bindAssignments(_ assignments: [Assignment], handle: TableHandle, ctx: BindingContext, planner: Planner) throws -> [BoundAssignment] {
        var assigned = Set<String>()
        for a in assignments where !assigned.insert(a.column).inserted {
            throw RedError(.syntaxError, "multiple assignments to same column \"\(a.column)\"")
        }
        return try assignments.map { a in
            var value: BoundExpr?
            if case .function(let call) = a.value, call.name == "__default" { value = nil } else {
                let rhs = try planner.bind(a.value, ctx)
                if a.op == "=" { value = rhs } else {
                    let current = try planner.bind(.column([a.column]), ctx)
                    value = .arithmetic(String(a.op.dropLast()), current, rhs)
                }
            }
            switch handle.schema.model {
            case .table:
                guard let column = handle.schema.column(named: a.column) else {
                    throw RedError(.undefinedColumn, "column \"\(a.column)\" of relation \"\(handle.name)\" does not exist")
                }
                if value != nil, column.identity == IdentityGeneration.always.rawValue { throw Self.generatedAlwaysError(column.name, insert: false) }
                if value != nil, column.generatedSQL != nil { throw Self.generatedColumnError(column.name, insert: false) }
                return BoundAssignment(column: column, path: [], value: value)
            case .document: return BoundAssignment(column: nil, path: a.column.split(separator: ".").map(String.init), value: value)
            case .kv:
                guard a.column == "value" else { throw RedError(.invalidOperation, "only the value of a KV item can be updated") }
                return BoundAssignment(column: nil, path: ["value"], value: value)
            case .vector:
                return BoundAssignment(column: nil, path: [try Self.vectorField(a.column)], value: value)
            case .graph:
                return BoundAssignment(column: nil, path: [a.column], value: value)
            }
        }
    }

    /// `row` with the assignments applied; every right-hand side sees `values` (the old row).
    func applying(_ bound: [BoundAssignment], to row: StoredRow, values: [Value], handle: TableHandle,
                  defaults: inout DefaultValues, eval: Evaluation, checkNotNull: Bool = true) throws -> StoredRow {
        var new = row
        new.updatedAt = context.now
        for assignment in bound {
            let v = try assignment.value.map { try eval.evaluate($0, values) }
            switch handle.schema.model {
            case .table:
                let column = assignment.column!
                let value = try v.map { try coerce($0, column, handle) } ?? (try defaults.value(for: column, handle: handle))
                if checkNotNull, column.notNull, value.isNull, column.generatedSQL == nil {
                    throw RedError(.notNullViolation, "null value in column \"\(column.name)\" of relation \"\(handle.name)\" violates not-null constraint")
                }
                new.values[column.id] = value.isNull ? nil : value
            case .document:
                guard case .json(let body) = new.values[0] ?? .null else { continue }
                new.values[0] = .json(Self.setting(body, path: assignment.path, to: (v ?? .null).jsonValue))
            case .kv:
                new.values[0] = v ?? .null
            case .vector:
                try setVectorField(assignment.path[0], to: v ?? .null, in: &new, handle)
            case .graph:
                try setGraphField(assignment.path[0], to: v ?? .null, in: &new, handle)
            }
        }
        return new
    }

    static func setting(_ body: JSONValue, path: [String], to value: JSONValue) -> JSONValue {
        guard let first = path.first else { return value }
        guard case .object(var members) = body else { return body }
        let rest = Array(path.dropFirst())
        if let i = members.firstIndex(where: { $0.0 == first }) {
            members[i].1 = rest.isEmpty ? value : setting(members[i].1, path: rest, to: value)
        } else {
            members.append((first, rest.isEmpty ? value : setting(.object([]), path: rest, to: value)))
        }
        return .object(members)
    }
}
