import RedCore
import RedEngine
import RedQuery

/// Graph projections and analytics jobs (`GraphProjection`, `AnalyticsJob`): catalog records
/// changed in their own transactions (retried on a write conflict), refused to callers whose
/// `access` cannot write — on a replica too.
extension Database {
    /// Runs `body` in a transaction, retrying write conflicts, after checking `access` may write.
    private func catalogChange<R: Sendable>(_ verb: String, access: SessionAccess, _ body: (Transaction, Int64) throws -> R) async throws -> R {
        if let refusal = access.writeRefusal(verb) { throw refusal }
        let now = options.clock.nowMilliseconds()
        return try await engine.transaction { tx in try body(tx, now) }
    }

    private func graphSource(_ name: String, _ tx: Transaction) throws {
        guard let handle = try store.open(tx, name) else { throw RedError(.undefinedCollection, "graph \"\(name)\" does not exist") }
        guard handle.schema.model == .graph else {
            throw RedError(.invalidOperation, "\(name) is a \(handle.schema.model.rawValue) collection, not a graph")
        }
    }

    // MARK: Projections

    /// Saves a projection's definition (new, or replacing one of that name, which goes back to
    /// `declared`); its source must be a graph.
    public func saveGraphProjection(_ definition: GraphProjection, access: SessionAccess) async throws -> GraphProjection {
        try definition.validate()
        return try await catalogChange("SAVE GRAPH PROJECTION", access: access) { tx, now in
            try graphSource(definition.source, tx)
            var projection = GraphProjection(name: definition.name, source: definition.source, nodeLabels: definition.nodeLabels,
                                             nodeTypes: definition.nodeTypes, edgeLabels: definition.edgeLabels)
            projection.createdAtMilliseconds = try GraphProjectionCatalog.get(definition.name, tx)?.createdAtMilliseconds ?? now
            projection.updatedAtMilliseconds = now
            try GraphProjectionCatalog.put(projection, tx)
            return projection
        }
    }

    /// Sets a projection's status (`materializing`, `stale`, `failed`).
    public func markGraphProjection(_ name: String, status: GraphProjection.Status, access: SessionAccess) async throws -> GraphProjection {
        try await catalogChange("MARK GRAPH PROJECTION", access: access) { tx, now in
            var projection = try GraphProjectionCatalog.require(name, tx)
            projection.status = status
            projection.updatedAtMilliseconds = now
            try GraphProjectionCatalog.put(projection, tx)
            return projection
        }
    }

    /// Loads the projection as graph commands see it, counts what it holds, and records that
    /// (and the LSN it was read at) with status `materialized`.
    public func materializeGraphProjection(_ name: String, access: SessionAccess) async throws -> GraphProjection {
        if let refusal = access.writeRefusal("MATERIALIZE GRAPH PROJECTION") { throw refusal }
        let lsn = engine.durableLSN
        let figures = try await session().execute("GRAPH PROPERTIES PROJECTION \(Session.identifier(name))")
        guard let row = figures.rows.first, let nodes = figures.columnIndex("node_count"), let edges = figures.columnIndex("edge_count"),
              case .integer(let nodeCount) = row[nodes], case .integer(let edgeCount) = row[edges] else {
            throw RedError(.internalError, "GRAPH PROPERTIES returned no node_count or edge_count")
        }
        return try await catalogChange("MATERIALIZE GRAPH PROJECTION", access: access) { tx, now in
            var projection = try GraphProjectionCatalog.require(name, tx)
            projection.status = .materialized
            projection.updatedAtMilliseconds = now
            projection.materializedAtMilliseconds = now
            projection.materializedLSN = lsn
            projection.nodeCount = Int(nodeCount)
            projection.edgeCount = Int(edgeCount)
            try GraphProjectionCatalog.put(projection, tx)
            return projection
        }
    }

    /// Every record of one kind, at one snapshot.
    public func catalogRecords<Record: CatalogRecord>(_ kind: Record.Type) throws -> [Record] {
        let tx = try engine.begin()
        defer { tx.rollback() }
        return try CatalogRecords<Record>.all(tx)
    }

    public func graphProjections() throws -> [GraphProjection] { try catalogRecords(GraphProjection.self) }

    // MARK: Analytics jobs

    /// Saves a job's definition (new, or replacing one of that name, which goes back to
    /// `declared`); a named projection must exist.
    public func saveAnalyticsJob(_ definition: AnalyticsJob, access: SessionAccess) async throws -> AnalyticsJob {
        try definition.validate()
        return try await catalogChange("SAVE ANALYTICS JOB", access: access) { tx, now in
            if let projection = definition.projection { _ = try GraphProjectionCatalog.require(projection, tx) }
            var job = AnalyticsJob(name: definition.name, kind: definition.kind, projection: definition.projection, parameters: definition.parameters)
            job.createdAtMilliseconds = try AnalyticsJobCatalog.get(definition.name, tx)?.createdAtMilliseconds ?? now
            job.updatedAtMilliseconds = now
            try AnalyticsJobCatalog.put(job, tx)
            return job
        }
    }

    /// Takes one step of a job's lifecycle (see `AnalyticsJob.Step`).
    public func stepAnalyticsJob(_ name: String, _ step: AnalyticsJob.Step, result: JSONValue? = nil, error: String? = nil,
                                 access: SessionAccess) async throws -> AnalyticsJob {
        if let result, result.utf8.count > AnalyticsJob.maxDetailBytes {
            throw RedError(.limitExceeded, "an analytics job's result is limited to \(AnalyticsJob.maxDetailBytes) bytes of JSON")
        }
        if let error, error.utf8.count > AnalyticsJob.maxDetailBytes {
            throw RedError(.limitExceeded, "an analytics job's error is limited to \(AnalyticsJob.maxDetailBytes) bytes")
        }
        return try await catalogChange("\(step.rawValue.uppercased()) ANALYTICS JOB", access: access) { tx, now in
            var job = try AnalyticsJobCatalog.require(name, tx)
            try job.take(step, at: now, result: result, error: error)
            try AnalyticsJobCatalog.put(job, tx)
            return job
        }
    }

    public func analyticsJobs() throws -> [AnalyticsJob] { try catalogRecords(AnalyticsJob.self) }
}
