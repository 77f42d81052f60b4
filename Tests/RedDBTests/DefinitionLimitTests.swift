import Testing
import RedCore
import RedDB

/// Definitions and patterns whose size a statement chooses: each has a limit that is an
/// error, where it used to trap (a 16-bit column id counter), recurse without bound (views
/// on views), take cubic time (naming CHECK constraints) or gigabytes (MATCH bindings).
@Suite struct DefinitionLimitTests {
    @Test func addColumnStopsAtPostgresLimitAndWhenColumnIDsRunOut() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE wide (" + (1...1_600).map { "c\($0) INT" }.joined(separator: ", ") + ")")
        #expect(await sqlState { try await s.execute("ALTER TABLE wide ADD c1601 INT") } == "54000")

        // Dropped columns keep their ids: adding and dropping uses them up without the table growing.
        try await s.execute("CREATE TABLE churn (id INT)")
        var exhausted: String?
        for _ in 0..<8 where exhausted == nil {
            let actions = Array(repeating: "ADD x INT, DROP x", count: 10_000).joined(separator: ", ")
            exhausted = await sqlState { try await s.execute("ALTER TABLE churn " + actions) }
        }
        #expect(exhausted == "54000")
        #expect(try await s.execute("SELECT count(*) FROM churn").rows == [[.integer(0)]])
    }

    @Test func checkConstraintsPerTableAreBounded() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        let checks = Array(repeating: "CHECK (a > 0)", count: 1_001).joined(separator: ", ")
        #expect(await sqlState { try await s.execute("CREATE TABLE t (a INT, \(checks))") } == "54000")
        try await s.execute("CREATE TABLE t (a INT, " + Array(repeating: "CHECK (a > 0)", count: 300).joined(separator: ", ") + ")")
        #expect(await sqlState { try await s.execute("INSERT INTO t VALUES (0)") } == "23514")
    }

    @Test func viewsNestAtMost32Deep() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE VIEW v0 AS SELECT 1 AS x")
        var refused: (Int, String?)?
        for i in 1...40 where refused == nil {
            if let code = await sqlState(of: { try await s.execute("CREATE VIEW v\(i) AS SELECT x FROM v\(i - 1)") }) { refused = (i, code) }
        }
        #expect(refused?.0 == 32 && refused?.1 == "54000", "\(String(describing: refused))")  // v32 over v31 … v0: 33 levels
        #expect(try await s.execute("SELECT x FROM v31").rows == [[.integer(1)]])
    }

    @Test func matchBindingsAreBoundedByTheirSize() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE GRAPH g")
        try await s.execute("INSERT INTO g NODE (label) VALUES ('n')")
        try await s.execute("INSERT INTO g EDGE (label, from, to) VALUES " + Array(repeating: "('e', 'n', 'n')", count: 40).joined(separator: ", "))
        let pattern = "(a)" + String(repeating: "-[]->()", count: 31)
        #expect(await sqlState { try await s.execute("MATCH \(pattern) RETURN a.label LIMIT 1") } == "54000")
    }
}
