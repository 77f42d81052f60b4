import Foundation
import GRPCCore
import PostgresNIO
@testable import RedClient
import RedCore
import RedProto
import RedReplication
import RedWire
import Testing

/// A real primary and a real replica (`red server --role primary` / `--role replica`): the
/// replica copies and follows the primary over gRPC with credentials, refuses writes on
/// every surface, picks up users created on the primary, and resumes after being killed.
@Suite(.serialized) struct ReplicationServerTests {
    /// Polls the replica over HTTP until `sql`'s first value is `expected` (60 s at most: a
    /// bound on liveness, not a speed test; under the full suite a 9 MB commit once took
    /// longer than 20 s to reach the replica).
    static func waitFor(_ replica: ServerProcess, _ sql: String, _ expected: String, token: String) async throws {
        let deadline = Date().addingTimeInterval(60)
        var last = ""
        while Date() < deadline {
            let r = try await HTTPClientTests.call(replica, "POST", "/query", body: sql, token: token)
            last = r.body
            if case .array(let records)? = r.json["result"]?["records"], case .object(let members)? = records.first?["values"],
               members.first?.1.text == expected {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the replica never answered \(expected) to \(sql); last: \(last)")
    }

    @Test func aReplicaFollowsItsPrimaryRefusesWritesAndResumesAfterAKill() async throws {
        let primary = try ServerProcess(arguments: ["--role", "primary"], environment: ["REDDB_USERNAME": "root", "REDDB_PASSWORD": "root-pw"])
        defer { primary.remove() }
        var r = try await HTTPClientTests.call(primary, "POST", "/auth/login", body: #"{"username":"root","password":"root-pw"}"#)
        guard case .string(let token)? = r.json["token"] else { Issue.record("no token: \(r.body)"); return }
        r = try await HTTPClientTests.call(primary, "POST", "/query", body: "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)", token: token)
        #expect(r.status == 200, "\(r.body)")
        for i in 1...20 { _ = try await HTTPClientTests.call(primary, "POST", "/query", body: "INSERT INTO t VALUES (\(i), 'before')", token: token) }

        let address = "grpc://root:root-pw@127.0.0.1:\(primary.grpcPort)"
        var replica = try ServerProcess(arguments: ["--role", "replica", "--primary-addr", address])
        defer { replica.remove() }
        // Users come from the primary: its admin signs in on the replica.
        r = try await HTTPClientTests.call(replica, "POST", "/auth/login", body: #"{"username":"root","password":"root-pw"}"#)
        guard case .string(let replicaToken)? = r.json["token"] else { Issue.record("no token on the replica: \(r.body)"); return }
        try await Self.waitFor(replica, "SELECT count(*) FROM t", "20", token: replicaToken)

        // Writes after the copy arrive; DDL and KV too.
        for i in 21...40 { _ = try await HTTPClientTests.call(primary, "POST", "/query", body: "INSERT INTO t VALUES (\(i), 'after')", token: token) }
        _ = try await HTTPClientTests.call(primary, "POST", "/query", body: "CREATE TABLE u (id INT)", token: token)
        _ = try await HTTPClientTests.call(primary, "POST", "/query", body: "KV PUT settings.theme = 'dark'", token: token)
        try await Self.waitFor(replica, "SELECT count(*) FROM t", "40", token: replicaToken)
        try await Self.waitFor(replica, "SELECT count(*) FROM u", "0", token: replicaToken)
        // A commit larger than one pull (4 MiB of records) crosses gRPC in parts.
        let writer = try await RedClient.connect("red://root:root-pw@127.0.0.1:\(primary.wirePort)")
        try await writer.execute("CREATE TABLE blobs (id INT PRIMARY KEY, b TEXT)")
        try await writer.execute("INSERT INTO blobs VALUES (1, $1)", [.text(String(repeating: "0123456789", count: 900_000))])
        try await writer.close()
        try await Self.waitFor(replica, "SELECT length(b) FROM blobs", "9000000", token: replicaToken)
        // A reply over 4 MiB reaches a gRPC client.
        let grpcReader = try await RedClient.connect("grpc://root:root-pw@127.0.0.1:\(replica.grpcPort)")
        #expect(try await grpcReader.query("SELECT b FROM blobs").rows.first?.first?.displayText.count == 9_000_000)
        try await grpcReader.close()

        // A user created on the primary can sign in on the replica.
        r = try await HTTPClientTests.call(primary, "POST", "/auth/users", body: #"{"username":"ana","password":"ana-pw","role":"read"}"#, token: token)
        #expect(r.status == 201, "\(r.body)")
        let deadline = Date().addingTimeInterval(20)
        var anaStatus = 0
        while Date() < deadline, anaStatus != 200 {
            anaStatus = try await HTTPClientTests.call(replica, "POST", "/auth/login", body: #"{"username":"ana","password":"ana-pw"}"#).status
            if anaStatus != 200 { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(anaStatus == 200)

        // Every surface of the replica refuses writes: 25006 / 403 / FAILED_PRECONDITION.
        r = try await HTTPClientTests.call(replica, "POST", "/query", body: "INSERT INTO t VALUES (100, 'x')", token: replicaToken)
        #expect(r.status == 403 && r.json["sqlstate"] == .string("25006"), "\(r.body)")
        r = try await HTTPClientTests.call(replica, "POST", "/auth/users", body: #"{"username":"x","password":"y"}"#, token: replicaToken)
        #expect(r.status == 403, "\(r.body)")
        try await PostgresClientTests.withConnection(replica, user: "root", password: "root-pw") { conn in
            do {
                try await PostgresClientTests.run(conn, "DELETE FROM t")
                Issue.record("a replica deleted rows")
            } catch {
                #expect(PostgresClientTests.sqlState(error) == "25006")
            }
        }
        try await GRPCServerTests.withClient(replica) { db, _ in
            let write = await GRPCServerTests.code {
                _ = try await db.query(GRPCServerTests.query("INSERT INTO t VALUES (101, 'x')"), metadata: ["authorization": "Bearer \(replicaToken)"])
            }
            #expect(write?.0 == .failedPrecondition)
            // A replica serves its own log to replicas of its own (cascading).
            let pull = await GRPCServerTests.code {
                _ = try await db.pullWalRecords(.with { $0.payloadJson = #"{"max_bytes": 65536}"# }, metadata: ["authorization": "Bearer \(replicaToken)"])
            }
            #expect(pull == nil, "\(String(describing: pull?.1))")
        }
        let client = try await RedClient.connect("red://root:root-pw@127.0.0.1:\(replica.wirePort)")
        let refused = await RedClientTests.code { _ = try await client.execute("UPDATE t SET v = 'x'") }
        #expect(refused == .readOnlyTransaction)
        try await client.close()

        // Killed, the replica comes back where it was and goes on.
        kill(replica.process.processIdentifier, SIGKILL)
        replica.process.waitUntilExit()
        for i in 41...60 { _ = try await HTTPClientTests.call(primary, "POST", "/query", body: "INSERT INTO t VALUES (\(i), 'while down')", token: token) }
        replica = try ServerProcess(arguments: ["--role", "replica", "--primary-addr", address], path: replica.path)
        r = try await HTTPClientTests.call(replica, "POST", "/auth/login", body: #"{"username":"root","password":"root-pw"}"#)
        guard case .string(let again)? = r.json["token"] else { Issue.record("no token after restart: \(r.body)"); return }
        try await Self.waitFor(replica, "SELECT count(*) FROM t", "60", token: again)
        try await Self.waitFor(replica, "SELECT count(DISTINCT id) FROM t", "60", token: again)

        r = try await HTTPClientTests.call(primary, "GET", "/replication/status", token: token)
        #expect(r.json["role"] == .string("primary") && r.json["replica_count"] == .integer(1), "\(r.body)")
        r = try await HTTPClientTests.call(replica, "GET", "/replication/status", token: again)
        #expect(r.json["role"] == .string("replica") && r.json["state"] == .string("healthy"), "\(r.body)")
    }

    /// A cluster connection string writes to the primary and reads from the replica: once
    /// the primary is stopped, reads still work and writes fail; `route=primary` reads there too.
    @Test func aClusterConnectionReadsFromReplicas() async throws {
        let primary = try ServerProcess(arguments: ["--role", "primary"])
        defer { primary.remove() }
        let replica = try ServerProcess(arguments: ["--role", "replica", "--primary-addr", "127.0.0.1:\(primary.grpcPort)"])
        defer { replica.remove() }
        for scheme in ["red", "grpc"] {
            let port = { (server: ServerProcess) in scheme == "red" ? server.wirePort : server.grpcPort }
            let cluster = try await RedClient.connect("\(scheme)://127.0.0.1:\(port(primary)),127.0.0.1:\(port(replica))")
            let table = "c_\(scheme)"
            try await cluster.execute("CREATE TABLE \(table) (id INT PRIMARY KEY)")
            for i in 1...5 { try await cluster.execute("INSERT INTO \(table) VALUES ($1)", [.integer(Int64(i))]) }
            // A transaction runs on the primary, so it reads its own writes.
            if scheme == "red" {
                let seen = try await cluster.transaction { tx in
                    try await tx.execute("INSERT INTO \(table) VALUES (6)")
                    return try await tx.query("SELECT count(*) FROM \(table)").rows[0][0]
                }
                #expect(seen == .integer(6))
            } else {
                try await cluster.execute("INSERT INTO \(table) VALUES (6)")
            }
            let deadline = Date().addingTimeInterval(20)
            var count = Value.null
            while Date() < deadline, count != .integer(6) {
                // The replica may not have the table yet (it lags its primary a little).
                count = (try? await cluster.query("SELECT count(*) FROM \(table)").rows[0][0]) ?? .null
                if count != .integer(6) { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(count == .integer(6), "\(scheme)")
            try await cluster.close()
        }
        let cluster = try await RedClient.connect("red://127.0.0.1:\(primary.wirePort),127.0.0.1:\(replica.wirePort)")
        let pinned = try await RedClient.connect("red://127.0.0.1:\(primary.wirePort),127.0.0.1:\(replica.wirePort)?route=primary")
        #expect(primary.stop() == 0)
        #expect(try await cluster.query("SELECT count(*) FROM c_red").rows[0][0] == .integer(6))
        await #expect(throws: (any Error).self) { try await cluster.execute("INSERT INTO c_red VALUES (7)") }
        await #expect(throws: (any Error).self) { try await pinned.query("SELECT count(*) FROM c_red") }
        try? await cluster.close()
        try? await pinned.close()
    }

    /// A free TCP port on 127.0.0.1 (bound, then released) for a server that must know its
    /// own port before it starts (to advertise it).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw RedError(.ioError, "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// `?discover=replicas`: a client connected before the replica existed finds it in the
    /// primary's topology at a refresh and reads from it, so reads go on once the primary is gone.
    @Test func aClientDiscoversReplicasFromTheTopology() async throws {
        let primary = try ServerProcess(arguments: ["--role", "primary", "--bind", "127.0.0.1:0"], surfaces: false)
        defer { primary.remove() }
        let writer = try await RedClient.connect("red://127.0.0.1:\(primary.routerPort)")
        try await writer.execute("CREATE TABLE d (id INT PRIMARY KEY)")
        try await writer.execute("INSERT INTO d VALUES (1), (2), (3)")
        let client = try await RedClient.connect("red://127.0.0.1:\(primary.routerPort)?discover=replicas&topology_refresh_ms=100")
        #expect(try await client.query("SELECT count(*) FROM d").rows.first?.first == .integer(3), "no replica yet: the primary reads")
        let port = try Self.freePort()
        let replica = try ServerProcess(arguments: ["--role", "replica", "--primary-addr", "127.0.0.1:\(primary.routerPort)",
                                                    "--bind", "127.0.0.1:\(port)", "--advertise-addr", "127.0.0.1:\(port)"], surfaces: false)
        defer { replica.remove() }
        // The replica shows up in the topology with its first pull, once it has copied d.
        let cluster = try #require(client.transport as? ClusterTransport)
        for _ in 0..<400 where cluster.replicaAddresses.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        #expect(cluster.replicaAddresses.map(\.port) == [port])
        #expect(primary.stop() == 0)
        #expect(try await client.query("SELECT count(*) FROM d").rows.first?.first == .integer(3), "the read went to the discovered replica")
        await #expect(throws: (any Error).self) { try await client.execute("INSERT INTO d VALUES (4)") }
        try await Task.sleep(for: .milliseconds(300))  // refreshes fail meanwhile: the replica stays
        #expect(cluster.replicaAddresses.map(\.port) == [port])
        try? await client.close()
        try? await writer.close()
        await #expect(throws: RedError.self) { _ = try await RedClient.connect("red://127.0.0.1:\(port)?discover=everything") }
        await #expect(throws: RedError.self) { _ = try await RedClient.connect("red://127.0.0.1:\(port)?discover=replicas&topology_refresh_ms=5") }
    }

    /// Cascading: a replica of a replica copies and follows it, and so holds the primary's data.
    @Test func aReplicaOfAReplicaFollowsThePrimary() async throws {
        let primary = try ServerProcess(arguments: ["--role", "primary"])
        defer { primary.remove() }
        var r = try await HTTPClientTests.call(primary, "POST", "/query", body: "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)")
        #expect(r.status == 200)
        let middle = try ServerProcess(arguments: ["--role", "replica", "--primary-addr", "127.0.0.1:\(primary.grpcPort)"])
        defer { middle.remove() }
        let leaf = try ServerProcess(arguments: ["--role", "replica", "--primary-addr", "127.0.0.1:\(middle.grpcPort)"])
        defer { leaf.remove() }
        r = try await HTTPClientTests.call(primary, "POST", "/query", body: "INSERT INTO t SELECT g FROM generate_series(2, 100) AS g")
        #expect(r.status == 200)
        var body = ""
        for _ in 0..<400 {
            body = try await HTTPClientTests.call(leaf, "POST", "/query", body: "SELECT count(*) AS n FROM t").body
            if body.contains("100") { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(body.contains("100"), "the leaf replica caught up: \(body)")
        r = try await HTTPClientTests.call(leaf, "POST", "/query", body: "INSERT INTO t VALUES (1000)")
        #expect(r.status == 403, "a leaf replica is read-only too: \(r.body)")
        r = try await HTTPClientTests.call(middle, "GET", "/replication/status")
        #expect(r.json["role"] == .string("replica") && r.json["state"] == .string("healthy"), "\(r.body)")
        r = try await HTTPClientTests.call(leaf, "GET", "/replication/status")
        #expect(r.json["primary_addr"] == .string("127.0.0.1:\(middle.grpcPort)"), "\(r.body)")
    }

    /// `/changes` and the key watch on a replica show the primary's changes.
    @Test func aReplicasChangeFeedAndKeyWatchFollowThePrimary() async throws {
        let primary = try ServerProcess(arguments: ["--role", "primary"])
        defer { primary.remove() }
        let replica = try ServerProcess(arguments: ["--role", "replica", "--primary-addr", "127.0.0.1:\(primary.grpcPort)"])
        defer { replica.remove() }
        for (method, path, body) in [("PUT", "/collections/cache/kvs/session.a", #"{"value": 1}"#),
                                     ("PUT", "/collections/cache/kvs/session.a", #"{"value": 2}"#),
                                     ("DELETE", "/collections/cache/kvs/session.a", nil)] {
            #expect(try await HTTPClientTests.call(primary, method, path, body: body).status < 300)
        }
        var body = ""
        for _ in 0..<200 {
            body = try await HTTPClientTests.call(replica, "GET", "/collections/cache/kvs/session.*/watch?since_lsn=0").body
            if body.components(separatedBy: "event: kv").count == 4 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let ops = body.components(separatedBy: "\n").filter { $0.hasPrefix("data: ") }
            .compactMap { try? JSONValue.parse(String($0.dropFirst(6))) }.map { $0["op"] }
        #expect(ops == ["insert", "update", "delete"].map { JSONValue.string($0) }, "\(body)")
        let changes = try await HTTPClientTests.call(replica, "GET", "/changes?since_lsn=0")
        #expect(changes.body.contains("session.a") || changes.body.contains("cache"), "\(changes.body)")
    }

    @Test func aStandaloneServerServesNoLog() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await GRPCServerTests.withClient(server) { db, _ in
            let pull = await GRPCServerTests.code { _ = try await db.pullWalRecords(.with { $0.payloadJson = "{}" }) }
            #expect(pull?.0 == .failedPrecondition)
        }
    }
}

extension ReplicationServerTests {
    /// `RED_PRIMARY_COMMIT_POLICY=ack_n=1`: a commit is answered once a replica holds it; with
    /// no replica it times out (504 with fail-on-timeout) but stays committed.
    @Test func ackNHoldsCommitsUntilAReplicaHasThem() async throws {
        let primary = try ServerProcess(arguments: ["--role", "primary"],
                                        environment: ["RED_PRIMARY_COMMIT_POLICY": "ack_n=1", "RED_REPLICATION_ACK_TIMEOUT_MS": "300",
                                                      "RED_COMMIT_FAIL_ON_TIMEOUT": "true"])
        defer { primary.remove() }
        var r = try await HTTPClientTests.call(primary, "POST", "/query", body: "CREATE TABLE t (id INT PRIMARY KEY)")
        #expect(r.status == 504 && r.json["code"] == .string("commit_not_acknowledged"), "\(r.body)")
        r = try await HTTPClientTests.call(primary, "POST", "/query", body: "INSERT INTO t VALUES (1)")
        #expect(r.status == 504, "\(r.body)")
        r = try await HTTPClientTests.call(primary, "POST", "/query", body: "SELECT count(*) AS n FROM t")
        #expect(r.body.contains("\"n\":1"), "committed despite the timeout: \(r.body)")

        let replica = try ServerProcess(arguments: ["--role", "replica", "--primary-addr", "127.0.0.1:\(primary.grpcPort)"])
        defer { replica.remove() }
        try await Self.waitFor(replica, "SELECT count(*) FROM t", "1", token: "")
        for i in 2...11 {
            r = try await HTTPClientTests.call(primary, "POST", "/query", body: "INSERT INTO t VALUES (\(i))")
            #expect(r.status == 200, "\(r.body)")
            // Answered only once the replica held it: it is there at once.
            let seen = try await HTTPClientTests.call(replica, "POST", "/query", body: "SELECT count(*) AS n FROM t WHERE id = \(i)")
            #expect(seen.body.contains("\"n\":1"), "row \(i) on the replica: \(seen.body)")
        }
        r = try await HTTPClientTests.call(primary, "GET", "/metrics")
        #expect(r.body.contains(#"reddb_commit_wait_total{outcome="reached"} 10"#), "\(r.body.split(separator: "\n").filter { $0.contains("commit_wait") })")
        #expect(r.body.contains(#"reddb_commit_wait_total{outcome="timed_out"} 2"#))
        #expect(r.body.contains("reddb_replica_count 1") && r.body.contains("reddb_replica_ack_lsn{replica_id=\"")
                && r.body.contains("reddb_replica_lag_records{replica_id=\"") && r.body.contains("reddb_slo_lag_budget_remaining_seconds{"))
        let replicaMetrics = try await HTTPClientTests.call(replica, "GET", "/metrics")
        #expect(replicaMetrics.body.contains(#"reddb_replica_apply_health{state="healthy"} 1"#), "\(replicaMetrics.body.split(separator: "\n").filter { $0.contains("apply_health") })")
    }
}

extension ReplicationServerTests {
    /// `RED_PRIMARY_COMMIT_POLICY=quorum` with `RED_QUORUM_REGIONS=eu`: with no replica in "eu"
    /// a commit is refused the wait at once (504, committed all the same); once an "eu" replica
    /// follows, each commit is answered only when it holds it.
    @Test func aRegionalQuorumHoldsCommitsUntilTheRegionHasThem() async throws {
        let primary = try ServerProcess(arguments: ["--role", "primary", "--region", "us"],
                                        environment: ["RED_PRIMARY_COMMIT_POLICY": "quorum", "RED_QUORUM_REGIONS": "eu,us",
                                                      "RED_COMMIT_FAIL_ON_TIMEOUT": "true"])
        defer { primary.remove() }
        var r = try await HTTPClientTests.call(primary, "POST", "/query", body: "CREATE TABLE t (id INT PRIMARY KEY)")
        #expect(r.status == 504 && r.json["code"] == .string("commit_not_acknowledged") && r.body.contains("region(s) eu"), "\(r.body)")
        let replica = try ServerProcess(arguments: ["--role", "replica", "--region", "eu", "--primary-addr", "127.0.0.1:\(primary.grpcPort)"])
        defer { replica.remove() }
        try await Self.waitFor(replica, "SELECT count(*) FROM t", "0", token: "")
        for i in 1...5 {
            r = try await HTTPClientTests.call(primary, "POST", "/query", body: "INSERT INTO t VALUES (\(i))")
            #expect(r.status == 200, "\(r.body)")
            let seen = try await HTTPClientTests.call(replica, "POST", "/query", body: "SELECT count(*) AS n FROM t WHERE id = \(i)")
            #expect(seen.body.contains("\"n\":1"), "row \(i) on the replica: \(seen.body)")
        }
        r = try await HTTPClientTests.call(primary, "GET", "/metrics")
        let waits = r.body.split(separator: "\n").filter { $0.contains("commit_wait") }
        #expect(r.body.contains(#"reddb_commit_wait_total{outcome="reached"} 5"#), "\(waits)")
        #expect(r.body.contains(#"reddb_commit_wait_total{outcome="insufficient_replicas"} 1"#), "\(waits)")
    }
}

extension ReplicationServerTests {
    /// `grpcs://`: a replica follows its primary over TLS, trusting the primary's own CA file.
    @Test func aReplicaFollowsItsPrimaryOverTLS() async throws {
        let primary = try ServerProcess(arguments: ["--role", "primary", "--grpc-tls-bind", "127.0.0.1:0"])
        defer { primary.remove() }
        let r = try await HTTPClientTests.call(primary, "POST", "/query", body: "CREATE TABLE t (id INT); INSERT INTO t VALUES (1), (2)")
        #expect(r.status == 200, "\(r.body)")
        let address = "grpcs://localhost:\(primary.grpcTLSPort)?ca=\(primary.path).tls-ca.pem"
        let replica = try ServerProcess(arguments: ["--role", "replica", "--primary-addr", address])
        defer { replica.remove() }
        try await Self.waitFor(replica, "SELECT count(*) FROM t", "2", token: "")
        _ = try await HTTPClientTests.call(primary, "POST", "/query", body: "INSERT INTO t VALUES (3)")
        try await Self.waitFor(replica, "SELECT count(*) FROM t", "3", token: "")
    }

    @Test func primaryAddressesParseTLSOptions() throws {
        #expect(throws: RedError.self) { _ = try GRPCReplicationSource.Address("grpc://h:1?ca=/x.pem") }  // ca without TLS
        #expect(throws: RedError.self) { _ = try GRPCReplicationSource.Address("grpcs://h:1?rejectUnauthorized=maybe") }
        let a = try GRPCReplicationSource.Address("grpcs://u:p@h:7?rejectUnauthorized=false&servername=db.internal")
        #expect(a.tls && !a.verifyServer && a.serverName == "db.internal" && a.user == "u" && a.port == 7)
    }
}

extension ReplicationServerTests {
    /// A primary's `Topology` lists the replicas that advertise an address, for callers allowed to see them.
    @Test func thePrimaryAdvertisesItsReplicas() async throws {
        let primary = try ServerProcess(arguments: ["--role", "primary", "--advertise-addr", "primary.example:5050", "--region", "eu"],
                                        environment: ["REDDB_USERNAME": "root", "REDDB_PASSWORD": "root-pw"])
        defer { primary.remove() }
        let replica = try ServerProcess(arguments: ["--role", "replica", "--primary-addr", "grpc://root:root-pw@127.0.0.1:\(primary.grpcPort)",
                                                    "--advertise-addr", "replica-1.example:5050", "--region", "eu"])
        defer { replica.remove() }
        var r = try await HTTPClientTests.call(primary, "POST", "/auth/login", body: #"{"username":"root","password":"root-pw"}"#)
        guard case .string(let token)? = r.json["token"] else { Issue.record("no token: \(r.body)"); return }
        r = try await HTTPClientTests.call(primary, "POST", "/query", body: "CREATE TABLE t (id INT)", token: token)
        r = try await HTTPClientTests.call(replica, "POST", "/auth/login", body: #"{"username":"root","password":"root-pw"}"#)
        guard case .string(let replicaToken)? = r.json["token"] else { Issue.record("no token on the replica: \(r.body)"); return }
        try await Self.waitFor(replica, "SELECT count(*) FROM t", "0", token: replicaToken)
        try await GRPCServerTests.withClient(primary) { db, _ in
            var metadata = Metadata()
            metadata.addString("Bearer \(token)", forKey: "authorization")
            let full = try Topology.decode(Array(try await db.topology(Reddb_V1_TopologyRequest(), metadata: metadata).topologyBytes))
            #expect(full.primaryAddress == "primary.example:5050" && full.primaryRegion == "eu")
            #expect(full.replicas.map(\.address) == ["replica-1.example:5050"] && full.replicas.first?.healthy == true && full.epoch >= 1)
            let anonymous = try Topology.decode(Array(try await db.topology(Reddb_V1_TopologyRequest()).topologyBytes))
            #expect(anonymous.primaryAddress == "primary.example:5050" && anonymous.replicas.isEmpty)
        }
    }
}

extension ReplicationServerTests {
    /// Manual failover: with the primary gone, a replica's database restarted as a primary takes
    /// writes, and a new replica copies and follows it.
    @Test func aReplicaRestartedAsPrimaryTakesOver() async throws {
        let primary = try ServerProcess(arguments: ["--role", "primary"])
        defer { primary.remove() }
        _ = try await HTTPClientTests.call(primary, "POST", "/query", body: "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1), (2)")
        let replica = try ServerProcess(arguments: ["--role", "replica", "--primary-addr", "127.0.0.1:\(primary.grpcPort)"])
        defer { replica.remove() }
        try await Self.waitFor(replica, "SELECT count(*) FROM t", "2", token: "")
        var r = try await HTTPClientTests.call(replica, "POST", "/query", body: "INSERT INTO t VALUES (3)")
        #expect(r.status == 403, "a replica refuses writes: \(r.body)")
        primary.stop()
        replica.stop()

        let promoted = try ServerProcess(arguments: ["--role", "primary"], path: replica.path)
        defer { promoted.remove() }
        r = try await HTTPClientTests.call(promoted, "POST", "/query", body: "INSERT INTO t VALUES (3)")
        #expect(r.status == 200, "the promoted server takes writes: \(r.body)")
        let follower = try ServerProcess(arguments: ["--role", "replica", "--primary-addr", "127.0.0.1:\(promoted.grpcPort)"])
        defer { follower.remove() }
        try await Self.waitFor(follower, "SELECT count(*) FROM t", "3", token: "")
        _ = try await HTTPClientTests.call(promoted, "POST", "/query", body: "INSERT INTO t VALUES (4)")
        try await Self.waitFor(follower, "SELECT count(*) FROM t", "4", token: "")
    }
}

extension ReplicationServerTests {
    /// Start-up writes (a bootstrap admin) do not wait for replicas that cannot be there yet.
    @Test func ackNDoesNotHoldTheStartUpBootstrap() async throws {
        let primary = try ServerProcess(arguments: ["--role", "primary"],
                                        environment: ["RED_PRIMARY_COMMIT_POLICY": "ack_n=1", "RED_REPLICATION_ACK_TIMEOUT_MS": "200",
                                                      "RED_COMMIT_FAIL_ON_TIMEOUT": "true", "REDDB_USERNAME": "root", "REDDB_PASSWORD": "root-pw"])
        defer { primary.remove() }
        var r = try await HTTPClientTests.call(primary, "POST", "/auth/login", body: #"{"username":"root","password":"root-pw"}"#)
        guard case .string(let token)? = r.json["token"] else { Issue.record("no token: \(r.body)"); return }
        r = try await HTTPClientTests.call(primary, "POST", "/query", body: "CREATE TABLE t (id INT)", token: token)
        #expect(r.status == 504, "later commits do wait: \(r.body)")
    }
}
