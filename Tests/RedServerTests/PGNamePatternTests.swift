import RedCore
@testable import RedServer
import Testing

/// psql's `\d PATTERN` names, matched without a regex engine (client text given to Swift's
/// backtracking engine could take exponential time or overflow the stack).
@Suite struct PGNamePatternTests {
    @Test func psqlPatternsMatchAsPsqlMeansThem() throws {
        let users = try PGNamePattern("^(users)$")
        #expect(users.matches("users") && !users.matches("users2") && !users.matches("xusers"))
        let prefix = try PGNamePattern("^(us.*)$")  // \d us*
        #expect(prefix.matches("us") && prefix.matches("users") && !prefix.matches("bus"))
        let one = try PGNamePattern("^(user.)$")  // \d user?
        #expect(one.matches("users") && !one.matches("user") && !one.matches("userss"))
        let either = try PGNamePattern("^(users|orders)$")
        #expect(either.matches("orders") && either.matches("users") && !either.matches("usersorders"))
        let escaped = try PGNamePattern(#"^(a\$b)$"#)
        #expect(escaped.matches("a$b") && !escaped.matches("ab"))
        let middle = try PGNamePattern("^(.*_log.*)$")
        #expect(middle.matches("app_log_2024") && !middle.matches("applog"))
        // Regular-expression characters psql passes through: sets and + (\dt user[0-9], \dt log_+).
        let numbered = try PGNamePattern("^(user[0-9])$")
        #expect(numbered.matches("user7") && !numbered.matches("userx") && !numbered.matches("user10"))
        let several = try PGNamePattern("^(log_[a-z0-9]+)$")
        #expect(several.matches("log_a1") && !several.matches("log_") && !several.matches("log_A"))
        let not = try PGNamePattern("^([^_]*)$")
        #expect(not.matches("orders") && !not.matches("order_items"))
        let underscores = try PGNamePattern("^(a_+b)$")
        #expect(underscores.matches("a__b") && !underscores.matches("ab"))
    }

    @Test func anythingElseIsRefusedClearly() {
        for pattern in ["^((((a|a)*)*)*b)$", String(repeating: "(", count: 100_000), "^((a|b))$", "^(a{2})$", "*x", "^(a**)$", "^([a-)$"] {
            #expect(throws: RedError.self) { try PGNamePattern(pattern) }
        }
        // Long but plain patterns still match in time proportional to pattern × name.
        let long = String(repeating: ".*a+[ab]*", count: 100)
        #expect(throws: Never.self) { _ = try PGNamePattern(long).matches(String(repeating: "a", count: 200) + "b") }
    }
}
