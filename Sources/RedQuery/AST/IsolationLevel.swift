import RedCore

/// What a transaction block's statements see of other transactions' commits (PostgreSQL's
/// isolation levels; `docs/server.md` "Transactions").
///
/// - `readCommitted` (the default, as in PostgreSQL; READ UNCOMMITTED too): each statement
///   reads a snapshot taken when it starts, so it sees every commit made before it. A write
///   that meets a row another transaction changed and committed after the statement's
///   snapshot does not fail: the statement runs again on a fresh snapshot (after waiting for
///   the row's lock), as PostgreSQL re-reads the row.
/// - `repeatableRead` (REPEATABLE READ, and SERIALIZABLE and SNAPSHOT, which run as it):
///   snapshot isolation. The block's first statement takes the snapshot every later one
///   reads; a row changed by a commit the snapshot does not see fails the write with 40001.
///   SERIALIZABLE asks for more than snapshot isolation gives (no predicate locks here), so
///   it reports itself as what it is, REPEATABLE READ.
public enum IsolationLevel: String, Sendable, Equatable {
    case readCommitted = "read committed"
    case repeatableRead = "repeatable read"

    /// The level a setting's value names (`default_transaction_isolation`, `SET TRANSACTION
    /// ISOLATION LEVEL …`), in any case and spacing; nil when it names none.
    public init?(settingValue: String) {
        let words = settingValue.lowercased().split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "_" || $0 == "-" }).joined(separator: " ")
        switch words {
        case "read committed", "read uncommitted": self = .readCommitted
        case "repeatable read", "serializable", "snapshot": self = .repeatableRead
        default: return nil
        }
    }
}
