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
/// - its session's end drops it (`Session` deinit, DISCARD); a VACUUM drops what such a drop
///   missed (`isAbandoned`): tables of a session that has ended, and of an earlier process —
///   `epoch` is new each time a database opens, so a session that died with its process is
///   never mistaken for a live one of the same number.
///
/// Changes to temporary tables are written to the WAL and reach replicas like any other (the
/// replica's copy is unreachable and dropped with the primary's); they stay out of the change
/// feed.
public final class TemporaryNamespace: Sendable {
    /// `__temp/`: the start of every temporary collection's and sequence's name.
    public static let marker = "__temp/"
    /// `pg_temp.`: a name the parser kept qualified (`pg_temp.t`), which means the session's
    /// temporary table (or sequence) and nothing else.
    public static let qualifier = "pg_temp."

    /// `name` without `pg_temp.`, and whether it had it.
    public static func unqualified(_ name: String) -> (name: String, temporaryOnly: Bool) {
        name.hasPrefix(qualifier) ? (String(name.dropFirst(qualifier.count)), true) : (name, false)
    }

    /// `__temp/<epoch>.<session>/`.
    public let prefix: String
    /// The session's number (PostgreSQL shows the tables in schema `pg_temp_<session>`).
    public let session: UInt64
    /// This process's sessions that have (had) temporary tables and have not ended.
    let live: LiveSessions
    var epoch: UInt64 { live.epoch }
    /// Set once the session has created a temporary table, so a session that never did
    /// looks nothing up (`TableStore.open`).
    private let used = Atomic<Bool>(false)
    /// How many times a name has resolved to one of the tables: CREATE VIEW tells from it
    /// whether its query reads one.
    private let openCounter = Atomic<Int>(0)
    /// What each table's `ON COMMIT` clause asks for at the end of every transaction, by
    /// collection id: a rename keeps it, and a dropped or rolled-back table's id never comes
    /// back (a restored one's is its own again).
    private let actions = Mutex<[UInt32: OnCommit]>([:])

    /// What happens to a temporary table when a transaction commits (PostgreSQL's `ON COMMIT`).
    public enum OnCommit: Sendable, Equatable {
        /// Nothing: the rows stay until the session ends (the default).
        case preserveRows
        /// Its rows are deleted, as by TRUNCATE.
        case deleteRows
        /// The table is dropped.
        case drop
    }

    /// The sessions of one open database that have temporary tables, and the epoch that names
    /// them apart from an earlier process's (new each time the database opens).
    public final class LiveSessions: Sendable {
        let epoch: UInt64
        private let sessions = Mutex<Set<UInt64>>([])

        public init(epoch: UInt64 = UInt64.random(in: 1...UInt64.max)) { self.epoch = epoch }

        /// `__temp/<epoch>.`: the start of the names of every temporary table of this process.
        public var prefix: String { "\(TemporaryNamespace.marker)\(epoch)." }

        func insert(_ session: UInt64) { _ = sessions.withLock { $0.insert(session) } }
        func remove(_ session: UInt64) { _ = sessions.withLock { $0.remove(session) } }
        func contains(_ session: UInt64) -> Bool { sessions.withLock { $0.contains(session) } }
    }

    public init(sessions: LiveSessions, session: UInt64) {
        live = sessions
        self.session = session
        prefix = "\(Self.marker)\(sessions.epoch).\(session)/"
    }

    public var isUsed: Bool { used.load(ordering: .relaxed) }

    /// How many times `TableStore.open` has found one of the tables so far.
    public var opens: Int { openCounter.load(ordering: .relaxed) }

    func noteOpened() { openCounter.add(1, ordering: .relaxed) }

    /// Makes `TableStore.open` look names up here (before the first table is created), and
    /// counts the session among the live ones (`isAbandoned`).
    public func markUsed() {
        if !used.exchange(true, ordering: .relaxed) { live.insert(session) }
    }

    /// The session has ended: from now on its tables are abandoned, for any VACUUM to drop if
    /// the session's own drop (`Database.dropTemporaryTables`) did not.
    public func ended() { live.remove(session) }

    /// The collection name of this session's temporary table `name`.
    public func physicalName(_ name: String) -> String { prefix + name }

    /// Notes the ON COMMIT action of the new table `collection`.
    public func created(_ collection: Collection, onCommit: OnCommit) {
        markUsed()
        actions.withLock { actions in
            if onCommit == .preserveRows { actions[collection.id] = nil } else { actions[collection.id] = onCommit }
        }
    }

    /// The ON COMMIT actions to run before a commit, by collection id (a table may since have
    /// been dropped, or its CREATE rolled back: the caller finds each).
    public var onCommitActions: [(collection: UInt32, action: OnCommit)] {
        actions.withLock { $0.map { ($0.key, $0.value) }.sorted { $0.collection < $1.collection } }
    }

    /// Whether any table has an ON COMMIT action to run.
    public var hasOnCommitActions: Bool { isUsed && actions.withLock { !$0.isEmpty } }  // no lock for most sessions

    /// Forgets the ON COMMIT action of the table `collection` (it is gone).
    public func forgetAction(of collection: UInt32) { _ = actions.withLock { $0.removeValue(forKey: collection) } }

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

    /// Whether `physical` is a temporary name nothing can reach any more: one of another process
    /// (left by a crash or a kill), or of a session of this one that has ended.
    public func isAbandoned(_ physical: String) -> Bool {
        guard Self.isTemporary(physical) else { return false }
        let ours = "\(Self.marker)\(epoch)."
        guard physical.hasPrefix(ours) else { return true }
        let rest = physical.dropFirst(ours.count)
        guard let slash = rest.firstIndex(of: "/"), let session = UInt64(rest[..<slash]) else { return true }
        return !live.contains(session)
    }
}
