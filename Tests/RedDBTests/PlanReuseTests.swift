import Testing
@testable import RedDB
@testable import RedQuery

/// A statement executed again runs the plan kept from its last execution (`PlanMemo`) while
/// nothing it was planned against has changed for the snapshot running it. Each test checks
/// both that the kept plan is used (`reuseCount`) where it may be, and that every change a
/// plan depends on gets the statement planned afresh, with the answer it would have had.
@Suite struct PlanReuseTests: SessionTestSupport {
    func reuses(_ db: Database, _ sql: String) -> Int {
        (try? db.statementCache.statementsAndPlans(for: sql).plans)??.reuseCount ?? -1
    }

    func database(rows: Int = 20) async throws -> Database {
        let db = try await Database.inMemory()
        try await db.session().execute("""
            CREATE TABLE t (id INT PRIMARY KEY, v TEXT, n INT);
            CREATE INDEX t_n ON t (n);
            INSERT INTO t SELECT i, 'v' || i, i % 5 FROM generate_series(1, \(rows)) AS i
            """)
        return db
    }

    @Test func aLookupRunsItsKeptPlanForEveryParameterValue() async throws {
        let db = try await database()
        let s = db.session()
        let lookup = "SELECT v FROM t WHERE id = $1"
        for id in 1...20 {
            #expect(try await s.execute(lookup, parameters: [.integer(Int64(id))]).rows == [[.text("v\(id)")]])
        }
        #expect(try await s.execute(lookup, parameters: [.integer(99)]).rows.isEmpty)
        #expect(try await s.execute(lookup, parameters: [.null]).rows.isEmpty)
        #expect(reuses(db, lookup) == 21)
        // The same plan serves an index range and a LIMIT read from parameters.
        let range = "SELECT id FROM t WHERE n BETWEEN $1 AND $2 ORDER BY id DESC LIMIT $3"
        #expect(try await s.execute(range, parameters: [.integer(1), .integer(1), .integer(2)]).rows == [[.integer(16)], [.integer(11)]])
        #expect(try await s.execute(range, parameters: [.integer(0), .integer(0), .integer(10)]).rows.map { $0[0] } == [20, 15, 10, 5].map { .integer($0) })
        #expect(reuses(db, range) == 1)
        // Too few parameters is still the same error with a kept plan.
        #expect(await code { _ = try await s.execute(lookup) } == "08P01")
    }

    @Test func everyKindOfDefinitionChangeIsPlannedAfresh() async throws {
        let db = try await database(rows: 3)
        let a = db.session(), b = db.session()
        let all = "SELECT * FROM t ORDER BY 1 LIMIT 1"
        #expect(try await rows(b, all) == [[.integer(1), .text("v1"), .integer(1)]])
        #expect(try await rows(b, all) == [[.integer(1), .text("v1"), .integer(1)]])
        #expect(reuses(db, all) == 1)

        try await a.execute("ALTER TABLE t ADD COLUMN w TEXT DEFAULT 'w'")
        #expect(try await rows(b, all) == [[.integer(1), .text("v1"), .integer(1), .text("w")]])
        try await a.execute("ALTER TABLE t DROP COLUMN v")
        #expect(try await rows(b, all) == [[.integer(1), .integer(1), .text("w")]])

        // A view is catalog storage, not the collection registry: replacing it counts too.
        let view = "SELECT * FROM v ORDER BY 1"
        try await a.execute("CREATE VIEW v AS SELECT id FROM t")
        #expect(try await rows(b, view) == [[.integer(1)], [.integer(2)], [.integer(3)]])
        #expect(try await rows(b, view).count == 3)
        try await a.execute("CREATE OR REPLACE VIEW v AS SELECT id, id * 10 AS ten FROM t WHERE id > 1")
        #expect(try await rows(b, view) == [[.integer(2), .integer(20)], [.integer(3), .integer(30)]])
        try await a.execute("DROP VIEW v")
        #expect(await code { _ = try await b.execute(view) } == "42P01")

        // Dropped and created again: the kept plan's table is gone, its namesake is read.
        try await a.execute("DROP TABLE t; CREATE TABLE t (id TEXT PRIMARY KEY)")
        try await a.execute("INSERT INTO t VALUES ('1')")
        #expect(try await rows(b, all) == [[.text("1")]])
    }

