import Testing
import RedCore
@testable import RedDB
@testable import RedEngine
@testable import RedQuery

/// pgvector's `ORDER BY embedding <-> q LIMIT k` over tables runs as a nearest-first scan
/// (`VectorOrder`). It must answer exactly as sorting does — same rows, same order, same errors —
/// with the column's in-memory copy and without, whatever was written in between. The reference
/// is the same query with the distance wrapped in `+ 0`, which the planner leaves to the sort.
@Suite struct VectorOrderScanTests {
    static func database(cacheBytes: Int = 256 << 20, clock: ManualClock? = nil) async throws -> Database {
        var options = DatabaseOptions()
        if let clock { options.clock = clock }
        options.engine.vectorCacheBytes = cacheBytes
        options.executionLimits.parallelScanMinimumRows = 64  // both ways of scoring run in three parts
        options.executionLimits.parallelScanParts = 3
        return try await Database.inMemory(options: options)
    }

    static func answer(_ session: Session, _ sql: String) async -> [String] {
        do {
            return try await session.execute(sql).rows.map { $0.map(\.displayText).joined(separator: "|") }
        } catch let error as RedError {
            return ["ERROR \(error.message)"]
        } catch {
            return ["ERROR \(error)"]
        }
    }

    static func plan(_ session: Session, _ sql: String) async throws -> String {
        try await session.execute("EXPLAIN " + sql).rows.map { $0.map(\.displayText).joined() }.joined(separator: "\n")
    }

    @Test func nearestFirstAnswersAsSortingUnderRandomWrites() async throws {
        let cached = try await Self.database().session()
        let uncached = try await Self.database(cacheBytes: 0).session()
        func run(_ sql: String) async throws {
            for session in [cached, uncached] { _ = try await session.execute(sql) }
        }
        try await run("CREATE TABLE items (id bigserial PRIMARY KEY, g int, embedding vector(3))")
        try await run("CREATE TABLE mixed (id bigserial PRIMARY KEY, g int, embedding vector)")
        var random = VectorSearchTests.Generator(state: 0x5EED_0F_7AB1E5)  // replayable
        func component() -> String { String(Int.random(in: -2...2, using: &random)) }  // ties and zero vectors
        func vector(_ dimension: Int = 3) -> String { "'[\((0..<dimension).map { _ in component() }.joined(separator: ","))]'" }
        let operators = ["<->", "<=>", "<#>", "<+>"]
        var checked = 0
        let parts = AggregateNode.PartsCounter()  // the uncached scan reads records in parts
        for step in 0..<500 {
            let table = step % 4 == 3 ? "mixed" : "items"
            switch Int.random(in: 0..<10, using: &random) {
            case 0, 1, 2:
                let embedding = Int.random(in: 0..<8, using: &random) == 0 ? "NULL"
                    : table == "mixed" && Int.random(in: 0..<6, using: &random) == 0 ? vector(2) : vector()
                try await run("INSERT INTO \(table) (g, embedding) VALUES (\(Int.random(in: 0..<5, using: &random)), \(embedding))")
            case 3:
                try await run("UPDATE \(table) SET embedding = \(vector()) WHERE id = \(Int.random(in: 1...60, using: &random))")
            case 4:
                try await run("DELETE FROM \(table) WHERE id = \(Int.random(in: 1...60, using: &random))")
            default:
                let op = operators[Int.random(in: 0..<4, using: &random)]
                let q = Int.random(in: 0..<12, using: &random) == 0 ? "NULL::vector" : vector()
                let k = [1, 3, 10, 100][Int.random(in: 0..<4, using: &random)]
                let radius = ["1.5", "3", "NULL", "0"][Int.random(in: 0..<4, using: &random)]
                let filter = ["", " WHERE g = 1", " WHERE g <> 2", " WHERE id % 7 = 0", " WHERE embedding \(op) \(q) < \(radius)",
                              " WHERE \(radius) >= embedding \(op) \(q) AND g <> 3"][Int.random(in: 0..<6, using: &random)]
                let offset = Int.random(in: 0..<5, using: &random) == 0 ? " OFFSET 2" : ""
                let fast = "SELECT id, g, embedding, embedding \(op) \(q) AS d FROM \(table)\(filter) ORDER BY embedding \(op) \(q) LIMIT \(k)\(offset)"
                let sorted = "SELECT id, g, embedding, embedding \(op) \(q) AS d FROM \(table)\(filter) ORDER BY (embedding \(op) \(q)) + 0 LIMIT \(k)\(offset)"
                // A transaction's own writes are searched too, and gone after ROLLBACK (in
                // `items`, whose queries never fail: an error would abort the transaction).
                let inTransaction = Int.random(in: 0..<6, using: &random) == 0 && table == "items"
                if inTransaction {
                    try await run("BEGIN")
                    try await run("INSERT INTO \(table) (g, embedding) VALUES (1, \(vector()))")
                }
                let expected = await Self.answer(cached, sorted)
                let answers = [await Self.answer(cached, fast),
                               await AggregateNode.$partsCounter.withValue(parts) { await Self.answer(uncached, fast) },
                               await Self.answer(uncached, sorted)]
                #expect(answers.allSatisfy { $0 == expected }, "\(fast): \(expected) vs \(answers)")
                if inTransaction { try await run("ROLLBACK") }
                checked += 1
            }
        }
        #expect(checked > 150)
        #expect(parts.value.load(ordering: .relaxed) > 60)
        #expect(try await Self.plan(cached, "SELECT id FROM items ORDER BY embedding <-> '[1,2,3]' LIMIT 3").contains("Nearest-First Scan on items by embedding <->"))
        #expect(cached.database.store.vectorItems.counters.hits > 10)
    }

