import Testing
import RedCore
import RedDB
import RedStorage

/// `CHECKPOINT` (`Session.runCheckpoint`): committed data goes into the file at once, and it
/// stays there through a power loss with nothing left in the log to replay.
@Suite struct CheckpointStatementTests: SessionTestSupport {
    @Test func checkpointWritesTheCommittedDataIntoTheFile() async throws {
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/db")
        let db = try await durable(fs)
        let s = db.session()
        try await s.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)")
        try await s.execute("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 500) g")
        let before = db.engine.statistics
        #expect(before.walBytesSinceCheckpoint > 0)
        let result = try await s.execute("CHECKPOINT")
        #expect(result.commandTag == "CHECKPOINT")
        let after = db.engine.statistics
        #expect(after.checkpoints == before.checkpoints + 1)
        #expect(after.walBytesSinceCheckpoint < before.walBytesSinceCheckpoint)
        // What it wrote reads back after a power loss (then with little or no log to replay).
        let crashed = try await durable(fs.crash(seed: 7))
        #expect(try await rows(crashed.session(), "SELECT count(*), max(v) FROM t") == [[.integer(500), .text("v99")]])
        try await crashed.close()
        try await db.close()
    }

    @Test func whoMayRunItAndWhere() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE t (id BIGINT)")
        let reader = db.session()
        reader.access = .readOnly(principal: "user \"ro\"")
        #expect(await code { _ = try await reader.execute("CHECKPOINT") } == "42501")
        // On a replica a writer's session may, a reader's may not.
        let replicaWriter = db.session()
        replicaWriter.access = .standby(reason: "a replica")
        #expect(try await replicaWriter.execute("CHECKPOINT").commandTag == "CHECKPOINT")
        let replicaReader = db.session()
        replicaReader.access = .standby(reason: "a replica", readOnlyPrincipal: "user \"ro\" (role read)")
        #expect(await code { _ = try await replicaReader.execute("CHECKPOINT") } == "42501")
        // An aborted block refuses it as it refuses everything but its end.
        try await s.execute("BEGIN")
        _ = try? await s.execute("SELECT 1/0")
        #expect(await code { _ = try await s.execute("CHECKPOINT") } == "25P02")
        try await s.execute("ROLLBACK")
        // A DO block runs it as the session does; a function called from a query cannot wait
        // for the disk there, and says so.
        #expect(try await s.execute("DO $$ BEGIN CHECKPOINT; END $$").commandTag == "DO")
        try await s.execute("CREATE FUNCTION cp() RETURNS int LANGUAGE plpgsql AS $$ BEGIN CHECKPOINT; RETURN 1; END $$")
        #expect(await code { _ = try await s.execute("SELECT cp()") } == "0A000")
        #expect(try await s.execute("CHECKPOINT").commandTag == "CHECKPOINT")
        try await db.close()
    }
}
