import RedCore

/// Arguments given by name (`make_interval(days => 10)`, `jsonb_path_match(j, p, silent =>
/// true)`), for the functions that declare their parameters' names as PostgreSQL does.
extension Parser {
    /// A function's parameters in order, and the default of each one that may be left out (nil:
    /// it must be given).
    struct NamedParameters {
        let names: [String]
        let defaults: [Expr?]
        /// Every parameter is passed, defaults filling the gaps (else only up to the last given).
        var passesAll = false
    }

    static let namedParameters: [String: NamedParameters] = {
        var table: [String: NamedParameters] = [:]
        table["make_interval"] = NamedParameters(names: IntervalFunctions.makeIntervalParameters,
                                                 defaults: (0..<7).map { .literal($0 == 6 ? .float(0) : .integer(0)) }, passesAll: true)
        let path = NamedParameters(names: ["target", "path", "vars", "silent"], defaults: [nil, nil, .literal(.text("{}")), .literal(.boolean(false))])
        for name in ["jsonb_path_exists", "jsonb_path_match", "jsonb_path_query", "jsonb_path_query_array", "jsonb_path_query_first"] {
            table[name] = path
            table[name + "_tz"] = path
        }
        return table
    }()

    /// The call's arguments, positional then named, as the positional list PostgreSQL would
    /// bind them to.
    mutating func parseArguments(_ function: String, _ signature: NamedParameters) throws -> [Expr] {
        let names = signature.names
        var given: [Expr?] = Array(repeating: nil, count: names.count)
        var position = 0, named = false
        repeat {
            if case .identifier(let word, _) = current.kind, isSymbol("=", ahead: 1), isSymbol(">", ahead: 2) {
                guard let index = names.firstIndex(of: word.lowercased()) else {
                    throw RedError(.undefinedFunction, "function \(function)(\(word) => …) does not exist; its parameters are \(names.joined(separator: ", "))")
                }
                advance(); advance(); advance()
                guard given[index] == nil else { throw error("\(function)'s \(word) is given twice") }
                given[index] = try parseExpression()
                named = true
            } else {
                guard !named else { throw error("a positional argument cannot follow named arguments") }
                guard position < names.count else { throw RedError(.undefinedFunction, "\(function) takes at most \(names.count) arguments") }
                given[position] = try parseExpression()
                position += 1
            }
        } while acceptSymbol(",")
        let count = signature.passesAll ? names.count : (given.lastIndex { $0 != nil } ?? -1) + 1
        return try (0..<count).map { index in
            guard let argument = given[index] ?? signature.defaults[index] else {
                throw RedError(.undefinedFunction, "function \(function) needs its \(names[index]) argument")
            }
            return argument
        }
    }
}
