import Foundation
import GRPCCore
import RedCore
import RedProto
import Testing

/// Read-only mode and a restore into the running server (spec ops §1.7, §7.4), with a real
/// process: writes refused on every path while read-only, the switch kept across a restart,
/// and `POST /admin/restore` bringing the data back to a point in time without a restart.
@Suite(.serialized) struct LiveRestoreTests {
    @Test func aReadOnlyServerIsRestoredToAPointInTimeWhileItRuns() async throws {
        let backups = NSTemporaryDirectory() + "red-live-restore-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: backups) }
        let environment = ["RED_BACKEND": "fs", "RED_FS_PATH": backups, "RED_WAL_ARCHIVE_INTERVAL_MS": "100"]
        let server = try ServerProcess(environment: environment)
        defer { server.remove() }
        var r = try await HTTPClientTests.call(server, "POST", "/query", body: """
            CREATE TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 500) AS g
            """)
        #expect(r.status == 200, "\(r.body)")
        try await BackupServerTests.waitForArchive(server)
        try await Task.sleep(for: .milliseconds(30))
        let cut = Int64(Date().timeIntervalSince1970 * 1000)
        try await Task.sleep(for: .milliseconds(30))
        r = try await HTTPClientTests.call(server, "POST", "/query", body: "DELETE FROM t WHERE id <= 100; INSERT INTO t VALUES (1000, 'late')")
        #expect(r.status == 200, "\(r.body)")
        try await BackupServerTests.waitForArchive(server)
        #expect(try await BackupServerTests.count(server) == 401)

        r = try await HTTPClientTests.call(server, "POST", "/admin/restore", body: "{\"to_timestamp_ms\": \(cut)}")
        #expect(r.status == 409 && r.body.contains("read-only"), "refused while writes are allowed: \(r.status) \(r.body)")

        r = try await HTTPClientTests.call(server, "POST", "/admin/readonly")
        #expect(r.status == 200 && r.json["read_only"] == .bool(true) && r.json["previous"] == .bool(false), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/query", body: "INSERT INTO t VALUES (2000, 'refused')")
        #expect(r.status == 403 && r.body.contains("read_only"), "\(r.status) \(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/metrics")
        #expect(r.body.contains("reddb_read_only 1"))
        r = try await HTTPClientTests.call(server, "GET", "/ready/write")
        #expect(r.status == 503, "not write-ready while read-only: \(r.body)")

        r = try await HTTPClientTests.call(server, "POST", "/admin/restore", body: "{\"to_timestamp_ms\": \(cut)}")
        #expect(r.status == 200, "\(r.body)")
        guard case .integer(let keys)? = r.json["keys_changed"], keys > 100 else { Issue.record("keys_changed: \(r.body)"); return }
        #expect(try await BackupServerTests.count(server) == 500, "the rows as they were at the cut, read while still read-only")
        r = try await HTTPClientTests.call(server, "POST", "/query", body: "SELECT v FROM t WHERE id = 1")
        #expect(r.body.contains("row 1"))

        r = try await HTTPClientTests.call(server, "POST", "/admin/readonly", body: "{\"enabled\": false}")
        #expect(r.status == 200 && r.json["read_only"] == .bool(false))
        r = try await HTTPClientTests.call(server, "POST", "/query", body: "INSERT INTO t VALUES (3000, 'after the restore')")
        #expect(r.status == 200, "\(r.body)")
        #expect(try await BackupServerTests.count(server) == 501)

        // The switch outlives a restart; so does the restored data.
        r = try await HTTPClientTests.call(server, "POST", "/admin/readonly", body: "{\"enabled\": true}")
        #expect(r.status == 200)
        #expect(server.stop() == 0)
        let restarted = try ServerProcess(path: server.path, environment: environment)
        defer { restarted.remove() }
        #expect(try await BackupServerTests.count(restarted) == 501)
        r = try await HTTPClientTests.call(restarted, "POST", "/query", body: "INSERT INTO t VALUES (4000, 'refused')")
        #expect(r.status == 403, "still read-only after the restart: \(r.status) \(r.body)")
        r = try await HTTPClientTests.call(restarted, "POST", "/admin/readonly", body: "{\"enabled\": \"no\"}")
        #expect(r.status == 400, "\(r.body)")
    }

    @Test func withoutABackendTheRestoreSaysWhy() async throws {
        let server = try ServerProcess(arguments: ["--read-only"])
        defer { server.remove() }
        var r = try await HTTPClientTests.call(server, "POST", "/query", body: "CREATE TABLE u (id INT)")
        #expect(r.status == 403, "--read-only: \(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/admin/restore")
        #expect(r.status == 412 && r.body.contains("RED_BACKEND"), "\(r.status) \(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/admin/restore", body: "{\"to_lsn\": -1}")
        #expect(r.status == 400, "\(r.status) \(r.body)")
    }

