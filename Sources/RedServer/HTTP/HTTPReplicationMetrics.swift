import Foundation
import RedCore
import RedDB
import RedReplication

/// Replication figures on `/metrics` (spec ops §1.9), computed at scrape time:
/// - a primary: `reddb_replica_count`, and per replica seen in the last 15 minutes
///   `reddb_replica_ack_lsn`, `reddb_replica_lag_records` (its primary's LSN minus its
///   acknowledged one: LSNs are byte offsets here, so this is bytes of log),
///   `reddb_replica_lag_seconds` (since it was last seen — staleness of contact, not of data)
///   and `reddb_slo_lag_budget_remaining_seconds` (`RED_SLO_REPLICA_LAG_BUDGET_SECONDS`, 60,
///   minus that; negative is a breach);
/// - a replica: `reddb_replica_apply_health{state}` = 1 for its current state.
extension HTTPRoutes {
    static let defaultLagBudgetSeconds = 60.0

    func replicationMetrics() -> String {
        var text = ""
        // A replica serving replicas of its own (cascading) reports them as a primary does.
        if let primary = context.replicationPrimary {
            text += "# HELP reddb_replica_count Replicas seen in the last 15 minutes.\n# TYPE reddb_replica_count gauge\nreddb_replica_count \(primary.replicaInfos.count)\n"
        }
        if let primary = context.replicationPrimary, case let infos = primary.replicaInfos, !infos.isEmpty {
            let current = context.database.engine.replicationReadableLSN
            let now = Double(SystemClock().nowMilliseconds())
            let budget = ProcessInfo.processInfo.environment["RED_SLO_REPLICA_LAG_BUDGET_SECONDS"].flatMap { Double($0) } ?? Self.defaultLagBudgetSeconds
            var ack = "# HELP reddb_replica_ack_lsn The LSN a replica has acknowledged applying.\n# TYPE reddb_replica_ack_lsn gauge\n"
            var lag = "# HELP reddb_replica_lag_records The primary's LSN minus the replica's acknowledged LSN (bytes of log).\n# TYPE reddb_replica_lag_records gauge\n"
            var seen = "# HELP reddb_replica_lag_seconds Seconds since the replica was last heard from.\n# TYPE reddb_replica_lag_seconds gauge\n"
            var slo = "# HELP reddb_slo_lag_budget_remaining_seconds The lag budget left (negative: breached).\n# TYPE reddb_slo_lag_budget_remaining_seconds gauge\n"
            for info in infos {
                let label = "{replica_id=\"\(Self.escapeLabel(info.id))\"}"
                let seconds = max(0, now - Double(info.lastSeenAtUnixMilliseconds)) / 1000
                ack += "reddb_replica_ack_lsn\(label) \(info.appliedLSN)\n"
                lag += "reddb_replica_lag_records\(label) \(current &- min(current, info.appliedLSN))\n"
                seen += "reddb_replica_lag_seconds\(label) \(seconds)\n"
                slo += "reddb_slo_lag_budget_remaining_seconds\(label) \(budget - seconds)\n"
            }
            text += ack + lag + seen + slo
        }
        if let replica = context.replica {
            text += "# HELP reddb_replica_apply_health This replica's apply state (1 for the current one).\n# TYPE reddb_replica_apply_health gauge\n"
            text += "reddb_replica_apply_health{state=\"\(replica.state.rawValue)\"} 1\n"
        }
        return text
    }

    /// A Prometheus label value: `\`, `"` and newlines escaped.
    static func escapeLabel(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "")
    }
}
