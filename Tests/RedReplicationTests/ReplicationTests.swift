import Foundation
import Logging
import RedCore
import RedDB
import RedEngine
import RedReplication
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
        for _ in 0..<10_000 where try await !follower.step(source) {}
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

    @Test func aReplicaCopiesAndFollowsItsPrimaryKeyForKey() async throws {
        let dir = try Directory()
        let primaryDB = try await Database.open(path: dir.path + "/primary.rdb", options: Self.options())
        let primary = ReplicationPrimary(database: primaryDB)
        try await Self.writeEverything(primaryDB.session(), from: 0)

        var replicaDB = try await Database.open(path: dir.path + "/replica.rdb", options: Self.options())
        var follower = try ReplicaFollower(database: replicaDB, primaryAddress: "in-process", logger: Self.logger)
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
        replicaDB = try await Database.open(path: dir.path + "/replica.rdb", options: Self.options())
        follower = try ReplicaFollower(database: replicaDB, primaryAddress: "in-process", logger: Self.logger)
        #expect(follower.isBootstrapped && follower.appliedLSN == applied)
        try await Self.writeEverything(primaryDB.session(), from: 200)
        try await Self.catchUp(follower, primary)
        #expect(try Self.dump(replicaDB) == Self.dump(primaryDB))

        // A new copy of a primary with history starts from its snapshot, not from the beginning.
        let secondDB = try await Database.open(path: dir.path + "/second.rdb", options: Self.options())
        let second = try ReplicaFollower(database: secondDB, primaryAddress: "in-process", logger: Self.logger)
        try await second.bootstrap(from: primary)
        #expect(second.appliedLSN == primaryDB.engine.replicationReadableLSN)
        try await Self.catchUp(second, primary)
        #expect(try Self.dump(secondDB) == Self.dump(primaryDB))
        try await secondDB.close()
        try await replicaDB.close()
        try await primaryDB.close()
    }

    @Test func anInterruptedCopyIsStartedAgainFromScratch() async throws {
        let dir = try Directory()
        let primaryDB = try await Database.open(path: dir.path + "/primary.rdb", options: Self.options())
        let primary = ReplicationPrimary(database: primaryDB)
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
        let primary = ReplicationPrimary(database: primaryDB)
        _ = try await primaryDB.session().execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        let replicaDB = try await Database.open(path: dir.path + "/replica.rdb", options: Self.options())
        let follower = try ReplicaFollower(database: replicaDB, primaryAddress: "in-process", logger: Self.logger)
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
        let stingy = ReplicationPrimary(database: primaryDB, maxRetainedBytes: 0)
        try await fill(1_000)
        _ = try await stingy.pull(PullRequest(sinceLSN: follower.appliedLSN, replicaID: "other"))
        try await primaryDB.engine.checkpoint()
        #expect(primaryDB.engine.replicationOldestLSN > follower.appliedLSN)
        await #expect(throws: (any Error).self) { try await follower.step(stingy) }
        try await replicaDB.close()
        try await primaryDB.close()
    }
}
