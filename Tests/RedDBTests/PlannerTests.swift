import Testing
import RedDB

/// The planner picks indexes and join algorithms when they apply, and only then.
@Suite struct PlannerTests {
    func plan(_ session: Session, _ sql: String) async throws -> String {
        try await session.execute("EXPLAIN " + sql).rows.map { $0[0].displayText }.joined(separator: "\n")
    }

    func fixture() async throws -> Session {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE t (id INT PRIMARY KEY, grp INT, val INT, name TEXT)")
        try await s.execute("CREATE INDEX t_val ON t (val)")
        try await s.execute("INSERT INTO t (id, grp, val, name) SELECT i, i % 10, i * 3, 'n' || i FROM generate_series(1, 200) AS i")
        try await s.execute("CREATE TABLE u (id INT, t_id INT)")
        try await s.execute("INSERT INTO u (id, t_id) SELECT i, i FROM generate_series(1, 50) AS i")
        return s
    }

    @Test func primaryKeyEqualityUsesTheIndex() async throws {
        let s = try await fixture()
        #expect(try await plan(s, "SELECT * FROM t WHERE id = 7").contains("Index Scan using t_pkey"))
        #expect(try await plan(s, "SELECT * FROM t WHERE 7 = id AND name = 'n7'").contains("Index Scan using t_pkey"))
        #expect(try await s.execute("SELECT name FROM t WHERE id = 7").rows == [[.text("n7")]])
    }

    /// `WHERE id = (SELECT …)` with an uncorrelated subquery: run once, then looked up, as
    /// PostgreSQL's InitPlan feeds an Index Scan (the job-queue claim's form).
    @Test func anUncorrelatedScalarSubqueryUsesTheIndex() async throws {
        let s = try await fixture()
        #expect(try await plan(s, "SELECT * FROM t WHERE id = (SELECT max(t_id) FROM u)").contains("Index Scan using t_pkey"))
        #expect(try await plan(s, "SELECT * FROM t WHERE (SELECT max(t_id) FROM u) = val").contains("Index Scan using t_val"))
        #expect(try await s.execute("SELECT name FROM t WHERE id = (SELECT max(t_id) FROM u)").rows == [[.text("n50")]])
        #expect(try await s.execute("SELECT name FROM t WHERE id = (SELECT t_id FROM u WHERE id = 0)").rows.isEmpty, "NULL: no row")
        await #expect(throws: RedError.self) { try await s.execute("SELECT name FROM t WHERE id = (SELECT t_id FROM u)") }
        // Correlated: it changes with the row, so it cannot be looked up.
        let correlated = "SELECT count(*) FROM t WHERE id = (SELECT max(u.t_id) FROM u WHERE u.id = t.grp)"
        #expect(try await plan(s, correlated).contains("Seq Scan on t"))
        #expect(try await s.execute(correlated).rows == [[.integer(9)]])
        // A range against a subquery still scans.
        #expect(try await plan(s, "SELECT * FROM t WHERE id > (SELECT max(t_id) FROM u)").contains("Seq Scan on t"))
    }

