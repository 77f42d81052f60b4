import CoreMetrics
import Metrics
import Prometheus
import RedAI
import RedDB
import Synchronization

/// The server's metrics, recorded through swift-metrics into a Prometheus
/// registry that `/metrics` renders.
///
/// The registry is owned here rather than bootstrapped globally, so several
/// servers (tests) can live in one process. Engine figures (WAL, cache,
/// commits) are read from `StorageEngine.statistics` at scrape time and
/// rendered as gauges/counters after the registry's own families.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    let connectionsOpened: Metrics.Counter
    let connectionsActive: Metrics.Meter
    private let queryCounters = Mutex<[CounterKey: Metrics.Counter]>([:])
    private let errorCounters = Mutex<[CounterKey: Metrics.Counter]>([:])
    private let eventLoopCounters = Mutex<[CounterKey: Metrics.Counter]>([:])
    private let aiCounters = Mutex<[CounterKey: Metrics.Counter]>([:])
    private let aiRetryCounters = Mutex<[CounterKey: Metrics.Counter]>([:])
    private let aiDurations = Mutex<[String: Metrics.Recorder]>([:])
    private let aiModels = Mutex<Set<String>>([])
    static let maxAIModelSeries = 32
    let statementDuration: Metrics.Timer
    let httpRequests: Metrics.Counter

    init() {
        factory = PrometheusMetricsFactory(registry: registry)
        connectionsOpened = Metrics.Counter(label: "reddb_connections_opened_total", factory: factory)
        connectionsActive = Metrics.Meter(label: "reddb_connections_active", factory: factory)
        statementDuration = Metrics.Timer(label: "reddb_statement_duration_seconds", factory: factory)
        httpRequests = Metrics.Counter(label: "reddb_http_requests_total", factory: factory)
    }

    /// Counts one statement by surface and kind (`select`, `insert`, `create` …).
    func recordStatement(surface: String, kind: String, nanoseconds: Int64) {
        counter("reddb_queries_total", CounterKey(surface, kind), in: queryCounters) { [("surface", surface), ("kind", kind)] }.increment()
        statementDuration.recordNanoseconds(nanoseconds)
    }

    /// Counts a statement offered to run on its connection's event loop
    /// (`Session.executeWithoutWaiting`): `answered` there (then also counted and timed as any
    /// statement), or `declined` (nil) and run on the shared pool.
    func recordEventLoopAttempt(surface: String, result: QueryResult?, started: ContinuousClock.Instant) {
        let outcome = result != nil ? "answered" : "declined"
        counter("reddb_event_loop_statements_total", CounterKey(surface, outcome), in: eventLoopCounters) {
            [("surface", surface), ("outcome", outcome)]
        }.increment()
        if let result { recordStatement(surface: surface, kind: result.statementType, nanoseconds: (ContinuousClock.now - started).wholeNanoseconds) }
    }

    /// Counts one failed statement by surface and SQLSTATE.
    func recordError(surface: String, sqlState: String) {
        counter("reddb_errors_total", CounterKey(surface, sqlState), in: errorCounters) { [("surface", surface), ("sqlstate", sqlState)] }.increment()
    }

    /// One AI provider request (spec ops §4.9): `reddb_ai_provider_requests_total{provider,model,status}`,
    /// `reddb_ai_provider_request_duration_ms{provider}` and `reddb_ai_provider_retries_total{provider,reason}`.
    /// Labels are bounded: a custom provider is `custom` (its URL may hold credentials), and
    /// past `maxAIModelSeries` distinct models (callers name them) the rest count as `other`.
    func recordAIRequest(_ record: AITransport.RequestRecord) {
        var r = record
        if r.provider.hasPrefix("http://") || r.provider.hasPrefix("https://") { r.provider = "custom" }
        r.model = aiModels.withLock { models in
            if models.contains(r.model) { return r.model }
            guard models.count < Self.maxAIModelSeries else { return "other" }
            models.insert(r.model)
            return r.model
        }
        counter("reddb_ai_provider_requests_total", CounterKey(r.provider, r.model, r.outcome), in: aiCounters) {
            [("provider", r.provider), ("model", r.model), ("status", r.outcome)]
        }.increment()
        if let reason = r.retryReason {
            counter("reddb_ai_provider_retries_total", CounterKey(r.provider, reason), in: aiRetryCounters) {
                [("provider", r.provider), ("reason", reason)]
            }.increment()
        }
        let recorder = aiDurations.withLock { recorders in
            if let existing = recorders[r.provider] { return existing }
            let created = Metrics.Recorder(label: "reddb_ai_provider_request_duration_ms", dimensions: [("provider", r.provider)], aggregate: true, factory: factory)
            recorders[r.provider] = created
            return created
        }
        recorder.record(Double(r.nanoseconds) / 1e6)
    }

    /// The counter of `label` whose dimension values are `key`, created on first use (with the
    /// `dimensions` named and valued as in `key`) and kept in `cache`. The dimensions are built
    /// only then: an array per statement was half of this call's cost.
    private func counter(_ label: String, _ key: CounterKey, in cache: borrowing Mutex<[CounterKey: Metrics.Counter]>,
                         dimensions: () -> [(String, String)]) -> Metrics.Counter {
        cache.withLock { counters in
            if let c = counters[key] { return c }
            let c = Metrics.Counter(label: label, dimensions: dimensions(), factory: factory)
            counters[key] = c
            return c
        }
    }

    /// A counter's dimension values (at most three), as its cache's key: hashing them needs no
    /// string built per statement (joining them was about 1 % of a `SELECT 1` round trip).
    struct CounterKey: Hashable {
        let first: String, second: String, third: String

        init(_ first: String, _ second: String, _ third: String = "") {
            self.first = first
            self.second = second
            self.third = third
        }
    }

    /// `reddb_health_status` as upstream numbers it (spec §6.4), so that the same alert rules
    /// work: 2 ready, 1 draining, 0 starting, stopped, or with a failed storage engine (it
    /// accepts no writes until restarted).
    static func healthStatus(phase: ServerPhase, failed: Bool) -> Int {
        if failed { return 0 }
        switch phase {
        case .ready: return 2
        case .draining: return 1
        case .starting, .stopped: return 0
        }
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric.
    func render(database: Database, uptimeSeconds: Double, phase: ServerPhase) -> String {
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        var text = String(decoding: bytes, as: UTF8.self)
        let stats = database.engine.statistics
        func family(_ name: String, _ type: String, _ help: String, _ value: String) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        family("reddb_uptime_seconds", "gauge", "Seconds since the server started.", String(uptimeSeconds))
        family("reddb_health_status", "gauge", "0 down or starting, 1 degraded or draining, 2 ready.",
               String(Self.healthStatus(phase: phase, failed: database.engine.failureReason != nil)))
        text += "# HELP reddb_phase Lifecycle phase (1 for the current one).\n# TYPE reddb_phase gauge\n"
        for p in [ServerPhase.starting, .ready, .draining, .stopped] {
            text += "reddb_phase{phase=\"\(p.rawValue)\"} \(p == phase ? 1 : 0)\n"
        }
        family("reddb_commits_total", "counter", "Committed write transactions.", String(stats.commits))
        family("reddb_serialization_conflicts_total", "counter", "Commits refused by a write-write conflict (40001).", String(stats.conflicts))
        family("reddb_checkpoints_total", "counter", "Checkpoints completed.", String(stats.checkpoints))
        family("reddb_wal_current_lsn", "gauge", "WAL bytes appended (the newest LSN).", String(stats.walAppendedLSN))
        family("reddb_wal_durable_lsn", "gauge", "WAL bytes known durable.", String(stats.walDurableLSN))
        family("reddb_wal_bytes_since_checkpoint", "gauge", "WAL bytes a crash would replay.", String(stats.walBytesSinceCheckpoint))
        family("reddb_wal_fsyncs_total", "counter", "WAL fsyncs (one per group commit).", String(stats.wal.fsyncs))
        family("reddb_wal_fsync_seconds_total", "counter", "Time spent in WAL fsync.", String(Double(stats.wal.fsyncNanoseconds) / 1e9))
        let syncs = max(stats.wal.fsyncs, 1)
        family("reddb_commit_fsync_latency_seconds", "gauge", "Mean WAL fsync latency, the floor of commit latency.",
               String(Double(stats.wal.fsyncNanoseconds) / Double(syncs) / 1e9))
        family("reddb_cache_hits_total", "counter", "Page cache hits.", String(stats.cache.hits))
        family("reddb_cache_misses_total", "counter", "Page cache misses (page reads from disk).", String(stats.cache.misses))
        let lookups = stats.cache.hits + stats.cache.misses
        family("reddb_cache_hit_ratio", "gauge", "Page cache hits / lookups since start.",
               String(lookups == 0 ? 1.0 : Double(stats.cache.hits) / Double(lookups)))
        family("reddb_cache_resident_bytes", "gauge", "Bytes of pages held by the cache.", String(stats.cache.residentBytes))
        family("reddb_pages", "gauge", "Pages in the main file.", String(stats.pageCount))
        return text
    }
}
