import Foundation
import RedCore
import RedDB
import Synchronization

/// The Swift driver: one API over every way of reaching a RedDB database.
///
/// ```swift
/// let db = try await RedClient.connect("red://127.0.0.1:5050")   // or grpc://, http://, memory://, file:///path
/// try await db.execute("CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT)")
/// try await db.execute("INSERT INTO users VALUES ($1, $2)", [.integer(1), .text("Ada")])
/// struct User: Decodable { let id: Int; let name: String }
/// let users = try await db.query(User.self, "SELECT id, name FROM users")
/// try await db.transaction { tx in
///     try await tx.execute("UPDATE users SET name = $1 WHERE id = $2", [.text("Ada L."), .integer(1)])
/// }
/// try await db.close()
/// ```
///
/// Every statement goes through the server's one execution path, so results are the same
/// whatever the transport, with one difference: over the network, values come back as JSON
/// types (integers, floats, booleans, text, JSON) and columns have type `.any`; the embedded
/// transports keep every `Value` type. Errors are `RedError`s with the server's code on every
/// transport.
///
/// Transactions need a server-side session: `red://`, `memory://` and `file://` have one;
/// `grpc://` and `http://` refuse `begin`/`transaction` with `featureNotSupported`.
public final class RedClient: Sendable {
    public struct Options: Sendable {
        /// Longest wait for one request (RedWire cancels the statement on the server when it passes).
        public var timeout: Duration = .seconds(30)
        public var connectTimeout: Duration = .seconds(10)
        /// RedWire connections (each multiplexes up to 1,000 concurrent requests on its streams).
        public var poolSize = 1
        /// RedWire: zstd-compress requests and replies over 32 bytes, when the server and this
        /// machine have zstd (`?compress=zstd`). Worth it for bulk loads over slow links.
        public var compression = false
        /// With `?discover=replicas`: how often the primary's topology is asked again
        /// (`?topology_refresh_ms=`; 30 s as upstream's client).
        public var topologyRefresh: Duration = .seconds(30)
        public init() {}
    }

    public let connectionString: ConnectionString
    let transport: any ClientTransport

    init(connectionString: ConnectionString, transport: any ClientTransport) {
        self.connectionString = connectionString
        self.transport = transport
    }

    /// Connects (or, for `memory://` and `file://`, opens the database in this process).
    /// `?timeout_ms=`, `?pool=`, `?compress=zstd` and `?topology_refresh_ms=` in the string
    /// override `options`; `?discover=replicas` adds the replicas the primary's topology lists
    /// to a cluster, and keeps them in step with it.
    public static func connect(_ url: String, options: Options = Options()) async throws -> RedClient {
        let target = try ConnectionString(url)
        var options = options
        if let ms = target.query["timeout_ms"].flatMap(Int64.init), ms > 0 { options.timeout = .milliseconds(ms) }
        if let pool = target.query["pool"].flatMap(Int.init), pool > 0 { options.poolSize = pool }
        switch target.query["compress"]?.lowercased() {
        case nil: break
        case "zstd": options.compression = true
        case "none", "off": options.compression = false
        case let other?: throw RedError(.invalidArgument, "INVALID_URI: compress=\(other) is not a codec; use zstd or none")
        }
        if let ms = target.query["topology_refresh_ms"] {
            guard let n = Int64(ms), n >= 100 else { throw RedError(.invalidArgument, "INVALID_URI: topology_refresh_ms must be a number of milliseconds, at least 100") }
            options.topologyRefresh = .milliseconds(n)
        }
        let discovers: Bool
        switch target.query["discover"]?.lowercased() {
        case nil: discovers = false
        case "replicas": discovers = true
        case let other?:
            throw RedError(.invalidArgument, "INVALID_URI: discover=\(other) is not supported; use discover=replicas")
        }
        let primaryTarget = target.at(.init(host: target.host, port: target.port))
        guard discovers || !target.replicas.isEmpty, target.query["route"]?.lowercased() != "primary" else {
            return RedClient(connectionString: target, transport: try await transport(primaryTarget, options: options))
        }
        let discovered = discovers ? try await discoverReplicas(target, options: options) : []
        let primary = try await transport(primaryTarget, options: options)
        // A named replica that cannot be reached now is left out (its reads go elsewhere); the
        // primary must be there. Discovered ones are tried again at each refresh.
        var replicas: [ClusterTransport.Member] = []
        for replica in target.replicas where !replicas.contains(where: { $0.address == replica }) {
            if let opened = try? await transport(target.at(replica), options: options) {
                replicas.append(ClusterTransport.Member(address: replica, transport: opened, fixed: true))
            }
        }
        guard discovers || !replicas.isEmpty else { return RedClient(connectionString: target, transport: primary) }
        let cluster = ClusterTransport(primary: primary, replicas: replicas)
        if discovers {
            let options = options
            let open: @Sendable (ConnectionString.HostPort) async throws -> any ClientTransport = { try await transport(target.at($0), options: options) }
            await cluster.refresh(discovered: discovered, open: open)
            cluster.startRefreshing(every: options.topologyRefresh, discover: { try await discoverReplicas(target, options: options) }, open: open)
        }
        return RedClient(connectionString: target, transport: cluster)
    }

