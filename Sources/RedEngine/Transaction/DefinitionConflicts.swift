import RedCore

/// What a transaction did to collection definitions, for `CollectionStamps`.
struct DefinitionChanges: Sendable {
    /// Collections whose definition (schema: indexes, columns, constraints) it changed, or
    /// that it dropped: writers that began before it and commit after would write by the old
    /// definition.
    var changed: Set<UInt32> = []
    /// Collections whose rows it read to build or check something the definition now relies
    /// on (an index filled, a constraint verified, a column's default written): a write
    /// committed after its snapshot would have been missed.
    var basedOnData: Set<UInt32> = []
}

/// DDL against concurrent writes, checked where commits are ordered. Snapshot isolation alone
/// lets a writer whose snapshot predates `CREATE INDEX` commit rows the index never gets (its
/// table handle has no such index), and lets `CREATE INDEX` miss rows a writer committed after
/// the index's snapshot: an index without entries for some rows, a unique index over
/// duplicates. PostgreSQL blocks writers with a lock for such DDL; we keep writers unblocked
/// and fail the later of the two to commit with 40001 instead (autocommit statements retry):
/// - a commit writing a collection whose definition changed after its snapshot;
/// - a commit changing a definition on the strength of data written after its snapshot.
///
/// Stamps are in memory: after a restart no transaction from before it is open. Stamps no
/// open snapshot predates can no longer conflict and are pruned.
struct CollectionStamps: Sendable {
    struct Stamp: Sendable { var definitionTS: UInt64 = 0; var dataTS: UInt64 = 0 }
    private(set) var stamps: [UInt32: Stamp] = [:]
    /// The newest commit that wrote each collection, never pruned (one entry per collection
    /// written since the engine opened): what tells a cache derived from a collection's rows
    /// (`VectorItemCache`) whether a snapshot sees the rows it was built from.
    private(set) var lastWrites: [UInt32: UInt64] = [:]
    static let pruneAbove = 4096
    /// Size at which the next prune runs: twice what the last one kept, so a long-open snapshot
    /// that keeps every stamp alive costs an occasional pass, not one per commit.
    private(set) var pruneAt = Self.pruneAbove

    /// Throws 40001 if this commit conflicts with one committed after `snapshot` (the
    /// transaction's first). `writtenUnder` gives, for a collection whose definition changed
    /// since, the oldest snapshot its writes were made under (READ COMMITTED statements read
    /// newer ones): writes all made after the change followed the new definition.
    func check(writing written: [UInt32], definitions: DefinitionChanges, snapshot: UInt64,
               writtenUnder: (UInt32) -> UInt64 = { _ in 0 }) throws {
        for id in written {
            let changed = stamps[id]?.definitionTS ?? 0
            guard changed > snapshot, changed > writtenUnder(id) else { continue }
            throw WriteConflict(collectionID: id) {
                "could not serialize access: the definition of \($0), which this transaction writes, was changed by a concurrent "
                    + "transaction (ALTER, CREATE INDEX, DROP …); retry the transaction"
            }
        }
        for id in definitions.basedOnData where (stamps[id]?.dataTS ?? 0) > snapshot {
            throw WriteConflict(collectionID: id) {
                "could not serialize access: \($0) was written by a concurrent transaction while this one changed its definition "
                    + "from its rows; retry the transaction"
            }
        }
    }

    /// Notes a commit at `ts`; drops stamps older than every open snapshot once there are many.
    /// `emptied`: collections the commit removed wholesale (not in `written`).
    mutating func record(writing written: [UInt32], emptied: [UInt32] = [], definitions: DefinitionChanges, ts: UInt64, horizon: UInt64) {
        for id in written {
            stamps[id, default: Stamp()].dataTS = ts
            lastWrites[id] = ts
        }
        for id in emptied { lastWrites[id] = ts }
        for id in definitions.changed { stamps[id, default: Stamp()].definitionTS = ts }
        if stamps.count > pruneAt {
            stamps = stamps.filter { max($0.value.definitionTS, $0.value.dataTS) > horizon }
            pruneAt = max(Self.pruneAbove, 2 * stamps.count)
        }
    }
}
