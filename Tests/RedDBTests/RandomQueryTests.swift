import Testing
import RedDB

/// Random well-formed and half-formed queries over a small schema: every one must
/// either succeed or fail with a `RedError`, never trap. (A trap would end the test
/// process, which is the failure this test exists to catch.)
@Suite struct RandomQueryTests {
    struct Generator {
        var rng: SplitMix
        let columns = ["t.a", "t.b", "t.c", "t.a", "t.c", "u.a", "u.d", "c", "d", "t.rid", "nosuch"]
        let functions = ["upper", "lower", "length", "abs", "round", "coalesce", "nullif", "substr", "concat", "greatest", "json_typeof", "now", "date_trunc"]
        let aggregates = ["count", "sum", "avg", "min", "max", "string_agg", "bool_or"]

        mutating func pick<T>(_ items: [T]) -> T { items[Int(rng.next() % UInt64(items.count))] }
        mutating func chance(_ percent: UInt64) -> Bool { rng.next() % 100 < percent }

        mutating func literal() -> String {
            pick(["1", "0", "-3", "2.5", "'x'", "'2024-01-01'", "NULL", "true", "false", "''", "9223372036854775807", "$1", "'{\"k\": [1]}'"])
        }

        mutating func expr(_ depth: Int) -> String {
            if depth > 3 || chance(30) { return chance(50) ? pick(columns) : literal() }
            switch rng.next() % 12 {
            case 0: return "\(expr(depth + 1)) \(pick(["+", "-", "*", "/", "%", "||"])) \(expr(depth + 1))"
            case 1: return "\(expr(depth + 1)) \(pick(["=", "<>", "<", ">=", "IS DISTINCT FROM"])) \(expr(depth + 1))"
            case 2: return "(\(expr(depth + 1)) \(pick(["AND", "OR"])) \(expr(depth + 1)))"
            case 3: return "NOT \(expr(depth + 1))"
            case 4: return "\(pick(functions))(\(expr(depth + 1))\(chance(50) ? ", " + expr(depth + 1) : ""))"
            case 5: return "CASE WHEN \(expr(depth + 1)) THEN \(expr(depth + 1)) ELSE \(expr(depth + 1)) END"
            case 6: return "CAST(\(expr(depth + 1)) AS \(pick(["INT", "TEXT", "FLOAT", "BOOLEAN", "DATE", "JSON"])))"
            case 7: return "\(expr(depth + 1)) \(pick(["IN", "NOT IN"])) (\(literal()), \(literal()))"
            case 8: return "(SELECT \(pick(aggregates))(\(pick(["a", "b", "d"]))) FROM u WHERE u.a = t.a)"
            case 9: return "EXISTS (SELECT 1 FROM u WHERE \(expr(depth + 1)))"
            case 10: return "\(expr(depth + 1)) BETWEEN \(literal()) AND \(literal())"
            default: return "\(expr(depth + 1)) \(pick(["LIKE", "ILIKE"])) '\(pick(["%", "_x%", "a\\\\%"]))'"
            }
        }

        mutating func query() -> String {
            var select = "SELECT "
            if chance(20) { select += "DISTINCT " }
            let grouped = chance(30)
            var items: [String] = []
            for _ in 0..<(1 + rng.next() % 3) {
                if grouped { items.append(chance(50) ? "t.a" : "\(pick(aggregates))(\(expr(2)))") }
                else if chance(15) { items.append("\(pick(["row_number()", "rank()", "sum(t.a)", "lag(t.b)"])) OVER (\(chance(50) ? "PARTITION BY t.c " : "")ORDER BY \(pick(columns))\(chance(30) ? " ROWS BETWEEN 1 PRECEDING AND CURRENT ROW" : ""))") }
                else { items.append(expr(0)) }
            }
            select += items.joined(separator: ", ")
            select += " FROM t"
            switch rng.next() % 5 {
            case 0: select += " JOIN u ON u.a = t.a"
            case 1: select += " LEFT JOIN u ON u.a = t.a AND \(expr(2))"
            case 2: select += " FULL JOIN u ON \(expr(2))"
            case 3: select += ", u"
            default: break
            }
            if chance(60) { select += " WHERE \(expr(1))" }
            if grouped { select += " GROUP BY t.a" + (chance(40) ? " HAVING count(*) > \(literal())" : "") }
            if chance(40) { select += " ORDER BY \(chance(50) ? "1" : pick(columns))\(chance(50) ? " DESC" : "")" }
            if chance(30) { select += " LIMIT \(pick(["0", "1", "3", "$1", "-1"]))" }
            if chance(10) { select += " UNION SELECT \(Array(repeating: "1", count: items.count).joined(separator: ", "))" }
            if chance(5), let cut = select.indices.dropFirst(Int(rng.next() % UInt64(select.count))).first { select = String(select[..<cut]) }
            return select
        }
    }

    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func randomQueriesSucceedOrFailCleanly() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE TABLE t (a BIGINT, b TEXT, c FLOAT);
            CREATE TABLE u (a INT, d TEXT);
            CREATE INDEX t_a ON t (a);
            INSERT INTO t (a, b, c) VALUES (1, 'x', 1.5), (2, NULL, -2), (NULL, 'y', 0), (2, 'x', NULL), (9223372036854775807, '', 3);
            INSERT INTO u (a, d) VALUES (1, 'p'), (2, 'q'), (2, NULL), (NULL, 'r')
            """)
        var generator = Generator(rng: SplitMix(state: 0xC0FFEE))
        var succeeded = 0, failed = 0
        var codes: [String: Int] = [:]
        for _ in 0..<3_000 {
            let sql = generator.query()
            do {
                _ = try await s.execute(sql, parameters: [.integer(2)])
                succeeded += 1
            } catch let error as RedError {
                failed += 1
                codes[error.code.sqlState, default: 0] += 1
            }
        }
        // Both outcomes must actually occur, or the generator has stopped exercising the executor.
        #expect(succeeded > 250, "errors by SQLSTATE: \(codes.sorted { $0.value > $1.value })")
        #expect(failed > 100)
        try await db.close()
    }
}