    /// `?discover=replicas`: the healthy replicas the primary's topology lists (gRPC `Topology`,
    /// asked on the primary's host and port: the router's one port, or a `grpc://` string's),
    /// at connect and then every `topologyRefresh`. Their advertised addresses (`--advertise-addr`, `host:port` or
    /// `scheme://host:port`) are reached with this string's scheme and credentials.
    static func discoverReplicas(_ target: ConnectionString, options: Options) async throws -> [ConnectionString.HostPort] {
        guard [.redwire, .grpc, .http].contains(target.transport) else {
            throw RedError(.invalidArgument, "INVALID_URI: discover=replicas needs a network connection string")
        }
        var grpcTarget = target.at(.init(host: target.host, port: target.port))
        grpcTarget.transport = .grpc
        let grpc: GRPCTransport
        do {
            grpc = try await GRPCTransport(grpcTarget, options: options)
        } catch {
            throw RedError(.invalidArgument, "discover=replicas: cannot reach the Topology rpc at \(target.host):\(target.port) (it needs the server's one port or its gRPC port): \(error)")
        }
        defer { Task { try? await grpc.close() } }
        let topology = try await grpc.topology()
        return topology.replicas.filter(\.healthy).compactMap { ConnectionString.HostPort(advertised: $0.address) }
    }

    static func transport(_ target: ConnectionString, options: Options) async throws -> any ClientTransport {
        switch target.transport {
        case .memory: return EmbeddedTransport(database: try await Database.inMemory())
        case .file: return EmbeddedTransport(database: try await Database.open(path: target.path))
        case .redwire: return try await RedWireTransport.connect(target, options: options)
        case .grpc: return try await GRPCTransport(target, options: options)
        case .http: return try await HTTPTransport(target, options: options)
        }
    }

    /// Runs `body` on the thread that does this client's network I/O, so that a statement in it
    /// crosses no thread on its way out and back: over `red://` the request is written from the
    /// calling code and the reply resumes it on the same thread (otherwise a request hops from
    /// the caller's thread to the connection's event loop, and the reply back). On this
    /// project's 2-core VM that took 5–20 % off a `SELECT 1` round trip (docs/benchmarks.md).
    ///
    /// For latency-sensitive loops only: while `body` runs it holds that event loop, so other
    /// work of the connection (other tasks' replies, timers) waits for each step of it; keep
    /// heavy computation outside. With a pool, statements in `body` use the connection it runs
    /// on. Over gRPC, HTTP and the embedded transports it just runs `body`.
    public func withConnectionExecutor<T>(_ body: () async throws -> T) async rethrows -> T {
        guard let executor = transport.connectionExecutor else { return try await body() }
        return try await withTaskExecutorPreference(executor, operation: body)
    }

