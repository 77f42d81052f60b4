import Foundation
import RedAI
import RedCore
import RedEngine
import RedQuery
import RedStorage
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A clock in epoch milliseconds; injectable so tests can move time (TTL).
public protocol DatabaseClock: Sendable {
    func nowMilliseconds() -> Int64
    /// The same reading in microseconds, the resolution of SQL's `now()`.
    func nowMicroseconds() -> Int64
}

extension DatabaseClock {
    public func nowMicroseconds() -> Int64 { nowMilliseconds() * 1000 }
}

/// The wall clock.
public struct SystemClock: DatabaseClock {
    /// The system clock.
    public init() {}
    /// Milliseconds since the Unix epoch, from CLOCK_REALTIME.
    public func nowMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
    /// Microseconds since the Unix epoch, from CLOCK_REALTIME.
    public func nowMicroseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}

/// A clock that moves only when told to (tests and deterministic replays).
public final class ManualClock: DatabaseClock {
    private let current: Atomic<Int64>
    /// A clock reading `milliseconds` until advanced.
    ///
    /// ```swift
    /// let clock = ManualClock(milliseconds: 0)
    /// var options = DatabaseOptions(); options.clock = clock
    /// clock.advance(milliseconds: 5_000)   // rows with a 5 s TTL are now expired
    /// ```
    public init(milliseconds: Int64) { current = Atomic(milliseconds) }
    /// The current reading.
    public func nowMilliseconds() -> Int64 { current.load(ordering: .relaxed) }
    /// Moves the clock forward.
    public func advance(milliseconds: Int64) { current.add(milliseconds, ordering: .relaxed) }
}

/// Options for `Database.open`.
public struct DatabaseOptions: Sendable {
    /// Storage engine settings (sync mode, cache size, checkpoints …).
    public var engine = EngineOptions()
    /// The clock behind NOW() and TTL expiry.
    public var clock: any DatabaseClock = SystemClock()
    /// Parser limits applied to every statement.
    public var parserLimits = ParserLimits()
    /// Per-statement resource limits (rows an operator may hold in memory).
    public var executionLimits = ExecutionLimits()
    /// Statements kept parsed in the prepared-statement cache (keyed by text).
    public var statementCacheEntries = 256
    /// How often expired (TTL) items are reclaimed in the background; 0 disables it
    /// (expired items are invisible either way; `VACUUM` reclaims them on demand).
    public var expirySweepIntervalMilliseconds = 60_000
    /// Where AI providers and their keys come from (`REDDB_AI_PROVIDER`, `REDDB_OPENAI_API_KEY`
    /// …); by default this process's environment, plus `red_config` keys read at each call.
    public var aiEnvironment: [String: String] = ProcessInfo.processInfo.environment
    /// The defaults: durable commits, a 64 MiB page cache, the wall clock.
    public init() {}
}

/// An open database: one `.rdb` file (or memory), shared by any number of sessions.
///
/// ```swift
/// let db = try await Database.open(path: "data.rdb")
/// let session = db.session()
/// let result = try await session.execute("SELECT 1 + 1 AS two")
/// ```
public final class Database: Sendable {
    /// The storage engine underneath (for statistics, checkpoints, raw key-value access).
    public let engine: StorageEngine
    /// The options the database was opened with.
    public let options: DatabaseOptions
    let store: TableStore
    let statementCache: StatementCache
    /// Embeddings, prompts and ASK (`SEARCH SIMILAR TEXT`, `ASK`, HTTP/gRPC `/ai/*`).
    public let ai: AIService
    /// On a replica: sends an ASK's audit row (column → JSON value) to the primary.
    public let askAuditForwarder = Mutex<(@Sendable (JSONValue) async throws -> Void)?>(nil)

    private let sweeper = Mutex<Task<Void, Never>?>(nil)
    let configReader: ConfigReaderBox
    /// Every session's `pg_advisory_lock` locks (PG-wire's `pg_locks` lists them).
    public let locks = LockTable()
    /// Numbers sessions: their lock-owner ids, and the process ids of sessions no PG-wire
    /// connection names (`firstProcessID` up, clear of PG-wire's small connection ids).
    private let sessionCount = Atomic<UInt64>(0)
    /// New each time the database opens: it names this process's temporary tables apart from
    /// those a process before it left behind (`TemporaryNamespace`).
    let temporarySessions = TemporaryNamespace.LiveSessions()
    static let firstProcessID: Int32 = 1 << 30

