import RedCore
import RedQuery
import Synchronization
import Testing
@testable import RedClient

/// Which statements a cluster connection sends to a replica: reads only, and when unsure, none.
struct ClusterRoutingTests {
    @Test func readsGoToReplicasAndEverythingElseToThePrimary() {
        let reads = ["SELECT 1", "  select * from t", "-- note\nSELECT 1", "/* c */ SELECT 1", "(SELECT 1)", "VALUES (1)", "SHOW TABLES",
                     "EXPLAIN SELECT 1", "WITH x AS (SELECT 1) SELECT * FROM x", "VECTOR SEARCH docs SIMILAR TO [1,2]", "SEARCH TEXT 'cat'",
                     "GRAPH TRAVERSE FROM 1", "MATCH (a) RETURN a", "KV GET kv.a", "SELECT 1;", "TABLE t"]
        for sql in reads { #expect(ClusterTransport.isRead(sql), "\(sql)") }
        let writes = ["INSERT INTO t VALUES (1)", "UPDATE t SET a = 1", "DELETE FROM t", "CREATE TABLE t (a INT)", "BEGIN", "KV PUT kv.a = 1",
                      "VECTOR", "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", "SELECT 1; DELETE FROM t", "SELECT 1; SELECT 2",
                      "", "   ", "-- only a comment", "VACUUM", "SET statement_timeout = 5", "SELECT 'a;b'"]
        for sql in writes { #expect(!ClusterTransport.isRead(sql), "\(sql)") }
    }
}

/// The replica set of a cluster connection follows the topology it is refreshed from.
struct ClusterRefreshTests {
    /// A transport that answers with its name and remembers being closed.
    final class Named: ClientTransport {
        let name: String
        let closed = Mutex(false)
        init(_ name: String) { self.name = name }
        func execute(_ sql: String, _ parameters: [Value]) async throws -> QueryResult {
            QueryResult(columns: [ResultColumn(name: "server", type: .text)], rows: [[.text(name)]], statementType: "select", commandTag: "SELECT 1")
        }
        func session() async throws -> any ClientSession { throw RedError(.featureNotSupported, "no sessions") }
        func close() async throws { closed.withLock { $0 = true } }
    }

    static func address(_ port: Int) -> ConnectionString.HostPort { .init(host: "10.0.0.1", port: port) }

    @Test func discoveredReplicasJoinAndLeaveWhileNamedOnesStay() async throws {
        let named = Named("named")
        let cluster = ClusterTransport(primary: Named("primary"), replicas: [.init(address: Self.address(1), transport: named, fixed: true)])
        let opened = Mutex<[Int: Named]>([:])
        let reachable = Mutex<Set<Int>>([2])
        let open: (ConnectionString.HostPort) async throws -> any ClientTransport = { address in
            guard reachable.withLock({ $0.contains(address.port) }) else { throw RedError(.ioError, "refused") }
            let transport = Named("r\(address.port)")
            opened.withLock { $0[address.port] = transport }
            return transport
        }
        await cluster.refresh(discovered: [Self.address(2), Self.address(3)], open: open)
        #expect(cluster.replicaAddresses.map(\.port) == [1, 2], "3 could not be reached: left out")
        var servers: Set<String> = []
        for _ in 0..<4 { if case .text(let s) = try await cluster.execute("SELECT 1", []).rows[0][0] { servers.insert(s) } }
        #expect(servers == ["named", "r2"])
        reachable.withLock { $0 = [2, 3] }
        await cluster.refresh(discovered: [Self.address(3)], open: open)
        #expect(cluster.replicaAddresses.map(\.port) == [1, 3], "2 left the topology, 3 joined on a retry; the named one stays")
        #expect(opened.withLock { $0[2]!.closed.withLock { $0 } }, "a replica that left is closed")
        await cluster.refresh(discovered: [Self.address(3)], open: open)
        #expect(cluster.replicaAddresses.map(\.port) == [1, 3] && opened.withLock { $0.count } == 2, "nothing opened twice")
        try await cluster.close()
        #expect(named.closed.withLock { $0 } && opened.withLock { $0[3]!.closed.withLock { $0 } })
    }

    @Test func withNoReplicaReadsGoToThePrimary() async throws {
        let cluster = ClusterTransport(primary: Named("primary"), replicas: [])
        #expect(try await cluster.execute("SELECT 1", []).rows[0][0] == .text("primary"))
    }
}
