import RedCore

/// CREATE, ALTER and DROP DOMAIN, PostgreSQL's grammar (`DomainCatalog` says what they do).
extension Parser {
    /// After `CREATE DOMAIN`.
    mutating func parseCreateDomain() throws -> Statement {
        let name = try parseEnumTypeName()
        _ = acceptKeyword("as")
        let start = current.offset
        _ = try parseTypeNameWithArguments()
        let written = String(decoding: bytes[start..<min(current.offset, bytes.count)], as: UTF8.self)
        var spec = DomainSpec(name: name, baseType: Self.withoutComments(written).trimmingSpaces())
        var constraintName: String?
        var saidNull = false
        while true {
            if acceptKeyword("constraint") {
                constraintName = try parseIdentifier(what: "constraint name")
                continue
            }
            if isKeyword("check") {
                spec.checks.append(CheckSpec(name: constraintName, sql: try parseCheckExpression()))
            } else if acceptKeyword("not") {
                try expectKeyword("null")
                spec.notNull = true
            } else if acceptKeyword("null") {
                saidNull = true
            } else if acceptKeyword("default") {
                guard spec.defaultSQL == nil else { throw RedError(.syntaxError, "multiple default expressions") }
                spec.defaultSQL = try parseDefaultText()
            } else if acceptKeyword("collate") {
                try parseCollation()
            } else {
                break
            }
            constraintName = nil
        }
        if constraintName != nil { throw unexpected(expected: "CHECK, NOT NULL or NULL") }
        if saidNull && spec.notNull { throw RedError(.syntaxError, "conflicting NULL/NOT NULL constraints") }
        return .createDomain(spec)
    }

    /// `text` without its SQL comments (`-- …` to the line's end, `/* … */`), outside quoted
    /// identifiers: the text up to the next token may hold one, which would swallow what
    /// follows the type where it is used again (`CAST(value AS text -- note)`).
    static func withoutComments(_ text: String) -> String {
        guard text.contains("--") || text.contains("/*") else { return text }
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView(), i = 0, quoted = false
        while i < scalars.count {
            let c = scalars[i], next = i + 1 < scalars.count ? scalars[i + 1] : " "
            if c == "\"" { quoted.toggle() }
            if !quoted, c == "-", next == "-" {
                while i < scalars.count, scalars[i] != "\n" { i += 1 }
                continue
            }
            if !quoted, c == "/", next == "*" {
                i += 2
                while i + 1 < scalars.count, !(scalars[i] == "*" && scalars[i + 1] == "/") { i += 1 }
                i += 2
                out.append(" ")
                continue
            }
            out.append(c)
            i += 1
        }
        return String(out)
    }

    /// After `ALTER DOMAIN`.
    mutating func parseAlterDomain() throws -> Statement {
        let name = try parseEnumTypeName()
        if acceptKeyword("set") {
            if acceptKeyword("default") { return .alterDomain(name: name, .setDefault(try parseDefaultText())) }
            try expectKeyword("not")
            try expectKeyword("null")
            return .alterDomain(name: name, .setNotNull(true))
        }
        if acceptKeyword("drop") {
            if acceptKeyword("default") { return .alterDomain(name: name, .setDefault(nil)) }
            if acceptKeyword("not") {
                try expectKeyword("null")
                return .alterDomain(name: name, .setNotNull(false))
            }
            try expectKeyword("constraint")
            let ifExists = try parseIfExists()
            let constraint = try parseIdentifier(what: "constraint name")
            if !acceptKeyword("cascade") { _ = acceptKeyword("restrict") }
            return .alterDomain(name: name, .dropConstraint(constraint, ifExists: ifExists))
        }
        if acceptKeyword("add") {
            let constraintName = acceptKeyword("constraint") ? try parseIdentifier(what: "constraint name") : nil
            if isKeyword("not") { throw RedError(.featureNotSupported, "ALTER DOMAIN … ADD NOT NULL: write SET NOT NULL") }
            let check = CheckSpec(name: constraintName, sql: try parseCheckExpression())
            var validate = true
            if acceptKeyword("not") {
                try expectKeyword("valid")
                validate = false
            }
            return .alterDomain(name: name, .addCheck(check, validate: validate))
        }
        if acceptKeyword("validate") {
            try expectKeyword("constraint")
            return .alterDomain(name: name, .validateConstraint(try parseIdentifier(what: "constraint name")))
        }
        try expectKeyword("rename")
        if acceptKeyword("constraint") {
            let old = try parseIdentifier(what: "constraint name")
            try expectKeyword("to")
            return .alterDomain(name: name, .renameConstraint(old, to: try parseIdentifier(what: "constraint name")))
        }
        try expectKeyword("to")
        return .alterDomain(name: name, .rename(to: try parseIdentifier(what: "domain name")))
    }

    /// After `DROP DOMAIN`.
    mutating func parseDropDomain() throws -> Statement {
        let (names, ifExists, cascade) = try parseTypesToDrop()
        return .dropDomains(names: names, ifExists: ifExists, cascade: cascade)
    }

    /// After `DROP TYPE` or `DROP DOMAIN`: `[IF EXISTS] name [, …] [CASCADE | RESTRICT]`.
    mutating func parseTypesToDrop() throws -> (names: [String], ifExists: Bool, cascade: Bool) {
        let ifExists = try parseIfExists()
        var names: [String] = []
        repeat { names.append(try parseEnumTypeName()) } while acceptSymbol(",")
        let cascade = acceptKeyword("cascade")
        if !cascade { _ = acceptKeyword("restrict") }
        return (names, ifExists, cascade)
    }
}
