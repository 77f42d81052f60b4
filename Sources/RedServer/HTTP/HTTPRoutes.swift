import Foundation
import Hummingbird
import NIOCore
import RedCore
import RedDB
import RedQuery
import RedReplication

/// The HTTP routes (spec: protocols §4.4–4.6). Each handler opens a session,
/// runs statements through it (autocommit) and encodes the result as JSON;
/// `/openapi.json` is generated from `HTTPRoutes.catalogue`, which lists every
/// route registered here.
struct HTTPRoutes: Sendable {
    let context: ServerContext

    /// Every route: method, path (Hummingbird syntax) and a one-line description.
    static let catalogue: [(method: String, path: String, summary: String)] = [
        ("POST", "/query", "Run one RQL statement: body {\"query\", \"params\"?} or the raw SQL text"),
        ("POST", "/query/explain", "EXPLAIN a query: same body as /query"),
        ("POST", "/mcp", "MCP (Streamable HTTP, stateless): one JSON-RPC message in, its answer out; RedDB's tools as `red mcp` lists them (docs/mcp.md)"),
        ("GET", "/health", "Health summary (200 healthy, 503 otherwise)"),
        ("GET", "/ready", "Same as /health"),
        ("GET", "/ready/{query,write,repair}", "One readiness gate: {\"kind\", \"ready\", \"reason\"?}, 200 or 503 (also under /ready/serverless/)"),
        ("GET", "/ready/serverless", "Every readiness gate; 200 only when all are ready"),
        ("POST", "/serverless/attach", "On waking: take or refresh the writer lease (when required) and report the gates"),
        ("POST", "/serverless/warmup", "Read the catalog, collections and indexes into the page cache, up to its budget"),
        ("POST", "/serverless/reclaim", "Before an idle spell: checkpoint, then release the cache's clean pages"),
        ("GET", "/health/live", "Liveness probe"),
        ("GET", "/health/ready", "Readiness probe"),
        ("GET", "/health/startup", "Startup probe"),
        ("GET", "/metrics", "Prometheus metrics (text format 0.0.4)"),
        ("GET", "/openapi.json", "This document"),
        ("GET", "/collections", "List collections"),
        ("POST", "/collections", "Create a collection: {\"name\", \"model\"?: table|document|kv|vector, \"columns\"?: [{\"name\",\"type\"}], \"ttl_ms\"?, \"dimension\"?, \"metric\"?}"),
        ("DELETE", "/collections/{c}", "Drop a collection"),
        ("GET", "/collections/{c}/schema", "Columns, indexes and item count of a collection"),
        ("GET", "/collections/{c}/scan", "Items in rid order: ?offset=0&limit=100 (limit 1…1000)"),
        ("POST", "/collections/{c}/documents", "Insert a document: {\"body\": {…}} or the document itself"),
        ("POST", "/collections/{c}/rows", "Insert a table row: {\"fields\": {column: value}} or the fields themselves"),
        ("POST", "/collections/{c}/vectors", "Insert a vector item: {\"dense\": [numbers], \"content\"?, \"metadata\"?: {…}}"),
        ("POST", "/collections/{c}/similar", "Nearest vectors: {\"vector\": [numbers] | \"reference\": {collection, id}, \"k\"?, \"metric\"?, \"threshold\"?, \"filter\"?, \"include_vectors\"?}"),
        ("POST", "/collections/{c}/ivf/search", "Same as /similar (every search is exact)"),
        ("POST", "/collections/{c}/nodes", "Insert a graph node: {\"label\", \"node_type\"?, \"properties\"?: {…}}"),
        ("POST", "/collections/{c}/edges", "Insert a graph edge: {\"label\", \"from\", \"to\", \"weight\"?, \"properties\"?: {…}} (from/to: node ids or unique labels)"),
        ("POST", "/graph/neighborhood", "Nodes within max_depth hops: {\"source\", \"collection\"?, \"max_depth\"?: 3, \"direction\"?, \"edge_labels\"?}"),
        ("POST", "/graph/traverse", "A traversal in visit order: {\"source\", \"strategy\"?: bfs|dfs, \"max_depth\"?: 5, \"direction\"?, \"edge_labels\"?, \"collection\"?}"),
        ("POST", "/graph/analytics/{command}", "Whole-graph analytics, command centrality|community|components|cycles|clustering|topological-sort|properties|hits|pagerank/personalized (with \"source\"): {\"collection\"?, \"algorithm\"?, \"mode\"?, \"max_iterations\"?, \"max_length\"?, \"order\"?, \"limit\"?, \"node\"?}"),
        ("GET", "/physical/header", "The database file's header slot published by the last checkpoint"),
        ("GET", "/physical/recovery", "What a crash now would replay: checkpoint and WAL positions"),
        ("GET", "/physical/metadata", "The database file and WAL: paths, sizes, pages, segments"),
        ("GET", "/physical/registry", "Collections by model and their indexes"),
        ("GET", "/physical/catalog", "Catalog entries counted by kind"),
        ("GET", "/roots", "The B+tree's root page and every collection's key prefix id"),
        ("GET", "/physical/state", "The header, recovery and file summaries together"),
        ("POST", "/physical/repair", "Verify the B+tree, then rebuild every index that disagrees with its rows"),
        ("GET", "/physical/authority", "Whether this server takes writes for its file: role, write gate, writer lease"),
        ("GET", "/physical/header/repair-policy", "How the two header slots are chosen and repaired, and what each holds"),
        ("POST", "/physical/header/repair", "Rewrite both header slots from the current state (two checkpoints)"),
        ("GET", "/physical/vectors", "What serves each vector collection's searches (exact scans); ?inspect=true also counts its vectors and bytes"),
        ("GET", "/physical/vectors/{c}", "One vector collection, inspected (read through, so also warmed)"),
        ("POST", "/physical/vectors/warmup", "Read every vector collection into the page cache"),
        ("GET", "/graph/projections", "Graph projections: definition and state"),
        ("POST", "/graph/projections", "Save a graph projection: {\"name\", \"source\", \"node_labels\"?, \"node_types\"?, \"edge_labels\"?}"),
        ("POST", "/graph/projections/{name}/{step}", "materialize (count it now), materializing, stale or fail"),
        ("GET", "/graph/jobs", "Analytics jobs: definition and state"),
        ("POST", "/graph/jobs", "Save an analytics job: {\"name\", \"kind\", \"projection\"?, \"parameters\"?}"),
        ("POST", "/graph/jobs/{step}", "queue, start, complete ({\"name\", \"result\"?}), stale or fail ({\"name\", \"error\"?})"),
        ("POST", "/text/search", "Items ranked by their text (BM25): {\"query\", \"collections\"?: [...], \"limit\"?: 10, \"fuzzy\"?}"),
        ("POST", "/search", "Same as /text/search"),
        ("POST", "/hybrid/search", "A vector and a text ranking of one collection, fused: {\"collection\", \"vector\"?, \"query\"?, \"limit\"?}"),
        ("POST", "/graph/shortest-path", "The shortest path: {\"source\", \"target\", \"algorithm\"?: bfs|dijkstra|bellman_ford, \"direction\"?, \"collection\"?}"),
        ("POST", "/collections/{c}/bulk/{kind}", "Insert {\"items\": [...]} in order, kind rows, documents, vectors, nodes or edges; the first failing item stops the rest"),
        ("GET", "/collections/{c}/indexes", "A collection's indexes: definition and state"),
        ("GET", "/indexes", "Every index of every collection with its state"),
        ("GET", "/catalog/readiness", "Whether every collection's indexes serve reads, and index counts by state"),
        ("GET", "/catalog/attention", "Collections and indexes needing attention (building, stale, failed, disabled)"),
        ("GET", "/catalog/consistency", "Every index checked against its rows at one snapshot; ?structure=true also checks the B+tree (commits wait meanwhile)"),
        ("POST", "/retention/apply", "Sweep expired (TTL) items now"),
        ("GET", "/replication/status", "Replication role, log positions and, on a primary, its replicas"),
        ("GET", "/backup/status", "Backups and WAL archiving: backend, counts, last backup, archived LSN (412 without RED_BACKEND)"),
        ("POST", "/backup/trigger", "Take a backup now: snapshot, WAL archived up to now, head published"),
        ("POST", "/admin/backup", "Same as /backup/trigger"),
        ("GET", "/recovery/restore-points", "Snapshots in the backend and how far each can be rolled forward"),
        ("GET", "/manifest", "Committed changes since a snapshot: ?collection=&kind=insert|update|delete&since_snapshot=<unix ms> (at most 1000)"),
        ("GET", "/physical/manifest", "The change feed counted by collection and operation"),
        ("GET", "/physical/metadata-state", "Header, registry, snapshots and exports counted"),
        ("POST", "/physical/rebuild", "Both header slots rewritten, the B+tree verified, inconsistent indexes rebuilt"),
        ("GET", "/deployment/profiles", "simple, production, regulated and cloud, checked against this server (?profile=)"),
        ("GET", "/replication/snapshot", "The whole database in one reply (RDBSNAP1, hex; at most 64 MiB packed)"),
        ("GET", "/admin/status", "Version, phase, uptime, size, read-only, role, log positions (admin)"),
        ("POST", "/admin/drain", "Phase draining, writes refused until a restart (admin)"),
        ("POST", "/admin/shutdown", "Starts a graceful shutdown, as SIGTERM does (admin)"),
        ("POST", "/admin/readonly", "Read-only mode on or off ({\"enabled\": bool}, default true); kept across restarts"),
        ("POST", "/admin/restore", "On a read-only server: replace its data with the backup as of {\"to_timestamp_ms\"?, \"to_timestamp\"?, \"to_lsn\"?}"),
        ("POST", "/admin/failover/promote", "On a replica: take the writer lease for it ({\"holder_id\"?, \"ttl_ms\"?}), then restart it with --role primary"),
        ("GET", "/collections/{c}/entities/{id}", "One item by rid"),
        ("PATCH", "/collections/{c}/entities/{id}", "Update fields of one item: {\"fields\": {…}} or the fields themselves"),
        ("DELETE", "/collections/{c}/entities/{id}", "Delete one item by rid"),
        ("GET", "/collections/{c}/kvs/{key}", "Read a key"),
        ("PUT", "/collections/{c}/kvs/{key}", "Write a key: {\"value\": v, \"ttl_ms\"?} (201 created, 200 updated)"),
        ("DELETE", "/collections/{c}/kvs/{key}", "Delete a key"),
        ("GET", "/collections/{c}/kvs/{key}/watch", "Changes of a key (or of keys under prefix.*) after ?since_lsn (default now), as server-sent events; ?limit 1…1000"),
        ("GET", "/collections/{c}/kv/{key}/watch", "Same as /collections/{c}/kvs/{key}/watch"),
        ("GET", "/config", "All configuration as a nested object"),
        ("POST", "/config", "Import a configuration tree (flattened to dotted keys)"),
        ("GET", "/config/{key}", "One configuration key, or the subtree under it"),
        ("PUT", "/config/{key}", "Set a key: {\"value\": v} or v; an object sets a subtree"),
        ("DELETE", "/config/{key}", "Delete a key and its subtree"),
        ("GET", "/changes", "Committed changes after ?since_lsn=N in LSN order (?limit ≤ 10000)"),
        ("POST", "/auth/login", "Exchange {\"username\", \"password\"} for a session token (once the server has users)"),
        ("GET", "/auth/whoami", "The caller's identity: {\"authenticated\", \"role\", \"username\"}"),
        ("POST", "/auth/bootstrap", "Create the first admin {\"username\", \"password\"} and its API key; once only"),
        ("POST", "/auth/change-password", "{\"username\", \"old_password\", \"new_password\"}"),
        ("GET", "/auth/users", "Every user (admin)"),
        ("POST", "/auth/users", "Create a user {\"username\", \"password\", \"role\": read|write|admin} (admin)"),
        ("DELETE", "/auth/users/{user}", "Delete a user and its API keys (admin)"),
        ("POST", "/auth/api-keys", "Create an API key {\"username\", \"name\", \"role\"}; the key is shown once"),
        ("DELETE", "/auth/api-keys/{key}", "Revoke an API key"),
    ]

