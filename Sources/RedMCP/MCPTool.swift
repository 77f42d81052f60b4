import RedCore
import RedDB

/// One MCP tool: its name, what it does (for the agent choosing it), the JSON Schema of its
/// arguments, and its body, which turns the arguments into RQL on a fresh autocommit
/// session (names quoted, values as parameters) and returns the JSON the agent reads.
struct MCPTool: Sendable {
    let name: String
    let description: String
    /// `{"type": "object", "properties": …, "required": […], "additionalProperties": false}`.
    let inputSchema: JSONValue
    /// The tool only reads (MCP's `readOnlyHint`).
    let readOnly: Bool
    let run: @Sendable (ToolArguments, Session) async throws -> JSONValue

    init(_ name: String, _ description: String, readOnly: Bool = false, required: [String] = [],
         properties: [(String, JSONValue)] = [], run: @escaping @Sendable (ToolArguments, Session) async throws -> JSONValue) {
        self.name = name
        self.description = description
        self.readOnly = readOnly
        self.run = run
        inputSchema = .object([("type", .string("object")), ("properties", .object(properties)),
                               ("required", .array(required.map { .string($0) })), ("additionalProperties", .bool(false))])
    }
}

/// JSON Schema fragments for tool arguments.
enum ArgumentSchema {
    static func string(_ description: String) -> JSONValue { typed("string", description) }
    static func integer(_ description: String) -> JSONValue { typed("integer", description) }
    static func number(_ description: String) -> JSONValue { typed("number", description) }
    static func boolean(_ description: String) -> JSONValue { typed("boolean", description) }
    static func object(_ description: String) -> JSONValue { typed("object", description) }
    static func anyValue(_ description: String) -> JSONValue { .object([("description", .string(description))]) }
    static func array(of items: String, _ description: String) -> JSONValue {
        .object([("type", .string("array")), ("items", .object([("type", .string(items))])), ("description", .string(description))])
    }
    static func array(_ description: String) -> JSONValue { typed("array", description) }
    static func oneOf(_ words: [String], _ description: String) -> JSONValue {
        .object([("type", .string("string")), ("enum", .array(words.map { .string($0) })), ("description", .string(description))])
    }

    private static func typed(_ type: String, _ description: String) -> JSONValue {
        .object([("type", .string(type)), ("description", .string(description))])
    }
}

/// A tool call's arguments, read with the checks every tool needs: a missing required
/// argument or one of the wrong type is a 22023 naming it, never a crash. Unknown
/// arguments are refused, as the schemas' `additionalProperties: false` says.
struct ToolArguments: Sendable {
    let members: [(String, JSONValue)]
    /// Put before a key in messages: `options.` for the members of an `options` argument.
    let context: String

    init(_ json: JSONValue, allowed: [String], context: String = "") throws {
        self.context = context
        switch json {
        case .null: members = []
        case .object(let m): members = m
        default: throw RedError(.invalidArgument, context.isEmpty ? "tool arguments must be a JSON object" : "'\(context.dropLast())' must be a JSON object")
        }
        for (key, _) in members where !allowed.contains(key) {
            throw RedError(.invalidArgument, "unknown argument '\(context)\(key)'" + (allowed.isEmpty ? "" : "; expected \(allowed.joined(separator: ", "))"))
        }
    }

    subscript(_ key: String) -> JSONValue? {
        guard let value = members.first(where: { $0.0 == key })?.1, value != .null else { return nil }
        return value
    }

    func required(_ key: String) throws -> JSONValue {
        guard let value = self[key] else { throw RedError(.invalidArgument, "missing argument '\(context)\(key)'") }
        return value
    }

    func string(_ key: String) throws -> String {
        guard case .string(let s) = try required(key), !s.isEmpty else {
            throw RedError(.invalidArgument, "argument '\(context)\(key)' must be a non-empty string")
        }
        return s
    }

    func optionalString(_ key: String) throws -> String? {
        guard self[key] != nil else { return nil }
        return try string(key)
    }

    /// A collection or other name: a non-empty string of at most 255 bytes (quoted in the SQL).
    func name(_ key: String) throws -> String {
        let n = try string(key)
        guard n.utf8.count <= 255 else { throw RedError(.invalidArgument, "argument '\(context)\(key)' is longer than 255 bytes") }
        return n
    }

    func integer(_ key: String, default value: Int64? = nil, in range: ClosedRange<Int64>? = nil) throws -> Int64 {
        guard let given = self[key] else {
            guard let value else { throw RedError(.invalidArgument, "missing argument '\(context)\(key)'") }
            return value
        }
        let n: Int64
        switch given {
        case .integer(let i): n = i
        case .float(let d) where d.rounded() == d && abs(d) < 9e15: n = Int64(d)
        case .decimal(let d) where d.isIntegral: guard let whole = d.roundedInteger else { fallthrough }; n = whole  // `5.0`
        default: throw RedError(.invalidArgument, "argument '\(context)\(key)' must be an integer")
        }
        if let range, !range.contains(n) {
            throw RedError(.invalidArgument, "argument '\(context)\(key)' must be from \(range.lowerBound) to \(range.upperBound), got \(n)")
        }
        return n
    }

    func number(_ key: String, default value: Double? = nil, in range: ClosedRange<Double>? = nil) throws -> Double? {
        guard let given = self[key] else { return value }
        guard let d = given.number else { throw RedError(.invalidArgument, "argument '\(context)\(key)' must be a number") }
        if let range, !range.contains(d) {
            throw RedError(.invalidArgument, "argument '\(context)\(key)' must be from \(range.lowerBound) to \(range.upperBound)")
        }
        return d
    }

    func bool(_ key: String, default value: Bool) throws -> Bool {
        guard let given = self[key] else { return value }
        guard case .bool(let b) = given else { throw RedError(.invalidArgument, "argument '\(context)\(key)' must be true or false") }
        return b
    }

    func object(_ key: String) throws -> [(String, JSONValue)]? {
        guard let given = self[key] else { return nil }
        guard case .object(let members) = given else { throw RedError(.invalidArgument, "argument '\(context)\(key)' must be a JSON object") }
        return members
    }

    /// A vector: a non-empty array of finite numbers.
    func vector(_ key: String) throws -> [Float] {
        guard case .array(let items) = try required(key), !items.isEmpty else {
            throw RedError(.invalidArgument, "argument '\(context)\(key)' must be a non-empty array of numbers")
        }
        return try items.map { item in
            guard let d = item.number, d.isFinite else { throw RedError(.invalidArgument, "argument '\(context)\(key)' must hold only finite numbers") }
            return Float(d)
        }
    }

    /// The names of the tool's schema, for `allowed`.
    static func names(_ properties: [(String, JSONValue)]) -> [String] { properties.map(\.0) }
}
