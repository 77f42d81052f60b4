import Foundation
import RedCore
import RedDB

/// Collection, document, entity and key-value operations shared by the HTTP
/// routes and the gRPC helpers: each builds an RQL statement (names quoted,
/// values as parameters), runs it on a fresh autocommit session and returns the
/// JSON body both surfaces send, so their payloads are identical by construction.
struct CollectionOperations: Sendable {
    static let maxCollectionNameBytes = 128
    let database: Database
    /// Set on a replica: every session only reads.
    var standbyReason: String? = nil

    /// A session limited to what the request's caller may do (`RequestCaller`).
    func session() -> Session {
        let session = database.session()
        session.access = RequestCaller.access(standbyReason: standbyReason, identity: RequestCaller.identity)
        if let identity = RequestCaller.identity {
            session.callerName = identity.username
            session.callerRole = identity.role.rawValue
        }
        return session
    }

    func listCollections() async throws -> JSONValue {
        let items = try await session().collections().map { c -> JSONValue in
            .object([("model", .string(c.schema.model.rawValue)), ("name", .string(c.name))])
        }
        return .object([("collections", .array(items)), ("ok", .bool(true))])
    }

    func createCollection(_ body: JSONValue) async throws -> JSONValue {
        guard case .string(let name)? = body["name"] else { throw RedError(.invalidArgument, "body must contain a string field named 'name'") }
        try Self.validateName(name)
        let model: String
        switch body["model"] {
        case nil: model = body["columns"] == nil ? "document" : "table"
        case .string(let m)? where ["table", "document", "kv", "vector"].contains(m): model = m
        default: throw RedError(.invalidArgument, "model must be table, document, kv or vector")
        }
        var sql: String
        switch model {
        case "table":
            guard case .array(let columns)? = body["columns"], !columns.isEmpty else {
                throw RedError(.invalidArgument, "a table needs columns: [{\"name\": …, \"type\": …}]")
            }
            let definitions = try columns.map { column -> String in
                guard case .string(let columnName)? = column["name"], case .string(let type)? = column["type"] else {
                    throw RedError(.invalidArgument, "each column needs a string name and type")
                }
                try Self.validateName(columnName)
                guard type.allSatisfy({ $0.isLetter || $0.isNumber || " _(),'".contains($0) }) else {
                    throw RedError(.invalidArgument, "invalid column type \(type)")
                }
                var definition = "\(Session.identifier(columnName)) \(type)"
                if case .bool(true)? = column["primary_key"] { definition += " PRIMARY KEY" }
                if case .bool(true)? = column["not_null"] { definition += " NOT NULL" }
                if case .bool(true)? = column["unique"] { definition += " UNIQUE" }
                return definition
            }
            sql = "CREATE TABLE \(Session.identifier(name)) (\(definitions.joined(separator: ", ")))"
        case "kv": sql = "CREATE KV \(Session.identifier(name))"
        case "vector":
            // {"name", "model": "vector", "dimension": n, "metric"?: "cosine" | "l2" | "inner_product"}
            guard case .integer(let dimension)? = body["dimension"], dimension > 0, dimension <= Int64(Limits.maxVectorDimensions) else {
                throw RedError(.invalidArgument, "a vector collection needs a dimension from 1 to \(Limits.maxVectorDimensions)")
            }
            var metric = VectorMetric.cosine
            if let given = body["metric"] {
                guard case .string(let word) = given, let m = VectorMetric(word: word) else {
                    throw RedError(.invalidArgument, "metric must be cosine, l2 or inner_product")
                }
                metric = m
            }
            sql = "CREATE VECTOR \(Session.identifier(name)) DIM \(dimension) METRIC \(metric.rawValue)"
        default: sql = "CREATE DOCUMENT \(Session.identifier(name))"
        }
        if model == "table", case .integer(let ttl)? = body["ttl_ms"] {
            guard ttl > 0 else { throw RedError(.invalidArgument, "ttl_ms must be positive") }
            sql += " WITH TTL \(ttl) ms"
        }
        _ = try await session().execute(sql)
        return .object([("collection", .string(name)), ("model", .string(model)), ("ok", .bool(true))])
    }

    func dropCollection(_ name: String) async throws -> JSONValue {
        _ = try await session().execute("DROP COLLECTION \(Session.identifier(name))")
        return .object([("dropped", .string(name)), ("ok", .bool(true))])
    }

