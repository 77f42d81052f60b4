import Foundation
import Logging
import RedCore
import RedDB
import RedEngine
import RedReplication
import RedStorage
import Synchronization
import Testing

/// Primary and replica in one process (`ReplicationPrimary` as the replica's source): a
/// replica copies its primary, follows it through every kind of write, joins records that
/// come in parts, resumes after a restart without repeating anything, and stops at a gap.
/// Equality is checked on every key of the keyspace, catalog included, not just on queries.
@Suite(.serialized) struct ReplicationTests {
    static let logger = Logger(label: "replication-test")

    final class Directory: Sendable {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("reddb-repl-\(UUID().uuidString)").path
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    static func options(segmentBytes: UInt64 = 64 << 20) -> DatabaseOptions {
        var options = DatabaseOptions()
        options.engine.backgroundWork = false
        options.engine.walSegmentBytes = segmentBytes
        options.expirySweepIntervalMilliseconds = 0
        return options
    }

    /// Every key and value of every collection (the replica's own bookkeeping left out).
    static func dump(_ database: Database) throws -> [String] {
        let engine = database.engine
        let transaction = try engine.begin()
        defer { transaction.rollback() }
        var out: [String] = []
        for id in try engine.replicationCollectionIDs(transaction) {
            let cursor = try engine.replicationCursor(transaction, collectionID: id)
            while let (key, value) = try cursor.next() {
                if id == 1, key.starts(with: Array("replication/".utf8)) { continue }
                out.append("\(id) \(Hex.encode(key)) \(Hex.encode(value))")
            }
        }
        return out
    }

    static func catchUp(_ follower: ReplicaFollower, _ source: any ReplicationSource) async throws {
        var rounds = 0
        while try await !follower.step(source) {
            rounds += 1
            guard rounds < 10_000 else { throw RedError(.internalError, "the replica did not catch up in 10,000 pulls") }
        }
    }

    static func writeEverything(_ session: Session, from start: Int) async throws {
        _ = try await session.execute("CREATE TABLE IF NOT EXISTS t (id INT PRIMARY KEY, v TEXT)")
        _ = try await session.execute("CREATE INDEX IF NOT EXISTS t_v ON t (v)")
        for i in start..<(start + 50) { _ = try await session.execute("INSERT INTO t VALUES ($1, $2)", parameters: [.integer(Int64(i)), .text("v\(i % 7)")]) }
        _ = try await session.execute("UPDATE t SET v = 'changed' WHERE id % 5 = 0")
        _ = try await session.execute("DELETE FROM t WHERE id % 11 = 0")
        _ = try await session.execute("KV PUT settings.theme = 'dark'")
        _ = try await session.execute("INSERT INTO docs DOCUMENT VALUES ('{\"n\": \(start)}')")
        _ = try await session.execute("CREATE TABLE IF NOT EXISTS gone (id INT)")
        _ = try await session.execute("DROP TABLE gone")
        _ = try await session.execute("BEGIN")
        _ = try await session.execute("INSERT INTO t VALUES ($1, 'in a transaction')", parameters: [.integer(Int64(start + 1_000))])
        _ = try await session.execute("COMMIT")
    }

    /// A database at `path` and a follower of the in-process primary on it.
    static func openFollower(_ path: String) async throws -> (Database, ReplicaFollower) {
        let database = try await Database.open(path: path, options: options())
        return (database, try ReplicaFollower(database: database, primaryAddress: "in-process", logger: logger))
    }