    /// One `red_config` key as text (JSON other than a string as its JSON text); nil when the
    /// key or `red_config` is absent. Read at each call: a change takes effect at once.
    public func configValue(_ key: String) async throws -> String? {
        try await configReader.read(key)
    }

    init(engine: StorageEngine, options: DatabaseOptions) {
        self.engine = engine
        self.options = options
        self.store = TableStore(engine: engine)
        store.install(indexCompiler: SQLIndexPrograms())
        self.statementCache = StatementCache(capacity: options.statementCacheEntries, limits: options.parserLimits)
        let config = ConfigReaderBox()
        self.configReader = config
        self.ai = AIService(settings: AISettings(environment: options.aiEnvironment, config: { key in try await config.read(key) },
                                                 protected: { key in try await config.readProtected(key) }))
        config.database.withLock { $0 = WeakDatabase(self) }
        if options.engine.backgroundWork, options.expirySweepIntervalMilliseconds > 0 {
            let interval = options.expirySweepIntervalMilliseconds
            sweeper.withLock { $0 = Task { [weak self] in await Self.sweepExpired(self, every: interval) } }
        }
    }

    /// Reclaims expired items every `interval` ms until cancelled (VACUUM in its own session).
    static func sweepExpired(_ database: Database?, every interval: Int) async {
        weak var weakDatabase = database
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(interval))
            guard let db = weakDatabase, !Task.isCancelled else { return }
            _ = try? await db.session().execute("VACUUM")
        }
    }

    /// Opens (creating if needed) the database at `path`, recovering from its WAL.
    public static func open(path: String, options: DatabaseOptions = DatabaseOptions()) async throws -> Database {
        try await upgraded(Database(engine: try await StorageEngine.open(path: path, options: options.engine), options: options))
    }

    /// Opens the database through a given file system (tests pass a `SimulatedFileSystem` to crash it).
    public static func open(path: String, options: DatabaseOptions = DatabaseOptions(), fileSystem: any FileSystem) async throws -> Database {
        try await upgraded(Database(engine: try await StorageEngine.open(path: path, options: options.engine, fileSystem: fileSystem),
                                    options: options))
    }

    /// A database kept in memory only: nothing is written to disk and everything is lost at close.
    ///
    /// ```swift
    /// let db = try await Database.inMemory()
    /// ```
    public static func inMemory(options: DatabaseOptions = DatabaseOptions()) async throws -> Database {
        var options = options
        options.engine.syncMode = .off
        options.engine.backgroundWork = false
        let fileSystem = SimulatedFileSystem()
        try fileSystem.createDirectory("/memory")
        let engine = try await StorageEngine.open(path: "/memory/data.rdb", options: options.engine, fileSystem: fileSystem)
        return Database(engine: engine, options: options)
    }

    /// Runs the background work (checkpoints, version cleanup and the expired-item sweep) until
    /// the calling task is cancelled — for hosts that own their tasks, like `red server` under its
    /// `ServiceGroup`. Open the database with `options.engine.backgroundWork = false` to use it.
    public func runBackgroundWork() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.engine.runBackgroundWork() }
            if options.expirySweepIntervalMilliseconds > 0 {
                let interval = options.expirySweepIntervalMilliseconds
                group.addTask { await Self.sweepExpired(self, every: interval) }
            }
        }
    }

    /// A new session: a connection's worth of state (its open transaction).
    public func session() -> Session {
        let number = sessionCount.add(1, ordering: .relaxed).newValue
        return Session(database: self, number: number,
                       processID: Self.firstProcessID &+ Int32(truncatingIfNeeded: number % UInt64(Int32.max - Self.firstProcessID)))
    }

    /// Drops the temporary tables of a session that has ended. If that fails (the database is
    /// closing), a later VACUUM drops them: the session no longer counts as live.
    func dropTemporaryTables(of namespace: TemporaryNamespace) async {
        _ = try? await engine.transaction { tx in
            tx.temporaryNamespace = namespace
            return try store.dropTemporaryTables(tx) { namespace.owns($0) }
        }
        namespace.ended()
    }

    /// Drops the temporary tables of every session of this process: once the database closes,
    /// nothing can reach them (a session still open, or one whose end has not dropped them yet).
    /// Looked for first with a read: a replica, whose sessions make none, writes nothing.
    func dropTemporaryTablesOfThisProcess() async {
        let ours = temporarySessions.prefix
        guard let tx = try? engine.begin() else { return }
        let any = (try? tx.collections(startingWith: ours).isEmpty == false) ?? false
        tx.rollback()
        guard any else { return }
        _ = try? await engine.transaction { tx in try store.dropTemporaryTables(tx) { $0.hasPrefix(ours) } }
    }

    /// Checkpoints and closes the files. Sessions must not be used afterwards. Their temporary
    /// tables are dropped first.
    public func close() async throws {
        let task = sweeper.withLock { t -> Task<Void, Never>? in defer { t = nil }; return t }
        task?.cancel()
        await task?.value
        await dropTemporaryTablesOfThisProcess()
        try await engine.close()
    }
}

