import Testing
import RedDB

/// NUMERIC columns end to end: declared precision and scale, exact values past a double's
/// digits through indexes (unique checks, ranges, order), aggregates, and a reopened file.
/// Expected texts are PostgreSQL 15's.
@Suite struct NumericColumnTests: SessionTestSupport {
    static let schema = """
        CREATE TABLE amounts (id INT PRIMARY KEY, rate NUMERIC(20,8), wei NUMERIC(36,18), plain NUMERIC);
        CREATE UNIQUE INDEX amounts_wei ON amounts (wei);
        CREATE INDEX amounts_plain ON amounts (plain);
        INSERT INTO amounts VALUES
          (1, 1.5, 1.000000000000000001, -1.0000000000000000001),
          (2, 0.12345678, 1.000000000000000002, -0.99999999999999999999),
          (3, 123456789012.123456785, 123456789012345678.123456789012345678, 1234567890.5),
          (4, -0.000000005, -1.000000000000000001, 0.1)
        """

    func text(_ s: Session, _ sql: String) async throws -> [[String]] {
        try await rows(s, sql).map { $0.map(\.displayText) }
    }

    @Test func valuesKeepTheirDigitsAndScale() async throws {
        let s = try await Database.inMemory().session()
        try await s.execute(Self.schema)
        #expect(try await text(s, "SELECT rate, wei FROM amounts ORDER BY id") == [
            ["1.50000000", "1.000000000000000001"],
            ["0.12345678", "1.000000000000000002"],
            ["123456789012.12345679", "123456789012345678.123456789012345678"],  // rounded to 8 places, half away from zero
            ["-0.00000001", "-1.000000000000000001"],
        ])
        #expect(await code { try await s.execute("INSERT INTO amounts (id, rate) VALUES (9, 1000000000000)") } == "22003")  // 13 integer digits > 20 − 8
        #expect(await code { try await s.execute("INSERT INTO amounts (id, plain) VALUES (9, 1234567890123456789012345678901234567)") } == "22003")
        #expect(try await text(s, "SELECT sum(rate), avg(wei), sum(plain) FROM amounts") == [
            ["123456789013.74691356", "30864197253086419.780864197253086420", "1234567888.59999999999999999991"],
        ])
        #expect(try await text(s, "SELECT rate * 2, rate / 3, round(rate, 2), -rate FROM amounts WHERE id = 1") == [
            ["3.00000000", "0.50000000000000000000", "1.50", "-1.50000000"],
        ])
    }

    /// Values a double cannot tell apart are still distinct keys, ordered exactly.
    @Test func indexesTellApartWhatDoublesCannot() async throws {
        let s = try await Database.inMemory().session()
        try await s.execute(Self.schema)
        #expect(await code { try await s.execute("INSERT INTO amounts (id, wei) VALUES (9, 1.000000000000000002)") } == "23505")
        try await s.execute("INSERT INTO amounts (id, wei) VALUES (9, 1.0000000000000000025)")  // rounds to scale 18: …003
        #expect(try await text(s, "SELECT id FROM amounts WHERE wei > 1 AND wei < 1.000000000000000003 ORDER BY wei") == [["1"], ["2"]])
        #expect(try await text(s, "SELECT id FROM amounts WHERE wei = 1.000000000000000003") == [["9"]])
        #expect(try await text(s, "SELECT id FROM amounts WHERE plain < -0.9999999999999999999 ORDER BY plain") == [["1"], ["2"]])
        #expect(try await text(s, "SELECT id FROM amounts WHERE plain >= -1 ORDER BY plain") == [["2"], ["4"], ["3"]])
        #expect(try await text(s, "SELECT id FROM amounts WHERE plain IS NOT NULL ORDER BY plain DESC") == [["3"], ["4"], ["2"], ["1"]])
        #expect(try await text(s, "EXPLAIN SELECT id FROM amounts WHERE wei = 1.000000000000000003").joined().joined().contains("amounts_wei"))
    }

    /// A NUMERIC column may reference a float8 key, as in PostgreSQL (numeric → float8 is an
    /// implicit cast): 0.5 matches 0.5 though their index keys differ (review).
    @Test func numericKeysReferenceFloatKeys() async throws {
        let s = try await Database.inMemory().session()
        try await s.execute("""
            CREATE TABLE fp (x FLOAT PRIMARY KEY);
            CREATE TABLE fc (id INT PRIMARY KEY, x NUMERIC REFERENCES fp (x) ON DELETE CASCADE);
            INSERT INTO fp VALUES (0.5), (2);
            INSERT INTO fc VALUES (1, 0.5), (2, 2.0)
            """)
        #expect(await code { try await s.execute("INSERT INTO fc VALUES (3, 0.25)") } == "23503")
        try await s.execute("DELETE FROM fp WHERE x = 0.5")
        #expect(try await text(s, "SELECT id FROM fc ORDER BY id") == [["2"]])
        #expect(try await text(s, "SELECT round(1.5, -9223372036854775807), trunc(2.5, 9223372036854775807)") == [["0", "2.50000000000000000000000000000000000"]])
    }

    @Test func aReopenedFileKeepsValuesAndKeys() async throws {
        try await withTemporaryDatabasePath("numeric") { path in
            do {
                let db = try await Database.open(path: path)
                try await db.session().execute(Self.schema)
                try await db.close()
            }
            let db = try await Database.open(path: path)
            let s = db.session()
            #expect(try await text(s, "SELECT wei, plain FROM amounts WHERE id = 3") == [
                ["123456789012345678.123456789012345678", "1234567890.5"],
            ])
            #expect(await code { try await s.execute("INSERT INTO amounts (id, wei) VALUES (9, 123456789012345678.123456789012345678)") } == "23505")
            #expect(try db.checkIndexes().allSatisfy(\.consistent))
            try await db.close()
        }
    }
}
