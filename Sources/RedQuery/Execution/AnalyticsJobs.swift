import RedCore
import RedEngine

/// An analytics job (spec protocols §3.3 `SaveAnalyticsJob` …, HTTP `/graph/jobs`): a named
/// graph analytics run — `kind` one of the whole-graph commands (`pagerank`, `centrality`,
/// `community`, …), optionally over a graph `projection`, with free `parameters` — and where
/// it stands. The server keeps the record and checks each step; whoever runs the job (a
/// worker, a scheduler, an operator with `GRAPH …`) reports its steps:
/// `declared` → `queued` → `running` → `completed` (with a `result` summary) or `failed`
/// (with an `error`); a completed job can be marked `stale` and queued again, as can a failed
/// one. Upstream names these rpcs and documents no more; this is our reading of the names.
///
/// Stored in the catalog under `analytics_job/<name>` as JSON (`CatalogRecords`).
public struct AnalyticsJob: CatalogRecord, Equatable {
    public static let kindName = "analytics job"
    public static let keyPrefix = "analytics_job/"

    public enum Status: String, Sendable, CaseIterable { case declared, queued, running, completed, stale, failed }

    /// The steps, and the states each may be taken from.
    public enum Step: String, Sendable {
        case queue, start, complete, stale, fail

        var target: Status {
            switch self {
            case .queue: .queued
            case .start: .running
            case .complete: .completed
            case .stale: .stale
            case .fail: .failed
            }
        }

        var from: Set<Status> {
            switch self {
            case .queue: [.declared, .completed, .stale, .failed]
            case .start: [.declared, .queued]
            case .complete: [.running]
            case .stale: [.completed]
            case .fail: [.queued, .running]
            }
        }
    }

    /// The analytics a job may name.
    public static let kinds: Set<String> = ["centrality", "pagerank", "community", "components", "cycles", "clustering",
                                            "topological_sort", "properties", "hits", "personalized_pagerank"]
    public static let maxNameBytes = 128
    /// Largest `parameters`, `result` or `error`, encoded.
    public static let maxDetailBytes = 64 << 10

    public var name: String
    public var kind: String
    public var projection: String?
    public var parameters: JSONValue = .object([])
    public var status = Status.declared
    public var createdAtMilliseconds: Int64 = 0
    public var updatedAtMilliseconds: Int64 = 0
    public var queuedAtMilliseconds: Int64?
    public var startedAtMilliseconds: Int64?
    public var finishedAtMilliseconds: Int64?
    public var result: JSONValue?
    public var error: String?

    public init(name: String, kind: String, projection: String? = nil, parameters: JSONValue = .object([])) {
        self.name = name
        self.kind = kind
        self.projection = projection
        self.parameters = parameters
    }

    /// Takes `step` at `now`, or 55000 (object_not_in_prerequisite_state) from a state it
    /// may not be taken from.
    public mutating func take(_ step: Step, at now: Int64, result: JSONValue? = nil, error: String? = nil) throws {
        guard step.from.contains(status) else {
            throw RedError(.objectNotInPrerequisiteState,
                           "analytics job \(name) is \(status.rawValue); it can \(step.rawValue) only when \(step.from.map(\.rawValue).sorted().joined(separator: " or "))")
        }
        status = step.target
        updatedAtMilliseconds = now
        switch step {
        case .queue:
            queuedAtMilliseconds = now
            startedAtMilliseconds = nil
            finishedAtMilliseconds = nil
            self.result = nil
            self.error = nil
        case .start:
            startedAtMilliseconds = now
        case .complete:
            finishedAtMilliseconds = now
            self.result = result
        case .fail:
            finishedAtMilliseconds = now
            self.error = error ?? "failed"
        case .stale:
            break
        }
    }

    /// The definition: what `DeclaredAnalyticsJobs` lists.
    public var definitionJSON: JSONValue {
        .object([("created_at_ms", .integer(createdAtMilliseconds)), ("kind", .string(kind)), ("name", .string(name)),
                 ("parameters", parameters), ("projection", projection.map { .string($0) } ?? .null)])
    }

    /// The state: what `OperationalAnalyticsJobs` lists.
    public var stateJSON: JSONValue {
        .object([("error", error.map { .string($0) } ?? .null), ("finished_at_ms", finishedAtMilliseconds.map { .integer($0) } ?? .null),
                 ("name", .string(name)), ("queued_at_ms", queuedAtMilliseconds.map { .integer($0) } ?? .null),
                 ("result", result ?? .null), ("started_at_ms", startedAtMilliseconds.map { .integer($0) } ?? .null),
                 ("status", .string(status.rawValue)), ("updated_at_ms", .integer(updatedAtMilliseconds))])
    }

    public init(json: JSONValue) throws {
        func integer(_ key: String) -> Int64? { if case .integer(let n)? = json[key] { return n } else { return nil } }
        guard case .string(let name)? = json["name"], case .string(let kind)? = json["kind"],
              case .string(let statusText)? = json["status"], let status = Status(rawValue: statusText) else {
            throw RedError(.dataCorrupted, "a stored analytics job does not decode")
        }
        var projection: String?
        if case .string(let p)? = json["projection"] { projection = p }
        self.init(name: name, kind: kind, projection: projection, parameters: json["parameters"] ?? .object([]))
        self.status = status
        createdAtMilliseconds = integer("created_at_ms") ?? 0
        updatedAtMilliseconds = integer("updated_at_ms") ?? 0
        queuedAtMilliseconds = integer("queued_at_ms")
        startedAtMilliseconds = integer("started_at_ms")
        finishedAtMilliseconds = integer("finished_at_ms")
        if let stored = json["result"], stored != .null { result = stored }
        if case .string(let e)? = json["error"] { error = e }
    }

    /// Checks a definition before it is saved.
    public func validate() throws {
        guard !name.isEmpty, name.utf8.count <= Self.maxNameBytes else {
            throw RedError(.invalidArgument, "an analytics job needs a name of 1 to \(Self.maxNameBytes) bytes")
        }
        guard Self.kinds.contains(kind) else {
            throw RedError(.invalidArgument, "analytics job kind must be one of \(Self.kinds.sorted().joined(separator: ", "))")
        }
        guard case .object = parameters, parameters.utf8.count <= Self.maxDetailBytes else {
            throw RedError(.invalidArgument, "analytics job parameters must be a JSON object of at most \(Self.maxDetailBytes) bytes")
        }
    }
}