/// Parsed statements by text, so repeated queries skip the parser.
final class StatementCache: Sendable {
    let capacity: Int
    let limits: ParserLimits

    /// What one text parsed to. The parameter count is what describing a statement for a
    /// driver's Parse needs besides the statements (PG-wire asks for it on every Parse);
    /// nil until first asked for. `descriptions` are the text's descriptions by the parameter
    /// types the client declared, each with the definitions version it was planned against.
    private struct Entry {
        var statements: [(Statement, String)]
        var parameterCount: Int?
        var descriptions: [[DataType?]: (version: UInt64, description: StatementDescription)] = [:]
        /// The plan of a one-statement text, kept between executions (see `PlanMemo`).
        let plans: PlanMemo?
    }

    /// Declared-type variants kept per text: a driver declares the same types each time, so
    /// more only means a client varying them, and the first ones are then as good as any.
    static let maxDescriptionsPerText = 4

    private let entries = Mutex<[String: Entry]>([:])

    init(capacity: Int, limits: ParserLimits) {
        self.capacity = capacity
        self.limits = limits
    }

    /// Texts longer than this are parsed every time: caching them would cost memory, and
    /// hashing one under the lock would hold up every other lookup (an event loop's too).
    static let maxCachedTextBytes = 16_384

    func statements(for text: String) throws -> [(Statement, String)] {
        try statementsAndPlans(for: text).statements
    }

    /// The statements of `text` and, for a cached one-statement text, where its plan is kept
    /// between executions (see `PlanMemo`): one lookup for both, as every execution needs both.
    func statementsAndPlans(for text: String) throws -> (statements: [(Statement, String)], plans: PlanMemo?) {
        let cacheable = text.utf8.count <= Self.maxCachedTextBytes
        if cacheable, let hit = entries.withLock({ $0[text] }) { return (hit.statements, hit.plans) }
        let parsed = try Parser.parseScript(text, limits: limits)
        guard cacheable else { return (parsed, nil) }
        let entry = Entry(statements: parsed, plans: parsed.count == 1 ? PlanMemo() : nil)
        entries.withLock { cache in
            if cache.count >= capacity { cache.removeAll(keepingCapacity: true) }
            cache[text] = entry
        }
        return (parsed, entry.plans)
    }

    /// `Parser.parameterCount(in:)` of `text`, remembered with its statements.
    func parameterCount(for text: String) throws -> Int {
        let cacheable = text.utf8.count <= Self.maxCachedTextBytes
        if cacheable, let hit = entries.withLock({ $0[text]?.parameterCount }) { return hit }
        let count = try Parser.parameterCount(in: text, limits: limits)
        // Only texts already cached (by `statements(for:)`) take it; parsing is what admits a text.
        if cacheable { entries.withLock { $0[text]?.parameterCount = count } }
        return count
    }

    /// The description of `text` remembered for `declared` types, if it was made against
    /// definitions `version` (`StorageEngine.definitionState`).
    ///
    /// Why: a PostgreSQL driver's extended protocol (PostgresNIO, psycopg, JDBC) sends Parse
    /// and Describe before every execution, and describing plans the statement, about a tenth
    /// of the server's time for a short query. A description depends only on the text, the
    /// declared types and the definitions it is planned against (collections, their schemas
    /// and indexes, views), never on rows or the session, so it stays right until a commit
    /// changes a definition, which moves the version on.
    func description(for text: String, declared: [DataType?], version: UInt64) -> StatementDescription? {
        guard text.utf8.count <= Self.maxCachedTextBytes,
              let hit = entries.withLock({ $0[text]?.descriptions[declared] }), hit.version == version else { return nil }
        return hit.description
    }

    /// Remembers `description` of an already cached text, made against definitions `version`.
    func remember(_ description: StatementDescription, for text: String, declared: [DataType?], version: UInt64) {
        guard text.utf8.count <= Self.maxCachedTextBytes else { return }
        entries.withLock { cache in
            guard let kept = cache[text]?.descriptions else { return }
            if kept[declared] == nil, kept.count >= Self.maxDescriptionsPerText { return }
            cache[text]?.descriptions[declared] = (version, description)
        }
    }
}