    func schema(_ name: String) async throws -> JSONValue {
        let s = session()
        guard let info = try await s.collections().first(where: { $0.name == name }) else {
            throw RedError(.undefinedCollection, "collection \"\(name)\" does not exist")
        }
        let count = try await s.execute("SELECT count(*) FROM \(Session.identifier(name))").rows.first?.first ?? .integer(0)
        let columns = info.schema.columns.filter { !$0.name.hasPrefix("_") }.map { c -> JSONValue in
            var members: [(String, JSONValue)] = [("name", .string(c.name)), ("not_null", .bool(c.notNull)), ("primary_key", .bool(info.schema.isPrimaryKey(c))),
                                                  ("type", .string(c.type.rawValue)), ("unique", .bool(c.unique))]
            if let d = c.defaultSQL { members.insert(("default", .string(d)), at: 0) }
            return .object(members)
        }
        let indexes = info.schema.indexes.map { Self.indexJSON($0, of: info.schema, declared: true, operational: false) }
        var members: [(String, JSONValue)] = [("collection", .string(name)), ("columns", .array(columns))]
        if let checks = info.schema.checks, !checks.isEmpty {
            members.insert(("checks", .array(checks.map { .object([("expression", .string($0.sql)), ("name", .string($0.name))]) })), at: 0)
        }
        if let ttl = info.schema.defaultTTLMilliseconds { members.append(("default_ttl_ms", .integer(ttl))) }
        members += [("entity_count", count.jsonValue), ("indexes", .array(indexes)), ("model", .string(info.schema.model.rawValue)),
                    ("ok", .bool(true))]
        if let vector = info.schema.vector {
            members.insert(("dimension", vector.dimension.map { .integer(Int64($0)) } ?? .null), at: members.firstIndex { $0.0 == "entity_count" }!)
            members.insert(("metric", .string(vector.metric.rawValue)), at: members.firstIndex { $0.0 == "model" }!)
        }
        return .object(members)
    }

    // MARK: Indexes and retention

    /// An index as the index routes show it: its definition (`columns`, `method`, `unique`) when
    /// `declared`, its state (`status`, `enabled`) when `operational`. CREATE INDEX builds an
    /// index inside its own transaction and every write keeps it, so an index is `ready` unless
    /// an operator marked it otherwise (gRPC `MarkIndex*`, `FailIndex`, `SetIndexEnabled`).
    static func indexJSON(_ index: IndexDefinition, of schema: CollectionSchema, declared: Bool, operational: Bool) -> JSONValue {
        var members: [(String, JSONValue)] = []
        if declared {
            // An expression part shows as its text (`lower(email)`).
            let names = index.columnIDs.enumerated().compactMap { i, id in index.expressions?[i] ?? schema.columns.first { $0.id == id }?.name }
            members += [("columns", .array(names.map { .string($0) })), ("method", .string(index.method.rawValue))]
            if let predicate = index.predicate { members.append(("predicate", .string(predicate))) }
        }
        if operational { members.append(("enabled", .bool(index.enabled ?? true))) }
        members.append(("name", .string(index.name)))
        if operational { members.append(("status", .string((index.status ?? .ready).rawValue))) }
        if declared { members.append(("unique", .bool(index.unique))) }
        return .object(members)
    }

    /// `GET /collections/{c}/indexes` (and gRPC `Indexes`, `DeclaredIndexes`, `OperationalIndexes`).
    func indexes(_ name: String, declared: Bool = true, operational: Bool = true) async throws -> JSONValue {
        guard let info = try await session().collections().first(where: { $0.name == name }) else {
            throw RedError(.undefinedCollection, "collection \"\(name)\" does not exist")
        }
        let indexes = info.schema.indexes.map { Self.indexJSON($0, of: info.schema, declared: declared, operational: operational) }
        return .object([("collection", .string(name)), ("indexes", .array(indexes)), ("ok", .bool(true))])
    }

    /// `GET /indexes` (gRPC `IndexStatuses`): every index of every collection with its state;
    /// with `needingAttention`, only those queries do not read through (not ready, or disabled:
    /// gRPC `IndexAttention`).
    func indexStatuses(needingAttention: Bool = false) async throws -> JSONValue {
        let all = try await session().collections().flatMap { info in
            info.schema.indexes.filter { !needingAttention || !$0.servesReads }.map { index in
                JSONValue.object([("collection", .string(info.name)), ("enabled", .bool(index.enabled ?? true)), ("name", .string(index.name)),
                                  ("status", .string((index.status ?? .ready).rawValue))])
            }
        }
        return .object([("indexes", .array(all)), ("ok", .bool(true))])
    }

