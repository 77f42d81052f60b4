import Testing
import RedCore
@testable import RedQuery

@Suite struct ParserTests {
    func parse(_ sql: String, limits: ParserLimits = ParserLimits()) throws -> [Statement] {
        try Parser.parseScript(sql, limits: limits).map(\.0)
    }

    func syntaxError(_ sql: String, limits: ParserLimits = ParserLimits()) -> RedError? {
        do { _ = try parse(sql, limits: limits); return nil } catch let e as RedError { return e } catch { return nil }
    }

    @Test func parsesSelectWithJoinGroupByAndOrdinals() throws {
        let statements = try parse("SELECT a, count(*) FROM t JOIN u ON t.id = u.tid WHERE x > 1 GROUP BY a HAVING count(*) > 2 ORDER BY 2 DESC LIMIT 5;")
        #expect(statements.count == 1)
        guard case .query(let q) = statements[0], case .select(let s) = q.body else { Issue.record("not a select"); return }
        #expect(s.groupBy == [.column(["a"])])
        #expect(q.orderBy.first?.descending == true)
        #expect(q.limit == .literal(.integer(5)))
    }

    @Test func severalStatementsAndTrailingSemicolons() throws {
        #expect(try parse("SELECT 1; SELECT 2;;  ").count == 2)
        #expect(try parse("").isEmpty)
    }

