import Crypto
import Foundation
import RedCore

/// PostgreSQL's string functions beyond the core set in `ScalarFunction.library`: the ones
/// applications and ORMs reach for (`md5`, `chr`, `translate`, `format` …) and `like_escape`,
/// which `LIKE … ESCAPE` is rewritten into. Each follows PostgreSQL's documented behaviour
/// and SQLSTATEs; text is counted in code points, as everywhere else.
extension ScalarFunction {
    static let postgresTextFunctions: [ScalarFunction] = {
        var functions: [ScalarFunction] = []
        func add(_ name: String, _ arity: ClosedRange<Int>, acceptsNull: Bool = false,
                 _ body: @escaping @Sendable ([Value]) throws -> Value) {
            functions.append(ScalarFunction(name: name, arity: arity, acceptsNull: acceptsNull, isDeterministicWithinStatement: true) { a, _ in try body(a) })
        }
        add("like_escape", 2...2) { a in .text(try likeEscape(outputText(a[0]), escape: outputText(a[1]))) }
        add("translate", 3...3) { a in .text(translate(outputText(a[0]), from: outputText(a[1]), to: outputText(a[2]))) }
        add("md5", 1...1) { a in
            let bytes: [UInt8]
            if case .blob(let b) = a[0] { bytes = b } else { bytes = Array(outputText(a[0]).utf8) }
            return .text(Insecure.MD5.hash(data: bytes).map { String(format: "%02x", $0) }.joined())
        }
        // sha256, sha384, sha512 of bytea (an untyped literal read as bytea: '\x…' hex, or the text's bytes).
        for name in ["sha256", "sha384", "sha512"] {
            add(name, 1...1) { a in
                guard case .blob(let bytes) = try DataType.blob.coerce(a[0]) else { throw RedError(.undefinedFunction, "function \(name)(\(a[0].kindName)) does not exist") }
                switch name {
                case "sha256": return .blob(Array(SHA256.hash(data: bytes)))
                case "sha384": return .blob(Array(SHA384.hash(data: bytes)))
                default: return .blob(Array(SHA512.hash(data: bytes)))
                }
            }
        }
        // pgcrypto's digest(data, type) and hmac(data, key, type): text is hashed as its UTF-8
        // bytes, bytea as it is; types md5, sha1, sha256, sha384, sha512.
        @Sendable func bytes(_ v: Value) -> [UInt8] {
            if case .blob(let b) = v { return b }
            return Array(outputText(v).utf8)
        }
        add("digest", 2...2) { a in
            let data = bytes(a[0])
            switch outputText(a[1]).lowercased() {
            case "md5": return .blob(Array(Insecure.MD5.hash(data: data)))
            case "sha1": return .blob(Array(Insecure.SHA1.hash(data: data)))
            case "sha256": return .blob(Array(SHA256.hash(data: data)))
            case "sha384": return .blob(Array(SHA384.hash(data: data)))
            case "sha512": return .blob(Array(SHA512.hash(data: data)))
            default: throw RedError(.invalidArgument, "Cannot use \"\(outputText(a[1]))\": No such hash algorithm")
            }
        }
        add("hmac", 3...3) { a in
            let data = bytes(a[0]), key = SymmetricKey(data: bytes(a[1]))
            switch outputText(a[2]).lowercased() {
            case "md5": return .blob(Array(HMAC<Insecure.MD5>.authenticationCode(for: data, using: key)))
            case "sha1": return .blob(Array(HMAC<Insecure.SHA1>.authenticationCode(for: data, using: key)))
            case "sha256": return .blob(Array(HMAC<SHA256>.authenticationCode(for: data, using: key)))
            case "sha384": return .blob(Array(HMAC<SHA384>.authenticationCode(for: data, using: key)))
            case "sha512": return .blob(Array(HMAC<SHA512>.authenticationCode(for: data, using: key)))
            default: throw RedError(.invalidArgument, "Cannot use \"\(outputText(a[2]))\": No such hash algorithm")
            }
        }
        // encode(bytea, 'hex' | 'base64' | 'escape') → text, and decode back, as PostgreSQL writes
        // them (base64 in lines of 76 characters).
        add("encode", 2...2) { a in
            guard case .blob(let bytes) = try DataType.blob.coerce(a[0]) else { throw RedError(.undefinedFunction, "function encode(\(a[0].kindName), text) does not exist") }
            return .text(try BinaryText.encode(bytes, format: outputText(a[1])))
        }
        add("decode", 2...2) { a in .blob(try BinaryText.decode(outputText(a[0]), format: outputText(a[1]))) }
        // convert_to(text, encoding) and convert_from(bytea, encoding): UTF8 only, the one encoding
        // RedDB's text has (its other spellings too); invalid UTF-8 is 22021, as in PostgreSQL.
        @Sendable func requireUTF8(_ v: Value) throws {
            let name = outputText(v).uppercased().filter { $0 != "-" && $0 != "_" }
            guard ["UTF8", "UNICODE"].contains(name) else {
                throw RedError(.featureNotSupported, "encoding \"\(outputText(v))\" is not supported: text here is UTF8")
            }
        }
        add("convert_to", 2...2) { a in
            try requireUTF8(a[1])
            return .blob(Array(outputText(a[0]).utf8))
        }
        add("convert_from", 2...2) { a in
            try requireUTF8(a[1])
            guard case .blob(let bytes) = try DataType.blob.coerce(a[0]), let text = String(validating: bytes, as: UTF8.self) else {
                throw RedError(.invalidArgument, "invalid byte sequence for encoding \"UTF8\"", condition: "22021")
            }
            return .text(text)
        }
        // overlay(s PLACING r FROM n [FOR m]): s with m characters (r's length by default) from n replaced by r.
        add("overlay", 3...4) { a in
            let s = Array(outputText(a[0])), r = Array(outputText(a[1]))
            guard case .integer(let from) = try DataType.integer.coerce(a[2]) else { throw RedError(.invalidArgument, "overlay takes an integer position") }
            var count = Int64(r.count)
            if a.count == 4 {
                guard case .integer(let c) = try DataType.integer.coerce(a[3]) else { throw RedError(.invalidArgument, "overlay takes an integer length") }
                count = c
            }
            guard from >= 1, count >= 0 else { throw RedError(.invalidArgument, "negative substring length not allowed", condition: "22011") }
            let start = min(Int(from) - 1, s.count), end = min(s.count, start + Int(min(count, Int64(s.count))))
            return .text(String(s[..<start]) + String(r) + String(s[end...]))
        }
        add("chr", 1...1) { a in
            guard case .integer(let code) = try DataType.integer.coerce(a[0]) else { throw RedError(.invalidArgument, "chr() takes an integer") }
            guard code != 0 else { throw RedError(.invalidArgument, "null character not permitted", condition: "54000") }
            guard code > 0, code <= 0x10FFFF, let scalar = Unicode.Scalar(UInt32(code)) else {
                throw RedError(.invalidArgument, "requested character not valid for encoding: \(code)", condition: "54000")
            }
            return .text(String(Character(scalar)))
        }
        add("ascii", 1...1) { a in .integer(Int64(outputText(a[0]).unicodeScalars.first?.value ?? 0)) }
        add("to_hex", 1...1) { a in
            guard case .integer(let i) = try DataType.integer.coerce(a[0]) else { throw RedError(.invalidArgument, "to_hex() takes an integer") }
            // PostgreSQL prints the two's complement of a negative bigint.
            return .text(String(UInt64(bitPattern: i), radix: 16))
        }
        add("quote_ident", 1...1) { a in .text(quoteIdentifier(outputText(a[0]))) }
        add("pg_size_pretty", 1...1) { a in
            guard case .integer(let bytes) = try DataType.integer.coerce(a[0]) else { throw RedError(.invalidArgument, "pg_size_pretty() takes a bigint") }
            return .text(prettySize(bytes))
        }
        add("quote_nullable", 1...1, acceptsNull: true) { a in
            .text(a[0].isNull ? "NULL" : quoteLiteral(outputText(a[0])))
        }
        add("format", 1...1000, acceptsNull: true) { a in
            guard !a[0].isNull else { return .null }
            return .text(try format(outputText(a[0]), Array(a.dropFirst())))
        }
        return functions
    }()