    /// `POST /retention/apply` (gRPC `ApplyRetention`): sweeps expired items now, as the periodic
    /// sweep would; returns its message ("vacuum reclaimed N expired items").
    func applyRetention() async throws -> String {
        try await session().execute("VACUUM").message ?? "retention applied"
    }

    /// One page of items in rid order; `limit` is clamped to 1…`ServerConfiguration.maxScanPageRows`.
    func scan(_ name: String, offset: Int, limit: Int) async throws -> JSONValue {
        let offset = max(0, offset)
        let limit = min(max(limit, 1), ServerConfiguration.maxScanPageRows)
        let s = session()
        let total = try await s.execute("SELECT count(*) FROM \(Session.identifier(name))").rows.first?.first ?? .integer(0)
        let page = try await s.execute("SELECT rid, * FROM \(Session.identifier(name)) ORDER BY rid LIMIT \(limit) OFFSET \(offset)")
        return .object([("items", .array(page.records)), ("limit", .integer(Int64(limit))),
                        ("offset", .integer(Int64(offset))), ("ok", .bool(true)), ("total", total.jsonValue)])
    }

    func insertDocument(_ name: String, _ body: JSONValue) async throws -> JSONValue {
        guard case .object = body else { throw RedError(.invalidArgument, "a document must be a JSON object") }
        var document = body
        if case .object(let inner)? = body["body"] { document = .object(inner) }
        try Self.validateName(name)
        let rid = try await session().insertDocument(document, into: name)
        return .object([("collection", .string(name)), ("id", .integer(rid)), ("ok", .bool(true)), ("rid", .integer(rid))])
    }

    /// Inserts one row from a JSON object of column → value; returns its rid and the stored row.
    func insertRow(_ name: String, _ body: JSONValue, on session: Session? = nil) async throws -> (rid: Int64, record: JSONValue) {
        guard case .object(var fields) = body else { throw RedError(.invalidArgument, "a row must be a JSON object of column values") }
        if case .object(let inner)? = body["fields"] { fields = inner }
        guard !fields.isEmpty else { throw RedError(.invalidArgument, "a row needs at least one column value") }
        try Self.validateName(name)
        for (column, _) in fields { try Self.validateName(column) }
        let columns = fields.map { Session.identifier($0.0) }.joined(separator: ", ")
        let placeholders = fields.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
        let result = try await (session ?? self.session()).execute("INSERT INTO \(Session.identifier(name)) (\(columns)) VALUES (\(placeholders)) RETURNING rid, *",
                                                 parameters: fields.map { Value(json: $0.1) })
        guard let row = result.rows.first, case .integer(let rid) = row[0] else { throw RedError(.internalError, "the insert returned no rid") }
        return (rid, QueryResult.record(columns: result.columns, row: row))
    }

    /// `insertRow`'s reply as HTTP sends it: `{"collection", "entity", "id", "ok", "rid"}`.
    func createRow(_ name: String, _ body: JSONValue) async throws -> JSONValue {
        let row = try await insertRow(name, body)
        return .object([("collection", .string(name)), ("entity", row.record), ("id", .integer(row.rid)), ("ok", .bool(true)),
                        ("rid", .integer(row.rid))])
    }

    /// Most items one bulk create takes (HTTP `bulk/…`, gRPC `BulkCreate*`).
    static let maxBulkItems = 100_000