    @Test func aReplicaCopiesAndFollowsItsPrimaryKeyForKey() async throws {
        let dir = try Directory()
        let primaryDB = try await Database.open(path: dir.path + "/primary.rdb", options: Self.options())
        let primary = try ReplicationPrimary(database: primaryDB)
        try await Self.writeEverything(primaryDB.session(), from: 0)

        var (replicaDB, follower) = try await Self.openFollower(dir.path + "/replica.rdb")
        #expect(!follower.isBootstrapped)
        try await follower.bootstrap(from: primary)
        try await Self.catchUp(follower, primary)
        #expect(try Self.dump(replicaDB) == Self.dump(primaryDB))
        #expect(try await replicaDB.session().execute("SELECT count(*) FROM t").rows == primaryDB.session().execute("SELECT count(*) FROM t").rows)

        // Following: more writes, then a record too large for one reply (it comes in parts).
        try await Self.writeEverything(primaryDB.session(), from: 100)
        let big = String(repeating: "0123456789", count: 600_000)  // 6 MB: two parts at 4 MiB per reply
        _ = try await primaryDB.session().execute("CREATE TABLE blobs (id INT PRIMARY KEY, b TEXT)")
        let beforeBig = primaryDB.engine.replicationReadableLSN
        _ = try await primaryDB.session().execute("INSERT INTO blobs VALUES (1, $1)", parameters: [.text(big)])
        let firstPart = try #require(try primary.pullRecords(PullRequest(sinceLSN: beforeBig)).records.first)
        #expect(!firstPart.isWhole && firstPart.offset == 0 && firstPart.data.count == PullRequest.defaultMaxBytes && firstPart.total > 6_000_000)
        try await Self.catchUp(follower, primary)
        #expect(try Self.dump(replicaDB) == Self.dump(primaryDB))
        #expect(try await replicaDB.session().execute("SELECT length(b) FROM blobs WHERE id = 1").rows == [[.integer(6_000_000)]])
        #expect(primary.replicaInfos.map(\.id) == [follower.replicaID])
        #expect(primary.replicaInfos.first?.appliedLSN == follower.appliedLSN)

        // A restart resumes after the last applied commit, repeating nothing.
        let applied = follower.appliedLSN
        try await replicaDB.close()
        (replicaDB, follower) = try await Self.openFollower(dir.path + "/replica.rdb")
        #expect(follower.isBootstrapped && follower.appliedLSN == applied)
        try await Self.writeEverything(primaryDB.session(), from: 200)
        try await Self.catchUp(follower, primary)
        #expect(try Self.dump(replicaDB) == Self.dump(primaryDB))

        // A new copy of a primary with history starts from its snapshot, not from the beginning.
        let (secondDB, second) = try await Self.openFollower(dir.path + "/second.rdb")
        try await second.bootstrap(from: primary)
        #expect(second.appliedLSN == primaryDB.engine.replicationReadableLSN)
        try await Self.catchUp(second, primary)
        #expect(try Self.dump(secondDB) == Self.dump(primaryDB))
        try await secondDB.close()
        try await replicaDB.close()
        try await primaryDB.close()
    }

