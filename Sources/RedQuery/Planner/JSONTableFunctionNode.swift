import RedCore

/// `jsonb_each(j)`, `jsonb_array_elements(j)`, `jsonb_object_keys(j)` and their `json` and
/// `_text` kin (`JSONFunctions.tableFunctions`): one row per member, element or key of a
/// document, in its order. In a select list the single-column ones are planned through
/// `SetReturningCalls`, as PostgreSQL runs them. Strict: a NULL document gives no rows. The
/// argument is evaluated once per open, which is once per outer row when it reads an earlier
/// FROM item (lateral).
final class JSONTableFunctionNode: PlanNode, @unchecked Sendable {
    let name: String
    let function: JSONFunctions.TableFunction
    let argument: BoundExpr
    let columns: [ScopeColumn]

    init(name: String, function: JSONFunctions.TableFunction, argument: BoundExpr, columns: [ScopeColumn]) {
        self.name = name
        self.function = function
        self.argument = argument
        self.columns = columns
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let value = try context.evaluation(outerRows).evaluate(argument, [])
        let rows = value.isNull ? [] : try function.rows(try JSONOperators.document(value))
        try context.checkMaterialized(rows.count, name)
        var index = 0
        return ClosureIterator {
            guard index < rows.count else { return nil }
            if index & 4095 == 4095 { try context.checkCancelled() }
            defer { index += 1 }
            return rows[index]
        }
    }

    func explain(_ depth: Int) -> [String] { [line(depth, "Function Scan on \(name)")] }
}
