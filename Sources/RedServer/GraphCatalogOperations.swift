import RedCore
import RedDB
import RedQuery

/// Graph projections and analytics jobs as the HTTP routes (`/graph/projections`,
/// `/graph/jobs`) and their gRPC twins return them (see `GraphProjection`, `AnalyticsJob`).
/// Lists: `{"ok", "projections" | "jobs": [...]}` in one of the views below; changes:
/// `{"ok", "projection" | "job": {...}}` with the record as stored.
extension CollectionOperations {
    enum CatalogView {
        /// Definition and state together (`GraphProjections`, `AnalyticsJobs`, the GET routes).
        case all
        /// The definitions (`Declared…`).
        case declared
        /// The states (`Operational…`).
        case operational
        /// `{name, status}` (`…Statuses`).
        case statuses
        /// The states of those needing a look: stale or failed (`…Attention`).
        case attention
    }

    var callerAccess: SessionAccess { session().access }

    /// `records` in `view`; `status` names each one's state, and stale or failed ones need attention.
    static func list<Record: CatalogRecord>(_ records: [Record], _ view: CatalogView, status: (Record) -> String) -> [JSONValue] {
        records.compactMap { record -> JSONValue? in
            switch view {
            case .all: return record.json
            case .declared: return record.definitionJSON
            case .operational: return record.stateJSON
            case .statuses: return .object([("name", .string(record.name)), ("status", .string(status(record)))])
            case .attention: return ["stale", "failed"].contains(status(record)) ? record.stateJSON : nil
            }
        }
    }

    func graphProjections(_ view: CatalogView) throws -> JSONValue {
        .object([("ok", .bool(true)), ("projections", .array(Self.list(try database.graphProjections(), view) { $0.status.rawValue }))])
    }

    /// `POST /graph/projections` `{"name", "source", "node_labels"?, "node_types"?, "edge_labels"?}`.
    func saveGraphProjection(_ body: JSONValue) async throws -> JSONValue {
        guard case .string(let name)? = body["name"], case .string(let source)? = body["source"] else {
            throw RedError(.invalidArgument, "a graph projection needs {\"name\": …, \"source\": a graph collection}")
        }
        let projection = GraphProjection(name: name, source: source, nodeLabels: try Self.strings(body, "node_labels"),
                                         nodeTypes: try Self.strings(body, "node_types"), edgeLabels: try Self.strings(body, "edge_labels"))
        return Self.projectionReply(try await database.saveGraphProjection(projection, access: callerAccess))
    }

    /// `POST /graph/projections/{name}/{materialize | materializing | stale | fail}`.
    func graphProjectionStep(_ name: String, _ step: String) async throws -> JSONValue {
        let access = callerAccess
        switch step {
        case "materialize": return Self.projectionReply(try await database.materializeGraphProjection(name, access: access))
        case "materializing": return Self.projectionReply(try await database.markGraphProjection(name, status: .materializing, access: access))
        case "stale": return Self.projectionReply(try await database.markGraphProjection(name, status: .stale, access: access))
        case "fail": return Self.projectionReply(try await database.markGraphProjection(name, status: .failed, access: access))
        default: throw RedError(.undefinedObject, "no graph projection step \(step): materialize, materializing, stale or fail")
        }
    }

    static func projectionReply(_ projection: GraphProjection) -> JSONValue { .object([("ok", .bool(true)), ("projection", projection.json)]) }

    func analyticsJobs(_ view: CatalogView) throws -> JSONValue {
        .object([("jobs", .array(Self.list(try database.analyticsJobs(), view) { $0.status.rawValue })), ("ok", .bool(true))])
    }

    /// `POST /graph/jobs` `{"name", "kind", "projection"?, "parameters"?: {…}}`.
    func saveAnalyticsJob(_ body: JSONValue) async throws -> JSONValue {
        guard case .string(let name)? = body["name"], case .string(let kind)? = body["kind"] else {
            throw RedError(.invalidArgument, "an analytics job needs {\"name\": …, \"kind\": …}")
        }
        var projection: String?
        switch body["projection"] {
        case nil, .null?: break
        case .string(let p)?: projection = p
        default: throw RedError(.invalidArgument, "projection must be a graph projection's name")
        }
        let job = AnalyticsJob(name: name, kind: kind, projection: projection, parameters: body["parameters"] ?? .object([]))
        return Self.jobReply(try await database.saveAnalyticsJob(job, access: callerAccess))
    }

    /// `POST /graph/jobs/{queue | start | complete | stale | fail}` `{"name", "result"?, "error"?}`.
    func analyticsJobStep(_ step: AnalyticsJob.Step, _ body: JSONValue) async throws -> JSONValue {
        guard case .string(let name)? = body["name"] else { throw RedError(.invalidArgument, "an analytics job step needs {\"name\": …}") }
        var error: String?
        switch body["error"] {
        case nil, .null?: break
        case .string(let text)?: error = text
        default: throw RedError(.invalidArgument, "error must be a string")
        }
        let result = body["result"].flatMap { $0 == .null ? nil : $0 }
        return Self.jobReply(try await database.stepAnalyticsJob(name, step, result: result, error: error, access: callerAccess))
    }

    static func jobReply(_ job: AnalyticsJob) -> JSONValue { .object([("job", job.json), ("ok", .bool(true))]) }

    /// The strings of the array at `key` (absent: none).
    static func strings(_ body: JSONValue, _ key: String) throws -> [String] {
        switch body[key] {
        case nil, .null?: return []
        case .array(let items)?:
            return try items.map { item in
                guard case .string(let s) = item else { throw RedError(.invalidArgument, "\(key) must be an array of strings") }
                return s
            }
        default: throw RedError(.invalidArgument, "\(key) must be an array of strings")
        }
    }
}