    /// `RED_ADMIN_TOKEN` guards `/admin/…` and `/metrics` on a server without users; the
    /// other routes keep their rules.
    @Test func theAdminTokenGuardsTheOperatorsRoutes() async throws {
        let token = "s3cret-admin-token-0123"
        let server = try ServerProcess(environment: ["RED_ADMIN_TOKEN": token])
        defer { server.remove() }
        var r = try await HTTPClientTests.call(server, "POST", "/admin/readonly")
        #expect(r.status == 401 && r.body.contains("RED_ADMIN_TOKEN"), "\(r.status) \(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/admin/readonly", token: "s3cret-admin-token-0124")
        #expect(r.status == 401)
        r = try await HTTPClientTests.call(server, "GET", "/metrics")
        #expect(r.status == 401)
        r = try await HTTPClientTests.call(server, "GET", "/metrics", token: token)
        #expect(r.status == 200 && r.body.contains("reddb_read_only 0"))
        r = try await HTTPClientTests.call(server, "POST", "/admin/readonly", body: "{\"enabled\": true}", token: token)
        #expect(r.status == 200 && r.json["read_only"] == .bool(true), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/query", body: "CREATE TABLE t (id INT)")
        #expect(r.status == 403, "read-only now: \(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/query", body: "SELECT 1 AS one")
        #expect(r.status == 200, "other routes need no token: \(r.body)")
        // The router skips empty segments: these reach the same routes, so they need the token too.
        for path in ["//admin/readonly", "/admin//readonly", "/metrics/", "//metrics", "/%61dmin/readonly"] {
            r = try await HTTPClientTests.call(server, path == "/metrics/" || path == "//metrics" ? "GET" : "POST", path, body: "{\"enabled\": false}")
            #expect(r.status == 401 || r.status == 404, "\(path): \(r.status) \(r.body)")
        }
        // Admin-only routes outside /admin take the token as an admin, and refuse anyone else.
        r = try await HTTPClientTests.call(server, "POST", "/ai/credentials", body: "{\"provider\": \"openai\", \"api_base\": \"https://example.invalid\"}")
        #expect(r.status == 401 || r.status == 403, "\(r.status) \(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/snapshots")
        #expect(r.status == 401 || r.status == 403, "\(r.status) \(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/snapshots", token: token)
        #expect(r.status == 200, "\(r.status) \(r.body)")
    }

    /// `GET /admin/status` reports what an operator compares across servers; `POST /admin/drain`
    /// refuses writes from then on; `POST /admin/shutdown` answers, then stops the server the
    /// way SIGTERM does (exit status 0).
    @Test func statusAndAShutdownAskedOverHTTP() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        var r = try await HTTPClientTests.call(server, "POST", "/query", body: "CREATE TABLE t (id INT)")
        #expect(r.status == 200)
        r = try await HTTPClientTests.call(server, "GET", "/admin/status")
        #expect(r.json["phase"] == .string("ready") && r.json["replication_role"] == .string("standalone") && r.json["read_only"] == .bool(false), "\(r.body)")
        guard case .integer(let lsn)? = r.json["durable_lsn"], case .integer(let size)? = r.json["db_size_bytes"] else { Issue.record("\(r.body)"); return }
        #expect(lsn > 0 && size > 0 && r.json["writer_lease"] == .string("not_required"))
        #expect(try await HTTPClientTests.call(server, "GET", "/metrics").body.contains("\nreddb_health_status 2\n"), "ready is 2, as upstream")
        r = try await HTTPClientTests.call(server, "POST", "/admin/drain")
        #expect(r.status == 200 && r.json["phase"] == .string("draining"), "\(r.body)")
        #expect(try await HTTPClientTests.call(server, "GET", "/metrics").body.contains("\nreddb_health_status 1\n"), "draining is 1")
        r = try await HTTPClientTests.call(server, "POST", "/query", body: "INSERT INTO t VALUES (1)")
        #expect(r.status == 403 && r.body.contains("draining"), "writes refused while draining: \(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/query", body: "SELECT count(*) FROM t")
        #expect(r.status == 200, "reads go on: \(r.body)")
        #expect(try await HTTPClientTests.call(server, "GET", "/health/ready").status == 200)
        try await GRPCServerTests.withClient(server) { db, _ in
            let refused = await GRPCServerTests.code { _ = try await db.query(.with { $0.query = "INSERT INTO t VALUES (2)" }) }
            #expect(refused?.0 == .failedPrecondition, "gRPC maps the fence to FAILED_PRECONDITION: \(String(describing: refused?.1))")
        }
        r = try await HTTPClientTests.call(server, "POST", "/admin/shutdown")
        #expect(r.status == 200 && r.json["shutting_down"] == .bool(true), "\(r.body)")
        for _ in 0..<3_000 where server.process.isRunning { try await Task.sleep(for: .milliseconds(20)) }  // generous: CI machines are slow
        #expect(!server.process.isRunning && server.process.terminationStatus == 0, "stopped cleanly")
    }
}
