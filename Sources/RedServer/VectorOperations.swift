import Foundation
import RedCore
import RedDB

/// Vector items and similarity search for HTTP (`POST /collections/{c}/vectors`,
/// `/bulk/vectors`, `/similar`), gRPC (`CreateVector`, `BulkCreateVectors`, `Similar`,
/// `IvfSearch`) and RedWire (`VectorSearch`, 0x26): each request becomes one RQL
/// statement with its values as parameters, so every surface answers alike.
/// A search request is the JSON object `VectorSearchRequest` describes.
extension CollectionOperations {
    /// `{"dense"|"embedding": [...], "content"?: "…", "metadata"?: {…}}` → `{"collection","id","ok","rid"}`.
    func insertVector(_ name: String, _ body: JSONValue) async throws -> JSONValue {
        guard case .object = body else { throw RedError(.invalidArgument, "a vector item must be a JSON object with dense (or embedding)") }
        try Self.validateName(name)
        guard let dense = body["dense"] ?? body["embedding"] else {
            throw RedError(.invalidArgument, "a vector item needs dense (or embedding): an array of numbers")
        }
        let content = body["content"].map { Value(json: $0) } ?? .null
        let metadata = body["metadata"].map { Value.json($0) } ?? .null
        let result = try await session().execute(
            "INSERT INTO \(Session.identifier(name)) VECTOR (dense, content, metadata) VALUES ($1, $2, $3) RETURNING rid",
            parameters: [.json(dense), content.isNull ? .null : content, metadata.isNull ? .null : metadata])
        guard case .integer(let rid)? = result.rows.first?.first else { throw RedError(.internalError, "the insert returned no rid") }
        return .object([("collection", .string(name)), ("id", .integer(rid)), ("ok", .bool(true)), ("rid", .integer(rid))])
    }

    /// A search's reply for HTTP and gRPC: `{"collection","count","ok","results":[{entity_id, score, …}]}`
    /// with `VECTOR SEARCH`'s columns.
    func similar(_ name: String, _ body: JSONValue) async throws -> JSONValue {
        try Self.validateName(name)
        let statement = try VectorSearchRequest.statement(collection: name, body)
        let result = try await session().execute(statement.sql, parameters: statement.parameters)
        return Self.resultsReply(result, leading: [("collection", .string(name))])
    }
}
