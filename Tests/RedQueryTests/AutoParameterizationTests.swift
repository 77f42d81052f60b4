import RedCore
import Testing
@testable import RedQuery

/// Literals turned into parameter slots for RedWire Prepare and gRPC PrepareQuery.
struct AutoParameterizationTests {
    /// The statement with literals must parse exactly as the same text written with `$n`.
    static func expectSameAs(_ text: String, _ withPlaceholders: String, literals: [Value]) throws {
        let auto = try Parser.parseAutoParameterized(text)
        let explicit = try Parser.parseScript(withPlaceholders)
        #expect(auto.statement == explicit[0].0, "\(text)")
        #expect(auto.literals == literals, "\(text)")
        #expect(auto.parameterCount == literals.count)
    }

    @Test func literalsBecomeSlotsInTheOrderWritten() throws {
        try Self.expectSameAs("SELECT name, 'x' FROM t WHERE id = 7 AND score > -2.5 AND ok = true AND note IS NOT NULL LIMIT 10",
                              "SELECT name, $1 FROM t WHERE id = $2 AND score > $3 AND ok = $4 AND note IS NOT NULL LIMIT $5",
                              literals: [.text("x"), .integer(7), .float(-2.5), .boolean(true), .integer(10)])
        try Self.expectSameAs("INSERT INTO t (a, b, c) VALUES (1, 'two', NULL), (-4, 'five', false)",
                              "INSERT INTO t (a, b, c) VALUES ($1, $2, $3), ($4, $5, $6)",
                              literals: [.integer(1), .text("two"), .null, .integer(-4), .text("five"), .boolean(false)])
        try Self.expectSameAs("UPDATE t SET a = a + 1 WHERE b = 'k'", "UPDATE t SET a = a + $1 WHERE b = $2",
                              literals: [.integer(1), .text("k")])
        try Self.expectSameAs("DELETE FROM t WHERE a IN (1, 2, 3)", "DELETE FROM t WHERE a IN ($1, $2, $3)",
                              literals: [.integer(1), .integer(2), .integer(3)])
        // A minus in front of a column is an operator, not part of a literal.
        try Self.expectSameAs("SELECT -a - 1 FROM t", "SELECT -a - $1 FROM t", literals: [.integer(1)])
    }

    @Test func orderingGroupingAndTypedLiteralsStayAsWritten() throws {
        try Self.expectSameAs("SELECT a, count(*) FROM t WHERE b = 3 GROUP BY 1 ORDER BY 2 DESC",
                              "SELECT a, count(*) FROM t WHERE b = $1 GROUP BY 1 ORDER BY 2 DESC", literals: [.integer(3)])
        try Self.expectSameAs("SELECT * FROM t WHERE d > DATE '2024-01-01' AND n = 'x'",
                              "SELECT * FROM t WHERE d > DATE '2024-01-01' AND n = $1", literals: [.text("x")])
    }

    @Test func otherStatementsPrepareWithNoSlots() throws {
        for text in ["CREATE TABLE t (a INT DEFAULT 5, b TEXT DEFAULT 'x')", "KV PUT cfg.mode = 'fast'", "SHOW TABLES", "BEGIN"] {
            let prepared = try Parser.parseAutoParameterized(text)
            #expect(prepared.parameterCount == 0, "\(text)")
            #expect(prepared.statement == (try Parser.parseScript(text))[0].0, "\(text)")
        }
    }

    @Test func placeholdersAndSeveralStatementsAreRefused() {
        #expect(throws: RedError.self) { try Parser.parseAutoParameterized("SELECT * FROM t WHERE a = $1") }
        #expect(throws: RedError.self) { try Parser.parseAutoParameterized("SELECT 1; SELECT 2") }
        #expect(throws: RedError.self) { try Parser.parseAutoParameterized(" ; ") }
        #expect(throws: RedError.self) { try Parser.parseAutoParameterized("SELEC 1") }
        #expect((try? Parser.parseAutoParameterized("SELECT 1;"))?.parameterCount == 1)
    }
}