    /// A replica describes a statement (PG-wire's Parse) as its primary's definitions now are:
    /// applied DDL, views included, moves on what its statement cache remembers.
    @Test func aReplicaDescribesStatementsAsItsPrimarysDefinitionsChange() async throws {
        let dir = try Directory()
        let primaryDB = try await Database.open(path: dir.path + "/primary.rdb", options: Self.options())
        let primary = try ReplicationPrimary(database: primaryDB)
        _ = try await primaryDB.session().execute("CREATE TABLE t (x INT); CREATE VIEW v AS SELECT x FROM t")
        let (replicaDB, follower) = try await Self.openFollower(dir.path + "/replica.rdb")
        try await follower.bootstrap(from: primary)
        try await Self.catchUp(follower, primary)
        let reader = replicaDB.session()
        for sql in ["SELECT * FROM t", "SELECT * FROM v"] { #expect(try await reader.describe(sql).columns?.map(\.name) == ["x"]) }

        _ = try await primaryDB.session().execute("ALTER TABLE t ADD COLUMN y TEXT; CREATE OR REPLACE VIEW v AS SELECT x, y FROM t")
        try await Self.catchUp(follower, primary)
        for sql in ["SELECT * FROM t", "SELECT * FROM v"] { #expect(try await reader.describe(sql).columns?.map(\.name) == ["x", "y"]) }
        _ = try await primaryDB.session().execute("DROP VIEW v")
        try await Self.catchUp(follower, primary)
        await #expect(throws: RedError.self) { try await reader.describe("SELECT * FROM v") }
        try await replicaDB.close()
        try await primaryDB.close()
    }

    /// A restore into a running primary (`replaceContents`) is ordinary commits in its log (the
    /// difference, as versioned puts and deletes): its replica follows them, ends up holding
    /// the restored data key for key, and keeps its place in the log across a restart.
    @Test func aReplicaFollowsItsPrimarysRestore() async throws {
        let dir = try Directory()
        let primaryDB = try await Database.open(path: dir.path + "/primary.rdb", options: Self.options())
        let primary = try ReplicationPrimary(database: primaryDB)
        try await Self.writeEverything(primaryDB.session(), from: 0)
        var (replicaDB, follower) = try await Self.openFollower(dir.path + "/replica.rdb")
        try await follower.bootstrap(from: primary)
        try await Self.catchUp(follower, primary)

        // The "backup": another database with other contents, swapped in.
        let backupDB = try await Database.open(path: dir.path + "/backup.rdb", options: Self.options())
        try await Self.writeEverything(backupDB.session(), from: 500)
        _ = try await backupDB.session().execute("CREATE TABLE only_in_backup (id INT)")
        try await backupDB.close()
        _ = try await primaryDB.engine.replaceContents(withDatabaseAt: dir.path + "/backup.rdb")
        #expect(try await primaryDB.session().execute("SELECT count(*) FROM only_in_backup").rows == [[.integer(0)]])

        try await Self.catchUp(follower, primary)
        #expect(try Self.dump(replicaDB) == Self.dump(primaryDB))
        #expect(try await replicaDB.session().execute("SELECT min(id) FROM t").rows == [[.integer(500)]])
        let applied = follower.appliedLSN
        try await replicaDB.close()
        (replicaDB, follower) = try await Self.openFollower(dir.path + "/replica.rdb")
        #expect(follower.isBootstrapped && follower.appliedLSN == applied, "its place in the log survives the restore and a restart")
        try await Self.writeEverything(primaryDB.session(), from: 900)
        try await Self.catchUp(follower, primary)
        #expect(try Self.dump(replicaDB) == Self.dump(primaryDB))
        try await replicaDB.close()
        try await primaryDB.close()
    }

    /// The replica's change feed (`/changes`, KV watch) shows the primary's changes, with the
    /// replica's own LSNs: the primary's commit records carry them.
    @Test func aReplicasChangeFeedShowsThePrimarysChanges() async throws {
        let dir = try Directory()
        let primaryDB = try await Database.open(path: dir.path + "/primary.rdb", options: Self.options())
        let primary = try ReplicationPrimary(database: primaryDB)
        let (replicaDB, follower) = try await Self.openFollower(dir.path + "/replica.rdb")
        try await follower.bootstrap(from: primary)
        let start = replicaDB.engine.durableLSN
        let session = primaryDB.session()
        _ = try await session.execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        _ = try await session.execute("INSERT INTO t SELECT g, 'x' FROM generate_series(1, 1000) AS g")
        _ = try await session.execute("UPDATE t SET v = 'y' WHERE id = 7")
        _ = try await session.execute("DELETE FROM t WHERE id = 8")
        _ = try await session.execute("KV PUT settings.theme = 'dark'")
        _ = try await session.execute("KV PUT settings.theme = 'light'")
        _ = try await session.execute("KV PUT settings.blob = $1", parameters: [.text(String(repeating: "z", count: 100_000))])
        _ = try await session.execute("KV DELETE settings.theme")
        try await Self.catchUp(follower, primary)

        func summary(_ events: [ChangeEvent]) -> [String] {
            events.map { "\($0.collection) \($0.kind) \($0.operation.rawValue) \($0.rid.map(String.init) ?? "-") \($0.key ?? "-") "
                + "\($0.before?.displayText ?? "-") \($0.after?.displayText ?? "-") \($0.valuesOmitted)" }
        }
        let onPrimary = primaryDB.engine.changes(since: 0, limit: 10_000).events
        let onReplica = replicaDB.engine.changes(since: start, limit: 10_000).events
        #expect(onReplica.count == 1_006 && summary(onReplica) == summary(onPrimary), "\(summary(onReplica).suffix(6))")
        #expect(onReplica.last?.lsn ?? 0 > start)
        try await replicaDB.close()
        try await primaryDB.close()
    }

    /// Cascading: a replica of a replica holds its primary's keys (not the middle replica's
    /// bookkeeping) and its changes, through a copy and while following.
    @Test func aReplicaOfAReplicaFollowsThePrimary() async throws {
        let dir = try Directory()
        let primaryDB = try await Database.open(path: dir.path + "/primary.rdb", options: Self.options())
        let primary = try ReplicationPrimary(database: primaryDB)
        try await Self.writeEverything(primaryDB.session(), from: 0)
        let (middleDB, middle) = try await Self.openFollower(dir.path + "/middle.rdb")
        let middleAsSource = try ReplicationPrimary(database: middleDB)
        try await middle.bootstrap(from: primary)
        try await Self.catchUp(middle, primary)
        let (leafDB, leaf) = try await Self.openFollower(dir.path + "/leaf.rdb")
        try await leaf.bootstrap(from: middleAsSource)
        try await Self.catchUp(leaf, middleAsSource)
        #expect(try Self.dump(leafDB) == Self.dump(primaryDB))
        let leafStart = leafDB.engine.durableLSN

        try await Self.writeEverything(primaryDB.session(), from: 100)
        _ = try await primaryDB.session().execute("KV PUT settings.mode = 'cascade'")
        try await Self.catchUp(middle, primary)
        try await Self.catchUp(leaf, middleAsSource)
        #expect(try Self.dump(leafDB) == Self.dump(primaryDB))
        // The leaf keeps its own bookkeeping: its applied LSN is in the middle's log, not the primary's.
        let transaction = try leafDB.engine.begin()
        let applied = try #require(try transaction.catalogGet(Array("replication/applied_lsn".utf8)))
        transaction.rollback()
        var reader = ByteReader(applied, context: "test")
        #expect(try reader.u64() == leaf.appliedLSN && leaf.appliedLSN == middleDB.engine.replicationReadableLSN)
        let leafEvents = leafDB.engine.changes(since: leafStart, limit: 10_000).events
        #expect(leafEvents.last?.collection == "settings" && leafEvents.last?.key == "mode" && leafEvents.last?.after == .text("cascade"))
        #expect(leafEvents.contains { $0.collection == "t" && $0.operation == .delete })
        try await leafDB.close()
        try await middleDB.close()
        try await primaryDB.close()
    }

    @Test func anInterruptedCopyIsStartedAgainFromScratch() async throws {
        let dir = try Directory()
        let primaryDB = try await Database.open(path: dir.path + "/primary.rdb", options: Self.options())
        let primary = try ReplicationPrimary(database: primaryDB)
        try await Self.writeEverything(primaryDB.session(), from: 0)
        let replicaDB = try await Database.open(path: dir.path + "/replica.rdb", options: Self.options())
        // Leftovers of an earlier copy that the primary does not have.
        _ = try await replicaDB.session().execute("CREATE TABLE leftover (id INT)")
        _ = try await replicaDB.session().execute("INSERT INTO leftover VALUES (1)")
        let follower = try ReplicaFollower(database: replicaDB, primaryAddress: "in-process", logger: Self.logger)
        try await follower.bootstrap(from: primary)
        #expect(try Self.dump(replicaDB) == Self.dump(primaryDB))
        await #expect(throws: RedError.self) { try await replicaDB.session().execute("SELECT * FROM leftover") }
        try await replicaDB.close()
        try await primaryDB.close()
    }

    @Test func thePrimaryKeepsTheLogItsReplicasNeedAndAGapStopsTheReplica() async throws {
        let dir = try Directory()
        let primaryDB = try await Database.open(path: dir.path + "/primary.rdb", options: Self.options(segmentBytes: 64 << 10))
        let primary = try ReplicationPrimary(database: primaryDB)
        _ = try await primaryDB.session().execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        let (replicaDB, follower) = try await Self.openFollower(dir.path + "/replica.rdb")
        try await follower.bootstrap(from: primary)
        try await Self.catchUp(follower, primary)
        let filler = String(repeating: "x", count: 2_000)
        func fill(_ from: Int) async throws {
            for i in from..<(from + 200) { _ = try await primaryDB.session().execute("INSERT INTO t VALUES ($1, $2)", parameters: [.integer(Int64(i)), .text(filler)]) }
        }
        // The replica has not read these yet: a checkpoint must keep them.
        try await fill(0)
        try await primaryDB.engine.checkpoint()
        #expect(primaryDB.engine.replicationOldestLSN <= follower.appliedLSN)
        try await Self.catchUp(follower, primary)
        #expect(try Self.dump(replicaDB) == Self.dump(primaryDB))

        // With the retention cap at zero, a lagging replica's log goes and it stops at the gap.
        let stingy = try ReplicationPrimary(database: primaryDB, maxRetainedBytes: 0)
        try await fill(1_000)
        _ = try await stingy.pull(PullRequest(sinceLSN: follower.appliedLSN, replicaID: "other"))
        try await primaryDB.engine.checkpoint()
        #expect(primaryDB.engine.replicationOldestLSN > follower.appliedLSN)
        await #expect(throws: (any Error).self) { try await follower.step(stingy) }
        try await replicaDB.close()
        try await primaryDB.close()
    }

    /// Two replicas copying at once each keep their own snapshot's log; a restarted primary
    /// remembers its replicas' positions (and its id) from its state file; a record offset
    /// beyond its record is refused, not a crash.
    @Test func holdsArePerReplicaAndPositionsOutliveARestart() async throws {
        let dir = try Directory()
        let primaryDB = try await Database.open(path: dir.path + "/primary.rdb", options: Self.options(segmentBytes: 64 << 10))
        let stateFile = dir.path + "/primary.rdb-replication.json"
        var primary = try ReplicationPrimary(database: primaryDB, stateFile: stateFile)
        _ = try await primaryDB.session().execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        let aDB = try await Database.open(path: dir.path + "/a.rdb", options: Self.options())
        let bDB = try await Database.open(path: dir.path + "/b.rdb", options: Self.options())
        let a = try ReplicaFollower(database: aDB, primaryAddress: "in-process", logger: Self.logger)
        let b = try ReplicaFollower(database: bDB, primaryAddress: "in-process", logger: Self.logger)
        try await a.bootstrap(from: primary)
        _ = try await primaryDB.session().execute("INSERT INTO t VALUES (1, 'between')")
        try await b.bootstrap(from: primary)
        try await a.step(primary)
        #expect(Set(primary.replicaInfos.map(\.id)) == [a.replicaID, b.replicaID])
        #expect(primary.replicaInfos.first { $0.id == b.replicaID }?.isCopying == true)

        let filler = String(repeating: "x", count: 2_000)
        for i in 10..<200 { _ = try await primaryDB.session().execute("INSERT INTO t VALUES ($1, $2)", parameters: [.integer(Int64(i)), .text(filler)]) }
        try await primaryDB.engine.checkpoint()
        #expect(primaryDB.engine.replicationOldestLSN <= b.appliedLSN)
        let id = primary.primaryID
        primary = try ReplicationPrimary(database: primaryDB, stateFile: stateFile)  // as after a restart
        #expect(primary.primaryID == id)
        #expect(Set(primary.replicaInfos.map(\.id)) == [a.replicaID, b.replicaID])
        try await primaryDB.engine.checkpoint()
        #expect(primaryDB.engine.replicationOldestLSN <= a.appliedLSN && primaryDB.engine.replicationOldestLSN <= b.appliedLSN)
        try await Self.catchUp(a, primary)
        try await Self.catchUp(b, primary)
        #expect(try Self.dump(aDB) == Self.dump(primaryDB))
        #expect(try Self.dump(bDB) == Self.dump(primaryDB))

        #expect(throws: RedError.self) { try primary.pullRecords(PullRequest(sinceLSN: a.appliedLSN - 1, offset: 10_000_000)) }
        try await aDB.close()
        try await bDB.close()
        try await primaryDB.close()
    }

    /// A replica pointed at another primary, or at one whose log is behind it, stops.
    @Test func aReplicaRefusesAnotherPrimary() async throws {
        let dir = try Directory()
        let firstDB = try await Database.open(path: dir.path + "/first.rdb", options: Self.options())
        let first = try ReplicationPrimary(database: firstDB)
        try await Self.writeEverything(firstDB.session(), from: 0)
        let otherDB = try await Database.open(path: dir.path + "/other.rdb", options: Self.options())
        let other = try ReplicationPrimary(database: otherDB)
        _ = try await otherDB.session().execute("CREATE TABLE t (id INT)")
        let (replicaDB, follower) = try await Self.openFollower(dir.path + "/replica.rdb")
        try await follower.bootstrap(from: first)
        try await Self.catchUp(follower, first)
        let before = try Self.dump(replicaDB)
        await #expect(throws: (any Error).self) { try await follower.step(other) }
        // The same, had the other primary no id to compare: its log ends before this replica's.
        let anonymous = AnonymousSource(inner: other)
        await #expect(throws: (any Error).self) { try await follower.step(anonymous) }
        #expect(try Self.dump(replicaDB) == before)
        try await replicaDB.close()
        try await otherDB.close()
        try await firstDB.close()
    }

    /// A replica running without fsync (`--sync-mode off`) makes what it applied durable
    /// before it tells its primary so: after a power failure it still has every LSN it acked.
    @Test func whatAReplicaAcksAsDurableSurvivesPowerLoss() async throws {
        let dir = try Directory()
        let primaryDB = try await Database.open(path: dir.path + "/primary.rdb", options: Self.options())
        let primary = try ReplicationPrimary(database: primaryDB)
        _ = try await primaryDB.session().execute("CREATE TABLE t (id INT PRIMARY KEY)")
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/r")
        var options = Self.options()
        options.engine.syncMode = .off
        let replicaDB = try await Database.open(path: "/r/replica.rdb", options: options, fileSystem: fs)
        let follower = try ReplicaFollower(database: replicaDB, primaryAddress: "in-process", logger: Self.logger)
        try await follower.bootstrap(from: primary)
        for i in 0..<20 { _ = try await primaryDB.session().execute("INSERT INTO t VALUES (\(i))") }
        let acks = AckRecorder(inner: primary)
        while try await !follower.step(acks) {}
        let acked = try #require(acks.durable.withLock { $0 })
        #expect(acked == follower.appliedLSN)

        for seed in UInt64(0)..<8 {  // a power loss keeps, drops or tears each unsynced write
            let reopened = try await Database.open(path: "/r/replica.rdb", options: options, fileSystem: fs.crash(seed: seed))
            let after = try ReplicaFollower(database: reopened, primaryAddress: "in-process", logger: Self.logger)
            #expect(after.appliedLSN >= acked, "seed \(seed)")
            #expect(try await reopened.session().execute("SELECT count(*) FROM t").rows == [[.integer(20)]], "seed \(seed)")
            try await reopened.close()
        }
        try await primaryDB.close()
    }

    /// Passes pulls on, and records the durable LSN of the last ack.
    final class AckRecorder: ReplicationSource, Sendable {
        let inner: ReplicationPrimary
        let durable = Mutex<UInt64?>(nil)
        init(inner: ReplicationPrimary) { self.inner = inner }
        func pull(_ request: PullRequest) async throws -> PulledRecords { try await inner.pull(request) }
        func ack(replicaID: String, appliedLSN: UInt64, durableLSN: UInt64) async throws {
            durable.withLock { $0 = durableLSN }
            try await inner.ack(replicaID: replicaID, appliedLSN: appliedLSN, durableLSN: durableLSN)
        }
        func snapshot(replicaID: String, _ receive: @Sendable (SnapshotChunk) async throws -> Void) async throws {}
    }

    /// A copy cut short leaves no replica behind on the primary (it would hold the log and
    /// count towards a quorum without ever acknowledging), and the replica asks again under
    /// the same id.
    @Test func aCopyCutShortLeavesNoGhostReplica() async throws {
        let dir = try Directory()
        let primaryDB = try await Database.open(path: dir.path + "/primary.rdb", options: Self.options())
        let primary = try ReplicationPrimary(database: primaryDB)
        try await Self.writeEverything(primaryDB.session(), from: 0)
        let (replicaDB, follower) = try await Self.openFollower(dir.path + "/replica.rdb")
        let id = follower.replicaID
        await #expect(throws: (any Error).self) { try await follower.bootstrap(from: CutShortSource(inner: primary)) }
        #expect(primary.replicaInfos.isEmpty)
        // Restarted, the replica copies again as the same replica.
        let again = try ReplicaFollower(database: replicaDB, primaryAddress: "in-process", logger: Self.logger)
        #expect(again.replicaID == id)
        try await again.bootstrap(from: primary)
        #expect(primary.replicaInfos.map(\.id) == [id])
        try await replicaDB.close()
        try await primaryDB.close()
    }

    /// A copy that fails late (its replica vanished without a reset, then started a new copy
    /// under the same id) does not remove the newer copy's entry.
    @Test func aLateFailingCopyLeavesTheNewerOne() async throws {
        let dir = try Directory()
        let primaryDB = try await Database.open(path: dir.path + "/primary.rdb", options: Self.options())
        let primary = try ReplicationPrimary(database: primaryDB)
        try await Self.writeEverything(primaryDB.session(), from: 0)
        let (started, startedGo) = AsyncStream.makeStream(of: Void.self)
        let (release, releaseGo) = AsyncStream.makeStream(of: Void.self)
        let old = Task {
            try await primary.snapshot(replicaID: "r") { _ in
                startedGo.yield()
                for await _ in release { break }
                throw RedError(.ioError, "connection reset")
            }
        }
        for await _ in started { break }
        _ = try await primaryDB.session().execute("INSERT INTO t VALUES (9999, 'between the copies')")
        try await primary.snapshot(replicaID: "r") { _ in }  // the newer copy
        releaseGo.yield()
        _ = await old.result
        #expect(primary.replicaInfos.map(\.id) == ["r"])
        try await primaryDB.close()
    }

    /// A primary whose snapshot stream breaks after its first chunk.
    struct CutShortSource: ReplicationSource {
        let inner: ReplicationPrimary
        func pull(_ request: PullRequest) async throws -> PulledRecords { try await inner.pull(request) }
        func ack(replicaID: String, appliedLSN: UInt64, durableLSN: UInt64) async throws {}
        func snapshot(replicaID: String, _ receive: @Sendable (SnapshotChunk) async throws -> Void) async throws {
            try await inner.snapshot(replicaID: replicaID) { chunk in
                guard !chunk.done else { throw RedError(.ioError, "connection reset") }
                try await receive(chunk)
            }
        }
    }

    /// Failed attempts back off: the pause doubles with each failure in a row, up to 30 s.
    @Test func retriesBackOff() {
        let base = Duration.milliseconds(250)
        let delays = [1, 2, 3, 5, 8, 9, 1_000].map { ReplicaFollower.retryDelay(base: base, failuresInARow: $0) }
        #expect(delays == [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(4), .seconds(30), .seconds(30), .seconds(30)])
    }

    /// A record part whose offset a hostile or broken primary sets near `Int.max` is refused
    /// as a protocol error; it does not stop the replica.
    @Test func aRecordPartBeyondItsRecordIsRefused() async throws {
        let dir = try Directory()
        let primaryDB = try await Database.open(path: dir.path + "/primary.rdb", options: Self.options())
        let primary = try ReplicationPrimary(database: primaryDB)
        let (replicaDB, follower) = try await Self.openFollower(dir.path + "/replica.rdb")
        try await follower.bootstrap(from: primary)
        _ = try await primaryDB.session().execute("CREATE TABLE t (id INT)")
        let error = await #expect(throws: RedError.self) { try await follower.step(OverflowingPartSource(inner: primary)) }
        #expect(error?.code == .protocolViolation)
        try await replicaDB.close()
        try await primaryDB.close()
    }

    /// A source whose first record arrives as a part with an offset near `Int.max`.
    struct OverflowingPartSource: ReplicationSource {
        let inner: ReplicationPrimary
        func pull(_ request: PullRequest) async throws -> PulledRecords {
            var pulled = try await inner.pull(request)
            if let first = pulled.records.first {
                pulled.records[0] = PulledRecord(lsn: first.lsn, data: Array(first.data.prefix(8)), offset: Int.max - 4, total: 64, crc: 0)
            }
            return pulled
        }
        func ack(replicaID: String, appliedLSN: UInt64, durableLSN: UInt64) async throws {}
        func snapshot(replicaID: String, _ receive: @Sendable (SnapshotChunk) async throws -> Void) async throws {}
    }

    /// A source that hides the primary's id (as a primary of an older build would).
    struct AnonymousSource: ReplicationSource {
        let inner: ReplicationPrimary
        func pull(_ request: PullRequest) async throws -> PulledRecords {
            var pulled = try await inner.pull(request)
            pulled.primaryID = nil
            return pulled
        }
        func ack(replicaID: String, appliedLSN: UInt64, durableLSN: UInt64) async throws {}
        func snapshot(replicaID: String, _ receive: @Sendable (SnapshotChunk) async throws -> Void) async throws {}
    }

    final class Clock: Sendable {
        let now = Synchronization.Atomic<Int64>(1_000_000)
    }

    /// A replica that went away for good stops holding the log once it times out, even if no
    /// other replica pulls: every checkpoint asks the primary afresh.
    @Test func aReplicaGoneForGoodStopsHoldingTheLog() async throws {
        let dir = try Directory()
        let primaryDB = try await Database.open(path: dir.path + "/primary.rdb", options: Self.options(segmentBytes: 64 << 10))
        let clock = Clock()
        let primary = try ReplicationPrimary(database: primaryDB, replicaTimeoutMilliseconds: 60_000, now: { clock.now.load(ordering: .relaxed) })
        _ = try await primaryDB.session().execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        let held = primaryDB.engine.replicationReadableLSN
        _ = try await primary.pull(PullRequest(sinceLSN: held, replicaID: "gone"))
        let filler = String(repeating: "x", count: 2_000)
        for i in 0..<200 { _ = try await primaryDB.session().execute("INSERT INTO t VALUES ($1, $2)", parameters: [.integer(Int64(i)), .text(filler)]) }
        try await primaryDB.engine.checkpoint()
        #expect(primaryDB.engine.replicationOldestLSN <= held)
        clock.now.add(61_000, ordering: .relaxed)
        try await primaryDB.engine.checkpoint()
        #expect(primaryDB.engine.replicationOldestLSN > held)
        #expect(primary.replicaInfos.isEmpty)
        try await primaryDB.close()
    }
}
