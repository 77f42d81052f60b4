import Testing
import RedCore
@testable import RedDB

/// `QueryResult.jsonUTF8(query:)` writes the HTTP / RedWire envelope straight into bytes; it
/// must be exactly `json(query:).utf8`, the tree the other surfaces (gRPC, MCP, `red query
/// --json`) still build, whatever the result holds.
@Suite struct ResultEnvelopeTests {
    @Test func directBytesEqualTheTreesText() async throws {
        let s = try await Database.inMemory().session()
        let setup = [
            "CREATE TABLE t (id int PRIMARY KEY, name text, score float, tags json, at timestamp, amount numeric(10,2), raw bytea)",
            "INSERT INTO t VALUES (1, 'plain', 1.5, '{\"a\":[1,2]}', '2026-12-06 10:00:00', 12.34, '\\x00ff'),"
                + " (2, 'quote \" and \\ slash', -0.25, '[]', NULL, NULL, NULL),"
                + " (3, E'line\\nbreak\\ttab\\u0001', NULL, 'null', '1999-01-01', -1, '\\x'),"
                + " (4, 'ünïcødé ✓', 1e300, '\"s\"', NULL, 0, NULL)",
        ]
        for sql in setup { _ = try await s.execute(sql) }
        let queries = [
            "SELECT 1",
            "SELECT * FROM t ORDER BY id",
            "SELECT name AS z, id AS a, score AS m FROM t ORDER BY id",  // values sorted by name
            "SELECT 1 AS a, 2 AS a, 3 AS b",                            // a repeated name is written twice
            "SELECT id, id FROM t",
            "SELECT * FROM t WHERE id > 100",                           // no rows
            "SELECT NULL AS \"we\"\"ird\", 'x' AS \" \"",
            "INSERT INTO t (id, name) VALUES (5, 'five'), (6, 'six')",  // affected_rows, statement_type
            "UPDATE t SET score = 2 WHERE id > 4",
            "DELETE FROM t WHERE id = 6",
            "CREATE TABLE u (a int)",                                   // a message
            "EXPLAIN SELECT * FROM t WHERE id = 1",
            "SELECT count(*), sum(id), avg(score) FROM t",
            "SELECT ARRAY[1, 2, 3] AS arr, '{\"k\": \"v\"}'::json -> 'k' AS j",
        ]
        for sql in queries {
            let result = try await s.execute(sql)
            let query = sql + " -- \"quoted\" \\ \n"
            #expect(Self.text(result.jsonUTF8(query: query)) == result.json(query: query).text, "\(sql)")
        }
        let message = QueryResult(columns: [], rows: [], rowsAffected: 3, statementType: "other", commandTag: "X", message: "m \"q\"")
        #expect(Self.text(message.jsonUTF8(query: "")) == message.json(query: "").text)
        // A row shorter than its columns (as zip in `json(query:)` pairs them).
        let short = QueryResult(columns: [ResultColumn(name: "b", type: .integer), ResultColumn(name: "a", type: .integer)],
                                rows: [[.integer(1)]], statementType: "select", commandTag: "SELECT 1")
        #expect(Self.text(short.jsonUTF8(query: "q")) == short.json(query: "q").text)
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
}