    /// True when `path` matches a route of the catalogue (`{x}` matches one segment), whatever the method.
    static func knownPath(_ path: String) -> Bool {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        return catalogue.contains { route in
            let pattern = route.path.split(separator: "/", omittingEmptySubsequences: true)
            return pattern.count == segments.count && zip(pattern, segments).allSatisfy { p, s in p.hasPrefix("{") || p == s }
        }
    }

    func register(on router: Router<BasicRequestContext>) {
        router.post("/query") { request, _ in try await self.query(request, explain: false) }
        router.post("/query/explain") { request, _ in try await self.query(request, explain: true) }
        registerAI(on: router)
        registerMCP(on: router)
        registerExports(on: router)
        registerBackup(on: router)
        registerFailover(on: router)
        registerAdminRestore(on: router)
        router.get("/health") { _, _ in self.health() }
        router.get("/ready") { _, _ in self.health() }
        for gate in ServerContext.ReadinessGate.allCases {
            for prefix in ["/ready/", "/ready/serverless/"] {
                router.get(RouterPath(prefix + gate.rawValue)) { _, _ in
                    Self.json(self.context.readinessJSON(gate), status: self.context.readiness(gate).ready ? .ok : .serviceUnavailable)
                }
            }
        }
        router.get("/ready/serverless") { _, _ in
            let summary = self.context.readinessSummary
            return Self.json(summary.json, status: summary.ready ? .ok : .serviceUnavailable)
        }
        router.post("/serverless/attach") { _, _ in Self.json(try await self.context.serverlessAttach()) }
        router.post("/serverless/warmup") { _, _ in Self.json(try await self.context.serverlessWarmup()) }
        router.post("/serverless/reclaim") { _, _ in Self.json(try await self.context.serverlessReclaim()) }
        router.get("/health/live") { _, _ in self.live() }
        router.get("/health/ready") { _, _ in self.probe("ready") }
        router.get("/health/startup") { _, _ in self.probe("startup") }
        router.get("/metrics") { _, _ in self.metrics() }
        router.get("/openapi.json") { _, _ in Self.json(Self.openAPI()) }
        router.get("/collections") { _, _ in try await self.listCollections() }
        router.post("/collections") { request, _ in try await self.createCollection(request) }
        router.delete("/collections/:c") { _, ctx in try await self.dropCollection(try Self.segment(ctx, "c")) }
        router.get("/collections/:c/schema") { _, ctx in try await self.schema(try Self.segment(ctx, "c")) }
        router.get("/collections/:c/scan") { request, ctx in try await self.scan(try Self.segment(ctx, "c"), request) }
        router.post("/collections/:c/documents") { request, ctx in try await self.insertDocument(try Self.segment(ctx, "c"), request) }
        router.post("/collections/:c/rows") { request, ctx in try await self.insertRow(try Self.segment(ctx, "c"), request) }
        router.post("/collections/:c/vectors") { request, ctx in try await self.insertVector(try Self.segment(ctx, "c"), request) }
        router.post("/collections/:c/similar") { request, ctx in try await self.similar(try Self.segment(ctx, "c"), request) }
        router.post("/collections/:c/ivf/search") { request, ctx in try await self.similar(try Self.segment(ctx, "c"), request) }
        router.post("/collections/:c/nodes") { request, ctx in try await self.insertNode(try Self.segment(ctx, "c"), request) }
        router.post("/collections/:c/edges") { request, ctx in try await self.insertEdge(try Self.segment(ctx, "c"), request) }
        router.post("/graph/neighborhood") { request, _ in try await self.graph(.neighborhood, request) }
        router.post("/graph/traverse") { request, _ in try await self.graph(.traverse, request) }
        router.post("/graph/shortest-path") { request, _ in try await self.graph(.shortestPath, request) }
        router.post("/hybrid/search") { request, _ in Self.json(try await self.operations.textSearch(try await self.body(request), hybrid: true)) }
        router.post("/multimodal/search") { request, _ in Self.json(try await self.operations.textSearch(try await self.body(request), multimodal: true)) }
        router.post("/context") { request, _ in Self.json(try await self.operations.contextSearch(try await self.body(request))) }
        for path in ["/text/search", "/search"] {
            router.post(RouterPath(path)) { request, _ in Self.json(try await self.operations.textSearch(try await self.body(request))) }
        }
        router.get("/physical/header") { _, _ in Self.json(self.operations.nativeHeader()) }
        router.get("/physical/recovery") { _, _ in Self.json(self.operations.nativeRecoverySummary()) }
        router.get("/physical/metadata") { _, _ in Self.json(self.operations.physicalMetadata()) }
        router.get("/physical/registry") { _, _ in Self.json(try await self.operations.registrySummary()) }
        router.get("/physical/catalog") { _, _ in Self.json(try self.operations.catalogSummary()) }
        router.get("/physical/state") { _, _ in Self.json(self.operations.physicalStateSummary()) }
        router.post("/physical/repair") { _, _ in
            Self.json(.object([("message", .string(try await self.operations.repairPhysicalState())), ("ok", .bool(true))]))
        }
        router.get("/physical/authority") { _, _ in Self.json(self.context.physicalAuthority) }
        router.get("/physical/header/repair-policy") { _, _ in Self.json(try self.operations.headerRepairPolicy()) }
        router.post("/physical/header/repair") { _, _ in
            Self.json(.object([("message", .string(try await self.operations.repairHeader())), ("ok", .bool(true))]))
        }
        router.get("/physical/vectors") { request, _ in
            let inspect = request.uri.queryParameters.get("inspect").map { ["true", "1"].contains($0.lowercased()) } ?? false
            return Self.json(try await self.operations.vectorArtifacts(reading: inspect))
        }
        router.get("/physical/vectors/:c") { _, ctx in Self.json(try await self.operations.vectorArtifacts(try Self.segment(ctx, "c"), reading: true)) }
        router.post("/physical/vectors/warmup") { _, _ in
            if let refusal = self.operations.callerAccess.writeRefusal("WARMUP") { throw refusal }
            return Self.json(try await self.operations.vectorArtifacts(reading: true))
        }
        router.get("/roots") { _, _ in Self.json(try self.operations.collectionRoots()) }
        router.get("/manifest") { request, _ in
            let query = request.uri.queryParameters
            var since: UInt64?
            if let text = query.get("since_snapshot") {
                guard let n = UInt64(text) else { throw RedError(.invalidArgument, "since_snapshot must be a snapshot number (its unix ms)") }
                since = n
            }
            return Self.json(try self.operations.manifest(collection: query.get("collection") ?? "", kind: query.get("kind") ?? "", sinceSnapshot: since))
        }
        router.get("/physical/manifest") { _, _ in Self.json(self.operations.manifestSummary()) }
        router.get("/physical/metadata-state") { _, _ in Self.json(try await self.operations.metadataStateSummary()) }
        router.post("/physical/rebuild") { _, _ in
            Self.json(.object([("message", .string(try await self.operations.rebuildPhysicalMetadata())), ("ok", .bool(true))]))
        }
        router.get("/deployment/profiles") { request, _ in
            Self.json(try self.context.deploymentProfiles(request.uri.queryParameters.get("profile") ?? ""))
        }
        router.get("/replication/snapshot") { _, _ in
            try self.requireAdminOnceAuthenticated("/replication/snapshot")
            return Self.json(try await self.context.replicationSnapshot())
        }
        router.get("/graph/projections") { _, _ in Self.json(try self.operations.graphProjections(.all)) }
        router.post("/graph/projections") { request, _ in Self.json(try await self.operations.saveGraphProjection(try await self.body(request))) }
        router.post("/graph/projections/:name/:step") { _, ctx in
            Self.json(try await self.operations.graphProjectionStep(try Self.segment(ctx, "name"), try Self.segment(ctx, "step")))
        }
        router.get("/graph/jobs") { _, _ in Self.json(try self.operations.analyticsJobs(.all)) }
        router.post("/graph/jobs") { request, _ in Self.json(try await self.operations.saveAnalyticsJob(try await self.body(request))) }
        router.post("/graph/jobs/:step") { request, ctx in
            let name = try Self.segment(ctx, "step")
            guard let step = AnalyticsJob.Step(rawValue: name) else {
                throw RedError(.undefinedObject, "no analytics job step \(name): queue, start, complete, stale or fail")
            }
            return Self.json(try await self.operations.analyticsJobStep(step, try await self.body(request)))
        }
        router.post("/graph/analytics/pagerank/personalized") { request, _ in try await self.graph(.personalizedPageRank, request) }
        router.post("/graph/analytics/:command") { request, ctx in
            let name = try Self.segment(ctx, "command").replacingOccurrences(of: "-", with: "_")
            guard let command = GraphRequest.Command(rawValue: name), ![.neighborhood, .traverse, .shortestPath].contains(command) else {
                throw RedError(.undefinedObject, "no graph analytics command \(name): centrality, community, components, cycles, clustering, topological-sort, properties, hits or pagerank/personalized")
            }
            return try await self.graph(command, request)
        }
        router.post("/collections/:c/bulk/:kind") { request, ctx in
            try await self.bulkCreate(try Self.segment(ctx, "c"), try Self.segment(ctx, "kind"), request)
        }
        router.get("/collections/:c/indexes") { _, ctx in try await self.indexes(try Self.segment(ctx, "c")) }
        router.get("/indexes") { _, _ in try await self.indexStatuses() }
        router.get("/catalog/readiness") { _, _ in Self.json(try await self.operations.catalogReadiness()) }
        router.get("/catalog/attention") { _, _ in Self.json(try await self.operations.catalogAttention()) }
        router.get("/catalog/consistency") { request, _ in
            let structure: Bool
            switch request.uri.queryParameters.get("structure")?.lowercased() {
            case nil, "false", "0": structure = false
            case "true", "1": structure = true
            case let other?: throw RedError(.invalidArgument, "structure must be true or false, not \(other)")
            }
            return Self.json(try await self.operations.catalogConsistency(structure: structure))
        }
        router.post("/retention/apply") { _, _ in try await self.applyRetention() }
        router.get("/replication/status") { _, _ in self.replicationStatus() }
        router.get("/collections/:c/entities/:id") { _, ctx in try await self.entity(try Self.segment(ctx, "c"), try Self.rid(ctx)) }
        router.patch("/collections/:c/entities/:id") { request, ctx in
            try await self.patchEntity(try Self.segment(ctx, "c"), try Self.rid(ctx), request)
        }
        router.delete("/collections/:c/entities/:id") { _, ctx in try await self.deleteEntity(try Self.segment(ctx, "c"), try Self.rid(ctx)) }
        router.get("/collections/:c/kvs/:key") { _, ctx in try await self.kvGet(try Self.segment(ctx, "c"), try Self.segment(ctx, "key")) }
        router.put("/collections/:c/kvs/:key") { request, ctx in
            try await self.kvPut(try Self.segment(ctx, "c"), try Self.segment(ctx, "key"), request)
        }
        router.delete("/collections/:c/kvs/:key") { _, ctx in try await self.kvDelete(try Self.segment(ctx, "c"), try Self.segment(ctx, "key")) }
        for kvs in ["kvs", "kv"] {  // the spec names both
            router.get("/collections/:c/\(kvs)/:key/watch") { request, ctx in
                try await self.kvWatch(try Self.segment(ctx, "c"), try Self.segment(ctx, "key"), request)
            }
        }
        router.get("/config") { _, _ in try await self.configGet(nil) }
        router.post("/config") { request, _ in try await self.configImport(request) }
        router.get("/config/:key") { _, ctx in try await self.configGet(try Self.segment(ctx, "key")) }
        router.put("/config/:key") { request, ctx in try await self.configPut(try Self.segment(ctx, "key"), request) }
        router.delete("/config/:key") { _, ctx in try await self.configDelete(try Self.segment(ctx, "key")) }
        router.get("/changes") { request, _ in try await self.changes(request) }
        registerAuth(on: router)
    }

