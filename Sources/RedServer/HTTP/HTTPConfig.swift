import Foundation
import Hummingbird
import RedCore
import RedDB

/// `/config`: a tree of settings kept as dotted keys in the KV collection
/// `red_config` (so it is transactional, durable and visible to RQL as
/// `SELECT key, value FROM red_config`), and `/openapi.json`.
extension HTTPRoutes {
    static let configCollection = "red_config"
    /// Deepest configuration tree `/config` accepts.
    static let maxConfigDepth = 32

    func configEntries() async throws -> [(String, JSONValue)] {
        let s = session()
        guard try await s.collections().contains(where: { $0.name == Self.configCollection }) else { return [] }
        let result = try await s.execute("SELECT key, value FROM \(Session.identifier(Self.configCollection)) ORDER BY key")
        return result.rows.compactMap { row in
            guard case .text(let key) = row[0] else { return nil }
            return (key, row[1].jsonValue)
        }
    }

    func configGet(_ key: String?) async throws -> Response {
        let entries = try await configEntries()
        guard let key else {
            return Self.json(.object([("config", Self.tree(entries)), ("ok", .bool(true))]))
        }
        if let exact = entries.first(where: { $0.0 == key }) {
            return Self.json(.object([("key", .string(key)), ("ok", .bool(true)), ("value", exact.1)]))
        }
        let prefix = key + "."
        let subtree = entries.filter { $0.0.hasPrefix(prefix) }.map { (String($0.0.dropFirst(prefix.count)), $0.1) }
        guard !subtree.isEmpty else { throw RedError(.undefinedObject, "config key not found: \(key)") }
        return Self.json(.object([("key", .string(key)), ("ok", .bool(true)), ("value", Self.tree(subtree))]))
    }

    func configImport(_ request: Request) async throws -> Response {
        var body = try await Self.bodyJSON(request, limit: context.configuration.maxHTTPBodyBytes)
        if case .object(let members) = body, members.count == 1, let inner = body["config"] { body = inner }
        guard case .object = body else { throw RedError(.invalidArgument, "POST /config takes a JSON object") }
        let flat = try Self.flatten(body, prefix: "")
        try await write(flat)
        return Self.json(.object([("imported", .integer(Int64(flat.count))), ("keys", .array(flat.map { .string($0.0) })), ("ok", .bool(true))]))
    }

    func configPut(_ key: String, _ request: Request) async throws -> Response {
        try Self.validateConfigKey(key)
        var value = try await Self.bodyJSON(request, limit: context.configuration.maxHTTPBodyBytes)
        if case .object(let members) = value, members.count == 1, let inner = value["value"] { value = inner }
        let flat: [(String, JSONValue)]
        if case .object = value { flat = try Self.flatten(value, prefix: key + ".") } else { flat = [(key, value)] }
        try await write(flat)
        return Self.json(.object([("key", .string(key)), ("ok", .bool(true)), ("set", .integer(Int64(flat.count)))]))
    }

    func configDelete(_ key: String) async throws -> Response {
        let doomed = try await configEntries().map(\.0).filter { $0 == key || $0.hasPrefix(key + ".") }
        guard !doomed.isEmpty else { throw RedError(.undefinedObject, "config key not found: \(key)") }
        let s = session()
        try await s.execute("BEGIN")
        do {
            for k in doomed { try await s.execute("KV DELETE \(Session.identifier(Self.configCollection)).\(Session.literal(k))") }
            try await s.execute("COMMIT")
        } catch {
            _ = try? await s.execute("ROLLBACK")
            throw error
        }
        return Self.json(.object([("deleted", .string(key)), ("ok", .bool(true))]))
    }

    /// Writes every key in one transaction.
    private func write(_ flat: [(String, JSONValue)]) async throws {
        let s = session()
        try await s.execute("BEGIN")
        do {
            for (key, value) in flat {
                try Self.validateConfigKey(key)
                try await s.execute("KV PUT \(Session.identifier(Self.configCollection)).\(Session.literal(key)) = $1", parameters: [.json(value)])
            }
            try await s.execute("COMMIT")
        } catch {
            _ = try? await s.execute("ROLLBACK")
            throw error
        }
    }

