import RedCore

/// Sizes a duel runs at (`--items`, `--group-rows`, `--connections`).
public struct DuelSizes: Sendable, Codable {
    /// Rows per table and operations per round of the per-row scenarios.
    public var items: Int
    /// Rows in the table `aggregate_group` groups.
    public var groupRows: Int
    /// Client connections of `concurrent`.
    public var connections: Int

    public init(items: Int, groupRows: Int, connections: Int) {
        self.items = items
        self.groupRows = groupRows
        self.connections = connections
    }
}

/// What one timed round of a scenario did on one engine.
struct DuelSample: Sendable {
    /// Operations the figure counts (statements, or rows for the bulk scenarios).
    var operations = 0
    /// Wall time of the timed part.
    var seconds = 0.0
    /// Latency of each statement, in nanoseconds.
    var latencies: [Int64] = []
    /// Rows returned or affected: must be equal on both engines.
    var rows = 0
    /// Statements retried after a serialization failure (40001).
    var retries = 0
}

/// Times statements one by one, keeping each latency.
struct StatementTimer {
    private let clock = ContinuousClock()
    private var start: ContinuousClock.Instant
    private(set) var latencies: [Int64] = []

    init(expected: Int = 0) {
        start = clock.now
        latencies.reserveCapacity(expected)
    }

    /// Restarts the wall clock (after untimed preparation).
    mutating func begin() { start = clock.now }

    mutating func time<T>(_ body: () async throws -> T) async rethrows -> T {
        let before = clock.now
        let result = try await body()
        latencies.append((clock.now - before).wholeNanoseconds)
        return result
    }

    var elapsedSeconds: Double {
        let elapsed = clock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    func sample(operations: Int, rows: Int, retries: Int = 0) -> DuelSample {
        DuelSample(operations: operations, seconds: elapsedSeconds, latencies: latencies, rows: rows, retries: retries)
    }
}

/// One duel scenario: untimed preparation, then a timed body run on one engine.
///
/// `prepareOnce` runs before the warm-up (for read-only scenarios over loaded tables);
/// `prepareRound` before every round (for scenarios that consume their table).
struct DuelScenario: Sendable {
    typealias Step = @Sendable (DuelConnection, DuelSizes) async throws -> Void
    typealias Body = @Sendable (DuelConnection, DuelEndpoint, DuelSizes) async throws -> DuelSample

    let name: String
    /// What one operation is, for the table's header ("inserts", "rows", "queries").
    let unit: String
    let summary: String
    var prepareOnce: Step? = nil
    var prepareRound: Step? = nil
    let run: Body
}
