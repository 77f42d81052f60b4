import Testing
import RedCore
@testable import RedDB

/// `IN (subquery)`, `NOT IN`, `= ANY` and `<> ALL` over a statement-constant subquery answer
/// from a hash set (`SubqueryMembership`). Each is checked against the same test written with
/// the subquery's values as a literal list, which compares one by one, with NULLs on either
/// side, empty subqueries, and probes of another kind than the values.
@Suite struct SubqueryMembershipTests {
    /// A session with `p` (60 rows: k in 0..<15, its text and numeric twins) and `q` (25 rows,
    /// even k only), a sixth of their values NULL, from a replayable `seed`.
    static func seeded(_ seed: UInt64) async throws -> Session {
        let s = try await Database.inMemory().session()
        _ = try await s.execute("CREATE TABLE p (id int PRIMARY KEY, k int, t text, d numeric)")
        _ = try await s.execute("CREATE TABLE q (id int PRIMARY KEY, k int, t text)")
        var random = VectorSearchTests.Generator(state: seed)
        func maybeNull(_ text: String) -> String { Int.random(in: 0..<6, using: &random) == 0 ? "NULL" : text }
        var rows: [String] = []
        for id in 1...60 {
            let k = Int.random(in: 0..<15, using: &random)
            rows.append("(\(id), \(maybeNull(String(k))), \(maybeNull("'w\(k)'")), \(maybeNull("\(k).0")))")
        }
        _ = try await s.execute("INSERT INTO p VALUES " + rows.joined(separator: ", "))
        rows = []
        for id in 1...25 {
            let k = Int.random(in: 0..<15, using: &random) * 2
            rows.append("(\(id), \(maybeNull(String(k))), \(maybeNull("'w\(k)'")))")
        }
        _ = try await s.execute("INSERT INTO q VALUES " + rows.joined(separator: ", "))
        return s
    }

    @Test func hashedMembershipIsTheComparisonsAnswer() async throws {
        let s = try await Self.seeded(0x1D_5E7)
        let subqueries = ["SELECT k FROM q", "SELECT k FROM q WHERE k IS NOT NULL", "SELECT k FROM q WHERE false",
                          "SELECT NULL::int FROM q WHERE id < 3", "SELECT t FROM q", "SELECT t FROM q WHERE t IS NOT NULL"]
        for subquery in subqueries {
            let values = try await s.execute(subquery).rows.map { $0[0] }
            let literal = values.isEmpty ? nil : values.map { v -> String in
                switch v {
                case .null: return "NULL"
                case .text(let t): return "'\(t)'"
                default: return v.displayText
                }
            }.joined(separator: ", ")
            let probes = subquery.contains("SELECT t") ? ["t"] : ["k", "d", "k + 0"]
            for probe in probes {
                // An empty list is not SQL: IN over no rows is false, NOT IN true.
                let inList: String = literal.map { "\(probe) IN (\($0))" } ?? "false"
                let notInList: String = literal.map { "\(probe) NOT IN (\($0))" } ?? "true"
                let pairs: [(String, String)] = [("\(probe) IN (\(subquery))", inList), ("\(probe) NOT IN (\(subquery))", notInList),
                                                 ("\(probe) = ANY (\(subquery))", inList), ("\(probe) <> ALL (\(subquery))", notInList)]
                for (hashed, listed) in pairs {
                    let got = try await s.execute("SELECT id, \(hashed) FROM p ORDER BY id").rows.map { $0.map(\.displayText) }
                    let expected = try await s.execute("SELECT id, \(listed) FROM p ORDER BY id").rows.map { $0.map(\.displayText) }
                    #expect(got.count == 60 && got == expected, "\(hashed)")
                }
            }
        }
    }

