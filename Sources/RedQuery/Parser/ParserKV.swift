import RedCore

/// RedDB's key-value commands: `KV PUT / GET / DELETE`.
extension Parser {
    /// `part {'.' part}` — one part: the key in `kv_default`; more: collection then key.
    mutating func parseKVKey() throws -> (String, String) {
        var parts: [String] = []
        repeat {
            switch current.kind {
            case .identifier(let s, _): parts.append(s); advance()
            case .string(let s): parts.append(s); advance()
            case .integer(let i): parts.append(String(i)); advance()
            default: throw unexpected(expected: "a key")
            }
        } while acceptSymbol(".")
        if isSymbol(":") { throw error("KV keys containing ':' must be quoted as string literals; use 'a:b'") }
        if parts.count == 1 { return ("kv_default", parts[0]) }
        return (parts[0], parts.dropFirst().joined(separator: "."))
    }

    mutating func parseKV() throws -> Statement {
        try expectKeyword("kv")
        if acceptKeyword("put") || acceptKeyword("set") {
            let (collection, key) = try parseKVKey()
            try expectSymbol("=")
            let value = try parseExpression()
            var ttl: Int64?
            var ifNotExists = false
            while true {
                if acceptKeyword("expire") || (isKeyword("with") && isKeyword("ttl", ahead: 1)) {
                    if acceptKeyword("with") { advance() }
                    ttl = try parseDurationMilliseconds()
                } else if isKeyword("if") {
                    ifNotExists = try parseIfNotExists()
                } else {
                    break
                }
            }
            return .kv(.put(collection: collection, key: key, value: value, ttlMilliseconds: ttl, ifNotExists: ifNotExists))
        }
        if acceptKeyword("get") {
            let (collection, key) = try parseKVKey()
            return .kv(.get(collection: collection, key: key))
        }
        if acceptKeyword("delete") || acceptKeyword("del") {
            let (collection, key) = try parseKVKey()
            return .kv(.delete(collection: collection, key: key))
        }
        throw unexpected(expected: "PUT, GET or DELETE")
    }
}
