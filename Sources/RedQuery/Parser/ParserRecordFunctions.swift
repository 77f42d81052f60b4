import RedCore

/// `jsonb_to_record(j) AS r(a int, b text)` and `jsonb_to_recordset(j) AS r(…)` (and their
/// `json_` twins): a document's members as the columns a column definition list declares —
/// one row for `_record`, one per element of an array of objects for `_recordset`, as
/// PostgreSQL gives them (a missing member is NULL).
///
/// Parsed into what they mean, so that planning, casts and lateral references need nothing
/// of their own:
///
///     LATERAL (SELECT (doc ->> 'a')::int AS a, (doc ->> 'b')::text AS b
///              FROM (SELECT j AS doc) AS __record) AS r           -- jsonb_to_record
///              FROM jsonb_array_elements(j) AS __record(doc)      -- jsonb_to_recordset
///
/// A member is read as text and cast to its column's type, as PostgreSQL converts it (a
/// nested object into a `text` column is its jsonb text); a `json`/`jsonb` column takes the
/// member itself (`->`).
extension Parser {
    static let recordFunctions: Set<String> = ["jsonb_to_record", "json_to_record", "jsonb_to_recordset", "json_to_recordset"]
    static let recordSource = "__record"

    /// At what follows the call and its optional alias: `(name type, …)`, or `AS (name type, …)`.
    mutating func parseRecordFunction(_ call: FunctionCall, alias: String?) throws -> TableRef {
        if alias == nil, isKeyword("as"), isSymbol("(", ahead: 1) { advance() }
        guard acceptSymbol("(") else {
            throw RedError(.syntaxError, "a column definition list is required for functions returning \"record\"")
        }
        guard call.arguments.count == 1 else { throw RedError(.undefinedFunction, "function \(call.name)() takes 1 argument") }
        let document = Expr.column([Self.recordSource, "doc"])
        var items: [SelectItem] = []
        var names: Set<String> = []
        repeat {
            let name = try parseIdentifier(what: "column name")
            guard names.insert(name).inserted else { throw RedError(.duplicateColumn, "column name \"\(name)\" specified more than once") }
            let whole = (isKeyword("json") || isKeyword("jsonb")) && !isSymbol("[", ahead: 1)
            let member = operatorCall(whole ? "__json_get" : "__json_get_text", document, .literal(.text(name)))
            items.append(SelectItem(expr: try parseCastTarget(member), alias: name))
        } while acceptSymbol(",")
        try expectSymbol(")")
        let source: TableRef
        if call.name.hasSuffix("_recordset") {
            let elements = FunctionCall(name: call.name.hasPrefix("jsonb") ? "jsonb_array_elements" : "json_array_elements",
                                        arguments: call.arguments, distinct: false, star: false)
            source = .function(elements, alias: Self.recordSource, columns: ["doc"])
        } else {
            source = .subquery(Query(body: .select(Select(items: [SelectItem(expr: call.arguments[0], alias: "doc")]))), alias: Self.recordSource, columns: [])
        }
        return .lateral(.subquery(Query(body: .select(Select(items: items, from: source))), alias: alias ?? call.name, columns: []))
    }
}