    @Test func aBlocksOwnDefinitionChangesAreSeenOnlyByIt() async throws {
        let db = try await database(rows: 3)
        let a = db.session(), b = db.session()
        try await a.execute("CREATE VIEW v AS SELECT id FROM t")
        let view = "SELECT * FROM v ORDER BY 1"
        #expect(try await rows(a, view).count == 3)
        #expect(try await rows(b, view).count == 3)

        try await a.execute("BEGIN")
        try await a.execute("CREATE OR REPLACE VIEW v AS SELECT id, v FROM t WHERE id = 2")
        #expect(try await rows(a, view) == [[.integer(2), .text("v2")]], "the block reads its own view")
        #expect(try await rows(a, view) == [[.integer(2), .text("v2")]])
        #expect(try await rows(b, view).count == 3, "others read the committed view")
        try await a.execute("ROLLBACK")
        #expect(try await rows(a, view).count == 3)

        // So does a column the block adds, until it commits.
        try await a.execute("BEGIN")
        try await a.execute("ALTER TABLE t ADD COLUMN extra INT DEFAULT 7")
        #expect(try await rows(a, "SELECT * FROM t WHERE id = 1") == [[.integer(1), .text("v1"), .integer(1), .integer(7)]])
        #expect(try await rows(b, "SELECT * FROM t WHERE id = 1") == [[.integer(1), .text("v1"), .integer(1)]])
        try await a.execute("COMMIT")
        #expect(try await rows(b, "SELECT * FROM t WHERE id = 1") == [[.integer(1), .text("v1"), .integer(1), .integer(7)]])
    }

    @Test func aSnapshotOlderThanAChangeIsPlannedAgainstWhatItSees() async throws {
        let db = try await database(rows: 3)
        let a = db.session(), b = db.session()
        let all = "SELECT * FROM t WHERE id = 2"
        try await a.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        #expect(try await rows(a, all) == [[.integer(2), .text("v2"), .integer(2)]])
        try await b.execute("ALTER TABLE t ADD COLUMN w INT DEFAULT 5")
        #expect(try await rows(b, all) == [[.integer(2), .text("v2"), .integer(2), .integer(5)]])
        #expect(try await rows(b, all) == [[.integer(2), .text("v2"), .integer(2), .integer(5)]])
        #expect(try await rows(a, all) == [[.integer(2), .text("v2"), .integer(2)]], "the block's snapshot predates the column")
        try await a.execute("COMMIT")
        #expect(try await rows(a, all) == [[.integer(2), .text("v2"), .integer(2), .integer(5)]])
    }

