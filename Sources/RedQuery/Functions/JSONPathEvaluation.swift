import RedCore

/// Runs a `JSONPath` over a document, as PostgreSQL does: every expression gives a sequence of
/// items, and every predicate true, false or unknown.
///
/// Lax mode (the default) forgives structure: a key missing or asked of a non-object, a
/// subscript out of range, gives no item; an array met by a key, a filter, a method or a
/// comparison is unwrapped into its elements, a non-array met by `[…]` taken as a one-element
/// array. Strict mode makes each of those an error. Either way a predicate meeting an error
/// (comparing a string with a number, arithmetic on text) is unknown, and a filter keeps only
/// the items its predicate is true for; errors outside predicates (a non-numeric arithmetic
/// operand, a missing variable) fail the call, unless the call is silent and the error is one
/// `isSuppressible` names.
struct JSONPathEvaluation {
    enum Truth { case yes, no, unknown }

    let path: JSONPath
    let document: JSONValue
    let variables: [String: JSONValue]
    /// Items produced or visited by `.**`, counted before they are made: bounded, like any result
    /// kept in memory, so a path multiplying items (`$[0,0,0][0,0,0]…`) stops early.
    private(set) var produced = 0
    static let maxItems = 10_000_000
    /// Items produced and pairs compared: the statement's cancellation is checked as it grows,
    /// so `statement_timeout` stops a long comparison (`@ == $.b[*]` over large arrays).
    private var work = 0
    private let checkCancelled: () throws -> Void

    var lax: Bool { !path.strict }

    init(_ path: JSONPath, document: JSONValue, variables: JSONValue?, checkCancelled: @escaping () throws -> Void = {}) throws {
        self.path = path
        self.document = document
        self.checkCancelled = checkCancelled
        var table: [String: JSONValue] = [:]
        switch variables {
        case nil, .null?: break
        case .object(let members)?: for (name, value) in members { table[name] = value }
        default: throw RedError(.invalidArgument, "\"vars\" argument is not an object",
                                detail: "Jsonpath parameters should be encoded as key-value pairs of \"vars\" object.")
        }
        self.variables = table
    }

    /// The path's items (a predicate path gives one boolean, or null for unknown).
    mutating func run() throws -> [JSONValue] {
        try items(path.root, current: nil, last: nil)
    }

    /// The errors a silent call (`silent => true`, `@?`, `@@`) turns into NULL: PostgreSQL's
    /// structural, type and numeric errors, not a missing variable.
    static func isSuppressible(_ error: Error) -> Bool {
        guard let error = error as? RedError else { return false }
        return error.sqlState.hasPrefix("2203") || error.code == .divisionByZero || error.code == .numericOutOfRange
    }

    static func error(_ condition: String, _ message: String) -> RedError {
        RedError(.invalidArgument, message, condition: condition)
    }

    // MARK: Items

