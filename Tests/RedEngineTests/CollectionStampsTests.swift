import RedCore
@testable import RedEngine
import Testing

/// The per-collection stamps behind DDL/writer conflicts: which commits conflict, and pruning
/// that keeps what open snapshots still need without a pass per commit.
struct CollectionStampsTests {
    @Test func laterCommitsConflictAndOldStampsArePruned() throws {
        var stamps = CollectionStamps()
        var ddl = DefinitionChanges()
        ddl.changed = [20]
        ddl.basedOnData = [20]
        stamps.record(writing: [20, 21], definitions: ddl, ts: 10, horizon: 0)
        // A writer of 20 from before ts 10 conflicts; one from after does not; 21 never does.
        #expect(throws: WriteConflict.self) { try stamps.check(writing: [20], definitions: DefinitionChanges(), snapshot: 9) }
        try stamps.check(writing: [20], definitions: DefinitionChanges(), snapshot: 10)
        try stamps.check(writing: [21], definitions: DefinitionChanges(), snapshot: 5)
        // A definition built from 21's rows at a snapshot before its last write conflicts.
        var built = DefinitionChanges()
        built.basedOnData = [21]
        #expect(throws: WriteConflict.self) { try stamps.check(writing: [], definitions: built, snapshot: 9) }

        // Many collections, all newer than an old open snapshot: kept, and pruned rarely.
        for id in UInt32(100)..<UInt32(100 + 10_000) { stamps.record(writing: [id], definitions: DefinitionChanges(), ts: 100, horizon: 50) }
        // (20 and 21, older than the horizon, went at the first pass.)
        #expect(stamps.stamps.count == 10_000 && stamps.pruneAt > 10_000, "kept while a snapshot may need them; the next pass doubles away")
        // Once the snapshot is gone, the next pass drops what no snapshot can conflict with.
        for id in UInt32(100_000)..<UInt32(100_000 + 10_000) { stamps.record(writing: [id], definitions: DefinitionChanges(), ts: 200, horizon: 150) }
        #expect(stamps.stamps.count == 10_000 && stamps.stamps.values.allSatisfy { $0.dataTS == 200 })
        try stamps.check(writing: [20], definitions: DefinitionChanges(), snapshot: 150)
    }
}