    /// A partial index serves ORDER BY … LIMIT when the WHERE includes its predicate (a job
    /// queue's `(id) WHERE status = 'queued'`), and gives what the sort gives, also after
    /// rows enter and leave it.
    @Test func aPartialIndexServesOrderByWhenTheWhereIncludesItsPredicate() async throws {
        let s = try await fixture()
        try await s.execute("CREATE INDEX t_even ON t (val) WHERE grp = 4")
        let query = "SELECT id FROM t WHERE grp = 4 ORDER BY val LIMIT 3"
        #expect(try await plan(s, query).contains("Index Scan using t_even on t"))
        #expect(try await plan(s, "SELECT id FROM t WHERE grp = 4 ORDER BY val DESC LIMIT 3").contains("Index Scan Backward using t_even"))
        #expect(try await plan(s, "SELECT id FROM t WHERE grp = 5 ORDER BY val LIMIT 3").contains("Index Scan using t_val"),
                "another predicate: the plain index")
        try await s.execute("UPDATE t SET grp = 4 WHERE id = 200")
        try await s.execute("UPDATE t SET val = 1000 WHERE id = 4")
        try await s.execute("UPDATE t SET grp = 0 WHERE id = 14")
        let sorted = "SELECT id FROM (SELECT id, val FROM t WHERE grp = 4 OFFSET 0) s ORDER BY val + 0 LIMIT 3"
        #expect(try await s.execute(query).rows == (try await s.execute(sorted).rows))
        #expect(try await s.execute(query).rows == [[.integer(24)], [.integer(34)], [.integer(44)]])
    }

    @Test func parametersAndInListsUseTheIndex() async throws {
        let s = try await fixture()
        #expect(try await plan(s, "SELECT * FROM t WHERE id = $1").contains("Index Scan using t_pkey"))
        #expect(try await plan(s, "SELECT * FROM t WHERE val IN (3, 6, 9)").contains("Index Scan using t_val"))
        #expect(try await s.execute("SELECT id FROM t WHERE val IN (3, 6, 9, 6) ORDER BY id").rows == [[.integer(1)], [.integer(2)], [.integer(3)]])
    }

    @Test func rangePredicatesUseARangeScan() async throws {
        let s = try await fixture()
        #expect(try await plan(s, "SELECT * FROM t WHERE val >= 30 AND val < 60").contains("Index Range Scan using t_val"))
        #expect(try await plan(s, "SELECT * FROM t WHERE val BETWEEN 30 AND 60").contains("Index Range Scan using t_val"))
        #expect(try await s.execute("SELECT count(*) FROM t WHERE val > 30 AND val <= 60").rows == [[.integer(10)]])
    }

    @Test func predicatesAnIndexCannotServeScanTheTable() async throws {
        let s = try await fixture()
        #expect(try await plan(s, "SELECT * FROM t WHERE grp = 3").contains("Seq Scan on t"))
        #expect(try await plan(s, "SELECT * FROM t WHERE id + 0 = 7").contains("Seq Scan on t"))
        #expect(try await plan(s, "SELECT * FROM t WHERE id = 7 OR grp = 3").contains("Seq Scan on t"))
        #expect(try await plan(s, "SELECT * FROM t WHERE id = grp").contains("Seq Scan on t"))
    }

    @Test func orderByLimitReadsTheIndexInOrder() async throws {
        let s = try await fixture()
        let p = try await plan(s, "SELECT id FROM t ORDER BY val DESC LIMIT 3")
        #expect(p.contains("Index Scan Backward using t_val"))
        #expect(!p.contains("Sort"))
        #expect(try await s.execute("SELECT id FROM t ORDER BY val DESC LIMIT 3").rows == [[.integer(200)], [.integer(199)], [.integer(198)]])
        #expect(try await plan(s, "SELECT id FROM t ORDER BY grp LIMIT 3").contains("Sort"))
        #expect(try await plan(s, "SELECT id FROM t ORDER BY val").contains("Sort"))
    }

    @Test func equiJoinsHashAndOthersLoop() async throws {
        let s = try await fixture()
        #expect(try await plan(s, "SELECT * FROM t JOIN u ON t.id = u.t_id").contains("Hash Join"))
        #expect(try await plan(s, "SELECT * FROM t, u WHERE u.t_id = t.id AND t.grp = 1").contains("Hash Join"))
        #expect(try await plan(s, "SELECT * FROM t LEFT JOIN u ON t.id = u.t_id").contains("Hash Left Join"))
        #expect(try await plan(s, "SELECT * FROM t JOIN u ON t.id < u.t_id").contains("Nested Loop"))
        #expect(try await s.execute("SELECT count(*) FROM t JOIN u ON t.id = u.t_id").rows == [[.integer(50)]])
    }

    @Test func singleTablePredicatesArePushedBelowJoins() async throws {
        let s = try await fixture()
        let p = try await plan(s, "SELECT * FROM u JOIN t ON t.id = u.t_id WHERE t.val = 9")
        #expect(p.contains("Index Scan using t_val"))
        #expect(try await s.execute("SELECT u.id FROM u JOIN t ON t.id = u.t_id WHERE t.val = 9").rows == [[.integer(3)]])
    }

    @Test func groupByHashesAndExplainCoversDML() async throws {
        let s = try await fixture()
        #expect(try await plan(s, "SELECT grp, count(*) FROM t GROUP BY grp").contains("HashAggregate"))
        #expect(try await plan(s, "UPDATE t SET name = 'x' WHERE id = 3").contains("Index Scan using t_pkey"))
        #expect(try await plan(s, "DELETE FROM t WHERE val > 500").contains("Index Range Scan using t_val"))
    }

    func orders() async throws -> Session {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE c (id INT PRIMARY KEY, name TEXT)")
        try await s.execute("CREATE TABLE o (id INT PRIMARY KEY, c_id INT, amount INT)")
        try await s.execute("CREATE INDEX o_c ON o (c_id)")
        try await s.execute("INSERT INTO c (id, name) SELECT i, 'c' || i FROM generate_series(1, 100) AS i")
        // Three orders per customer, some with no customer (NULL) and some for customers that do not exist.
        try await s.execute("INSERT INTO o (id, c_id, amount) SELECT j, j % 120, (j * 37) % 100 FROM generate_series(1, 360) AS j")
        try await s.execute("INSERT INTO o (id, c_id, amount) VALUES (1000, NULL, 50), (1001, NULL, 60)")
        return s
    }

    @Test func narrowedOuterSideJoinsByIndexLookups() async throws {
        let s = try await orders()
        let lookup = "SELECT c.id, c.name, o.id, o.amount FROM c JOIN o ON o.c_id = c.id WHERE c.id BETWEEN 5 AND 9 AND o.amount >= 20"
        #expect(try await plan(s, lookup).contains("Nested Loop (index lookup)"))
        #expect(try await plan(s, lookup).contains("Index Scan using o_c on o (= outer key)"))
        // The same join with the outer side not narrowed by an index is a hash join: same rows.
        let hashed = "SELECT c.id, c.name, o.id, o.amount FROM c JOIN o ON o.c_id = c.id WHERE c.id + 0 BETWEEN 5 AND 9 AND o.amount >= 20"
        #expect(try await plan(s, hashed).contains("Hash Join"))
        let expected = try await s.execute(hashed).rows
        #expect(expected.count > 5)
        #expect(try await s.execute(lookup).rows == expected)
        // Parameters, IN lists with NULL and missing keys, a second join equality, and a residual filter.
        #expect(try await s.execute("SELECT c.id, o.id FROM c JOIN o ON o.c_id = c.id WHERE c.id = $1 ORDER BY o.id",
                                    parameters: [.integer(7)]).rows == [[.integer(7), .integer(7)], [.integer(7), .integer(127)], [.integer(7), .integer(247)]])
        let twoKeys = "SELECT c.id, o.id FROM c JOIN o ON o.c_id = c.id AND o.amount = c.id WHERE c.id IN (1, 37, NULL, 500) ORDER BY o.id"
        #expect(try await plan(s, twoKeys).contains("Nested Loop (index lookup)"))
        #expect(try await s.execute(twoKeys).rows
                == (try await s.execute(twoKeys.replacingOccurrences(of: "c.id IN", with: "c.id + 0 IN")).rows))
        let residual = "SELECT c.id, o.id FROM c JOIN o ON o.c_id = c.id AND o.amount > c.id WHERE c.id BETWEEN 1 AND 3"
        #expect(try await s.execute(residual).rows.count
                == (try await s.execute(residual.replacingOccurrences(of: "c.id BETWEEN", with: "c.id + 0 BETWEEN")).rows.count))
    }

    @Test func indexLookupJoinPrefersAUniqueIndexAndNeedsAnIndexedInnerKey() async throws {
        let s = try await orders()
        // Orders narrowed by their key; customers probed by primary key.
        let byKey = "SELECT o.id, c.name FROM o JOIN c ON c.id = o.c_id WHERE o.id IN (3, 4, 500)"
        #expect(try await plan(s, byKey).contains("Index Scan using c_pkey on c (= outer key)"))
        #expect(try await s.execute(byKey + " ORDER BY o.id").rows == [[.integer(3), .text("c3")], [.integer(4), .text("c4")]])
        // No index leads with the inner key: a hash join.
        #expect(try await plan(s, "SELECT * FROM c JOIN o ON o.amount = c.id WHERE c.id = 3").contains("Hash Join"))
        // LEFT joins keep their own algorithm.
        #expect(!(try await plan(s, "SELECT * FROM c LEFT JOIN o ON o.c_id = c.id WHERE c.id = 3").contains("index lookup")))
    }
}
