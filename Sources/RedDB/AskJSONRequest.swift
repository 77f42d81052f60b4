import RedCore
import RedQuery

/// An ask as a JSON request, as HTTP's `POST /ai/ask`, gRPC's `Ask` and MCP's `reddb.ask`
/// take it, turned into one `ASK` statement, and the ASK row turned back into the envelope
/// they all answer with.
///
/// ```json
/// {"question": "which orders are late?", "provider": "openai", "model": "gpt-4.1",
///  "depth": 2, "limit": 20, "seed": 7, "min_score": 0.2, "temperature": 0,
///  "collection": "orders", "strict": true, "cache_ttl": "5m", "nocache": false}
/// ```
/// The question and the numbers travel as parameters; the provider and model as quoted
/// literals and the collection as a quoted name, so a request is always one statement.
public enum AskJSONRequest {
    public static func statement(_ body: JSONValue) throws -> (sql: String, parameters: [Value]) {
        guard case .object = body, case .string(let question)? = body["question"] else {
            throw RedError(.invalidArgument, "an ask request needs question: a string")
        }
        var clauses = ""
        var parameters: [Value] = [.text(question)]
        func parameter(_ value: Value) -> String {
            parameters.append(value)
            return "$\(parameters.count)"
        }
        if let p = try optionalText(body, "provider") { clauses += " USING \(Session.literal(p))" }
        if let m = try optionalText(body, "model") { clauses += " MODEL \(Session.literal(m))" }
        for (field, clause) in [("depth", "DEPTH"), ("limit", "LIMIT"), ("seed", "SEED")] {
            guard let v = body[field] else { continue }
            guard case .integer(let n) = v else { throw RedError(.invalidArgument, "\(field) must be an integer") }
            clauses += " \(clause) \(parameter(.integer(n)))"
        }
        for (field, clause) in [("min_score", "MIN_SCORE"), ("temperature", "TEMPERATURE")] {
            guard let v = body[field] else { continue }
            guard let d = v.number else { throw RedError(.invalidArgument, "\(field) must be a number") }
            clauses += " \(clause) \(parameter(.float(d)))"
        }
        if let c = try optionalText(body, "collection") { clauses += " COLLECTION \(Session.identifier(c))" }
        if let strict = body["strict"] {
            guard case .bool(let on) = strict else { throw RedError(.invalidArgument, "strict must be true or false") }
            clauses += on ? " STRICT ON" : " STRICT OFF"
        }
        let ttl = try optionalText(body, "cache_ttl")
        var nocache = false
        if let given = body["nocache"] {
            guard case .bool(let on) = given else { throw RedError(.invalidArgument, "nocache must be true or false") }
            nocache = on
        }
        if ttl != nil && nocache { throw RedError(.invalidArgument, "an ask takes a cache TTL or nocache, not both") }
        if let ttl { clauses += " CACHE TTL \(Session.literal(ttl))" }
        if nocache { clauses += " NOCACHE" }
        return ("ASK $1" + clauses, parameters)
    }

    /// The ASK envelope of an ASK result's row: `{ok, answer, provider, model, mode, …}`.
    public static func envelope(_ result: QueryResult) -> JSONValue {
        guard let row = result.rows.first else { return .object([("ok", .bool(false))]) }
        var members: [(String, JSONValue)] = [("ok", .bool(true))]
        for (column, value) in zip(result.columns, row) where column.name != "answer_tokens" || !value.isNull {
            members.append((column.name, value.jsonValue))
        }
        return .object(members)
    }

    static func optionalText(_ body: JSONValue, _ field: String) throws -> String? {
        switch body[field] {
        case nil, .null?: return nil
        case .string(let s)?: return s.isBlank ? nil : s
        default: throw RedError(.invalidArgument, "\(field) must be a string")
        }
    }
}