    @Test func aTemporaryTableHidesAPermanentOneWhoseLookupIsKept() async throws {
        let db = try await database(rows: 3)
        let a = db.session(), b = db.session()
        let lookup = "SELECT v FROM t WHERE id = $1"
        for _ in 0..<3 { #expect(try await a.execute(lookup, parameters: [.integer(1)]).rows == [[.text("v1")]]) }
        try await b.execute("CREATE TEMP TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'temporary')")
        #expect(try await b.execute(lookup, parameters: [.integer(1)]).rows == [[.text("temporary")]])
        #expect(try await a.execute(lookup, parameters: [.integer(1)]).rows == [[.text("v1")]])
    }

    @Test func plansHoldingOneExecutionsStateAreMadeEachTime() async throws {
        let db = try await database(rows: 3)
        let s = db.session()
        // An uncorrelated subquery's rows are kept for its statement only.
        let newest = "SELECT (SELECT max(id) FROM t)"
        let member = "SELECT count(*) FROM t WHERE id IN (SELECT id FROM t WHERE n = $1)"
        let cte = "WITH m AS (SELECT max(id) AS top FROM t) SELECT top FROM m"
        #expect(try await rows(s, newest) == [[.integer(3)]])
        #expect(try await s.execute(member, parameters: [.integer(1)]).rows == [[.integer(1)]])
        #expect(try await rows(s, cte) == [[.integer(3)]])
        try await s.execute("INSERT INTO t VALUES (4, 'v4', 4), (6, 'v6', 1)")
        #expect(try await rows(s, newest) == [[.integer(6)]])
        #expect(try await s.execute(member, parameters: [.integer(1)]).rows == [[.integer(2)]])
        #expect(try await rows(s, cte) == [[.integer(6)]])
        #expect(reuses(db, newest) == 0)
        #expect(reuses(db, member) == 0)
        #expect(reuses(db, cte) == 0)
        // A plan with row locking is not kept either.
        let locking = "SELECT id FROM t WHERE id = 1 FOR UPDATE"
        for _ in 0..<2 { #expect(try await rows(s, locking) == [[.integer(1)]]) }
        #expect(reuses(db, locking) == 0)
    }

    /// A surface's functions may read the connection's own state, so a plan that binds one is
    /// not kept: two sessions with surfaces of the same type get their own answers.
    @Test func aPlanBindingASurfaceFunctionIsNotKept() async throws {
        struct Named: SurfaceCatalog {
            let name: String
            func relation(schema: String?, name: String) -> SurfaceRelation? { nil }
            func function(named name: String) -> SurfaceFunction? {
                guard name == "connection_name" else { return nil }
                let mine = self.name
                return SurfaceFunction(arity: 0...0, resultType: .text) { _, _ in .text(mine) }
            }
            func cast(to typeName: String) -> SurfaceFunction? { nil }
        }
        let db = try await database(rows: 1)
        let a = db.session(), b = db.session()
        a.surfaceCatalog = Named(name: "a")
        b.surfaceCatalog = Named(name: "b")
        let sql = "SELECT connection_name(), v FROM t"
        #expect(try await rows(a, sql) == [[.text("a"), .text("v1")]])
        #expect(try await rows(a, sql) == [[.text("a"), .text("v1")]])
        #expect(try await rows(b, sql) == [[.text("b"), .text("v1")]])
        #expect(reuses(db, sql) == 0)
        // A plan made without a surface is not used by a session with one.
        let plain = "SELECT upper(v) FROM t"
        let c = db.session()
        #expect(try await rows(c, plain) == [[.text("V1")]])
        #expect(try await rows(a, plain) == [[.text("V1")]])
        #expect(reuses(db, plain) == 0)
        #expect(try await rows(b, plain) == [[.text("V1")]])
        #expect(reuses(db, plain) == 1, "kept for the surface's type, whichever session made it")
    }

    @Test func sessionsRunningOneKeptPlanAtOnceEachGetTheirOwnRows() async throws {
        let db = try await database(rows: 200)
        let lookup = "SELECT id, v FROM t WHERE id = $1"
        let join = "SELECT count(*) FROM t a JOIN t b ON a.n = b.n WHERE a.id = $1"
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    let s = db.session()
                    for i in 0..<100 {
                        let id = Int64((worker * 37 + i * 11) % 200 + 1)
                        let found = try await s.execute(lookup, parameters: [.integer(id)]).rows
                        guard found == [[.integer(id), .text("v\(id)")]] else { throw RedError(.internalError, "id \(id) gave \(found)") }
                        let count = try await s.execute(join, parameters: [.integer(id)]).rows
                        guard count == [[.integer(40)]] else { throw RedError(.internalError, "join for \(id) gave \(count)") }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(reuses(db, lookup) >= 790)
        #expect(reuses(db, join) >= 790)
    }

    @Test func preparedStatementsKeepTheirOwnPlan() async throws {
        let db = try await database(rows: 5)
        let s = db.session()
        let prepared = try Parser.parseAutoParameterized("SELECT v FROM t WHERE id = 3")
        #expect(try await s.execute(prepared, parameters: [.integer(3)]).rows == [[.text("v3")]])
        #expect(try await s.execute(prepared, parameters: [.integer(4)]).rows == [[.text("v4")]])
        #expect(prepared.plans.reuseCount == 1)
        // The text run as written is a statement of its own, with the literal in its plan.
        #expect(try await rows(s, "SELECT v FROM t WHERE id = 3") == [[.text("v3")]])
        #expect(try await rows(s, "SELECT v FROM t WHERE id = 3") == [[.text("v3")]])
    }
}
