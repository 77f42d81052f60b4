import Testing
import RedDB

/// The integer widths PG-wire describes select lists with (`IntegerWidth`), as PostgreSQL
/// types them, and the check that keeps a value described as `int4` within it.
@Suite struct IntegerWidthTests {
    func session() async throws -> Session {
        let session = try await Database.inMemory().session()
        try await session.execute("CREATE TABLE iw (a INT, b INT, s SMALLINT, big BIGINT)")
        try await session.execute("INSERT INTO iw VALUES (2000000000, 2000000000, 30000, 9000000000), (1, 2, 3, 4)")
        return session
    }

    func widths(_ session: Session, _ sql: String) async throws -> [String?] {
        try #require(try await session.describe(sql).columns).map(\.surfaceType)
    }

    @Test func expressionsHavePostgreSQLsWidths() async throws {
        let s = try await session()
        #expect(try await widths(s, "SELECT 1, 2147483648, a + b, a + big, s + s, s + a, -a, a % 7, a & 3, abs(s), length('x'), a::bigint FROM iw")
                == ["int4", nil, "int4", nil, "int2", "int4", "int4", "int4", "int4", "int2", "int4", nil])
        #expect(try await widths(s, "SELECT coalesce(a, 0), coalesce(a, big), greatest(a, s), nullif(s, 1), CASE WHEN a > 5 THEN a ELSE 0 END, (SELECT max(s) FROM iw) FROM iw")
                == ["int4", nil, "int4", "int2", "int4", "int2"])
    }

    @Test func aggregatesWindowsAndSetsKeepOrWidenThem() async throws {
        let s = try await session()
        #expect(try await widths(s, "SELECT a, max(a), min(s), sum(a), count(a), grouping(a) FROM iw GROUP BY a") == ["int4", "int4", "int2", nil, nil, "int4"])
        #expect(try await widths(s, "SELECT lag(a) OVER (ORDER BY a), ntile(2) OVER (ORDER BY a), rank() OVER (ORDER BY a), max(s) OVER () FROM iw")
                == ["int4", "int4", nil, "int2"])
        #expect(try await widths(s, "SELECT a FROM iw UNION SELECT s FROM iw") == ["int4"])
        #expect(try await widths(s, "SELECT a FROM iw UNION SELECT big FROM iw") == [nil])
        #expect(try await widths(s, "SELECT * FROM (VALUES (1), (NULL), (2)) t(x)") == ["int4"])
        #expect(try await widths(s, "SELECT * FROM (VALUES (1), (2147483648)) t(x)") == [nil])
        #expect(try await widths(s, "SELECT * FROM generate_series(1, 3) g, generate_series(1, 5000000000) h") == ["int4", nil])
    }

    /// PostgreSQL fails `int4 + int4` past 32 bits; so does a result described as `int4`.
    @Test func aResultPastItsWidthIsOutOfRange() async throws {
        let s = try await session()
        #expect(try await s.execute("SELECT a + b FROM iw WHERE a = 1").rows == [[.integer(3)]])
        for sql in ["SELECT a + b FROM iw", "SELECT s * s FROM iw", "SELECT 2147483647 + 1", "SELECT x FROM (VALUES (2147483647 + 1)) t(x)"] {
            let message = await { () async -> String in
                do { _ = try await s.execute(sql); return "" } catch { return "\(error)" }
            }()
            #expect(message.contains("out of range"), "\(sql): \(message)")
        }
        #expect(try await s.execute("SELECT a + big, a::bigint + b FROM iw WHERE a > 1").rows == [[.integer(11_000_000_000), .integer(4_000_000_000)]])
        try await s.execute("CREATE TABLE copy AS SELECT a + 1 AS x, s AS y, a + big AS z FROM iw WHERE a = 1")
        #expect(try await widths(s, "SELECT * FROM copy") == ["int4", "int2", nil], "CREATE TABLE AS declares the widths")
    }
}
