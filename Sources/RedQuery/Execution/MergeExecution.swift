import RedCore
import RedEngine

/// PostgreSQL 15's `MERGE INTO target USING source ON condition WHEN [NOT] MATCHED [AND …]
/// THEN UPDATE SET … | DELETE | INSERT … | DO NOTHING`, built from the statements RedDB has,
/// so every constraint, default, index and foreign key applies as it does to them:
///
/// 1. One query decides: each source row, left-joined to the target rows the condition
///    matches, with the target row's id and the number of the first WHEN clause that applies
///    to it (matched clauses for a match, NOT MATCHED ones for none), as PostgreSQL tries them
///    in order.
/// 2. A target row that more than one source row would update or delete is 21000, as in
///    PostgreSQL ("cannot affect row a second time").
/// 3. Each clause's action then runs once over its rows, read under the source's name
///    (`withRelations`): an UPDATE … FROM or DELETE … USING joined on the row id, an
///    INSERT … SELECT. The command tag counts the rows changed.
///
/// The rows affected are the ones PostgreSQL's row-by-row run affects: the decision is made
/// before any action, and no target row is changed twice.
extension StatementExecutor {
    static let mergeRows = "__merge_rows", mergeTarget = "__merge_target", mergeAction = "__merge_action"

    func executeMerge(_ merge: MergeStatement) throws -> QueryResult {
        let targetName = try merge.alias ?? SchemaCatalog.localName(merge.target, transaction)
        guard let handle = try store.open(transaction, merge.target), handle.schema.model == .table else {
            throw RedError(.undefinedCollection, "relation \"\(merge.target)\" does not exist")
        }
        if let trigger = handle.schema.triggerList.first(where: { $0.enabled && !$0.forEachRow }) {
            throw RedError(.featureNotSupported, "MERGE into a table with statement-level triggers (\(trigger.name) on \(handle.localName)) is not supported yet; row-level triggers fire")
        }
        var executor = self
        executor.planMemo = nil
        let decided = try executor.execute(.query(Self.mergeDecision(merge, targetName: targetName)))
        guard let targetColumn = decided.columns.firstIndex(where: { $0.name == Self.mergeTarget }),
              let actionColumn = decided.columns.firstIndex(where: { $0.name == Self.mergeAction }) else {
            throw RedError(.internalError, "MERGE's decision lost its columns")
        }
        var affectedTargets: Set<Value> = []
        for row in decided.rows {
            guard case .integer(let clause) = row[actionColumn], merge.clauses[Int(clause)].matched else { continue }
            if case .nothing = merge.clauses[Int(clause)].action { continue }
            guard affectedTargets.insert(row[targetColumn]).inserted else {
                throw RedError(.cardinalityViolation, "MERGE command cannot affect row a second time",
                               detail: "Ensure that not more than one source row matches any one target row.")
            }
        }
        executor.withRelations[Self.mergeRows] = WithRelation(columns: decided.columns, rows: decided.rows, readable: true)
        let rows = TableRef.table(Self.mergeRows, alias: merge.sourceName)
        var affected = 0
        for (k, clause) in merge.clauses.enumerated() {
            let chosen = Expr.binary("=", .column([merge.sourceName, Self.mergeAction]), .literal(.integer(Int64(k))))
            let sameRow = Expr.binary("=", .column([targetName, "rid"]), .column([merge.sourceName, Self.mergeTarget]))
            let result: QueryResult
            switch clause.action {
            case .nothing:
                continue
            case .update(let assignments):
                result = try executor.execute(.update(table: merge.target, alias: targetName, assignments: assignments, from: rows,
                                                      whereClause: .binary("and", sameRow, chosen), returning: nil))
            case .delete:
                result = try executor.execute(.delete(table: merge.target, alias: targetName, using: rows,
                                                      whereClause: .binary("and", sameRow, chosen), returning: nil))
            case .insert(let columns, let values):
                guard let values else {
                    throw RedError(.featureNotSupported, "MERGE … INSERT DEFAULT VALUES is not supported; name the columns and their values")
                }
                // DEFAULT among the values: that column is left out, so it takes its default. Without
                // a column list the values fill the table's columns in order, as a plain INSERT's do.
                let names = columns ?? handle.schema.columns.prefix(values.count).map(\.name)
                guard names.count >= values.count else { throw RedError(.syntaxError, "INSERT has more expressions than target columns") }
                guard names.count <= values.count else { throw RedError(.syntaxError, "INSERT has more target columns than expressions") }
                var kept: [(String, Expr)] = []
                for (i, value) in values.enumerated() {
                    if case .function(let call) = value, call.name == "__default" { continue }
                    kept.append((names[i], value))
                }
                let select = Select(items: kept.map { SelectItem(expr: $0.1, alias: nil) }, from: rows, whereClause: chosen)
                result = try executor.execute(.insert(InsertStatement(table: merge.target, model: .row, columns: kept.map(\.0),
                                                                      source: Query(body: .select(select)))))
            }
            affected += result.rowsAffected
        }
        return QueryResult(columns: [], rows: [], rowsAffected: affected, statementType: "merge", commandTag: "MERGE \(affected)")
    }

    /// `SELECT source.*, target.rid AS __merge_target, CASE … END AS __merge_action FROM source
    /// LEFT JOIN target ON condition`.
    static func mergeDecision(_ merge: MergeStatement, targetName: String) -> Query {
        let targetID = Expr.column([targetName, "rid"])
        let branches = merge.clauses.enumerated().map { k, clause in
            let applies = Expr.isNull(targetID, negated: clause.matched)
            return WhenBranch(condition: clause.condition.map { .binary("and", applies, $0) } ?? applies, result: .literal(.integer(Int64(k))))
        }
        let select = Select(items: [SelectItem(expr: .star(qualifier: merge.sourceName), alias: nil),
                                    SelectItem(expr: targetID, alias: mergeTarget),
                                    SelectItem(expr: .caseWhen(operand: nil, branches: branches, otherwise: nil), alias: mergeAction)],
                            from: .join(merge.source, .table(merge.target, alias: targetName), .left, on: merge.condition))
        return Query(body: .select(select))
    }
}
