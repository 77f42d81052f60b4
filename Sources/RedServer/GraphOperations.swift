import Foundation
import RedCore
import RedDB

/// Graph nodes, edges and commands (and text search) for HTTP (`POST /collections/{c}/nodes`, `/edges`,
/// `/bulk/nodes`, `/bulk/edges`, `/graph/neighborhood`, `/graph/traverse`,
/// `/graph/shortest-path`), gRPC (`CreateNode`, `CreateEdge`, `BulkCreateNodes`,
/// `BulkCreateEdges`, `GraphNeighborhood`, `GraphTraverse`, `GraphShortestPath`) and RedWire
/// (`GraphTraverse`, 0x27): each request becomes one RQL statement with its values as
/// parameters, so every surface answers alike. Command requests are `GraphRequest`'s.
extension CollectionOperations {
    /// `{"label", "node_type"?, "properties"?: {…}}` → `{"collection","id","ok","rid"}`.
    func insertNode(_ name: String, _ body: JSONValue) async throws -> JSONValue {
        guard case .string(let label)? = body["label"] else { throw RedError(.invalidArgument, "a node needs a label (a string)") }
        let nodeType = body["node_type"].map { Value(json: $0) } ?? .null
        return try await insertGraphItem(name, "NODE (label, node_type, properties)", [.text(label), nodeType, try Self.properties(body)])
    }

    /// `{"label", "from", "to", "weight"?, "properties"?: {…}}`; `from` and `to` are node ids or unique labels.
    func insertEdge(_ name: String, _ body: JSONValue) async throws -> JSONValue {
        guard case .string(let label)? = body["label"] else { throw RedError(.invalidArgument, "an edge needs a label (a string)") }
        guard let from = body["from"] ?? body["from_rid"], let to = body["to"] ?? body["to_rid"] else {
            throw RedError(.invalidArgument, "an edge needs from and to: node ids or labels")
        }
        let weight = body["weight"].map { Value(json: $0) } ?? .float(1)
        return try await insertGraphItem(name, "EDGE (label, from, to, weight, properties)",
                                         [.text(label), Value(json: from), Value(json: to), weight, try Self.properties(body)])
    }

    private static func properties(_ body: JSONValue) throws -> Value {
        switch body["properties"] {
        case nil, .null?: return .null
        case .object(let members)? where !members.isEmpty: return .json(.object(members))
        case .object?: return .null
        default: throw RedError(.invalidArgument, "properties must be a JSON object")
        }
    }

    private func insertGraphItem(_ name: String, _ target: String, _ values: [Value]) async throws -> JSONValue {
        try Self.validateName(name)
        let placeholders = values.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
        let result = try await session().execute("INSERT INTO \(Session.identifier(name)) \(target) VALUES (\(placeholders)) RETURNING rid", parameters: values)
        guard case .integer(let rid)? = result.rows.first?.first else { throw RedError(.internalError, "the insert returned no rid") }
        return .object([("collection", .string(name)), ("id", .integer(rid)), ("ok", .bool(true)), ("rid", .integer(rid))])
    }

    /// A graph command's reply for HTTP and gRPC: `{"count","ok","results":[{node_id, label, …}]}`
    /// with the command's columns.
    func graph(_ command: GraphRequest.Command, _ body: JSONValue) async throws -> JSONValue {
        let statement = try GraphRequest.statement(command, body)
        return Self.resultsReply(try await session().execute(statement.sql, parameters: statement.parameters))
    }

    /// `{…leading, "count", "ok", "results": [records]}`: the reply of every search and graph command.
    static func resultsReply(_ result: QueryResult, leading: [(String, JSONValue)] = []) -> JSONValue {
        .object(leading + [("count", .integer(Int64(result.rows.count))), ("ok", .bool(true)), ("results", .array(result.records))])
    }

    /// A text search's reply for HTTP and gRPC: `{"count","ok","results":[{entity_id, score, collection, kind}]}`
    /// (`hybrid`: a `SEARCH HYBRID` request, results `{entity_id, score}`).
    func textSearch(_ body: JSONValue, hybrid: Bool = false, multimodal: Bool = false) async throws -> JSONValue {
        let statement = hybrid ? try TextSearchRequest.hybridStatement(body) : try TextSearchRequest.statement(body, multimodal: multimodal)
        return Self.resultsReply(try await session().execute(statement.sql, parameters: statement.parameters))
    }

    /// `POST /context`, gRPC `ContextSearch`: `SEARCH CONTEXT`'s rows grouped by kind —
    /// `{"ok","query","tables","documents","key_values","vectors","graph":{"nodes","edges"},
    /// "connections" (the edges again: what links the nodes found),"summary":{kind: count,"total"}}`,
    /// each item `{"collection","entity_id","score","discovery"}`.
    func contextSearch(_ body: JSONValue) async throws -> JSONValue {
        let statement = try TextSearchRequest.contextStatement(body)
        let result = try await session().execute(statement.sql, parameters: statement.parameters)
        var groups: [String: [JSONValue]] = [:]
        for row in result.rows {
            guard case .text(let kind) = row[4] else { continue }
            groups[kind, default: []].append(.object([("collection", row[1].jsonValue), ("entity_id", row[0].jsonValue),
                                                      ("score", row[2].jsonValue), ("discovery", row[3].jsonValue)]))
        }
        func list(_ kind: String) -> JSONValue { .array(groups[kind] ?? []) }
        let counts: [(String, JSONValue)] = ["table", "document", "kv", "vector", "graph_node", "graph_edge"].map { ($0, .integer(Int64(groups[$0]?.count ?? 0))) }
        return .object([
            ("ok", .bool(true)), ("query", body["query"] ?? .null), ("tables", list("table")), ("documents", list("document")),
            ("key_values", list("kv")), ("vectors", list("vector")), ("graph", .object([("nodes", list("graph_node")), ("edges", list("graph_edge"))])),
            ("connections", list("graph_edge")), ("summary", .object(counts + [("total", .integer(Int64(result.rows.count)))])),
        ])
    }
}
