import RedCore
import Synchronization

/// Long `IN (…)` lists of constants and `= ANY ($n)` / `<> ALL ($n)` over an array parameter,
/// answered from a hash set built once per statement (`SubqueryMembership`), where each row
/// compared with every element: `k IN (1,000 numbers)` over 50,000 rows took 2.8 s and
/// `k = ANY($1)` with 1,000 elements 6.4 s (PostgreSQL: 19 ms and 0.3 s). ORMs write both.
///
/// The sets live on the statement's `ExecutionContext`. A literal list is known by its items'
/// array (its storage address, which the entry keeps alive so no other list can take it), an
/// array parameter by its number, its cast and the probe's kind (elements convert to the
/// probe's type).
final class ConstantSets: @unchecked Sendable {
    enum Key: Hashable {
        case list(UInt)
        /// The parameter's number, how it is cast (`""`: not), the probe's kind.
        case parameter(Int, String, DataType?)
    }

    struct Entry {
        /// The list the key's address belongs to, kept alive with the entry.
        let items: [BoundExpr]?
        let membership: SubqueryMembership?
    }

    private let entries = Mutex<[Key: Entry]>([:])

    func entry(_ key: Key, build: () throws -> Entry) rethrows -> Entry {
        if let found = entries.withLock({ $0[key] }) { return found }
        let built = try build()
        entries.withLock { $0[key] = built }
        return built
    }

    /// Lists shorter than this are compared one by one: building a set would cost more.
    static let minimumListCount = 8
}

extension Evaluation {
    /// `v IN (items)` from the statement's set when every item is a constant or parameter;
    /// nil when the comparisons must decide.
    func constantListMembership(_ v: Value, _ items: [BoundExpr], negated: Bool) throws -> Value? {
        guard items.count >= ConstantSets.minimumListCount else { return nil }
        // Known by address first: looking at every item again for each row cost more than the comparisons.
        let address = items.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        let entry = try context.constantSets.entry(.list(address)) {
            guard items.allSatisfy(\.isStatementConstant) else { return ConstantSets.Entry(items: items, membership: nil) }
            return ConstantSets.Entry(items: items, membership: SubqueryMembership(try items.map { try evaluate($0, []) }))
        }
        return entry.membership?.membership(v, negated: negated)
    }

    /// `v = ANY (array)` (`all`: `v <> ALL`, negated) from the statement's set when the array is
    /// a parameter; nil when the comparisons must decide.
    func parameterArrayMembership(_ v: Value, _ array: BoundExpr, all: Bool) throws -> Value? {
        let kind = v.isNull ? nil : DataType.of(v)
        let key: ConstantSets.Key
        switch array {
        case .parameter(let n): key = .parameter(n, "", kind)
        case .cast(.parameter(let n), let type): key = .parameter(n, type.rawValue, kind)
        case .function(let f, let arguments) where f.name == "__array_cast" && arguments.count >= 2:
            // `$1::text[]`: the element type travels as a constant.
            // A declared element (`$1::int2[]`, `$1::numeric(4,2)[]`) checks its elements its way.
            guard case .parameter(let n) = arguments[0], case .constant(.text(let element)) = arguments[1] else { return nil }
            let declared = if arguments.count == 3, case .constant(.text(let name)) = arguments[2] { "(\(name))" } else { "" }
            key = .parameter(n, "\(element)\(declared)[]", kind)
        default: return nil
        }
        let entry = try context.constantSets.entry(key) {
            let value = try evaluate(array, [])
            guard let elements = try ArrayFunctions.elements(of: value, like: v, "\(all ? "<> ALL" : "= ANY") (array)") else {
                return ConstantSets.Entry(items: nil, membership: nil)  // a NULL array: the comparisons give NULL
            }
            return ConstantSets.Entry(items: nil, membership: SubqueryMembership(elements))
        }
        return entry.membership?.membership(v, negated: all)
    }
}

extension BoundExpr {
    /// A constant or a parameter (possibly cast): the same value for the whole statement.
    var isStatementConstant: Bool {
        switch self {
        case .constant, .parameter: return true
        case .cast(let inner, _): return inner.isStatementConstant
        default: return false
        }
    }
}