    /// A value as PostgreSQL's output function writes it (`concat`, `format`): booleans are
    /// `t` / `f` there, unlike a `::text` cast.
    static func outputText(_ v: Value) -> String {
        switch v {
        case .text(let s): return s
        case .boolean(let b): return b ? "t" : "f"
        default: return v.displayText
        }
    }

    /// `pattern` re-spelt so that `escape` (one character, or none when empty) does what `\`
    /// does in a LIKE pattern: PostgreSQL's `like_escape`.
    static func likeEscape(_ pattern: String, escape: String) throws -> String {
        let escapeScalars = Array(escape.unicodeScalars)
        guard escapeScalars.count <= 1 else {
            throw RedError(.invalidArgument, "invalid escape string", detail: "Escape string must be empty or one character.", condition: "22025")
        }
        guard let marker = escapeScalars.first else { return pattern.replacingOccurrences(of: "\\", with: "\\\\") }
        if marker == "\\" { return pattern }
        var out = String.UnicodeScalarView()
        var pending = false
        for scalar in pattern.unicodeScalars {
            if pending {
                out.append("\\"); out.append(scalar); pending = false
            } else if scalar == marker {
                pending = true
            } else {
                if scalar == "\\" { out.append("\\") }
                out.append(scalar)
            }
        }
        if pending { out.append("\\") }  // a trailing escape stays one: LIKE refuses it if matching gets there
        return String(out)
    }

