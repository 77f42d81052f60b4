import RedCore
import Synchronization

/// One session's temporary tables (`CREATE TEMP TABLE`), as PostgreSQL's `pg_temp_N` schema.
///
/// A temporary table is an ordinary collection with a private name: `__temp/<epoch>.<session>/`
/// before the name the session gave it. So it is written, locked, indexed and rolled back like
/// any table, and its DDL is transactional (a rolled-back CREATE leaves nothing), while:
/// - only its session reaches it: the session puts its namespace on each transaction it
///   begins, and `TableStore.open` looks a name up there first, so a temporary table hides a
///   permanent one of the same name, as `pg_temp` comes first in PostgreSQL's search path;
/// - no other surface lists it: names starting with `__` are the engine's own;
/// - its session's end drops it (`Session` deinit, DISCARD), and so does any VACUUM of a later
///   process (`isAbandoned`): `epoch` is new each time a database opens, so the tables of a
///   session that died with its process are never mistaken for a live session's.
///
/// Changes to temporary tables are written to the WAL and reach replicas like any other (the
/// replica's copy is unreachable and dropped with the primary's); they stay out of the change
/// feed.
public final class TemporaryNamespace: Sendable {
    /// `__temp/`: the start of every temporary collection's and sequence's name.
    public static let marker = "__temp/"

    /// `__temp/<epoch>.<session>/`.
    public let prefix: String
    /// The session's number (PostgreSQL shows the tables in schema `pg_temp_<session>`).
    public let session: UInt64
    let epoch: UInt64
    /// Set once the session has created a temporary table, so a session that never did
    /// looks nothing up (`TableStore.open`).
    private let used = Atomic<Bool>(false)
    /// How many times a name has resolved to one of the tables: CREATE VIEW tells from it
    /// whether its query reads one.
    private let openCounter = Atomic<Int>(0)
    /// What each table's `ON COMMIT` clause asks for at the end of every transaction, by name.
    private let actions = Mutex<[String: OnCommit]>([:])

    /// What happens to a temporary table when a transaction commits (PostgreSQL's `ON COMMIT`).
    public enum OnCommit: Sendable, Equatable {
        /// Nothing: the rows stay until the session ends (the default).
        case preserveRows
        /// Its rows are deleted, as by TRUNCATE.
        case deleteRows
        /// The table is dropped.
        case drop
    }

    public init(epoch: UInt64, session: UInt64) {
        self.epoch = epoch
        self.session = session
        prefix = "\(Self.marker)\(epoch).\(session)/"
    }

    public var isUsed: Bool { used.load(ordering: .relaxed) }

    /// How many times `TableStore.open` has found one of the tables so far.
    public var opens: Int { openCounter.load(ordering: .relaxed) }

    func noteOpened() { openCounter.add(1, ordering: .relaxed) }

    /// Makes `TableStore.open` look names up here (before the first table is created).
    public func markUsed() { used.store(true, ordering: .relaxed) }

    /// The collection name of this session's temporary table `name`.
    public func physicalName(_ name: String) -> String { prefix + name }

    /// Notes a new table's ON COMMIT action.
    public func created(_ name: String, onCommit: OnCommit) {
        markUsed()
        actions.withLock { actions in
            if onCommit == .preserveRows { actions[name] = nil } else { actions[name] = onCommit }
        }
    }

    /// The ON COMMIT actions to run before a commit, by table name (the tables may since have
    /// been dropped or renamed, or their CREATE rolled back: the caller checks each exists).
    public var onCommitActions: [(name: String, action: OnCommit)] {
        actions.withLock { $0.map { ($0.key, $0.value) }.sorted { $0.name < $1.name } }
    }

    /// Whether any table has an ON COMMIT action to run.
    public var hasOnCommitActions: Bool { actions.withLock { !$0.isEmpty } }

    /// Forgets the ON COMMIT action of `name` (its table is gone).
    public func forgetAction(of name: String) { _ = actions.withLock { $0.removeValue(forKey: name) } }

    /// Whether `physical` names a temporary collection or sequence.
    public static func isTemporary(_ physical: String) -> Bool { physical.hasPrefix(marker) }

    /// The name a session gave the temporary collection `physical` (any other name unchanged).
    public static func displayName(of physical: String) -> String {
        guard isTemporary(physical) else { return physical }
        let rest = physical.utf8.dropFirst(marker.utf8.count)
        guard let slash = rest.firstIndex(of: UInt8(ascii: "/")) else { return physical }
        return String(physical[physical.utf8.index(after: slash)...])
    }

    /// Whether `physical` belongs to this namespace.
    public func owns(_ physical: String) -> Bool { physical.hasPrefix(prefix) }

    /// Whether `physical` is a temporary name of a process other than this one's (left by a
    /// crash or a kill): nothing can reach it any more.
    public func isAbandoned(_ physical: String) -> Bool {
        guard Self.isTemporary(physical) else { return false }
        return !physical.hasPrefix("\(Self.marker)\(epoch).")
    }
}