    /// Inserts `items` in order through `insert`, each on its own, as upstream does: items before
    /// a failing one stay, and the failure is reported as `bulk item <i> failed: …` with the
    /// item's own error code (so HTTP answers with its status). `items` is checked whole first:
    /// a list that is empty or too long inserts nothing.
    func bulkCreate<Reply>(_ items: [JSONValue], _ insert: (JSONValue) async throws -> Reply) async throws -> [Reply] {
        guard !items.isEmpty else { throw RedError(.invalidArgument, "bulk create needs at least one item") }
        guard items.count <= Self.maxBulkItems else {
            throw RedError(.limitExceeded, "at most \(Self.maxBulkItems) items per bulk create, got \(items.count)")
        }
        var replies: [Reply] = []
        replies.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            do {
                replies.append(try await insert(item))
            } catch let error as RedError {
                throw RedError(error.code, "bulk item \(index) failed: \(error.message)")
            }
        }
        return replies
    }

    func entity(_ name: String, _ rid: Int64) async throws -> JSONValue {
        let result = try await session().execute("SELECT rid, * FROM \(Session.identifier(name)) WHERE rid = $1", parameters: [.integer(rid)])
        guard let record = result.records.first else { throw RedError(.undefinedObject, "entity \(rid) not found in \(name)") }
        return .object([("collection", .string(name)), ("entity", record), ("id", .integer(rid)), ("ok", .bool(true))])
    }

    func patchEntity(_ name: String, _ rid: Int64, _ body: JSONValue) async throws -> JSONValue {
        var fields: [(String, JSONValue)]
        switch body {
        case .object(let members):
            if case .object(let inner)? = body["fields"] { fields = inner } else { fields = members }
        default: throw RedError(.invalidArgument, "PATCH body must be a JSON object of fields")
        }
        guard !fields.isEmpty else { throw RedError(.invalidArgument, "PATCH needs at least one field") }
        var parameters: [Value] = []
        let assignments = try fields.map { field, value -> String in
            try Self.validateName(field)
            parameters.append(Value(json: value))
            return "\(Session.identifier(field)) = $\(parameters.count)"
        }
        parameters.append(.integer(rid))
        let sql = "UPDATE \(Session.identifier(name)) SET \(assignments.joined(separator: ", ")) WHERE rid = $\(parameters.count)"
        guard try await session().execute(sql, parameters: parameters).rowsAffected == 1 else {
            throw RedError(.undefinedObject, "entity \(rid) not found in \(name)")
        }
        return try await entity(name, rid)
    }

    func deleteEntity(_ name: String, _ rid: Int64) async throws -> JSONValue {
        let result = try await session().execute("DELETE FROM \(Session.identifier(name)) WHERE rid = $1", parameters: [.integer(rid)])
        guard result.rowsAffected == 1 else { throw RedError(.undefinedObject, "entity \(rid) not found in \(name)") }
        return .object([("deleted", .bool(true)), ("id", .integer(rid)), ("ok", .bool(true))])
    }

    // MARK: Key-value

    func kvGet(_ collection: String, _ key: String) async throws -> JSONValue {
        let result = try await session().execute("KV GET \(Session.identifier(collection)).\(Session.literal(key))")
        guard let value = result.rows.first?[1], !value.isNull else { throw RedError(.undefinedObject, "key not found: \(key)") }
        return .object([("collection", .string(collection)), ("key", .string(key)), ("ok", .bool(true)), ("value", value.jsonValue)])
    }

    func kvPut(_ collection: String, _ key: String, _ body: JSONValue) async throws -> JSONValue {
        var value = body
        var ttl = ""
        if case .object = body, let inner = body["value"] {
            value = inner
            if case .integer(let ms)? = body["ttl_ms"] {
                guard ms > 0 else { throw RedError(.invalidArgument, "ttl_ms must be positive") }
                ttl = " EXPIRE \(ms) ms"
            }
        }
        try Self.validateName(collection)
        let result = try await session().execute("KV PUT \(Session.identifier(collection)).\(Session.literal(key)) = $1\(ttl)",
                                                 parameters: [Value(json: value)])
        let created = result.rows.first?[3] == .boolean(true)
        return .object([("collection", .string(collection)), ("created", .bool(created)), ("key", .string(key)), ("ok", .bool(true))])
    }

    func kvDelete(_ collection: String, _ key: String) async throws -> JSONValue {
        let result = try await session().execute("KV DELETE \(Session.identifier(collection)).\(Session.literal(key))")
        guard result.rowsAffected == 1 else { throw RedError(.undefinedObject, "key not found: \(key)") }
        return .object([("deleted", .bool(true)), ("key", .string(key)), ("ok", .bool(true))])
    }

    // MARK: Helpers


    static func validateName(_ name: String) throws {
        guard !name.isEmpty, name.utf8.count <= maxCollectionNameBytes,
              name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }), !name.hasPrefix("__") else {
            throw RedError(.invalidArgument, "invalid name \"\(name)\": use letters, digits, _ and - (at most \(maxCollectionNameBytes) bytes, not starting with __)")
        }
    }
}
