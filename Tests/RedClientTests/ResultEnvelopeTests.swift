import Testing
import RedCore
import RedDB
@testable import RedClient

/// RedWire replies are decoded straight from their bytes (`fromQueryEnvelope(utf8:)`); the
/// result, or the error, must be what decoding the fully parsed envelope gives.
@Suite struct ResultEnvelopeTests {
    static func outcome(_ decode: () throws -> QueryResult) -> String {
        do {
            let r = try decode()
            return "\(r.columns.map(\.name)) \(r.rows) \(r.rowsAffected) \(r.statementType) \(r.commandTag) \(r.message ?? "-")"
        } catch { return "error: \(error)" }
    }

    static func compare(_ bytes: [UInt8]) -> (fast: String, full: String) {
        (outcome { try ResultEnvelope.fromQueryEnvelope(utf8: bytes) },
         outcome { ResultEnvelope.fromQueryEnvelope(try JSONValue.parse(utf8: bytes)) })
    }

    /// Envelopes as the server writes them.
    static var served: [[UInt8]] {
        let everything: [Value] = [.null, .boolean(true), .integer(-7), .float(2.5), .text("é \"q\"\n"), .json(.object([("k", .array([.integer(1)]))])),
                                   .vector([1, 0.5]), .timestamp(1_700_000_000_000), .blob([0, 255]), .uuid(42)]
        let wide = QueryResult(columns: everything.indices.map { ResultColumn(name: "c\($0)", type: .any) }, rows: [everything, everything.reversed()],
                               rowsAffected: 0, statementType: "select", commandTag: "SELECT 2", message: nil)
        let one = QueryResult(columns: [ResultColumn(name: "?column?", type: .integer)], rows: [[.integer(1)]],
                              rowsAffected: 0, statementType: "select", commandTag: "SELECT 1", message: nil)
        let insert = QueryResult(columns: [], rows: [], rowsAffected: 3, statementType: "insert", commandTag: "INSERT 0 3", message: nil)
        let ddl = QueryResult(columns: [], rows: [], rowsAffected: 0, statementType: "create", commandTag: "CREATE TABLE", message: "table 't' created")
        return [wide.json(query: "SELECT *"), one.json(query: "SELECT 1"), insert.json(query: "INSERT …"), ddl.json(query: "CREATE TABLE t (a INT)")].map(\.utf8)
    }

    /// Shapes no server of ours sends, but another could: each is decoded as the full parse decodes it.
    static let odd: [String] = [
        #"{"result":{"records":[{"values":{"a":1,"b":2}}],"columns":["b","a","missing"]},"statement":"select"}"#,
        #"{"affected_rows":2,"affected_rows":"x","statement":"update","statement":5,"message":"m","message":null}"#,
        #"{"result":{"columns":["a"],"records":[{"values":{"a":1}}]},"result":{"columns":["b"],"records":[{"values":{"b":2},"values":{"b":3}}]}}"#,
        #"{"result":[1,2]}"#, #"{"result":{"columns":"a","records":{}}}"#, #"{"result":{"columns":["a",1,null,"b"],"records":[5,{"values":[1]},{},{"values":{"a":{"n":[1]},"a":"last"}}]}}"#,
        #"[{"result":{}}]"#, #""text""#, "7", "null", "{}",
        #" { "result" : { "columns" : [ "x" ] , "records" : [ { "values" : { "x" : 1.0e2 } } ] } , "affected_rows" : 1 } "#,
    ]

    @Test func servedAndOddEnvelopesDecodeAsTheFullParse() {
        for bytes in Self.served + Self.odd.map({ Array($0.utf8) }) {
            let (fast, full) = Self.compare(bytes)
            #expect(fast == full, "\(String(decoding: bytes, as: UTF8.self))")
            #expect(!full.hasPrefix("error"))
        }
    }

    @Test func damagedEnvelopesFailAsTheFullParse() {
        var failures = 0
        for bytes in Self.served {
            var damaged: [[UInt8]] = (0..<bytes.count).map { Array(bytes[..<$0]) }
            for at in stride(from: 0, to: bytes.count, by: 3) {
                for replacement in Array("}]\",:x \\".utf8) {
                    var changed = bytes
                    changed[at] = replacement
                    damaged.append(changed)
                }
            }
            damaged.append(bytes + Array("}".utf8))
            damaged.append(Array(#"{"stats":"#.utf8) + Array(repeating: UInt8(ascii: "["), count: 200) + Array(repeating: UInt8(ascii: "]"), count: 200) + Array("}".utf8))
            for bytes in damaged {
                let (fast, full) = Self.compare(bytes)
                #expect(fast == full, "\(String(decoding: bytes, as: UTF8.self))")
                if full.hasPrefix("error") { failures += 1 }
            }
        }
        #expect(failures > 100, "the damage must reach the error paths")
    }
}
