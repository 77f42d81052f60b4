import Testing
import RedCore
import RedDB

/// `Session.executeWithoutWaiting`: a short read-only statement runs at once; anything that
/// would write, wait or run long is declined with nothing changed, and runs as usual after.
@Suite struct SessionWithoutWaitingTests {
    func table(rows: Int, cacheBytes: Int = 64 << 20) async throws -> (Database, Session) {
        var options = DatabaseOptions()
        options.engine.cacheBytes = cacheBytes
        let db = try await Database.inMemory(options: options)
        let session = db.session()
        try await session.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)")
        for start in stride(from: 1, through: rows, by: 1_000) {
            let values = (start..<min(start + 1_000, rows + 1)).map { "(\($0), 'value \($0) \(String(repeating: "x", count: 40))')" }
            try await session.execute("INSERT INTO t (id, v) VALUES " + values.joined(separator: ", "))
        }
        return (db, session)
    }

    @Test func aCachedPointReadIsAnsweredAtOnce() async throws {
        let (_, session) = try await table(rows: 100)
        let quick = try #require(try session.executeWithoutWaiting("SELECT v FROM t WHERE id = $1", parameters: [.integer(7)]))
        let usual = try await session.execute("SELECT v FROM t WHERE id = $1", parameters: [.integer(7)])
        #expect(quick.rows == usual.rows && quick.columns.map(\.name) == ["v"])
        #expect(try session.executeWithoutWaiting("SELECT 1 AS one")?.rows == [[.integer(1)]])
        let prepared = try session.prepareAutoParameterized("SELECT id FROM t WHERE id = 3")
        #expect(try session.executeWithoutWaiting(prepared, parameters: [.integer(9)])?.rows == [[.integer(9)]])
        // A LATERAL join checked for cancellation at its first outer row, which gave up here.
        let lateral = "SELECT a.id, b.v FROM t a, LATERAL (SELECT v FROM t WHERE id = a.id + 1) b WHERE a.id < 3 ORDER BY a.id"
        let usualLateral = try await session.execute(lateral).rows
        let quickLateral = try session.executeWithoutWaiting(lateral)?.rows
        #expect(usualLateral.count == 2 && quickLateral == usualLateral)
    }

    @Test func transactionControlDDLAndScriptsAreDeclinedUndone() async throws {
        let (_, session) = try await table(rows: 10)
        #expect(try session.executeWithoutWaiting("CREATE TABLE u (id INT)") == nil)
        #expect(try session.executeWithoutWaiting("TRUNCATE t") == nil)
        #expect(try session.executeWithoutWaiting("SELECT 1; SELECT 2") == nil)
        #expect(!session.inTransaction)
        #expect(try await session.execute("SELECT count(*) FROM t").rows == [[.integer(10)]])
    }

    @Test func aStatementPastItsFirstFewThousandRowsIsDeclined() async throws {
        let (_, session) = try await table(rows: 10_000)
        #expect(try session.executeWithoutWaiting("SELECT count(*) FROM t") == nil)
        #expect(try session.executeWithoutWaiting("SELECT count(*) FROM generate_series(1, 100000) AS g") == nil)
        #expect(try session.executeWithoutWaiting(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) SELECT max(i) FROM n") == nil)
        #expect(try session.executeWithoutWaiting("SELECT count(*) FROM generate_series(1, 1000) AS g")?.rows == [[.integer(1_000)]])
        #expect(try await session.execute("SELECT count(*) FROM t").rows == [[.integer(10_000)]])
    }

    @Test func aPageNotInTheCacheIsDeclinedThenReadAsUsual() async throws {
        let (db, session) = try await table(rows: 20_000, cacheBytes: 128 << 10)
        let missesBefore = db.engine.statistics.cache.misses
        #expect(try session.executeWithoutWaiting("SELECT v FROM t WHERE id = 1") == nil, "row 1's leaf was evicted by the later inserts")
        #expect(db.engine.statistics.cache.misses == missesBefore, "a declined read reads nothing from disk")
        let usual = try await session.execute("SELECT v FROM t WHERE id = 1")
        #expect(db.engine.statistics.cache.misses > missesBefore)
        #expect(try session.executeWithoutWaiting("SELECT v FROM t WHERE id = 1")?.rows == usual.rows, "now cached")
    }

    @Test func insideATransactionADeclineChangesNothingAndAnErrorAbortsIt() async throws {
        let (_, session) = try await table(rows: 5_000)
        try await session.execute("BEGIN")
        try await session.execute("INSERT INTO t (id, v) VALUES (0, 'zero')")
        #expect(try session.executeWithoutWaiting("SELECT v FROM t WHERE id = 0")?.rows == [[.text("zero")]], "sees its own write")
        #expect(try session.executeWithoutWaiting("SELECT count(*) FROM t") == nil)
        #expect(session.inTransaction && !session.transactionFailed)
        #expect(try await session.execute("SELECT count(*) FROM t").rows == [[.integer(5_001)]])
        #expect(throws: RedError.self) { try session.executeWithoutWaiting("SELECT * FROM missing") }
        #expect(session.transactionFailed, "an error inside a transaction block aborts it, as execute's would")
        #expect(try session.executeWithoutWaiting("SELECT 1") == nil, "the aborted block is reported by execute")
        try await session.execute("ROLLBACK")
        #expect(throws: RedError.self) { try session.executeWithoutWaiting("SELEKT 1") }
    }
}