    static func validateConfigKey(_ key: String) throws {
        guard !key.isEmpty, key.utf8.count <= 256, !key.hasPrefix("."), !key.hasSuffix("."), !key.contains(".."),
              key.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }) else {
            throw RedError(.invalidArgument, "invalid config key \"\(key)\": dotted names of letters, digits, _ and -")
        }
    }

    /// `{"a":{"b":1}}` → `[("a.b", 1)]`; arrays and scalars are leaves.
    static func flatten(_ value: JSONValue, prefix: String, depth: Int = 0) throws -> [(String, JSONValue)] {
        guard depth <= maxConfigDepth else { throw RedError(.limitExceeded, "configuration nested deeper than \(maxConfigDepth) levels") }
        guard case .object(let members) = value else { return [(String(prefix.dropLast()), value)] }
        return try members.flatMap { key, inner in try flatten(inner, prefix: prefix + key + ".", depth: depth + 1) }
    }

    /// Dotted keys → nested objects. Where a key is both a leaf and a prefix, the later entry
    /// wins, in the place the name first had. Each level keeps an index of its names (a
    /// scan per key made a configuration of many keys quadratic to read).
    static func tree(_ entries: [(String, JSONValue)]) -> JSONValue {
        let root = ConfigTreeNode()
        for (key, value) in entries { root.insert(key.split(separator: ".").map(String.init)[...], value) }
        return root.json
    }

    // MARK: Change feed

    /// Committed changes with `lsn > since_lsn`, oldest first; key-value events also carry
    /// `before` and `after` (the value, `null` when absent; both left out above 64 KiB). `next_lsn` is the cursor for the
    /// next call (the last event's LSN, or the input when there are none); `truncated` says
    /// events after the cursor were already dropped from the in-memory feed.
    func changes(_ request: Request) async throws -> Response {
        let sinceText = request.uri.queryParameters.get("since_lsn") ?? "0"
        guard let since = UInt64(sinceText) else { throw RedError(.invalidArgument, "since_lsn must be a non-negative integer") }
        let limitText = request.uri.queryParameters.get("limit") ?? "100"
        guard let limit = Int(limitText), limit >= 1 else { throw RedError(.invalidArgument, "limit must be a positive integer") }
        let page = context.database.engine.changes(since: since, limit: min(limit, ServerConfiguration.maxChangeEvents))
        let events = page.events.map { e -> JSONValue in
            var members: [(String, JSONValue)] = []
            if e.kind == "kv" {
                // Key-value items carry their value before and after (absent when larger than the feed keeps).
                if !e.valuesOmitted { members.append(("after", e.after?.jsonValue ?? .null)) }
                if !e.valuesOmitted { members.append(("before", e.before?.jsonValue ?? .null)) }
            }
            members.append(("collection", .string(e.collection)))
            if let key = e.key { members.append(("key", .string(key))) }
            members += [("kind", .string(e.kind)), ("lsn", .integer(Int64(e.lsn))), ("operation", .string(e.operation.rawValue))]
            members.append(("rid", e.rid.map { .integer($0) } ?? .null))
            members.append(("timestamp", .integer(e.timestamp)))
            return .object(members)
        }
        let next = page.events.last?.lsn ?? since
        return Self.json(.object([("events", .array(events)), ("next_lsn", .integer(Int64(clamping: next))), ("ok", .bool(true)),
                                  ("truncated", .bool(page.truncated))]))
    }

    // MARK: OpenAPI

    static func openAPI() -> JSONValue {
        var paths: [(String, JSONValue)] = []
        for route in catalogue {
            var operation: [(String, JSONValue)] = [
                ("summary", .string(route.summary)),
                ("responses", .object([
                    ("200", .object([("description", .string("Success"))])),
                    ("default", .object([("description", .string("Error envelope {code, error, message, ok:false, sqlstate}"))])),
                ])),
            ]
            let parameters = route.path.split(separator: "/").filter { $0.hasPrefix("{") }.map { segment -> JSONValue in
                .object([("name", .string(String(segment.dropFirst().dropLast()))), ("in", .string("path")), ("required", .bool(true)),
                         ("schema", .object([("type", .string("string"))]))])
            }
            if !parameters.isEmpty { operation.append(("parameters", .array(parameters))) }
            if ["POST", "PUT", "PATCH"].contains(route.method) {
                operation.append(("requestBody", .object([("content", .object([("application/json", .object([("schema", .object([]))]))]))])))
            }
            let method = route.method.lowercased()
            if let i = paths.firstIndex(where: { $0.0 == route.path }), case .object(var existing) = paths[i].1 {
                existing.append((method, .object(operation)))
                paths[i].1 = .object(existing)
            } else {
                paths.append((route.path, .object([(method, .object(operation))])))
            }
        }
        return .object([
            ("openapi", .string("3.1.0")),
            ("info", .object([("title", .string("RedDB HTTP API")), ("version", .string(RedDB.version))])),
            ("paths", .object(paths)),
        ])
    }
}

/// One level of `HTTPRoutes.tree`: names in first-seen order, each a value or a level below.
private final class ConfigTreeNode {
    enum Entry {
        case leaf(JSONValue)
        case node(ConfigTreeNode)
    }

    private var order: [String] = []
    private var entries: [String: Entry] = [:]

    func insert(_ path: ArraySlice<String>, _ value: JSONValue) {
        guard let head = path.first else { return }
        if entries[head] == nil { order.append(head) }
        let rest = path.dropFirst()
        if rest.isEmpty {
            entries[head] = .leaf(value)
            return
        }
        let child: ConfigTreeNode
        if case .node(let existing)? = entries[head] {
            child = existing
        } else {
            child = ConfigTreeNode()
            entries[head] = .node(child)
        }
        child.insert(rest, value)
    }

    var json: JSONValue {
        .object(order.map { name in
            switch entries[name] {
            case .leaf(let value)?: return (name, value)
            case .node(let child)?: return (name, child.json)
            case nil: return (name, .null)
            }
        })
    }
}