    @Test func unquotedIdentifiersFoldToLowerCaseQuotedKeepCase() throws {
        guard case .query(let q) = try parse(#"SELECT Name, "Name" FROM T"#)[0], case .select(let s) = q.body else { return }
        #expect(s.items[0].expr == .column(["name"]))
        #expect(s.items[1].expr == .column(["Name"]))
        #expect(s.from == .table("t", alias: nil))
    }

    @Test func operatorPrecedenceFollowsPostgreSQL() throws {
        guard case .query(let q) = try parse("SELECT 1 + 2 * 3 = 7 AND NOT false OR x IS NULL")[0], case .select(let s) = q.body else { return }
        guard case .binary("or", .binary("and", .binary("=", .binary("+", _, .binary("*", _, _)), _), .unary("not", _)), .isNull) = s.items[0].expr else {
            Issue.record("unexpected tree \(s.items[0].expr)")
            return
        }
    }

    /// `?` is jsonb's key-exists operator after an operand and a placeholder where a value
    /// starts; `?|` and `?&` are operators, `?||` a placeholder then `||`.
    @Test func questionMarkIsAnOperatorAfterAnOperandAndAPlaceholderElsewhere() throws {
        let kinds = try Lexer.tokenize("SELECT doc ? 'a', tags ?| x, (j) ?& y, ? FROM t WHERE a = ? AND b IN (?, ?) LIMIT ? OFFSET ?||'x'",
                                       limits: ParserLimits()).map(\.kind)
        #expect(kinds.filter { $0 == .symbol("?") }.count == 1)
        #expect(kinds.contains(.symbol("?|")) && kinds.contains(.symbol("?&")))
        #expect(kinds.filter { if case .parameter = $0 { return true } else { return false } } == (1...6).map { Token.Kind.parameter($0) })
        guard case .query(let q) = try parse("SELECT doc ? 'a' FROM t WHERE id = ?")[0], case .select(let s) = q.body else { return }
        #expect(s.items[0].expr == .function(FunctionCall(name: "__json_has_key", arguments: [.column(["doc"]), .literal(.text("a"))], distinct: false, star: false)))
    }

    @Test func syntaxErrorsCarryPositionTokenAndCode() throws {
        let error = try #require(syntaxError("SELECT a FROM\n  WHERE x"))
        #expect(error.code == .syntaxError)
        #expect(error.code.sqlState == "42601")
        #expect(error.message.contains("2:3"))
        #expect(error.message.contains("WHERE"))
        #expect(syntaxError("SELECT 'unterminated")?.message.contains("Unterminated string") == true)
        #expect(syntaxError("SELECT CASE WHEN a THEN 1 FROM t")?.message.contains("expected END to close CASE expression") == true)
        #expect(syntaxError("INSERT INTO users (id)")?.message.contains("EOF") == true)
        #expect(syntaxError("SELECT $1, ?") != nil)
        #expect(syntaxError("CREATE INDEX i ON t (a) USING brin")?.message.contains("unknown index method") == true)
    }

    @Test func inputSizeLimit() {
        var limits = ParserLimits()
        limits.maxInputBytes = 16
        #expect(syntaxError(String(repeating: "x", count: 32), limits: limits)?.message.contains("input exceeds maximum size") == true)
    }

    @Test func nestingDepthLimit() {
        var limits = ParserLimits()
        limits.maxDepth = 8
        let sql = "SELECT " + String(repeating: "(", count: 50) + "1" + String(repeating: ")", count: 50)
        #expect(syntaxError(sql, limits: limits)?.message.contains("recursion depth limit exceeded") == true)
        // The default limit stops pathological nesting without exhausting the stack.
        let deep = "SELECT " + String(repeating: "(", count: 100_000) + "1"
        #expect(syntaxError(deep)?.message.contains("recursion depth limit exceeded") == true)
    }

    @Test func identifierLengthLimit() {
        var limits = ParserLimits()
        limits.maxIdentifierChars = 8
        #expect(syntaxError("SELECT * FROM " + String(repeating: "a", count: 32), limits: limits)?.message.contains("identifier exceeds maximum length") == true)
    }

    @Test func jsonObjectLiteralsParseAndBadOnesFailClearly() throws {
        guard case .insert(let insert) = try parse(#"INSERT INTO logs DOCUMENT VALUES ({"level":"warn","n":[1,2]})"#)[0] else { return }
        #expect(insert.model == .document)
        #expect(syntaxError(#"INSERT INTO e (body) VALUES ({"level": })"#)?.message.contains("invalid JSON object literal") == true)
        #expect(syntaxError(#"INSERT INTO e (body) VALUES ({"level": "warn""#)?.message.contains("unterminated JSON object literal") == true)
    }

    @Test func redDBExtensionsParse() throws {
        _ = try parse("KV PUT settings.theme = 'dark' EXPIRE 10 s")
        _ = try parse("KV GET theme; KV DELETE 'a:b'")
        _ = try parse("INSERT INTO t (a) VALUES (1) WITH TTL 60 m WITH METADATA (source = 'x') RETURNING *")
        _ = try parse("CREATE TABLE t (id INT PRIMARY KEY, e EMAIL NOT NULL, c TEXT DEFAULT = 'x') APPEND ONLY")
        _ = try parse("FROM ANY WHERE kind = 'kv'")
        #expect(syntaxError("KV PUT a:b = 1")?.message.contains("must be quoted") == true)
    }

    @Test func parametersAreNumbered() throws {
        var parser = try Parser("SELECT ? + ?, ?")
        _ = try parser.parseStatement()
        #expect(parser.parameterCount == 3)
    }

    /// Random bytes, random token soup and mutated valid queries: the parser returns or throws, never traps.
    @Test func fuzzedInputNeverCrashesTheParser() {
        var rng = SplitMix64(seed: 0xF00D)
        let seeds = [
            "SELECT a, b FROM t WHERE a > 1 AND b IN (1, 2, 3) ORDER BY a DESC LIMIT 10",
            "INSERT INTO t (a, b) VALUES (1, 'x'), (2, NULL) RETURNING *",
            "WITH c AS (SELECT 1 AS x) SELECT x, row_number() OVER (PARTITION BY x ORDER BY x ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM c",
            #"INSERT INTO d DOCUMENT VALUES ({"a": {"b": [1, 2, {"c": "\u00e9"}]}})"#,
            "SELECT CASE WHEN a THEN 'x' ELSE CAST(b AS TEXT) END FROM t LEFT JOIN u ON t.a = u.b UNION ALL SELECT 1",
            "UPDATE t SET a = a + 1 WHERE EXISTS (SELECT 1 FROM u WHERE u.x = t.a)",
        ]
        let vocabulary = ["SELECT", "FROM", "WHERE", "(", ")", ",", "'", "\"", "{", "}", "[", "]", "$1", "?", "1e", "--", "/*",
                          "JOIN", "ON", "OVER", "CASE", "END", "NOT", "IN", "::", "||", ".", "*", "-", "WITH", "AS", "VALUES", ";"]
        for round in 0..<3_000 {
            var input: String
            switch round % 3 {
            case 0:
                let count = Int(rng.next() % 64)
                input = String(decoding: (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, as: UTF8.self)
            case 1:
                input = (0..<Int(rng.next() % 30)).map { _ in vocabulary[Int(rng.next() % UInt64(vocabulary.count))] }.joined(separator: " ")
            default:
                var bytes = Array(seeds[Int(rng.next() % UInt64(seeds.count))].utf8)
                for _ in 0..<Int(1 + rng.next() % 4) where !bytes.isEmpty {
                    let i = Int(rng.next() % UInt64(bytes.count))
                    switch rng.next() % 3 {
                    case 0: bytes.remove(at: i)
                    case 1: bytes.insert(UInt8(truncatingIfNeeded: rng.next() % 128), at: i)
                    default: bytes[i] = UInt8(truncatingIfNeeded: rng.next() % 128)
                    }
                }
                input = String(decoding: bytes, as: UTF8.self)
            }
            do { _ = try Parser.parseScript(input) } catch let error as RedError {
                #expect([.syntaxError, .featureNotSupported, .undefinedObject].contains(error.code), "unexpected code for \(input): \(error)")
            } catch {
                Issue.record("non-RedError for \(input): \(error)")
            }
        }
    }
}

struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
