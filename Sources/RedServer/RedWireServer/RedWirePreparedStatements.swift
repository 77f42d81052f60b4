import RedCore
import RedQuery
import Synchronization

/// The statements one RedWire connection prepared, by the id its client chose (spec
/// protocols §1.6.8): preparing an id again replaces it, and they live until the
/// connection closes (RedWire v1 has no Deallocate). At most `maxStatements` per connection,
/// so a client cannot grow the server's memory without bound.
final class RedWirePreparedStatements: Sendable {
    static let maxStatements = 10_000
    private let statements = Mutex<[UInt32: AutoParameterizedStatement]>([:])

    func store(_ id: UInt32, _ statement: AutoParameterizedStatement) throws {
        try statements.withLock { s in
            guard s[id] != nil || s.count < Self.maxStatements else {
                throw RedError(.limitExceeded, "too many prepared statements on this connection (\(Self.maxStatements)); reuse a stmt_id to replace one")
            }
            s[id] = statement
        }
    }

    func statement(_ id: UInt32) throws -> AutoParameterizedStatement {
        guard let statement = statements.withLock({ $0[id] }) else {
            throw RedError(.undefinedPreparedStatement, "unknown prepared stmt_id \(id)")
        }
        return statement
    }
}
