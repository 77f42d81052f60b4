import RedCore
import RedEngine

/// `SELECT * FROM s` on a sequence: one row, `last_value`, `log_cnt`, `is_called`, as
/// PostgreSQL shows a sequence relation. Read when the plan runs, not when it is made: a
/// prepared statement shows the counter as it is at each execution. The definition is looked
/// up again then too, so a sequence dropped since is 42P01 rather than a stale row.
final class SequenceRelationNode: PlanNode, @unchecked Sendable {
    let name: String
    let columns: [ScopeColumn]

    init(name: String, qualifier: String) {
        self.name = name
        columns = [ScopeColumn(qualifier: qualifier, name: "last_value", type: .integer),
                   ScopeColumn(qualifier: qualifier, name: "log_cnt", type: .integer),
                   ScopeColumn(qualifier: qualifier, name: "is_called", type: .boolean)]
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        guard let definition = try context.store.sequences.definition(context.transaction, name) else {
            throw RedError(.undefinedCollection, "relation \"\(name)\" does not exist")
        }
        let state = try context.store.sequences.state(definition)
        return ArrayIterator([[.integer(state.lastValue), .integer(state.reservedAhead), .boolean(state.isCalled)]])
    }

    func explain(_ depth: Int) -> [String] { [line(depth, "Seq Scan on \(name)")] }
}
