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