    mutating func items(_ node: JSONPath.Node, current: JSONValue?, last: Int?) throws -> [JSONValue] {
        switch node {
        case .root: return [document]
        case .current:
            guard let current else { throw RedError(.syntaxError, "@ is not allowed in root expressions") }
            return [current]
        case .last:
            guard let last else { throw RedError(.syntaxError, "LAST is allowed only in array subscripts") }
            return [.integer(Int64(last))]
        case .variable(let name):
            guard let value = variables[name] else { throw RedError(.undefinedObject, "could not find jsonpath variable \"\(name)\"") }
            return [value]
        case .literal(let value): return [value]
        case .member(let base, let key):
            let forgiving = Self.forgives(base, lax: lax)
            return try unwrapped(try items(base, current: current, last: last)).flatMap { item -> [JSONValue] in
                try spend(1)
                guard case .object(let members) = item else {
                    if forgiving { return [] }
                    throw Self.error("2203A", "jsonpath member accessor can only be applied to an object")
                }
                if let found = members.last(where: { $0.0 == key }) { return [found.1] }
                if forgiving { return [] }
                throw Self.error("2203A", "JSON object does not contain key \"\(key)\"")
            }
        case .anyMember(let base):
            let forgiving = Self.forgives(base, lax: lax)
            return try unwrapped(try items(base, current: current, last: last)).flatMap { item -> [JSONValue] in
                guard case .object(let members) = item else {
                    if forgiving { return [] }
                    throw Self.error("2203C", "jsonpath wildcard member accessor can only be applied to an object")
                }
                try spend(members.count)
                return JSONFunctions.jsonbOrder(members).map(\.1)
            }
        case .anyElement(let base):
            let forgiving = Self.forgives(base, lax: lax)
            return try items(base, current: current, last: last).flatMap { item -> [JSONValue] in
                try spend(1)
                if case .array(let elements) = item { try spend(elements.count); return elements }
                if forgiving { return [item] }
                throw Self.error("22039", "jsonpath wildcard array accessor can only be applied to an array")
            }
        case .elements(let base, let subscripts):
            let forgiving = Self.forgives(base, lax: lax)
            var out: [JSONValue] = []
            for item in try items(base, current: current, last: last) {
                let elements: [JSONValue]
                if case .array(let a) = item { elements = a } else {
                    guard forgiving else { throw Self.error("22039", "jsonpath array accessor can only be applied to an array") }
                    elements = [item]
                }
                for (low, high) in subscripts {
                    var from = try position(low, current: current, count: elements.count)
                    var through = try high.map { try position($0, current: current, count: elements.count) } ?? from
                    if !forgiving, from < 0 || from > through || through >= elements.count {
                        throw Self.error("22033", "jsonpath array subscript is out of bounds")
                    }
                    from = max(from, 0)
                    through = min(through, elements.count - 1)
                    guard from <= through else { continue }
                    try spend(through - from + 1)
                    out += elements[from...through]
                }
            }
            return out
        case .descendants(let base, let from, let through):
            var out: [JSONValue] = []
            for item in try items(base, current: current, last: last) {
                try collect(item, level: 0, from: from ?? 0, through: through ?? .max, into: &out)
            }
            return out
        case .filter(let base, let predicate):
            return try unwrapped(try items(base, current: current, last: last)).filter { item in
                try truth(predicate, current: item, last: last) == .yes
            }
        case .method(let base, let name):
            return try method(name, try items(base, current: current, last: last))
        case .unary(let op, let operand):
            return try unwrapped(try items(operand, current: current, last: last)).map { item in
                guard let number = Self.number(item) else {
                    throw Self.error("2203B", "operand of unary jsonpath operator \(op) is not a numeric value")
                }
                return .decimal(op == "-" ? number.negated() : number)
            }
        case .binary(let op, let l, let r):
            let left = try unwrapped(try items(l, current: current, last: last))
            let right = try unwrapped(try items(r, current: current, last: last))
            guard left.count == 1, let a = Self.number(left[0]) else {
                throw Self.error("22038", "left operand of jsonpath operator \(op) is not a single numeric value")
            }
            guard right.count == 1, let b = Self.number(right[0]) else {
                throw Self.error("22038", "right operand of jsonpath operator \(op) is not a single numeric value")
            }
            switch op {
            case "+": return [.decimal(try a.adding(b))]
            case "-": return [.decimal(try a.subtracting(b))]
            case "*": return [.decimal(try a.multiplying(b))]
            case "/": return [.decimal(try a.dividing(by: b))]
            default: return [.decimal(try a.remainder(dividingBy: b))]
            }
        case .comparison, .and, .or, .not, .exists, .isUnknown, .likeRegex, .startsWith:
            switch try truth(node, current: current, last: last) {
            case .yes: return [.bool(true)]
            case .no: return [.bool(false)]
            case .unknown: return [.null]
            }
        }
    }

    /// In lax mode, arrays replaced by their elements (one level).
    mutating func unwrapped(_ items: [JSONValue]) throws -> [JSONValue] {
        guard lax, items.contains(where: { if case .array = $0 { return true }; return false }) else { return items }
        return try items.flatMap { item -> [JSONValue] in
            guard case .array(let elements) = item else { return [item] }
            try spend(elements.count)
            return elements
        }
    }

    /// Counts `count` items before they are made (`produced`).
    mutating func spend(_ count: Int) throws {
        produced += count
        guard produced <= Self.maxItems else {
            throw RedError(.limitExceeded, "a jsonpath may produce or visit at most \(Self.maxItems) items")
        }
        try tick(count)
    }

