import RedCore
import RedEngine

/// `jsonb_populate_record(NULL::t, j)` and `jsonb_populate_recordset(NULL::t, j)` (and `json_`):
/// a document's members (an array's objects, one row each) as a row of table `t`'s type — its
/// columns, in order, each converted to the column's type; a missing member is NULL, others
/// are ignored. PostgREST writes rows this way (`INSERT INTO t SELECT * FROM
/// json_populate_recordset(NULL::t, $1)`).
///
/// Planned as `jsonb_to_record[set]` is parsed (`Parser.parseRecordFunction`), with the column
/// definition list read from the table: a lateral subquery reading each member of the document
/// as text cast to its column's type (a `json` column takes the member itself, an array column
/// its JSON array). Only a NULL base record is taken; PostgreSQL would fill missing members
/// from another one.
extension Planner {
    static let populateFunctions: Set<String> = ["jsonb_populate_record", "json_populate_record", "jsonb_populate_recordset", "json_populate_recordset"]

    func planPopulateRecord(_ call: FunctionCall, alias: String?, names: [String], outer: Scope?) throws -> PlanNode {
        guard call.arguments.count == 2 else {
            throw RedError(.undefinedFunction, "function \(call.name)() takes 2 arguments: a base record (NULL::table) and the document")
        }
        let typeName = try Self.recordType(of: call.arguments[0], function: call.name)
        guard let handle = try context.store.open(context.transaction, typeName) else {
            throw RedError(.undefinedObject, "type \"\(typeName)\" does not exist")
        }
        guard handle.schema.model == .table else { throw RedError(.featureNotSupported, "\(call.name) needs a table's row type; \"\(typeName)\" is not a table") }
        func invoke(_ name: String, _ arguments: [Expr]) -> Expr { .function(FunctionCall(name: name, arguments: arguments, distinct: false, star: false)) }
        var document = Expr.column([Parser.recordSource, "doc"])
        if call.name.hasSuffix("_recordset") {  // each element an object
            document = invoke(DeclaredCast.recordDocument.name, [document, .literal(.text(call.name))])
        }
        let items = handle.schema.columns.map { column in
            SelectItem(expr: Self.member(column, of: document), alias: column.name)
        }
        let source: TableRef
        if call.name.hasSuffix("_recordset") {
            let elements = FunctionCall(name: call.name.hasPrefix("jsonb") ? "jsonb_array_elements" : "json_array_elements",
                                        arguments: [call.arguments[1]], distinct: false, star: false)
            source = .function(elements, alias: Parser.recordSource, columns: ["doc"])
        } else {
            let checked = invoke(DeclaredCast.recordDocument.name, [call.arguments[1]])
            source = .subquery(Query(body: .select(Select(items: [SelectItem(expr: checked, alias: "doc")]))), alias: Parser.recordSource, columns: [])
        }
        let query = Query(body: .select(Select(items: items, from: source)))
        return try planLeaf(.lateral(.subquery(query, alias: alias ?? call.name, columns: names)), outer: outer)
    }

    /// The table a base record names: `NULL::t`, `CAST(NULL AS t)` (`public.t` too).
    private static func recordType(of base: Expr, function: String) throws -> String {
        guard case .function(let cast) = base, cast.name == Parser.surfaceCast, cast.arguments.count == 2,
              case .literal(.text(let name)) = cast.arguments[1] else {
            throw RedError(.featureNotSupported, "\(function) needs a NULL base record of a table's type (NULL::table)")
        }
        guard case .literal(.null) = cast.arguments[0] else {
            throw RedError(.featureNotSupported, "\(function) with a base record other than NULL is not supported; give NULL::\(name)")
        }
        return name.hasPrefix("public.") ? String(name.dropFirst("public.".count)) : name
    }

    /// A member of the document as `column`'s value, as PostgreSQL converts it.
    private static func member(_ column: ColumnDefinition, of document: Expr) -> Expr {
        func call(_ name: String, _ arguments: [Expr]) -> Expr { .function(FunctionCall(name: name, arguments: arguments, distinct: false, star: false)) }
        let key = Expr.literal(.text(column.name))
        if column.type == .json { return call("__json_get", [document, key]) }
        if column.type == .array {
            let whole = call("__json_get", [document, key])
            guard let element = column.arrayElement else { return .cast(whole, .array) }
            return call("__array_cast", [whole, .literal(.text(element.rawValue))])
        }
        let text = call("__json_get_text", [document, key])
        if let enumType = column.enumType { return call(Parser.surfaceCast, [text, .literal(.text(enumType))]) }
        guard let declared = column.declared else { return .cast(text, column.type) }
        let surface = Expr.literal(.text(declared.surfaceName))
        // A length is checked as a column's input checks it, not cut as an explicit cast would.
        let input = [.varchar, .bpchar].contains(declared.kind) ? call(DeclaredCast.input.name, [text, surface]) : text
        return call(DeclaredCast.name, [.cast(input, column.type), surface])
    }
}
