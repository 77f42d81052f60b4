import RedCore
@testable import RedServer
import Testing

/// `GET /config`'s tree of dotted keys: names in first-seen order at every level, the later
/// entry winning where a name is both a leaf and a prefix; built through an index per level.
@Suite struct ConfigTreeTests {
    @Test func dottedKeysNestInFirstSeenOrder() {
        let tree = HTTPRoutes.tree([("app.name", .string("shop")), ("app.limits.rps", .integer(100)), ("debug", .bool(true)),
                                    ("app.limits.burst", .integer(5)), ("app.name", .string("store"))])
        #expect(tree == .object([
            ("app", .object([("name", .string("store")), ("limits", .object([("rps", .integer(100)), ("burst", .integer(5))]))])),
            ("debug", .bool(true)),
        ]))
        // A leaf then a prefix of the same name: the later one stands, where the name first was.
        #expect(HTTPRoutes.tree([("a", .integer(1)), ("b", .integer(2)), ("a.x", .integer(3))])
                == .object([("a", .object([("x", .integer(3))])), ("b", .integer(2))]))
        #expect(HTTPRoutes.tree([("a.x", .integer(3)), ("a", .integer(1))]) == .object([("a", .integer(1))]))
    }

    @Test func manyKeysKeepTheirOrder() {
        let keys = (0..<50_000).map { ("section\($0 % 7).key\($0)", JSONValue.integer(Int64($0))) }
        guard case .object(let sections) = HTTPRoutes.tree(keys) else { Issue.record("not an object"); return }
        #expect(sections.map(\.0) == (0..<7).map { "section\($0)" })
        guard case .object(let first)? = sections.first?.1 else { Issue.record("no section"); return }
        #expect(first.count == 7_143 && first.first?.0 == "key0" && first.last?.0 == "key49994")
    }
}