    /// A correlated EXISTS of the hashed shape (`CorrelatedExistence`) against the same subquery
    /// made to run per row by one more conjunct on the enclosing row alone (`p.k = p.k`, true
    /// exactly where the hashed shape's equality can be).
    @Test func correlatedExistsMatchesTheScanPerRow() async throws {
        let s = try await Self.seeded(0xE_C5_57)
        _ = try await s.execute("CREATE TABLE empty (id int PRIMARY KEY, k int)")
        let cases: [(String, String)] = [  // (hashed subquery, its per-row twin)
            ("SELECT 1 FROM q WHERE q.k = p.k", "SELECT 1 FROM q WHERE q.k = p.k AND p.k = p.k"),
            ("SELECT 1 FROM q WHERE p.k = q.k AND q.id > 5", "SELECT 1 FROM q WHERE p.k = q.k AND q.id > 5 AND p.k = p.k"),
            ("SELECT q.id FROM q WHERE q.t = p.t AND q.k % 4 = 0", "SELECT q.id FROM q WHERE q.t = p.t AND q.k % 4 = 0 AND p.t = p.t"),
            ("SELECT 1 FROM q WHERE q.k + 1 = p.k", "SELECT 1 FROM q WHERE q.k + 1 = p.k AND p.k = p.k"),
            ("SELECT 1 FROM q WHERE q.k = p.d", "SELECT 1 FROM q WHERE q.k = p.d AND p.d = p.d"),  // numeric meets integers: per row
            ("SELECT 1 FROM empty e WHERE e.k = p.k", "SELECT 1 FROM empty e WHERE e.k = p.k AND p.k = p.k"),
        ]
        for (hashed, perRow) in cases {
            for form in ["EXISTS", "NOT EXISTS"] {
                let got = try await s.execute("SELECT id, \(form) (\(hashed)) FROM p ORDER BY id").rows.map { $0.map(\.displayText) }
                let expected = try await s.execute("SELECT id, \(form) (\(perRow)) FROM p ORDER BY id").rows.map { $0.map(\.displayText) }
                #expect(got.count == 60 && got == expected, "\(form) (\(hashed))")
                let filtered = try await s.execute("SELECT count(*) FROM p WHERE \(form) (\(hashed))").rows
                #expect(filtered[0][0] == .integer(Int64(expected.filter { $0[1] == "true" }.count)), "WHERE \(form) (\(hashed))")
            }
        }
    }

    /// Long constant IN lists and `= ANY ($1)` answer from a statement's set (`ConstantSets`):
    /// checked against the same test spelled as ORs of `=` (SQL's definition of IN).
    @Test func constantListsAndArrayParametersMatchTheirComparisons() async throws {
        let s = try await Database.inMemory().session()
        _ = try await s.execute("CREATE TABLE p (id int PRIMARY KEY, k int, t text, d numeric)")
        var random = VectorSearchTests.Generator(state: 0xC0_57)  // replayable
        var rows: [String] = []
        for id in 1...80 {
            let k = Int.random(in: 0..<40, using: &random)
            let null = Int.random(in: 0..<6, using: &random) == 0
            rows.append("(\(id), \(null ? "NULL" : String(k)), 'w\(k)', \(k).0)")
        }
        _ = try await s.execute("INSERT INTO p VALUES " + rows.joined(separator: ", "))
        let lists: [[String]] = [(0..<12).map { String($0 * 3) }, (0..<12).map { String($0 * 3) } + ["NULL"], (0..<9).map { "'w\($0)'" },
                                 (0..<10).map { "\($0).0" }]
        for list in lists {
            for probe in (list[0].hasPrefix("'") ? ["t"] : ["k", "d"]) {
                let ors = "(" + list.map { "\(probe) = \($0)" }.joined(separator: " OR ") + ")"
                for (hashed, spelled) in [("\(probe) IN (\(list.joined(separator: ", ")))", ors),
                                          ("\(probe) NOT IN (\(list.joined(separator: ", ")))", "NOT \(ors)")] {
                    let got = try await s.execute("SELECT id, \(hashed) FROM p ORDER BY id").rows.map { $0.map(\.displayText) }
                    let expected = try await s.execute("SELECT id, \(spelled) FROM p ORDER BY id").rows.map { $0.map(\.displayText) }
                    #expect(got.count == 80 && got == expected, "\(hashed)")
                }
            }
        }
        let numbers: [Value] = (0..<15).map { .integer(Int64($0 * 2)) } + [.null]
        for (sql, parameter, spelled) in [("k = ANY ($1)", numbers, "k IN (\(numbers.map { $0.isNull ? "NULL" : $0.displayText }.joined(separator: ", ")))"),
                                          ("k <> ALL ($1)", numbers, "k NOT IN (\(numbers.map { $0.isNull ? "NULL" : $0.displayText }.joined(separator: ", ")))"),
                                          ("t = ANY ($1::text[])", (0..<10).map { Value.text("w\($0)") }, "t IN (\((0..<10).map { "'w\($0)'" }.joined(separator: ", ")))")] {
            let array = Value.json(.array(parameter.map { $0.isNull ? .null : $0.jsonValue }))
            let got = try await s.execute("SELECT id, \(sql) FROM p ORDER BY id", parameters: [array]).rows.map { $0.map(\.displayText) }
            let expected = try await s.execute("SELECT id, \(spelled) FROM p ORDER BY id").rows.map { $0.map(\.displayText) }
            #expect(got.count == 80 && got == expected, "\(sql)")
        }
    }
}
