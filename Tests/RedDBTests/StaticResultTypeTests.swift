import Testing
import RedCore
@testable import RedDB
@testable import RedQuery

/// A statement's column types are known before it runs wherever the values' type follows from
/// the expression: PG-wire describes a statement from them (Parse/Describe), and PostgresNIO
/// or psycopg with parameters decode every row by that description. So a type given there must
/// be exactly the values' type, and an expression whose values could differ stays unknown
/// (`.any`, described as text, typed from the rows when they come).
@Suite struct StaticResultTypeTests {
    /// Expressions over `t`'s one row, and the type each is known to have before running.
    static let typed: [(String, DataType)] = [
        ("abs(c)", .integer), ("abs(d)", .decimal), ("abs(f)", .float), ("round(d)", .decimal), ("round(d, 1)", .decimal),
        ("round(f)", .float), ("round(a)", .integer), ("ceil(f)", .float), ("floor(d)", .decimal), ("trunc(a, 1)", .integer),
        ("sign(a)", .integer), ("sign(f)", .float), ("sqrt(a)", .float), ("power(a, 2)", .float), ("random()", .float),
        ("mod(a, 2)", .integer), ("length(g)", .integer), ("octet_length(g)", .integer), ("strpos(g, 'x')", .integer),
        ("position('x' in g)", .integer), ("coalesce(a, 0)", .integer), ("coalesce(g, 'z')", .text), ("coalesce(NULL, f)", .float),
        ("nullif(a, 5)", .integer), ("greatest(a, 7)", .integer), ("least(f, 0.5::float8)", .float), ("current_date", .date),
        ("k + 1", .date), ("k - 1", .date), ("k - k", .integer), ("date_trunc('day', j)", .timestamp),
        ("gen_random_uuid()", .uuid), ("(SELECT max(a) FROM t)", .integer), ("(SELECT count(*) FROM t)", .integer),
        ("row_number() OVER ()", .integer), ("rank() OVER (ORDER BY a)", .integer), ("ntile(2) OVER ()", .integer),
        ("percent_rank() OVER ()", .float), ("cume_dist() OVER ()", .float), ("lag(g, 0) OVER ()", .text),
        ("first_value(d) OVER ()", .decimal), ("sum(a) OVER ()", .integer), ("avg(a) OVER ()", .decimal),
        ("count(*) OVER ()", .integer), ("max(f) OVER (ORDER BY a)", .float), ("row_number() OVER () - 1", .integer),
    ]

    /// Expressions whose values' type the expression does not fix: left unknown.
    static let untyped = ["round(a, -1)", "greatest(a, f)", "coalesce(a, f)", "CASE WHEN a > 0 THEN 1 ELSE 2.5 END"]

    @Test func knownTypesAreTheValuesTypes() async throws {
        let s = try await Database.inMemory().session()
        _ = try await s.execute("CREATE TABLE t (a int, c smallint, d numeric, f double precision, g text, j timestamp, k date)")
        _ = try await s.execute("INSERT INTO t VALUES (3, -2, 4.25, 2.5, 'xyz', '2026-01-01 10:30:00', '2026-01-02')")
        for (expr, expected) in Self.typed {
            let described = try await s.execute("SELECT \(expr) FROM t WHERE a < 0").columns[0].type  // no rows: the plan's type
            #expect(described == expected, "\(expr): described as \(described)")
            let value = try await s.execute("SELECT \(expr) FROM t").rows[0][0]
            #expect(!value.isNull && DataType.of(value) == described, "\(expr): \(value) is not a \(described)")
        }
        // A scalar subquery's array keeps its elements' type (PG-wire sends `text[]`, not jsonb).
        let array = try await s.execute("SELECT (SELECT array_agg(g ORDER BY g) FROM t) FROM t WHERE a < 0").columns[0]
        #expect(array.element == .text, "\(array)")
        // Numbers of different kinds in ARRAY[…] meet in the widest, as in PostgreSQL.
        let mixed = try await s.execute("SELECT ARRAY[1, 2.5], ARRAY[1, 2.5::float8], ARRAY[a, NULL, d], ARRAY[1, 'x'] FROM t WHERE a < 0").columns
        #expect(mixed.map(\.element) == [.decimal, .float, .decimal, nil], "\(mixed)")
        for expr in Self.untyped {
            let described = try await s.execute("SELECT \(expr) FROM t WHERE a < 0").columns[0].type
            #expect(described == .any, "\(expr): described as \(described), but its values' type varies")
        }
    }
}
