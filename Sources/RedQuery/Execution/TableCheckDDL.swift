import RedCore
import RedEngine

/// A table's CHECK constraints in DDL: adding them (named as PostgreSQL names them), and
/// checking that they bind and that the rows already there pass (`CheckConstraints`).
extension DDLExecutor {
    /// Names, validates and appends new CHECK constraints (see `CheckConstraints`); their names.
    @discardableResult
    func addChecks(_ specs: [CheckSpec], to schema: inout CollectionSchema, table: String) throws -> Set<String> {
        guard !specs.isEmpty else { return [] }
        guard schema.model == .table else { throw RedError(.invalidOperation, "CHECK constraints need a table; \(table) is a \(schema.model.rawValue) collection") }
        var checks = schema.checks ?? []
        guard checks.count + specs.count <= Self.maxChecks else {
            throw RedError(.limitExceeded, "tables can have at most \(Self.maxChecks) CHECK constraints")
        }
        var added: Set<String> = []
        let planner = Planner(context: context)
        for spec in specs {
            let taken = checks.map(\.name) + schema.indexes.filter(\.isConstraint).map(\.name) + (schema.foreignKeys ?? []).map(\.name)
            _ = try CheckConstraints.bind(spec.sql, columns: schema.columns, table: table, planner: planner)
            let local = try SchemaCatalog.localName(table, tx)
            let name = try CheckConstraints.name(for: spec, table: local, columns: schema.columns, taken: taken, planner: planner)
            checks.append(.init(name: name, sql: spec.sql))
            added.insert(name)
        }
        schema.checks = checks
        return added
    }

    /// Refuses a change after which a check no longer binds (`what`: the change, as a verb phrase).
    func requireChecksBind(_ schema: CollectionSchema, table: String, what: String) throws {
        let planner = Planner(context: context)
        for check in schema.checks ?? [] {
            do {
                _ = try CheckConstraints.bind(check.sql, columns: schema.columns, table: table, planner: planner)
            } catch {
                throw RedError(.dependentObjectsStillExist,
                               "cannot \(what): check constraint \(check.name) names it in a way that cannot be rewritten; drop the constraint, \(what), then add it again")
            }
        }
        for index in schema.indexes where !index.isPlain {
            do {
                for (sql, part) in IndexExpressions.sql(of: index) {
                    _ = try IndexExpressions.bind(sql, part: part, columns: schema.columns, table: table, planner: planner)
                }
            } catch {
                throw RedError(.dependentObjectsStillExist,
                               "cannot \(what): index \(index.name) names it in a way that cannot be rewritten; drop the index, \(what), then create it again")
            }
        }
    }

    /// Fails with 23514 if a row already in the table breaks one of `handle`'s checks named in `names`.
    func verifyExistingRows(_ handle: TableHandle, names: Set<String>) throws {
        let checks = try CheckConstraints(handle.schema, table: handle.name, planner: Planner(context: context), only: names)
        guard !checks.isEmpty else { return }
        let cursor = try store.scan(tx, handle)
        while let row = try cursor.next() {
            guard row.isVisible(at: context.now), let name = try checks.firstViolated(by: row) else { continue }
            throw RedError(.checkViolation, "check constraint \"\(name)\" of relation \"\(handle.name)\" is violated by some row")
        }
    }
}