    /// Twelve dimensions of fractional components (the distance sums' eight-lane path), two
    /// vector columns, rows that expire, and columns added and dropped under a current copy.
    @Test func wideVectorsTwoColumnsExpiryAndAlteredTables() async throws {
        let clock = ManualClock(milliseconds: 1_780_000_000_000)
        let cached = try await Self.database(clock: clock).session()
        let uncached = try await Self.database(cacheBytes: 0, clock: clock).session()
        func run(_ sql: String) async throws { for session in [cached, uncached] { _ = try await session.execute(sql) } }
        var random = VectorSearchTests.Generator(state: 0xF1_0A7_5EED)
        func vector() -> String {
            "'[\((0..<12).map { _ in String(Float.random(in: -1...1, using: &random)) }.joined(separator: ","))]'"
        }
        func check(_ column: String, _ filter: String = "") async {
            for op in ["<->", "<=>", "<#>", "<+>"] {
                let q = vector()
                let fast = "SELECT id, \(column) \(op) \(q) FROM wide\(filter) ORDER BY \(column) \(op) \(q) LIMIT 7"
                let expected = await Self.answer(cached, "SELECT id, \(column) \(op) \(q) FROM wide\(filter) ORDER BY (\(column) \(op) \(q)) + 0 LIMIT 7")
                #expect(expected.count == 7 || expected.first?.hasPrefix("ERROR") == false, "\(expected)")
                #expect(await Self.answer(cached, fast) == expected, "\(fast)")
                #expect(await Self.answer(uncached, fast) == expected, "\(fast)")
            }
        }
        try await run("CREATE TABLE wide (id bigserial PRIMARY KEY, note text, a vector(12), b vector(12))")
        for i in 0..<120 {
            try await run("INSERT INTO wide (note, a, b) VALUES ('n\(i)', \(vector()), \(i % 5 == 0 ? "NULL" : vector()))\(i % 4 == 0 ? " WITH TTL \(1 + i % 3) s" : "")")
        }
        await check("a")
        await check("b", " WHERE note <> 'n3'")
        clock.advance(milliseconds: 2_500)  // a third of the expiring rows are gone
        await check("a")
        await check("b")
        try await run("UPDATE wide SET note = 'x' WHERE id % 3 = 0")
        await check("a", " WHERE note = 'x'")
        try await run("ALTER TABLE wide ADD COLUMN c vector(12)")
        try await run("UPDATE wide SET c = a WHERE id % 2 = 0")
        await check("c")
        try await run("ALTER TABLE wide DROP COLUMN a")
        await check("b")
        await check("c")
        #expect(cached.database.store.vectorItems.counters.hits > 0)
    }

    /// A query that is not a vector fails only where sorting would: at a row that reaches the
    /// distance.
    @Test func aBadQueryFailsWhereTheSortWould() async throws {
        let s = try await Self.database().session()
        _ = try await s.execute("CREATE TABLE t (id int PRIMARY KEY, e vector(2))")
        #expect(try await s.execute("SELECT id FROM t ORDER BY e <-> 'oops' LIMIT 2").rows.isEmpty)
        _ = try await s.execute("INSERT INTO t VALUES (1, NULL)")
        #expect(try await s.execute("SELECT id FROM t ORDER BY e <-> 'oops' LIMIT 2").rows.count == 1)
        _ = try await s.execute("INSERT INTO t VALUES (2, '[1,2]')")
        #expect(try await s.execute("SELECT id FROM t WHERE id = 1 ORDER BY e <-> 'oops' LIMIT 2").rows.count == 1)
        await #expect(throws: RedError.self) { try await s.execute("SELECT id FROM t ORDER BY e <-> 'oops' LIMIT 2") }
        // So does a radius bound that is not a number, in an empty table and in one with rows.
        _ = try await s.execute("CREATE TABLE empty (id int PRIMARY KEY, e vector(2))")
        for table in ["empty", "t"] {
            for bound in ["'abc'::float", "'abc'", "NULL", "2"] {
                let fast = "SELECT id FROM \(table) WHERE e <-> '[1,2]' < \(bound) ORDER BY e <-> '[1,2]' LIMIT 2"
                let sorted = "SELECT id FROM \(table) WHERE e <-> '[1,2]' < \(bound) ORDER BY (e <-> '[1,2]') + 0 LIMIT 2"
                #expect(await Self.answer(s, fast) == Self.answer(s, sorted), "\(fast)")
            }
        }
    }