    /// Each character of `from` in `text` replaced by the one at the same place in `to`, or
    /// removed when `to` is shorter; the first occurrence in `from` wins.
    static func translate(_ text: String, from: String, to: String) -> String {
        let source = Array(from.unicodeScalars), target = Array(to.unicodeScalars)
        var map: [Unicode.Scalar: Unicode.Scalar?] = [:]
        for (i, s) in source.enumerated() where map[s] == nil { map[s] = i < target.count ? target[i] : Optional<Unicode.Scalar>.none }
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            if let mapped = map[s] { if let m = mapped { out.append(m) } } else { out.append(s) }
        }
        return String(out)
    }

    /// A string literal: in single quotes, each quote doubled (`quote_literal`, `%L`).
    static func quoteLiteral(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    static func quoteIdentifier(_ name: String) -> String { SQLIdentifier.quoted(name) }

    /// PostgreSQL's `format`: `%s` (text, NULL as empty), `%I` (identifier), `%L` (literal,
    /// NULL as `NULL`), `%%`, with optional `n$` positions and `-`/width (`%-10s`, `%*s`).
    static func format(_ template: String, _ arguments: [Value]) throws -> String {
        let chars = Array(template.unicodeScalars)
        var out = String.UnicodeScalarView()
        var outputBytes = 0
        var next = 0
        var i = 0
        func bad(_ message: String) -> RedError { RedError(.invalidArgument, message) }
        func argument(_ index: Int) throws -> Value {
            guard index < arguments.count else { throw RedError(.invalidArgument, "too few arguments for format()") }
            return arguments[index]
        }
        func number() -> Int? {
            var value = 0, seen = false
            while i < chars.count, let d = chars[i].properties.numericType == .decimal ? Int(String(chars[i])) : nil {
                value = min(value * 10 + d, 1_000_000); seen = true; i += 1
            }
            return seen ? value : nil
        }
        while i < chars.count {
            let c = chars[i]
            i += 1
            guard c == "%" else { out.append(c); outputBytes += 4; continue }
            guard i < chars.count else { throw bad("unterminated format() type specifier") }
            if chars[i] == "%" { out.append("%"); outputBytes += 1; i += 1; continue }
            var position: Int?
            let mark = i
            if let n = number(), i < chars.count, chars[i] == "$" {
                guard n >= 1 else { throw bad("format specifies argument 0, but arguments are numbered from 1") }
                position = n - 1; i += 1
            } else { i = mark }
            var leftAlign = false
            if i < chars.count, chars[i] == "-" { leftAlign = true; i += 1 }
            var width: Int?
            if i < chars.count, chars[i] == "*" {
                i += 1
                guard case .integer(let w) = try DataType.integer.coerce(try argument(next)) else { throw bad("width argument must be an integer") }
                next += 1
                if w < 0 { leftAlign = true }
                width = Int(min(abs(w), 1_000_000))
            } else if let w = number() { width = w }
            guard i < chars.count else { throw bad("unterminated format() type specifier") }
            let kind = chars[i]
            i += 1
            let index = position ?? next
            next = index + 1
            let value = try argument(index)
            var piece: String
            switch kind {
            case "s": piece = value.isNull ? "" : outputText(value)
            case "I":
                guard !value.isNull else { throw RedError(.invalidArgument, "null values cannot be formatted as an SQL identifier") }
                piece = quoteIdentifier(outputText(value))
            case "L": piece = value.isNull ? "NULL" : quoteLiteral(outputText(value))
            default: throw bad("unrecognized format() type specifier \"\(kind)\"")
            }
            if let width, piece.unicodeScalars.count < width {
                let padding = String(repeating: " ", count: width - piece.unicodeScalars.count)
                piece = leftAlign ? piece + padding : padding + piece
            }
            outputBytes += piece.utf8.count
            guard outputBytes <= Limits.maxValueBytes else { throw RedError(.limitExceeded, "format() result exceeds \(Limits.maxValueBytes) bytes") }
            out.append(contentsOf: piece.unicodeScalars)
        }
        return String(out)
    }

    /// PostgreSQL's pg_size_pretty: bytes below 10 kB, then kB, MB, GB, TB and PB, each rounded
    /// half away from zero from one extra bit, switching unit below 20 of the next.
    static func prettySize(_ bytes: Int64) -> String {
        if bytes.magnitude < 10 * 1024 { return "\(bytes) bytes" }
        func halfRounded(_ x: Int64) -> Int64 { (x + (x < 0 ? -1 : 1)) / 2 }
        var size = bytes >> 9  // one extra bit, for rounding
        for unit in ["kB", "MB", "GB", "TB"] {
            if size.magnitude < 20 * 1024 - 1 { return "\(halfRounded(size)) \(unit)" }
            size >>= 10
        }
        return "\(halfRounded(size)) PB"
    }
}

