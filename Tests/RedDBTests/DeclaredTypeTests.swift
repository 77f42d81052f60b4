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
        #expect(await sqlState { try await s.execute("CREATE TABLE z2 (ts TIMESTAMPTZ(7))") } == "22023")
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
