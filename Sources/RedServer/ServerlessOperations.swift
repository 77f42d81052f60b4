import RedCore
import RedDB
import RedEngine

/// Readiness gates and the serverless lifecycle (spec protocols §4.5, ops §6.5): the HTTP routes
/// `/ready/{query,write,repair}`, `/ready/serverless[/…]`, `POST /serverless/{attach,warmup,reclaim}`
/// and gRPC `ServerlessAttach`, `ServerlessWarmup`, `ServerlessReclaim`.
///
/// Gates (ours; upstream names them without saying what each checks):
/// - `query`: the server is serving (phase ready or draining) and storage has not failed;
/// - `write`: `query`, and this server takes writes: not a replica, not fenced (writer lease);
/// - `repair`: storage has not failed and the server has not stopped, so checkpoints,
///   VACUUM and REINDEX can run.
///
/// The lifecycle is for a server that sleeps between bursts (scale to zero): `reclaim` before
/// the idle spell (a checkpoint, so recovery is short, then the cache lets go of clean pages),
/// `attach` on waking (take or refresh the writer lease when one is required, report the
/// gates), `warmup` then (read the catalog, collections and indexes into the cache, up to its
/// budget). Each is a write operation: refused to readers and on a replica.
extension ServerContext {
    enum ReadinessGate: String, CaseIterable { case query, write, repair }

    /// Whether `gate` is open now, and why not.
    func readiness(_ gate: ReadinessGate) -> (ready: Bool, reason: String?) {
        let serving = phase == .ready || phase == .draining
        if let failure = database.engine.failureReason { return (false, "storage failed: \(failure.message)") }
        switch gate {
        case .query:
            return serving ? (true, nil) : (false, "server is \(phase.rawValue)")
        case .write:
            guard serving else { return (false, "server is \(phase.rawValue)") }
            if let standbyReason { return (false, standbyReason) }
            if let fence = database.engine.writeFenceReason { return (false, fence.message) }
            return (true, nil)
        case .repair:
            return phase == .stopped ? (false, "server is \(phase.rawValue)") : (true, nil)
        }
    }

    func readinessJSON(_ gate: ReadinessGate) -> JSONValue {
        let (ready, reason) = readiness(gate)
        var members: [(String, JSONValue)] = [("kind", .string(gate.rawValue)), ("ready", .bool(ready))]
        if let reason { members.append(("reason", .string(reason))) }
        return .object(members)
    }

    /// `/ready/serverless`: every gate; ready only when all are.
    var readinessSummary: (ready: Bool, json: JSONValue) {
        let gates = ReadinessGate.allCases.map { ($0.rawValue, readinessJSON($0)) }
        let ready = ReadinessGate.allCases.allSatisfy { readiness($0).ready }
        return (ready, .object([("ready", .bool(ready))] + gates))
    }

    /// Refuses the lifecycle operations to callers who may not write, and on a replica.
    func requireLifecycleWrite(_ verb: String) throws {
        if let refusal = callerSession().access.writeRefusal(verb) { throw refusal }
    }

    func serverlessAttach() async throws -> JSONValue {
        try requireLifecycleWrite("SERVERLESS ATTACH")
        var lease: JSONValue = .string("not_required")
        if let leaseKeeper {
            await leaseKeeper.refreshOnce()
            lease = .string(leaseKeeper.current.state.rawValue)
        }
        let summary = readinessSummary
        return .object([("attached", .bool(readiness(.write).ready)), ("lease", lease), ("ok", .bool(true)), ("readiness", summary.json)])
    }

    func serverlessWarmup() async throws -> JSONValue {
        try requireLifecycleWrite("SERVERLESS WARMUP")
        let database = self.database
        let warmed = try await Task.detached { try database.warmCache() }.value
        return .object([("complete", .bool(warmed.complete)), ("entries", .integer(Int64(warmed.entries))), ("ok", .bool(true)),
                        ("resident_bytes", .integer(Int64(warmed.residentBytes)))])
    }

    func serverlessReclaim() async throws -> JSONValue {
        try requireLifecycleWrite("SERVERLESS RECLAIM")
        let reclaimed = try await database.engine.reclaimMemory()
        return .object([("checkpoint_lsn", .integer(Int64(reclaimed.checkpointLSN))), ("ok", .bool(true)),
                        ("released_bytes", .integer(Int64(reclaimed.bytes))), ("released_nodes", .integer(Int64(reclaimed.nodes))),
                        ("resident_bytes", .integer(Int64(database.engine.statistics.cache.residentBytes)))])
    }
}

extension ServerContext {
    /// `PhysicalAuthority`: whether this server is the authority for writes to its file — its
    /// replication role, the write gate and why it is closed, and the writer lease.
    var physicalAuthority: JSONValue {
        let status = replicationStatus
        let (accepts, reason) = readiness(.write)
        var members: [(String, JSONValue)] = [("accepts_writes", .bool(accepts)), ("database", .string(database.engine.path)), ("ok", .bool(true)),
                                              ("role", status["role"] ?? .string("standalone"))]
        if let reason { members.append(("reason", .string(reason))) }
        if let primary = status["primary_addr"] { members.append(("primary_addr", primary)) }
        if let primaryID = status["primary_id"] { members.append(("primary_id", primaryID)) }
        members.append(("writer_lease", status["writer_lease"] ?? .string("not_required")))
        return .object(members)
    }
}
