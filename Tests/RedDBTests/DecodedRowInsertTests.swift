import Testing
import RedCore
import RedDB

/// Rows inserted with their values already decoded (COPY, the RedWire and gRPC bulk inserts):
/// a row whose values need no change is stored from its own array (`ColumnValues(ids:values:)`),
/// every other row through the general path. Both must store and check exactly the same.
@Suite struct DecodedRowInsertTests: SessionTestSupport {
    @Test func rowsKeptAsGivenAndRowsThatNeedChangesStoreTheSame() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score FLOAT, CHECK (score IS NULL OR score >= 0))")
        try await s.execute("CREATE INDEX t_name ON t (name)")
        try await s.insertRows(into: "t", columns: ["id", "name", "score"], rows: [
            [.integer(1), .text("kept as given"), .float(1.5)],
            [.integer(2), .text("integer score"), .integer(3)],  // coerced to 3.0
            [.integer(3), .text("null score"), .null],
            [.text("4"), .text("text id"), .float(0)],  // coerced to 4
        ])
        // Columns named out of id order: values are reordered, never adopted.
        try await s.insertRows(into: "t", columns: ["score", "name", "id"], rows: [[.float(9), .text("reordered"), .integer(5)]])
        #expect(try await rows(s, "SELECT id, name, score FROM t ORDER BY id") == [
            [.integer(1), .text("kept as given"), .float(1.5)],
            [.integer(2), .text("integer score"), .float(3)],
            [.integer(3), .text("null score"), .null],
            [.integer(4), .text("text id"), .float(0)],
            [.integer(5), .text("reordered"), .float(9)],
        ])
        // The index holds the adopted rows' entries too.
        #expect(try await rows(s, "SELECT id FROM t WHERE name = 'kept as given'") == [[.integer(1)]])

        // Each check still applies to a row given as it is stored.
        #expect(await code { try await s.insertRows(into: "t", columns: ["id", "name", "score"], rows: [[.integer(1), .text("again"), .float(1)]]) } == "23505")
        #expect(await code { try await s.insertRows(into: "t", columns: ["id", "name", "score"], rows: [[.integer(6), .text("negative"), .float(-1)]]) } == "23514")
        #expect(await code { try await s.insertRows(into: "t", columns: ["id", "name", "score"], rows: [[.integer(6), .null, .float(1)]]) } == "23502")
        #expect(await code { try await s.insertRows(into: "t", columns: ["id", "name", "score"], rows: [[.text("six"), .text("bad id"), .float(1)]]) } == "22P02")
        #expect(try await rows(s, "SELECT count(*) FROM t") == [[.integer(5)]])

        // An UPDATE of an adopted row changes it as it would any other.
        try await s.execute("UPDATE t SET score = score + 1, name = 'updated' WHERE id = 1")
        #expect(try await rows(s, "SELECT name, score FROM t WHERE id = 1") == [[.text("updated"), .float(2.5)]])
        #expect(try await rows(s, "SELECT id FROM t WHERE name = 'kept as given'") == [])
    }

    /// A batch is often a range of a larger block (a RedWire frame in 1,000-row pieces): its
    /// rows are found where they lie, the first of them not at index 0.
    @Test func rowsOfABlocksRangeAreStoredAsGiven() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE r (id BIGINT PRIMARY KEY, name TEXT, score FLOAT)")
        let values = (0..<6).flatMap { i -> [Value] in [.integer(Int64(i)), .text("row \(i)"), .float(Double(i) / 2)] }
        let block = RowBlock(width: 3, values: values)
        try await s.insertRows(into: "r", columns: ["id", "name", "score"], rows: block[2..<5])
        try await s.insertRows(into: "r", columns: ["id", "name", "score"], rows: block[5..<6][5..<6])
        #expect(try await rows(s, "SELECT id, name, score FROM r ORDER BY id") == (2..<6).map { i in
            [.integer(Int64(i)), .text("row \(i)"), .float(Double(i) / 2)]
        })
        // Ragged rows given one array each are the 42601 a VALUES list of them is, and abort the block.
        try await s.execute("BEGIN")
        #expect(await code { try await s.insertRows(into: "r", columns: ["id", "name", "score"], rows: [[.integer(9), .text("x"), .float(1)], [.integer(10)]]) } == "42601")
        #expect(await code { _ = try await s.execute("SELECT 1") } == "25P02")
        try await s.execute("ROLLBACK")
    }

    /// Tables whose rows must be completed (defaults, identity, generated columns) never adopt.
    @Test func rowsTheTableCompletesTakeTheGeneralPath() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE g (id BIGINT PRIMARY KEY, n BIGINT, twice BIGINT GENERATED ALWAYS AS (n * 2) STORED)")
        try await s.insertRows(into: "g", columns: ["id", "n"], rows: [[.integer(1), .integer(21)]])
        #expect(try await rows(s, "SELECT twice FROM g") == [[.integer(42)]])
        try await s.execute("CREATE TABLE d (id BIGINT PRIMARY KEY, n BIGINT DEFAULT 7, label TEXT)")
        try await s.insertRows(into: "d", columns: ["id", "label"], rows: [[.integer(1), .text("x")]])
        try await s.insertRows(into: "d", columns: ["id", "n", "label"], rows: [[.integer(2), .integer(8), .text("y")]])
        #expect(try await rows(s, "SELECT id, n, label FROM d ORDER BY id") == [[.integer(1), .integer(7), .text("x")], [.integer(2), .integer(8), .text("y")]])
        try await s.execute("CREATE TABLE v (id BIGINT PRIMARY KEY, c VARCHAR(3))")
        #expect(await code { try await s.insertRows(into: "v", columns: ["id", "c"], rows: [[.integer(1), .text("toolong")]]) } == "22001")
    }
}
