import RedCore

/// `jsonb_each(j)`, `jsonb_array_elements(j)`, `jsonb_object_keys(j)` and their `json` and
/// `_text` kin (`JSONFunctions.tableFunctions`): one row per member, element or key of a
/// document, in its order; `jsonb_path_query`'s items. In a select list the single-column ones
/// are planned through `SetReturningCalls`, as PostgreSQL runs them. Strict: a NULL argument
/// gives no rows. The arguments are evaluated once per open, which is once per outer row when it reads an earlier
/// FROM item (lateral).
final class JSONTableFunctionNode: PlanNode, @unchecked Sendable {
    let name: String
    let function: JSONFunctions.TableFunction
    /// The document, then any further arguments (`jsonb_path_query`'s path, vars, silent).
    let arguments: [BoundExpr]
    let columns: [ScopeColumn]

    init(name: String, function: JSONFunctions.TableFunction, arguments: [BoundExpr], columns: [ScopeColumn]) {
        self.name = name
        self.function = function
        self.arguments = arguments
        self.columns = columns
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let evaluation = context.evaluation(outerRows)
        let values = try arguments.map { try evaluation.evaluate($0, []) }
        let rows = values.contains(where: \.isNull) ? [] : try function.rows(try JSONOperators.document(values[0]), Array(values.dropFirst()), context)
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
