import Foundation
import RedCore
import Testing

/// Backups of a real server (spec ops §7): the first backup at start, continuous WAL archiving,
/// the HTTP endpoints and metrics, and the disaster drill — the primary is killed, a new server
/// on an empty disk restores itself from the backend with every archived commit.
@Suite(.serialized) struct BackupServerTests {
    static func statusNumber(_ server: ServerProcess, _ path: [String]) async throws -> Int64? {
        var json = try await HTTPClientTests.call(server, "GET", "/backup/status").json
        for key in path { guard let next = json[key] else { return nil }; json = next }
        if case .integer(let n) = json { return n }
        return nil
    }

    /// Waits until every commit is archived (the archive runs every 100 ms here).
    static func waitForArchive(_ server: ServerProcess) async throws {
        for _ in 0..<200 {
            if let archived = try await statusNumber(server, ["wal", "last_archived_lsn"]),
               let current = try await statusNumber(server, ["wal", "current_lsn"]), archived == current { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the WAL was not archived within 10 s: \(try await HTTPClientTests.call(server, "GET", "/backup/status").body)")
    }

    static func count(_ server: ServerProcess) async throws -> Int64? {
        let r = try await HTTPClientTests.call(server, "POST", "/query", body: "SELECT count(*) AS n FROM t")
        guard case .array(let records)? = r.json["result"]?["records"], case .object(let values)? = records.first?["values"],
              case .integer(let n)? = values.first?.1 else { return nil }
        return n
    }

    @Test func aKilledPrimaryIsRestoredFromItsArchiveOnANewDisk() async throws {
        let backups = NSTemporaryDirectory() + "red-backups-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: backups) }
        let environment = ["RED_BACKEND": "fs", "RED_FS_PATH": backups, "RED_WAL_ARCHIVE_INTERVAL_MS": "100", "RED_REMOTE_KEY": "drill/data.rdb"]
        let primary = try ServerProcess(environment: environment)
        defer { primary.remove() }
        var r = try await HTTPClientTests.call(primary, "POST", "/query", body: """
            CREATE TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 1000) AS g
            """)
        #expect(r.status == 200, "\(r.body)")
        try await Self.waitForArchive(primary)
        #expect(try await Self.statusNumber(primary, ["total_backups"]) == 1, "the first backup was taken at start")
        r = try await HTTPClientTests.call(primary, "POST", "/backup/trigger")
        #expect(r.status == 200 && r.json["snapshot_id"] == .integer(2), "\(r.body)")
        r = try await HTTPClientTests.call(primary, "GET", "/recovery/restore-points")
        guard case .array(let points)? = r.json["restore_points"] else { Issue.record("\(r.body)"); return }
        #expect(points.count == 2)
        r = try await HTTPClientTests.call(primary, "GET", "/metrics")
        for metric in ["reddb_backup_total_total 2", "reddb_wal_last_archived_lsn", "reddb_backup_age_seconds", "reddb_wal_archive_lag_records"] {
            #expect(r.body.contains(metric), "\(metric) on /metrics")
        }
        let families = r.body.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }
        #expect(Set(families).count == families.count, "every metric family is declared once")
        for i in 0..<20 {
            r = try await HTTPClientTests.call(primary, "POST", "/query", body: "INSERT INTO t VALUES (\(2000 + i), 'late')")
            #expect(r.status == 200)
        }
        try await Self.waitForArchive(primary)
        // The disaster: the primary dies without a clean shutdown, and its disk is gone.
        kill(primary.process.processIdentifier, SIGKILL)
        primary.process.waitUntilExit()

        let fresh = try ServerProcess(environment: environment)
        defer { fresh.remove() }
        #expect(try await Self.count(fresh) == 1020, "every archived commit came back")
        r = try await HTTPClientTests.call(fresh, "POST", "/query", body: "SELECT v FROM t WHERE id = 2019")
        #expect(r.body.contains("late"))
        // The restored server writes and backs up under its own chain.
        r = try await HTTPClientTests.call(fresh, "POST", "/query", body: "INSERT INTO t VALUES (5000, 'after')")
        #expect(r.status == 200)
        try await Self.waitForArchive(fresh)

        // A point in time before the late rows, offline.
        let dest = fresh.directory + "/early.rdb"
        let tool = Process()
        tool.executableURL = URL(fileURLWithPath: try ServerProcess.redPath())
        var first: Int64 = 0
        if case .integer(let n)? = points.last?["snapshot_time"] { first = n }
        tool.arguments = ["pitr-restore", "--target-time", "unix_ms:\(first)", "--dest", dest]
        tool.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        tool.standardOutput = out
        try tool.run()
        tool.waitUntilExit()
        #expect(tool.terminationStatus == 0)
        let summary = try JSONValue.parse(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        #expect(summary["snapshot_used"] == .integer(2), "\(summary.text)")
        let early = try ServerProcess(path: dest)
        defer { early.remove() }
        #expect(try await Self.count(early) == 1000, "the state at snapshot 2, before the late rows")
    }

    @Test func remoteWALAnswersACommitOnlyOnceItIsArchived() async throws {
        let backups = NSTemporaryDirectory() + "red-remote-wal-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: backups) }
        // The archive interval is a minute: only waiting commits make the archiver run sooner.
        let environment = ["RED_BACKEND": "fs", "RED_FS_PATH": backups, "RED_WAL_ARCHIVE_INTERVAL_MS": "60000",
                           "RED_PRIMARY_COMMIT_POLICY": "remote_wal", "RED_COMMIT_FAIL_ON_TIMEOUT": "true"]
        let server = try ServerProcess(environment: environment)
        defer { server.remove() }
        var r = try await HTTPClientTests.call(server, "POST", "/query", body: "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        #expect(r.status == 200, "\(r.body)")
        for i in 1...5 {
            r = try await HTTPClientTests.call(server, "POST", "/query", body: "INSERT INTO t VALUES (\(i), 'archived before the answer')")
            #expect(r.status == 200, "\(r.body)")
        }
        // Killed right after the last answer: everything answered is in the archive.
        kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
        let restored = try ServerProcess(environment: ["RED_BACKEND": "fs", "RED_FS_PATH": backups])
        defer { restored.remove() }
        #expect(try await Self.count(restored) == 5)
        r = try await HTTPClientTests.call(restored, "GET", "/metrics")
        #expect(!r.body.contains("reddb_commit_wait_total{outcome=\"reached\"}"), "the restored server does not wait")

        // An unreachable backend: the commit stays, the answer says it was not archived.
        let blocked = try ServerProcess(environment: ["RED_BACKEND": "fs", "RED_FS_PATH": "/dev/null/backups", "RED_PRIMARY_COMMIT_POLICY": "remote_wal",
                                                      "RED_REPLICATION_ACK_TIMEOUT_MS": "300", "RED_COMMIT_FAIL_ON_TIMEOUT": "true"])
        defer { blocked.remove() }
        r = try await HTTPClientTests.call(blocked, "POST", "/query", body: "CREATE TABLE u (id INT)")
        #expect(r.status == 504 && r.body.contains("WAL archive"), "\(r.status) \(r.body)")
        r = try await HTTPClientTests.call(blocked, "POST", "/query", body: "SELECT count(*) FROM u")
        #expect(r.status == 200, "committed although not archived: \(r.body)")
        r = try await HTTPClientTests.call(blocked, "GET", "/metrics")
        #expect(r.body.contains("reddb_commit_wait_total{outcome=\"timed_out\"} 1"), "\(r.body)")
    }

    @Test func withoutABackendTheEndpointsSayHowToConfigureOne() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        for (method, path) in [("GET", "/backup/status"), ("POST", "/backup/trigger"), ("POST", "/admin/backup"), ("GET", "/recovery/restore-points")] {
            let r = try await HTTPClientTests.call(server, method, path)
            #expect(r.status == 412 && r.body.contains("RED_BACKEND"), "\(method) \(path): \(r.status) \(r.body)")
        }
    }
}

/// Manual failover with the writer lease (spec ops §1.10–1.11), with real processes: a primary
/// holds the lease, a second writer cannot start, promotion is refused while the lease is
/// live, taken once the dead primary's lease expires, and the old primary cannot come back as
/// a writer.
@Suite(.serialized) struct FailoverLeaseTests {
    @Test func promotionTakesTheLeaseAndFencesTheOldPrimary() async throws {
        let backups = NSTemporaryDirectory() + "red-lease-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: backups) }
        let shared = ["RED_BACKEND": "fs", "RED_FS_PATH": backups, "RED_LEASE_TTL_SECS": "3"]
        let nodeA = shared.merging(["RED_LEASE_REQUIRED": "true", "RED_LEASE_HOLDER_ID": "node-a"]) { $1 }
        let nodeB = shared.merging(["RED_LEASE_HOLDER_ID": "node-b"]) { $1 }
        let primary = try ServerProcess(arguments: ["--role", "primary"], environment: nodeA)
        defer { primary.remove() }
        var r = try await HTTPClientTests.call(primary, "POST", "/query", body: "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1), (2)")
        #expect(r.status == 200, "\(r.body)")
        r = try await HTTPClientTests.call(primary, "GET", "/metrics")
        #expect(r.body.contains("reddb_writer_lease_state{state=\"held\"} 1"))
        r = try await HTTPClientTests.call(primary, "GET", "/replication/status")
        #expect(r.json["writer_lease"]?["holder_id"] == .string("node-a"), "\(r.body)")
        r = try await HTTPClientTests.call(primary, "POST", "/admin/failover/promote")
        #expect(r.status == 409 && r.body.contains("only allowed on a replica"), "\(r.body)")

        // A second writer on the same database key cannot start while node-a holds the lease.
        #expect { _ = try ServerProcess(environment: shared.merging(["RED_LEASE_REQUIRED": "true", "RED_LEASE_HOLDER_ID": "node-c"]) { $1 }) } throws: { error in
            "\(error)".contains("writer lease is held by node-a")
        }

        let replica = try ServerProcess(arguments: ["--role", "replica", "--primary-addr", "127.0.0.1:\(primary.grpcPort)"], environment: nodeB)
        defer { replica.remove() }
        for _ in 0..<200 {
            r = try await HTTPClientTests.call(replica, "POST", "/query", body: "SELECT count(*) AS n FROM t")
            if r.body.contains("2") { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        r = try await HTTPClientTests.call(replica, "POST", "/admin/failover/promote")
        #expect(r.status == 409 && r.body.contains("node-a"), "refused while node-a's lease is live: \(r.body)")

        // The primary dies; once its lease expires the replica takes it.
        kill(primary.process.processIdentifier, SIGKILL)
        primary.process.waitUntilExit()
        var promoted = false
        for _ in 0..<100 {
            r = try await HTTPClientTests.call(replica, "POST", "/admin/failover/promote", body: #"{"ttl_ms": 30000}"#)
            if r.status == 200 { promoted = true; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(promoted && r.json["holder_id"] == .string("node-b") && r.json["generation"] == .integer(2), "\(r.body)")
        #expect(r.body.contains("--role primary"))

        // The replica restarts as the primary, holding the lease, and takes writes.
        replica.stop()
        let newPrimary = try ServerProcess(arguments: ["--role", "primary"], path: replica.path,
                                           environment: nodeB.merging(["RED_LEASE_REQUIRED": "true"]) { $1 })
        defer { newPrimary.remove() }
        r = try await HTTPClientTests.call(newPrimary, "POST", "/query", body: "INSERT INTO t VALUES (3)")
        #expect(r.status == 200, "\(r.body)")
        // The old primary cannot come back as a writer.
        #expect { _ = try ServerProcess(arguments: ["--role", "primary"], path: primary.path, environment: nodeA) } throws: { error in
            "\(error)".contains("writer lease is held by node-b")
        }
    }
}
