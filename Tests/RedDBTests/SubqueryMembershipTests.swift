import Testing
import RedCore
@testable import RedDB

/// `IN (subquery)`, `NOT IN`, `= ANY` and `<> ALL` over a statement-constant subquery answer
/// from a hash set (`SubqueryMembership`). Each is checked against the same test written with
/// the subquery's values as a literal list, which compares one by one, with NULLs on either
/// side, empty subqueries, and probes of another kind than the values.
@Suite struct SubqueryMembershipTests {
    @Test func hashedMembershipIsTheComparisonsAnswer() async throws {
        let s = try await Database.inMemory().session()
        _ = try await s.execute("CREATE TABLE p (id int PRIMARY KEY, k int, t text, d numeric)")
        _ = try await s.execute("CREATE TABLE q (id int PRIMARY KEY, k int, t text)")
        var random = VectorSearchTests.Generator(state: 0x1D_5E7)  // replayable
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
}