    /// Runs one statement (autocommit) and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [Value] = []) async throws -> QueryResult {
        try await transport.execute(sql, parameters)
    }

    /// Runs one statement and returns the number of rows it changed.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [Value] = []) async throws -> Int {
        try await transport.execute(sql, parameters).rowsAffected
    }

    /// Runs a query and decodes each row into `T` by column name.
    public func query<T: Decodable>(_ type: T.Type, _ sql: String, _ parameters: [Value] = []) async throws -> [T] {
        try await query(sql, parameters).decode(type)
    }

    /// A statement to run many times with different parameters. The text is parsed once per
    /// server (its statement cache is keyed by the text), so preparing costs no round trip.
    public func prepare(_ sql: String) -> PreparedStatement { PreparedStatement(client: self, sql: sql) }

    /// Opens a transaction on its own server session; end it with `commit` or `rollback`.
    public func begin() async throws -> RedTransaction {
        let session = try await transport.session()
        do {
            _ = try await session.execute("BEGIN", [])
        } catch {
            await session.release(rollback: true)
            throw error
        }
        return RedTransaction(session: session)
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    public func transaction<T: Sendable>(_ body: (RedTransaction) async throws -> T) async throws -> T {
        let tx = try await begin()
        do {
            let value = try await body(tx)
            try await tx.commit()
            return value
        } catch {
            try? await tx.rollback()
            throw error
        }
    }

    /// Inserts rows through the transport's fastest path and returns how many went in:
    /// - `red://`: RedWire's bulk stream (binary rows, pipelined; the server commits every
    ///   50,000 rows, so a failure keeps the rows committed before it);
    /// - `grpc://`: `BulkInsertBinary` (all or none);
    /// - otherwise multi-row INSERTs of up to 1,000 rows, in one transaction where the
    ///   transport has sessions (all or none).
    @discardableResult
    public func bulkInsert(into table: String, columns: [String], rows: [[Value]]) async throws -> Int {
        guard !columns.isEmpty else { throw RedError(.invalidArgument, "bulk insert needs columns") }
        guard rows.allSatisfy({ $0.count == columns.count }) else {
            throw RedError(.invalidArgument, "every row needs \(columns.count) values")
        }
        if let inserted = try await transport.bulkInsert(into: table, columns: columns, rows: rows) { return inserted }
        let step = max(1, min(1_000, 30_000 / columns.count))
        let statements = stride(from: 0, to: rows.count, by: step).map { start in
            Self.insertStatement(table, columns, rows[start..<min(rows.count, start + step)])
        }
        guard statements.count > 1, let session = try? await transport.session() else {
            var inserted = 0
            for (sql, parameters) in statements { inserted += try await execute(sql, parameters) }
            return inserted
        }
        let tx = RedTransaction(session: session)
        do {
            _ = try await session.execute("BEGIN", [])
            var inserted = 0
            for (sql, parameters) in statements { inserted += try await tx.execute(sql, parameters) }
            try await tx.commit()
            return inserted
        } catch {
            try? await tx.rollback()
            throw error
        }
    }

    static func insertStatement(_ table: String, _ columns: [String], _ rows: ArraySlice<[Value]>) -> (String, [Value]) {
        var sql = "INSERT INTO \(Session.identifier(table)) (\(columns.map(Session.identifier).joined(separator: ", "))) VALUES "
        var parameters: [Value] = []
        for (r, row) in rows.enumerated() {
            sql += r == 0 ? "(" : ", ("
            for (c, value) in row.enumerated() {
                parameters.append(value)
                sql += (c == 0 ? "$" : ", $") + String(parameters.count)
            }
            sql += ")"
        }
        return (sql, parameters)
    }

    // MARK: Key-value and documents

    /// Writes `value` under `key` (the collection is created on first use).
    public func kvPut(_ key: String, _ value: Value, collection: String = "kv_default", ttlMilliseconds: Int64? = nil) async throws {
        let ttl = ttlMilliseconds.map { " EXPIRE \($0) ms" } ?? ""
        try await execute("KV PUT \(Self.kvAddress(key, collection)) = $1\(ttl)", [value])
    }

    /// The value under `key`, nil when absent.
    public func kvGet(_ key: String, collection: String = "kv_default") async throws -> Value? {
        let value = try await query("KV GET \(Self.kvAddress(key, collection))").rows.first?[1]
        return value?.isNull == false ? value : nil
    }

    /// Deletes `key`; true when it existed.
    @discardableResult
    public func kvDelete(_ key: String, collection: String = "kv_default") async throws -> Bool {
        try await execute("KV DELETE \(Self.kvAddress(key, collection))") == 1
    }

    /// Inserts a JSON document and returns its rid.
    @discardableResult
    public func insertDocument(_ body: JSONValue, into collection: String) async throws -> Int64 {
        let result = try await query("INSERT INTO \(Session.identifier(collection)) DOCUMENT VALUES ($1) RETURNING rid", [.json(body)])
        guard case .integer(let rid)? = result.rows.first?.first else { throw RedError(.internalError, "the insert returned no rid") }
        return rid
    }

    /// Inserts an `Encodable` value as a document.
    @discardableResult
    public func insertDocument<T: Encodable>(_ value: T, into collection: String) async throws -> Int64 {
        let data = try JSONEncoder().encode(value)
        return try await insertDocument(try JSONValue.parse(String(decoding: data, as: UTF8.self)), into: collection)
    }

    // MARK: Vectors

    /// Inserts a vector item (the collection is created on first use, any dimension, cosine;
    /// `CREATE VECTOR name DIM n METRIC m` fixes both) and returns its rid.
    ///
    /// ```swift
    /// let id = try await client.insertVector([0.1, 0.9, 0.3], content: "a cat", metadata: ["kind": "pet"], into: "embeddings")
    /// ```
    @discardableResult
    public func insertVector(_ vector: [Float], content: String? = nil, metadata: JSONValue? = nil, into collection: String) async throws -> Int64 {
        let result = try await query("INSERT INTO \(Session.identifier(collection)) VECTOR (dense, content, metadata) VALUES ($1, $2, $3) RETURNING rid",
                                     [.vector(vector), content.map { .text($0) } ?? .null, metadata.map { .json($0) } ?? .null])
        guard case .integer(let rid)? = result.rows.first?.first else { throw RedError(.internalError, "the insert returned no rid") }
        return rid
    }

    /// The `k` stored vectors nearest to `vector`, best first: columns `entity_id, score,
    /// distance, collection, created_at, updated_at, dimension, content, metadata` (+ `dense`
    /// with `includeVectors`). `filter` is RQL over those columns and the metadata's fields.
    /// Over RedWire this is one VectorSearch message; elsewhere a `VECTOR SEARCH` statement.
    ///
    /// ```swift
    /// let hits = try await client.vectorSearch("embeddings", vector: [0.1, 0.8, 0.2], k: 5, filter: "kind = 'pet'")
    /// ```
    public func vectorSearch(_ collection: String, vector: [Float], k: Int = 10, metric: VectorMetric? = nil, threshold: Double? = nil,
                             filter: String? = nil, includeVectors: Bool = false) async throws -> QueryResult {
        var members: [(String, JSONValue)] = [("vector", .array(vector.map { .float(NumberFormatting.widened($0)) })), ("k", .integer(Int64(k)))]
        if let metric { members.append(("metric", .string(metric.rawValue))) }
        if let threshold { members.append(("threshold", .float(threshold))) }
        if let filter { members.append(("filter", .string(filter))) }
        if includeVectors { members.append(("include_vectors", .bool(true))) }
        let request = JSONValue.object(members)
        if let result = try await transport.vectorSearch(collection: collection, request) { return result }
        let statement = try VectorSearchRequest.statement(collection: collection, request)
        return try await query(statement.sql, statement.parameters)
    }

    // MARK: Graphs

    /// Where a traversal goes from each node.
    public enum GraphDirection: String, Sendable { case outgoing, incoming, both }

    /// Inserts a graph node (the graph is created on first use) and returns its rid.
    ///
    /// ```swift
    /// let alice = try await client.insertNode(label: "alice", type: "user", properties: ["age": 30], into: "social")
    /// ```
    @discardableResult
    public func insertNode(label: String, type: String? = nil, properties: JSONValue? = nil, into graph: String) async throws -> Int64 {
        try await insertedRID(query("INSERT INTO \(Session.identifier(graph)) NODE (label, node_type, properties) VALUES ($1, $2, $3) RETURNING rid",
                                    [.text(label), type.map { .text($0) } ?? .null, properties.map { .json($0) } ?? .null]))
    }

    /// Inserts an edge between two nodes of `graph` (each a rid, or a label only one node has)
    /// and returns its rid.
    @discardableResult
    public func insertEdge(label: String, from: Value, to: Value, weight: Double = 1, properties: JSONValue? = nil, into graph: String) async throws -> Int64 {
        try await insertedRID(query("INSERT INTO \(Session.identifier(graph)) EDGE (label, from, to, weight, properties) VALUES ($1, $2, $3, $4, $5) RETURNING rid",
                                    [.text(label), from, to, .float(weight), properties.map { .json($0) } ?? .null]))
    }

    /// The nodes reachable from `source` (a node id or a label unique in the graph), in visit
    /// order with their depth: columns `node_id, label, node_type, depth, graph`. Over RedWire
    /// this is one GraphTraverse message; elsewhere a `GRAPH TRAVERSE` statement.
    ///
    /// ```swift
    /// let reached = try await client.graphTraverse(from: "alice", in: "social", maxDepth: 2, edgeLabels: ["knows"])
    /// ```
    public func graphTraverse(from source: String, in graph: String? = nil, depthFirst: Bool = false, maxDepth: Int = 5,
                              direction: GraphDirection = .outgoing, edgeLabels: [String]? = nil) async throws -> QueryResult {
        var members: [(String, JSONValue)] = [("source", .string(source)), ("strategy", .string(depthFirst ? "dfs" : "bfs")),
                                              ("max_depth", .integer(Int64(maxDepth))), ("direction", .string(direction.rawValue))]
        if let graph { members.append(("collection", .string(graph))) }
        if let edgeLabels { members.append(("edge_labels", .array(edgeLabels.map { .string($0) }))) }
        let request = JSONValue.object(members)
        if let result = try await transport.graphTraverse(request) { return result }
        let statement = try GraphRequest.statement(.traverse, request)
        return try await query(statement.sql, statement.parameters)
    }

    /// The shortest path from `source` to `target`: one row `source, target, nodes_visited,
    /// negative_cycle_detected, hop_count, total_weight, path` (`algorithm`: bfs, dijkstra or
    /// bellman_ford).
    public func graphShortestPath(from source: String, to target: String, in graph: String? = nil, algorithm: String = "bfs",
                                  direction: GraphDirection = .outgoing) async throws -> QueryResult {
        var members: [(String, JSONValue)] = [("source", .string(source)), ("target", .string(target)), ("algorithm", .string(algorithm)),
                                              ("direction", .string(direction.rawValue))]
        if let graph { members.append(("collection", .string(graph))) }
        let statement = try GraphRequest.statement(.shortestPath, .object(members))
        return try await query(statement.sql, statement.parameters)
    }

    private func insertedRID(_ result: QueryResult) throws -> Int64 {
        guard case .integer(let rid)? = result.rows.first?.first else { throw RedError(.internalError, "the insert returned no rid") }
        return rid
    }

    static func kvAddress(_ key: String, _ collection: String) -> String {
        "\(Session.identifier(collection)).\(Session.literal(key))"
    }

    /// Closes the connections (or the embedded database).
    public func close() async throws { try await transport.close() }
}

