import Testing
@testable import RedCore

/// JSON numbers keep their value and written scale (PostgreSQL's jsonb keeps a numeric), while
/// the numbers a double holds as written stay doubles, which embeddings and vectors read.
@Suite struct JSONNumberTests {
    @Test func numbersADoubleWouldChangeAreKeptExactly() throws {
        for text in ["1234567890123456789012", "0.1000000000000000055511151231257827", "1.50", "1.0", "0.0", "100e-2", "-2.50e1"] {
            let parsed = try JSONValue.parse(text)
            guard case .decimal = parsed else { Issue.record("\(text) parsed as \(parsed)"); continue }
        }
        #expect(try JSONValue.parse("[1.50,1e3,100e-2,-2.50e1]").text == "[1.50,1000,1.00,-25.0]")
        #expect(try JSONValue.parse("1234567890123456789012").text == "1234567890123456789012")
    }

    @Test func numbersADoubleHoldsStayDoubles() throws {
        for text in ["1.5", "0.25", "-0.0123456789", "1e3", "1.2e2", "0.30000000000000004", "6.02214076e23"] {
            let parsed = try JSONValue.parse(text)
            guard case .float(let d) = parsed else { Issue.record("\(text) parsed as \(parsed)"); continue }
            #expect(d == Double(text))
        }
        // Past 36 significant digits there is no exact form: the nearest double, as before.
        guard case .float = try JSONValue.parse("0.1234567890123456789012345678901234567890") else { Issue.record("not a double"); return }
        #expect(throws: RedError.self) { try JSONValue.parse("1e400") }
    }

    @Test func equalNumbersAreEqualAndHashAlike() throws {
        let pairs = [("1.50", "1.5"), ("1.0", "1"), ("100e-2", "1"), ("12345678901234567890", "12345678901234567890.0")]
        for (a, b) in pairs {
            let (x, y) = (try JSONValue.parse(a), try JSONValue.parse(b))
            #expect(x == y, "\(a) = \(b)")
            #expect(x.hashValue == y.hashValue, "\(a) and \(b) hash alike")
        }
        #expect(try JSONValue.parse("0.1000000000000000055511151231257827") != JSONValue.parse("0.1000000000000000055511151231257828"))
    }
}
