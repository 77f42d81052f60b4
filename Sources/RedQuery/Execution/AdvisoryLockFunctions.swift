import RedCore

/// The SQL functions: `pg_advisory_lock`, `pg_try_advisory_lock`, `pg_advisory_unlock`, their
/// `_shared` and `xact_` forms, `pg_advisory_unlock_all` and `pg_backend_pid`. All take a
/// bigint key or two integers, are strict (a NULL key locks nothing and returns NULL), and
/// run once per row they are called for (never folded into a constant).
enum AdvisoryLockFunctions {
    static var all: [ScalarFunction] {
        var functions: [ScalarFunction] = []
        for scope in [LockRequest.Scope.session, .transaction] {
            for shared in [false, true] {
                let infix = scope == .transaction ? "xact_" : ""
                let suffix = shared ? "_shared" : ""
                functions.append(function("pg_advisory_\(infix)lock\(suffix)") { key, locks in
                    _ = try locks.lock(LockRequest(key: key, shared: shared, scope: scope), wait: true)
                    return .null  // PostgreSQL's void
                })
                functions.append(function("pg_try_advisory_\(infix)lock\(suffix)") { key, locks in
                    .boolean(try locks.lock(LockRequest(key: key, shared: shared, scope: scope), wait: false))
                })
            }
        }
        functions.append(function("pg_advisory_unlock") { key, locks in
            .boolean(locks.unlock(LockRequest(key: key, shared: false, scope: .session)))
        })
        functions.append(function("pg_advisory_unlock_shared") { key, locks in
            .boolean(locks.unlock(LockRequest(key: key, shared: true, scope: .session)))
        })
        functions.append(ScalarFunction(name: "pg_advisory_unlock_all", arity: 0...0, acceptsNull: false, isDeterministicWithinStatement: false) { _, c in
            c.locks?.unlockAll()
            return .null
        })
        functions.append(ScalarFunction(name: "pg_backend_pid", arity: 0...0, acceptsNull: false, isDeterministicWithinStatement: true) { _, c in
            .integer(Int64(c.locks?.processID ?? 0))
        })
        return functions
    }

    /// Functions returning a boolean (the rest return void, sent as NULL).
    static let resultTypes: [String: DataType] = [
        "pg_try_advisory_lock": .boolean, "pg_try_advisory_lock_shared": .boolean, "pg_try_advisory_xact_lock": .boolean,
        "pg_try_advisory_xact_lock_shared": .boolean, "pg_advisory_unlock": .boolean, "pg_advisory_unlock_shared": .boolean,
        "pg_backend_pid": .integer,
    ]

    private static func function(_ name: String,
                                 _ body: @escaping @Sendable (LockKey, SessionLocks) throws -> Value) -> ScalarFunction {
        ScalarFunction(name: name, arity: 1...2, acceptsNull: false, isDeterministicWithinStatement: false) { a, c in
            guard let locks = c.locks else {
                throw RedError(.featureNotSupported, "\(name)() needs a session: advisory locks belong to the connection that takes them")
            }
            return try body(try key(a, name), locks)
        }
    }

    /// `(bigint)` or `(integer, integer)`; a quoted number is read as one, as PostgreSQL reads
    /// an untyped literal.
    static func key(_ arguments: [Value], _ name: String) throws -> LockKey {
        func integer(_ v: Value) throws -> Int64 {
            switch v {
            case .integer(let i): return i
            case .text(let s):
                guard let i = Int64(s.trimmingSpaces()) else { throw RedError(.invalidTextRepresentation, "invalid input syntax for type bigint: \"\(s)\"") }
                return i
            default:
                throw RedError(.undefinedFunction, "function \(name)(\(arguments.map(\.kindName).joined(separator: ", "))) does not exist")
            }
        }
        if arguments.count == 1 { return LockKey(try integer(arguments[0])) }
        // A pair is of integers: a bigint there names a function PostgreSQL does not have.
        let values = [try integer(arguments[0]), try integer(arguments[1])]
        guard let first = Int32(exactly: values[0]), let second = Int32(exactly: values[1]) else {
            let types = values.map { Int32(exactly: $0) == nil ? "bigint" : "integer" }.joined(separator: ", ")
            throw RedError(.undefinedFunction, "function \(name)(\(types)) does not exist")
        }
        return LockKey(first, second)
    }
}