    /// Forms pgvector clients write: the distance selected under an alias and ordered by it, the
    /// operands swapped, a parameter; and the forms that keep the sort.
    @Test func plansTheFormsClientsWrite() async throws {
        let s = try await Self.database().session()
        _ = try await s.execute("CREATE TABLE docs (id serial PRIMARY KEY, body text, embedding vector(2))")
        _ = try await s.execute("INSERT INTO docs (body, embedding) VALUES ('a', '[1,0]'), ('b', '[0,1]'), ('c', '[1,1]'), ('d', NULL), ('e', '[0,0]')")
        for sql in ["SELECT body, embedding <=> '[1,0]' AS distance FROM docs ORDER BY distance LIMIT 2",
                    "SELECT body, 1 - (embedding <=> '[1,0]') AS similarity FROM docs ORDER BY embedding <=> '[1,0]' LIMIT 2",
                    "SELECT body FROM docs ORDER BY '[1,0]' <=> embedding LIMIT 2",
                    "SELECT body FROM docs WHERE body <> 'z' ORDER BY embedding <=> '[1,0]'::vector LIMIT 2"] {
            #expect(try await Self.plan(s, sql).contains("Nearest-First Scan"), "\(sql)")
            #expect(try await s.execute(sql).rows.map { $0[0].displayText } == ["a", "c"], "\(sql)")
        }
        let prepared = try await s.execute("SELECT body FROM docs ORDER BY embedding <-> $1 LIMIT 5", parameters: [.text("[0,0]")])
        #expect(prepared.rows.map { $0[0].displayText } == ["e", "a", "b", "c", "d"])
        // Cosine against a zero vector is NaN: after every number, before NULL.
        #expect(try await s.execute("SELECT body FROM docs ORDER BY embedding <=> '[1,0]' LIMIT 5").rows.map { $0[0].displayText } == ["a", "c", "b", "e", "d"])
        for sql in ["SELECT body FROM docs ORDER BY embedding <-> '[1,0]' DESC LIMIT 2",
                    "SELECT body FROM docs ORDER BY embedding <-> '[1,0]'",
                    "SELECT body FROM docs ORDER BY embedding <-> embedding LIMIT 2",
                    "SELECT d.body FROM docs d JOIN docs e ON d.id = e.id ORDER BY d.embedding <-> '[1,0]' LIMIT 2",
                    "SELECT body FROM docs WHERE id = 3 ORDER BY embedding <-> '[1,0]' LIMIT 2"] {
            #expect(try await !Self.plan(s, sql).contains("Nearest-First Scan"), "\(sql)")
        }
        await #expect(throws: RedError.self) { try await s.execute("SELECT body FROM docs ORDER BY embedding <-> '[1,0,0]' LIMIT 2") }
        #expect(try await s.execute("SELECT body FROM docs WHERE false ORDER BY embedding <-> '[1,0,0]' LIMIT 2").rows.isEmpty)
    }

    /// A filter that turns down most candidates: past max(1024, n/16) rows read by id, the scan
    /// sorts the rest, and the answer is the same.
    @Test func aSelectiveFilterTurnsToSorting() async throws {
        for cacheBytes in [256 << 20, 0] {
            let s = try await Self.database(cacheBytes: cacheBytes).session()
            _ = try await s.execute("CREATE TABLE points (id bigserial PRIMARY KEY, tag text, embedding vector(2))")
            _ = try await s.execute("INSERT INTO points (tag, embedding) SELECT CASE WHEN i % 500 = 0 THEN 'rare' ELSE 'common' END, ('[' || i || ',0]')::vector FROM generate_series(1, 3000) AS i")
            let fast = "SELECT id FROM points WHERE tag = 'rare' ORDER BY embedding <-> '[0,0]' LIMIT 4"
            #expect(try await Self.plan(s, fast).contains("Nearest-First Scan"))
            #expect(try await s.execute(fast).rows.map { $0[0].displayText } == ["500", "1000", "1500", "2000"])
            #expect(try await s.execute("SELECT id FROM points WHERE tag = 'common' ORDER BY embedding <-> '[3001,0]' LIMIT 2").rows.map { $0[0].displayText } == ["2999", "2998"])
        }
    }
}