/// A statement text with parameters bound per call.
public struct PreparedStatement: Sendable {
    let client: RedClient
    public let sql: String

    @discardableResult
    public func query(_ parameters: [Value] = []) async throws -> QueryResult { try await client.query(sql, parameters) }

    @discardableResult
    public func execute(_ parameters: [Value] = []) async throws -> Int { try await client.execute(sql, parameters) }

    public func query<T: Decodable>(_ type: T.Type, _ parameters: [Value] = []) async throws -> [T] {
        try await client.query(sql, parameters).decode(type)
    }
}

/// An open transaction: its statements run on one server session, in order.
public final class RedTransaction: Sendable {
    let session: any ClientSession
    private let ended = Atomic(false)

    init(session: any ClientSession) { self.session = session }

    @discardableResult
    public func query(_ sql: String, _ parameters: [Value] = []) async throws -> QueryResult {
        try await session.execute(sql, parameters)
    }

    @discardableResult
    public func execute(_ sql: String, _ parameters: [Value] = []) async throws -> Int {
        try await session.execute(sql, parameters).rowsAffected
    }

    public func query<T: Decodable>(_ type: T.Type, _ sql: String, _ parameters: [Value] = []) async throws -> [T] {
        try await session.execute(sql, parameters).decode(type)
    }

    /// Commits; a conflict fails with 40001 (`serializationFailure`) and the transaction is gone.
    public func commit() async throws { try await end("COMMIT") }

    public func rollback() async throws { try await end("ROLLBACK") }

    /// Ends the transaction once and gives its session back (rolled back first if the end failed).
    private func end(_ statement: String) async throws {
        guard !ended.exchange(true, ordering: .acquiringAndReleasing) else {
            throw RedError(.transactionClosed, "the transaction has already ended")
        }
        do {
            _ = try await session.execute(statement, [])
        } catch {
            await session.release(rollback: true)
            throw error
        }
        await session.release(rollback: false)
    }
}
