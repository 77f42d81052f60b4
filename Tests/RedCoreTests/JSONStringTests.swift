import Testing
@testable import RedCore

@Suite struct JSONStringTests {
    @Test func escapesExactlyWhatJSONRequires() {
        #expect(JSONValue.string("plain").text == #""plain""#)
        #expect(JSONValue.string("a\"b\\c").text == #""a\"b\\c""#)
        #expect(JSONValue.string("l1\nl2\r\t").text == #""l1\nl2\r\t""#)
        #expect(JSONValue.string("\u{1}\u{1f}").text == #""\u0001\u001f""#)
        #expect(JSONValue.string("é ✓ 😀 /").text == "\"é ✓ 😀 /\"")
        #expect(JSONValue.string("").text == #""""#)
    }

    @Test func everyStringSurvivesARoundTrip() throws {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [Character] = ["a", "\"", "\\", "\n", "\u{0}", "\u{7}", "é", "😀", " ", "\u{7f}", "字"]
        for _ in 0..<300 {
            let s = String((0..<Int.random(in: 0..<40, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            #expect(try JSONValue.parse(JSONValue.string(s).text) == .string(s))
        }
    }
}