    // MARK: Query

    func query(_ request: Request, explain: Bool) async throws -> Response {
        let body = try await Self.bodyText(request, limit: context.configuration.maxHTTPBodyBytes)
        var sql = body
        var parameters: [Value] = []
        if let parsed = try? JSONValue.parse(body), case .object(let members) = parsed {
            guard case .string(let q)? = members.first(where: { $0.0 == "query" })?.1 else {
                throw RedError(.invalidArgument, "JSON body must contain a string field named 'query'")
            }
            sql = q
            if let params = members.first(where: { $0.0 == "params" })?.1 {
                guard case .array(let items) = params else { throw RedError(.invalidParameters, "params must be an array") }
                parameters = try items.map(JSONParameter.value)
            }
            guard !sql.isBlank else {
                throw RedError(.invalidArgument, "query field cannot be empty")
            }
        }
        guard !sql.isBlank else { throw RedError(.invalidArgument, "missing query body") }
        let statement = explain ? "EXPLAIN " + sql : sql
        let started = ContinuousClock.now
        let session = context.callerSession()
        if !explain, session.isStreamedAsk(sql) { return streamAsk(sql, parameters, session: session) }
        let result = try await session.execute(statement, parameters: parameters)
        let elapsed = ContinuousClock.now - started
        context.metrics.recordStatement(surface: "http", kind: result.statementType,
                                        nanoseconds: elapsed.wholeNanoseconds)
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: result.jsonUTF8(query: sql))))
    }

    // MARK: Health and metrics

    func health() -> Response {
        let (healthy, state, failure) = context.health
        let issues: [JSONValue] = failure.map { [.object([("component", .string("storage")), ("message", .string($0.message))])] } ?? []
        let stats = context.database.engine.statistics
        let body: JSONValue = .object([
            ("checked_at_unix_ms", .integer(SystemClock().nowMilliseconds())),
            ("diagnostics", .object([("commits", .integer(Int64(stats.commits))), ("pages", .integer(Int64(stats.pageCount))),
                                     ("wal_durable_lsn", .integer(Int64(stats.walDurableLSN))), ("phase", .string(context.phase.rawValue))])),
            ("issues", .array(issues)),
            ("state", .string(state)),
            ("transport_listeners", context.listenersJSON),
        ])
        return Self.json(body, status: healthy ? .ok : .serviceUnavailable)
    }

    func live() -> Response {
        let stopped = context.phase == .stopped
        return Self.json(.object([("phase", .string(context.phase.rawValue)), ("status", .string(stopped ? "stopped" : "alive"))]),
                         status: stopped ? .serviceUnavailable : .ok)
    }

    func probe(_ name: String) -> Response {
        let phase = context.phase
        let ready = phase == .ready || phase == .draining
        var members: [(String, JSONValue)] = [
            ("phase", .string(phase.rawValue)), ("probe", .string(name)),
            ("since_secs", .integer(Int64((ContinuousClock.now - context.startedAt).components.seconds))),
            ("status", .string(ready ? "ready" : phase.rawValue)), ("transport_listeners", context.listenersJSON),
        ]
        if ready { members.append(("ready_at_unix_ms", .integer(context.startedAtUnixMilliseconds))) } else {
            members.append(("reason", .string("server is \(phase.rawValue)")))
        }
        return Self.json(.object(members), status: ready ? .ok : .serviceUnavailable)
    }

    func metrics() -> Response {
        let uptime = ContinuousClock.now - context.startedAt
        var text = context.metrics.render(database: context.database,
                                          uptimeSeconds: Double(uptime.components.seconds) + Double(uptime.components.attoseconds) / 1e18,
                                          phase: context.phase)
        text += "# HELP reddb_read_only 1 while the operator's read-only mode is on (POST /admin/readonly), else 0.\n# TYPE reddb_read_only gauge\n"
        text += "reddb_read_only \(context.readOnly.isEnabled ? 1 : 0)\n"
        text += replicationMetrics()
        text += backupMetrics()
        text += leaseMetrics()
        if let waiter = context.backup?.archiveWaiter ?? context.replicationPrimary?.commitWaiter {
            let outcomes = waiter.outcomes
            text += "# HELP reddb_commit_wait_total Commits by how their wait for replica acknowledgements, or the WAL archive with remote_wal, ended (RED_PRIMARY_COMMIT_POLICY).\n"
            text += "# TYPE reddb_commit_wait_total counter\n"
            for outcome in CommitAckWaiter.Outcome.allCases {
                text += "reddb_commit_wait_total{outcome=\"\(outcome.rawValue)\"} \(outcomes[outcome] ?? 0)\n"
            }
        }
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: Helpers

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.utf8)))
    }

    static func errorResponse(_ error: RedError, status: HTTPResponse.Status) -> Response {
        json(error.json, status: status)
    }

    /// The HTTP status for an engine error.
    static func status(for error: RedError) -> HTTPResponse.Status {
        switch error.code {
        case .undefinedCollection, .undefinedObject, .undefinedPreparedStatement, .undefinedCursor: return .notFound
        case .uniqueViolation, .duplicateCollection, .duplicateObject, .serializationFailure, .dependentObjectsStillExist, .duplicatePreparedStatement,
             .objectNotInPrerequisiteState, .activeSQLTransaction, .objectInUse, .deadlockDetected, .lockNotAvailable: return .conflict
        case .notNullViolation, .checkViolation, .foreignKeyViolation, .answerValidationFailed, .raisedException: return .unprocessableContent
        case .aiProviderFailed: return .badGateway
        case .commitNotAcknowledged: return .gatewayTimeout
        case .featureNotSupported: return HTTPResponse.Status(code: 501)  // Not Implemented
        case .limitExceeded: return .contentTooLarge
        case .invalidPassword: return .unauthorized
        case .invalidAuthorization, .insufficientPrivilege, .readOnlyTransaction: return .forbidden  // spec ops §1.7: read-only → 403
        case .closed, .databaseLocked, .tooManyConnections: return .serviceUnavailable
        case .internalError, .ioError, .storageFailed, .dataCorrupted, .unsupportedFormat: return .internalServerError
        case .queryCanceled: return .requestTimeout
        default: return .badRequest
        }
    }

    static func bodyText(_ request: Request, limit: Int) async throws -> String {
        var request = request
        let buffer = try await request.collectBody(upTo: limit)
        guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else {
            throw RedError(.invalidArgument, "request body must be UTF-8")
        }
        return text
    }

    static func bodyJSON(_ request: Request, limit: Int) async throws -> JSONValue {
        let text = try await bodyText(request, limit: limit)
        guard !text.isBlank else { throw RedError(.invalidArgument, "missing JSON body") }
        do {
            return try JSONValue.parse(text)
        } catch let error as RedError {
            throw RedError(.invalidArgument, "request body is not valid JSON: \(error.message)")
        }
    }

    /// A path segment, percent-decoded.
    static func segment(_ context: BasicRequestContext, _ name: String) throws -> String {
        let raw = try context.parameters.require(name)
        guard let decoded = raw.removingPercentEncoding, !decoded.isEmpty else {
            throw RedError(.invalidArgument, "invalid \(name) in path: \(raw)")
        }
        return decoded
    }

    static func rid(_ context: BasicRequestContext) throws -> Int64 {
        guard let rid = Int64(try context.parameters.require("id")), rid > 0 else {
            throw RedError(.invalidArgument, "entity id must be a positive integer rid")
        }
        return rid
    }

}

extension ServerContext {
    var listenersJSON: JSONValue {
        let active = activeListeners.map { l in
            JSONValue.object([("bind_addr", .string(l.address.description)), ("explicit", .bool(true)), ("transport", .string(l.transport))])
        }
        return .object([("active", .array(active)), ("failed", .array([]))])
    }
}
