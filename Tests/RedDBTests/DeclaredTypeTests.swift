import Testing
import RedCore
import RedDB

/// Edges of declared types and generated columns found in review: text a query can hand the
/// cast's internal function, code-point lengths, identity values past a column's width, and
/// foreign-key cascades into generated columns.
@Suite struct DeclaredTypeTests {
    func sqlState(_ body: () async throws -> Void) async -> String? {
        do { try await body(); return nil } catch let error as RedError { return error.sqlState } catch { return "?" }
    }

    @Test func surfaceNamesOutOfRangeAreNotDeclarations() {
        for text in ["numeric(40,37)", "numeric(0,0)", "numeric(10,-9223372036854775808)", "varchar(9999999999)", "bpchar(0)",
                     "varchar(5", "int4(3)", "numeric(1,2,3)", "varchar(x)"] {
            #expect(DeclaredType(surfaceName: text) == nil, "\(text)")
        }
        #expect(DeclaredType(surfaceName: "numeric(3,-2)") == DeclaredType(kind: .numeric, precision: 3, scale: -2))
        #expect(DeclaredType(surfaceName: "varchar(20)")?.surfaceName == "varchar(20)")
    }

    /// The time types' surface names carry their precision; an interval's its typmod, which
    /// must be one PostgreSQL's grammar can write. A bare `timestamp`, `time` or `interval`
    /// declares nothing.
    @Test func timeSurfaceNamesRoundTrip() throws {
        for text in ["timestamp(7)", "time(-1)", "timestamptz(1,2)", "interval(12345)", "interval(-1)", "timestamp", "time", "interval"] {
            #expect(DeclaredType(surfaceName: text) == nil, "\(text)")
        }
        #expect(DeclaredType(surfaceName: "timestamptz") == DeclaredType(kind: .timestamptz))
        for (sqlName, modifiers, fields) in [("timestamp", [3], nil), ("timestamptz", [0], nil), ("time", [6], nil), ("interval", [2], nil),
                                             ("interval", [], "year to month"), ("interval", [1], "day to second"), ("interval", [], "hour")] as [(String, [Int64], String?)] {
            let declared = try #require(try DeclaredType(sqlName: sqlName, modifiers: modifiers, intervalFields: fields))
            #expect(DeclaredType(surfaceName: declared.surfaceName) == declared, "\(declared.surfaceName)")
            if sqlName == "interval" { #expect(DeclaredType(intervalTypmod: declared.typmod) == declared) }
        }
        #expect(try DeclaredType(sqlName: "interval", modifiers: [], intervalFields: "day to second")?.typmod == 470_351_871)
        #expect(try DeclaredType(sqlName: "timestamp", modifiers: []) == nil)
    }

    @Test func theCastFunctionCalledByHandFailsCleanly() async throws {
        let s = try await Database.inMemory().session()
        for name in ["numeric(40,37)", "varchar(9999999999)", "numeric(5,-9223372036854775808)", "nonsense"] {
            let state = await sqlState { _ = try await s.execute("SELECT __declared_cast(1.5::numeric, '\(name)')") }
            #expect(state != nil, "\(name)")
        }
    }

    @Test func lengthsCountCodePoints() async throws {
        let s = try await Database.inMemory().session()
        try await s.execute("CREATE TABLE t (a VARCHAR(1), b CHAR(2))")
        #expect(await sqlState { try await s.execute("INSERT INTO t (a) VALUES ('e\u{301}')") } == "22001")
        #expect(await sqlState { try await s.execute("INSERT INTO t (a) VALUES ('\r\n')") } == "22001")
        try await s.execute("INSERT INTO t (a, b) VALUES ('é', 'e\u{301}')")
        let cut = try await s.execute("SELECT 'e\u{301}x'::varchar(1) = 'e'")
        #expect(cut.rows == [[.boolean(true)]])
        #expect(await sqlState { try await s.execute("CREATE TABLE z (ts TIMESTAMPTZ(6), t2 TIMESTAMP WITH TIME ZONE)") } == nil)
        // More digits than six are six, as PostgreSQL takes them (it warns); fewer than none is 22023.
        #expect(await sqlState { try await s.execute("CREATE TABLE z2 (ts TIMESTAMPTZ(7))") } == nil)
        #expect(await sqlState { try await s.execute("CREATE TABLE z3 (ts TIMESTAMPTZ(-1))") } == "22023")
    }

    @Test func identityValuesKeepTheColumnsWidth() async throws {
        let s = try await Database.inMemory().session()
        try await s.execute("CREATE TABLE t (id INT NOT NULL, x INT)")
        try await s.execute("ALTER TABLE t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (START WITH 2147483647)")
        try await s.execute("INSERT INTO t (x) VALUES (1)")
        #expect(await sqlState { try await s.execute("INSERT INTO t (x) VALUES (2)") } != nil)
        let rows = try await s.execute("SELECT id FROM t")
        #expect(rows.rows == [[.integer(2_147_483_647)]])
    }

    @Test func cascadesComputeGeneratedColumnsAgain() async throws {
        let s = try await Database.inMemory().session()
        try await s.execute("""
            CREATE TABLE parent (id INT PRIMARY KEY);
            CREATE TABLE child (id INT PRIMARY KEY, pid INT REFERENCES parent ON UPDATE CASCADE ON DELETE SET NULL,
                                g INT GENERATED ALWAYS AS (coalesce(pid, 0) * 2) STORED);
            INSERT INTO parent VALUES (1), (5);
            INSERT INTO child (id, pid) VALUES (1, 1), (2, 5);
            UPDATE parent SET id = 2 WHERE id = 1;
            DELETE FROM parent WHERE id = 5
            """)
        let rows = try await s.execute("SELECT id, pid, g FROM child ORDER BY id")
        #expect(rows.rows == [[.integer(1), .integer(2), .integer(4)], [.integer(2), .null, .integer(0)]])
    }
}