    /// Counts `count` units of work, checking the statement's cancellation every few thousand.
    mutating func tick(_ count: Int) throws {
        let before = work
        work &+= count
        if work / 4096 != before / 4096 { try checkCancelled() }
    }

    /// `.**`: the item and its descendants, depth first, those at levels `from` through `through`;
    /// `{last}` alone (both `Int.max`) the leaves, the items holding no others, at any level.
    private mutating func collect(_ item: JSONValue, level: Int, from: Int, through: Int, into out: inout [JSONValue]) throws {
        try spend(1)
        let isLeaf: Bool = switch item { case .object, .array: false; default: true }
        if from == .max ? isLeaf : level >= from { out.append(item) }
        guard level < through else { return }
        switch item {
        case .object(let members): for (_, value) in JSONFunctions.jsonbOrder(members) { try collect(value, level: level + 1, from: from, through: through, into: &out) }
        case .array(let elements): for value in elements { try collect(value, level: level + 1, from: from, through: through, into: &out) }
        default: break
        }
    }

    /// A subscript's position: one number (truncated to a whole one), `last` the final element's.
    private mutating func position(_ node: JSONPath.Node, current: JSONValue?, count: Int) throws -> Int {
        let values = try items(node, current: current, last: count - 1)
        guard values.count == 1, let number = Self.number(values[0]) else {
            throw Self.error("22033", "jsonpath array subscript is not a single numeric value")
        }
        let whole = number.rounded(toPlaces: 0, truncating: true)
        guard let index = Int32(whole.text) else { throw Self.error("22033", "jsonpath array subscript is out of integer range") }
        return Int(index)
    }

    /// Whether structural errors under `base` are forgiven: in lax mode, and, as PostgreSQL does,
    /// in the accessors after a `.**` (`strict $.**.b` skips the items without a `b`).
    static func forgives(_ base: JSONPath.Node, lax: Bool) -> Bool {
        if lax { return true }
        var node = base
        while true {
            switch node {
            case .descendants: return true
            case .member(let inner, _), .anyMember(let inner), .anyElement(let inner), .elements(let inner, _),
                 .filter(let inner, _), .method(let inner, _):
                node = inner
            default: return false
            }
        }
    }

    static func number(_ value: JSONValue) -> Numeric? {
        switch value {
        case .integer(let i): return Numeric(i)
        case .decimal(let n): return n
        case .float(let d): return try? Numeric(double: d)
        default: return nil
        }
    }

    // MARK: Methods

    private mutating func method(_ name: String, _ input: [JSONValue]) throws -> [JSONValue] {
        switch name {
        case "type":
            return input.map { item in
                switch item {
                case .object: return .string("object")
                case .array: return .string("array")
                case .string: return .string("string")
                case .integer, .float, .decimal: return .string("number")
                case .bool: return .string("boolean")
                case .null: return .string("null")
                }
            }
        case "size":
            return try input.map { item in
                if case .array(let elements) = item { return .integer(Int64(elements.count)) }
                if lax { return .integer(1) }
                throw Self.error("22039", "jsonpath item method .size() can only be applied to an array")
            }
        case "double":
            return try unwrapped(input).map { item in
                let value: Double?
                switch item {
                case .string(let s): value = Double(s.trimmingSpaces())
                default: value = Self.number(item)?.doubleValue
                }
                guard let value else {
                    if case .string = item {
                        throw Self.error("22036", "string argument of jsonpath item method .double() is not a valid representation of a double precision number")
                    }
                    throw Self.error("22036", "jsonpath item method .double() can only be applied to a string or numeric value")
                }
                guard value.isFinite, let number = try? Numeric(double: value) else {
                    throw Self.error("22036", "numeric argument of jsonpath item method .double() is out of range for type double precision")
                }
                return .decimal(number)
            }
        default:  // ceiling, floor, abs
            return try unwrapped(input).map { item in
                guard let number = Self.number(item) else {
                    throw Self.error("22036", "jsonpath item method .\(name)() can only be applied to a numeric value")
                }
                switch name {
                case "ceiling": return .decimal(number.ceiling())
                case "floor": return .decimal(number.floor())
                default: return .decimal(number.absolute())
                }
            }
        }
    }
}