/// Identifiers written back into SQL text (`quote_ident`, `format('%I')`, and the definitions
/// PG-wire's catalogs print: `pg_get_indexdef`, `pg_get_constraintdef`).
public enum SQLIdentifier {
    /// Quoted only when PostgreSQL would need it: anything but lower-case letters, digits and
    /// `_` (not leading with a digit), or a reserved word.
    public static func quoted(_ name: String) -> String {
        let plain = !name.isEmpty && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
            && !("0"..."9").contains(name.unicodeScalars.first!) && !Parser.reserved.contains(name)
        return plain ? name : "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// bytea as text in `encode`/`decode`'s formats.
enum BinaryText {
    static func encode(_ bytes: [UInt8], format: String) throws -> String {
        switch format.lowercased() {
        case "hex": return bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        case "base64":
            let text = Data(bytes).base64EncodedString()
            // PostgreSQL breaks base64 into lines of 76 characters.
            var out = "", count = 0
            for c in text {
                if count == 76 { out.append("\n"); count = 0 }
                out.append(c); count += 1
            }
            return out
        case "escape":
            var out = ""
            for b in bytes {
                if b == UInt8(ascii: "\\") { out += "\\\\" }
                else if b == 0 || b >= 0x80 { out += "\\" + String(repeating: "0", count: 3 - String(b, radix: 8).count) + String(b, radix: 8) }
                else { out.append(Character(Unicode.Scalar(b))) }
            }
            return out
        default: throw RedError(.invalidArgument, "unrecognized encoding: \"\(format)\"")
        }
    }

    static func decode(_ text: String, format: String) throws -> [UInt8] {
        switch format.lowercased() {
        case "hex":
            let digits = Array(text.utf8).filter { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
            guard digits.count % 2 == 0 else { throw RedError(.invalidArgument, "invalid hexadecimal data: odd number of digits") }
            return try stride(from: 0, to: digits.count, by: 2).map { i in
                guard let byte = UInt8(String(decoding: digits[i...i + 1], as: UTF8.self), radix: 16) else {
                    throw RedError(.invalidArgument, "invalid hexadecimal digit: \"\(String(decoding: digits[i...i + 1], as: UTF8.self))\"")
                }
                return byte
            }
        case "base64":
            let compact = text.filter { !$0.isWhitespace }
            guard let data = Data(base64Encoded: compact) else { throw RedError(.invalidArgument, "invalid base64 data") }
            return Array(data)
        case "escape":
            var out: [UInt8] = []
            let bytes = Array(text.utf8)
            var i = 0
            while i < bytes.count {
                if bytes[i] == UInt8(ascii: "\\") {
                    if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "\\") { out.append(bytes[i]); i += 2; continue }
                    guard i + 3 < bytes.count, let byte = UInt8(String(decoding: bytes[i + 1...i + 3], as: UTF8.self), radix: 8) else {
                        throw RedError(.invalidTextRepresentation, "invalid input syntax for type bytea")
                    }
                    out.append(byte); i += 4
                } else {
                    out.append(bytes[i]); i += 1
                }
            }
            return out
        default: throw RedError(.invalidArgument, "unrecognized encoding: \"\(format)\"")
        }
    }
}
