import Crypto
import Foundation
import Logging
import RedCore
import RedDB
import RedEngine
@testable import RedReplication
import Synchronization
import Testing

/// Backups, WAL archiving and point-in-time restore in one process, against a directory
/// backend and a fake S3: what is restored equals what the database held at the target,
/// and a damaged or incomplete chain is refused before anything is applied.
@Suite(.serialized) struct BackupTests {
    static let logger = Logger(label: "backup-test")

    // MARK: Formats

    @Test func s3SignatureMatchesAWSPublishedExample() {
        // AWS's "GET Object" example of Signature Version 4 (S3 API reference, sig-v4-header-based-auth).
        let signer = S3Signer(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
        let authorization = signer.authorization(
            method: "GET", path: "/test.txt", query: [],
            headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
                      ("x-amz-content-sha256", S3Signer.emptyPayloadHash), ("x-amz-date", "20130524T000000Z")],
            payloadHash: S3Signer.emptyPayloadHash, amzDate: "20130524T000000Z")
        #expect(authorization == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(S3Signer.amzDate(Date(timeIntervalSince1970: 1_369_353_600)) == "20130524T000000Z")
        #expect(S3Signer.encode("a b/c~d=é", keepSlash: true) == "a%20b/c~d%3D%C3%A9")
    }

    @Test func walSegmentsRoundTripAndRefuseDamage() throws {
        let records = [WALSegment.Record(endLSN: 100, timeMilliseconds: 1_700_000_000_000, payload: [1, 2, 3]),
                       WALSegment.Record(endLSN: 250, timeMilliseconds: 1_700_000_000_005, payload: Array(repeating: 7, count: 1000))]
        let bytes = WALSegment.encode(records)
        #expect(try WALSegment.decode(bytes, key: "s") == records)
        #expect(Array(bytes[0..<5]) == Array("RDLW".utf8) + [2])
        for cut in [1, 10, 30, bytes.count - 1] {
            #expect(throws: RedError.self) { _ = try WALSegment.decode(Array(bytes[0..<cut]), key: "s") }
        }
        var flipped = bytes
        flipped[40] ^= 0x55
        #expect(throws: RedError.self) { _ = try WALSegment.decode(flipped, key: "s") }
        // Random bytes never crash the decoder.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let noise = (0..<Int.random(in: 0..<64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? WALSegment.decode(Array("RDLW".utf8) + noise, key: "noise")
        }
    }

    @Test func settingsComeFromTheEnvironment() throws {
        #expect(try BackupSettings.fromEnvironment([:]) == nil)
        #expect(try BackupSettings.fromEnvironment(["RED_BACKEND": "none"]) == nil)
        let fs = try #require(try BackupSettings.fromEnvironment(["RED_BACKEND": "fs", "RED_FS_PATH": "/tmp/b", "RED_REMOTE_KEY": "prod/eu/db.rdb"]))
        #expect(fs.backend.description == "fs:/tmp/b" && fs.layout.walPrefix == "prod/eu/wal/" && fs.layout.headKey == "prod/eu/manifests/head.json")
        #expect(fs.headRefreshMilliseconds == 60_000)
        #expect(try BackupSettings.fromEnvironment(["RED_BACKEND": "fs", "RED_FS_PATH": "/tmp/b", "RED_BACKUP_HEAD_REFRESH_MS": "0"])?.headRefreshMilliseconds == 0)
        #expect(throws: RedError.self) { _ = try BackupSettings.fromEnvironment(["RED_BACKEND": "fs", "RED_FS_PATH": "/tmp/b", "RED_BACKUP_HEAD_REFRESH_MS": "-1"]) }
        let secretFile = NSTemporaryDirectory() + "s3-secret-\(UUID().uuidString)"
        try "from-a-file\n".write(toFile: secretFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: secretFile) }
        let s3 = try #require(try BackupSettings.fromEnvironment(["RED_BACKEND": "minio", "RED_S3_ENDPOINT": "http://127.0.0.1:9000", "RED_S3_BUCKET": "b",
                                                                  "RED_S3_ACCESS_KEY": "a", "RED_S3_SECRET_KEY_FILE": secretFile, "RED_S3_PREFIX": "p"]))
        let backend = try #require(s3.backend as? S3Backend)
        #expect(backend.settings.secretKey == "from-a-file" && backend.settings.keyPrefix == "p/" && backend.settings.pathStyle)
        #expect(throws: RedError.self) { _ = try BackupSettings.fromEnvironment(["RED_BACKEND": "s3", "RED_S3_BUCKET": "b"]) }
        #expect(throws: RedError.self) { _ = try BackupSettings.fromEnvironment(["RED_BACKEND": "turso"]) }
        #expect(throws: RedError.self) { _ = try BackupSettings.fromEnvironment(["RED_BACKEND": "tape"]) }
        #expect(throws: RedError.self) { _ = try BackupSettings.fromEnvironment(["RED_BACKEND": "fs", "RED_FS_PATH": "/tmp", "RED_REMOTE_KEY": "../x"]) }
        #expect(try PointInTimeRestore.Target.parseTime("unix:1700000000") == 1_700_000_000_000)
        #expect(try PointInTimeRestore.Target.parseTime("unix_ms:1700000000123") == 1_700_000_000_123)
        #expect(try PointInTimeRestore.Target.parseTime("1700000000") == 1_700_000_000_000)
        #expect(try PointInTimeRestore.Target.parseTime("1700000000123") == 1_700_000_000_123)
        #expect(try PointInTimeRestore.Target.parseTime("0") == nil)
        #expect(throws: RedError.self) { _ = try PointInTimeRestore.Target.parseTime("yesterday") }
    }

    @Test func backendKeysCannotEscapeTheirRoot() async throws {
        let backend = FileSystemBackend(root: NSTemporaryDirectory() + "fs-backend-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: backend.root) }
        for bad in ["", "/abs", "a/../b", "a//b", "./a", "a\\b"] {
            await #expect(throws: RedError.self) { try await backend.put(bad, bytes: [1]) }
        }
        try await backend.put("x/y/z.json", bytes: [1, 2])
        try await backend.put("x/y/z.json", bytes: [3])
        #expect(try await backend.get("x/y/z.json") == [3])
        #expect(try await backend.get("x/none") == nil)
        #expect(try await backend.list(prefix: "x/y/") == ["x/y/z.json"])
        try await backend.delete("x/y/z.json")
        try await backend.delete("x/y/z.json")
        #expect(try await backend.list(prefix: "x/") == [])
    }

    // MARK: Backup and restore

    final class Directory: Sendable {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("reddb-backup-\(UUID().uuidString)").path
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    static func ids(_ path: String) async throws -> [Int64] {
        let database = try await Database.open(path: path, options: ReplicationTests.options())
        defer { Task { try? await database.close() } }
        let rows = try await database.session().execute("SELECT id FROM t ORDER BY id").rows
        try await database.close()
        return rows.compactMap { if case .integer(let n) = $0[0] { return n } else { return nil } }
    }

    /// The database at `path` with a backup service on `backend`.
    static func open(_ path: String, _ backend: any BackupBackend, headRefreshMilliseconds: Int = 60_000) async throws -> (Database, BackupService) {
        let database = try await Database.open(path: path, options: ReplicationTests.options())
        var settings = BackupSettings(backend: backend)
        settings.headRefreshMilliseconds = headRefreshMilliseconds
        return (database, try BackupService(database: database, settings: settings, logger: logger))
    }

    /// `open`, then table `t` and the first backup, which starts the chain.
    static func openWithFirstBackup(_ path: String, _ backend: any BackupBackend,
                                    headRefreshMilliseconds: Int = 60_000) async throws -> (Database, BackupService) {
        let (database, service) = try await open(path, backend, headRefreshMilliseconds: headRefreshMilliseconds)
        _ = try await database.session().execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        _ = try await service.trigger()
        return (database, service)
    }

    static func insert(_ session: Session, _ range: ClosedRange<Int>) async throws {
        for i in range { _ = try await session.execute("INSERT INTO t VALUES ($1, $2)", parameters: [.integer(Int64(i)), .text("v\(i)")]) }
    }

    /// Runs a backup, archives and restores to the latest state, to a time and to an LSN.
    func backupAndRestore(backend: any BackupBackend, in directory: Directory) async throws {
        let settings = BackupSettings(backend: backend)
        let database = try await Database.open(path: directory.path + "/data.rdb", options: ReplicationTests.options())
        let service = try BackupService(database: database, settings: settings, logger: Self.logger)
        let session = database.session()
        _ = try await session.execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        try await Self.insert(session, 1...20)
        let first = try await service.trigger()
        #expect(first.snapshotID == 1)
        try await Self.insert(session, 21...30)
        #expect(try await service.archive() == 1)
        try await Task.sleep(for: .milliseconds(20))
        let cut = SystemClock().nowMilliseconds()
        let cutLSN = database.engine.replicationReadableLSN
        try await Task.sleep(for: .milliseconds(20))
        try await Self.insert(session, 31...40)
        _ = try await session.execute("DELETE FROM t WHERE id <= 5")
        #expect(try await service.archive() == 1)
        #expect(try await service.archive() == 0, "nothing new, nothing uploaded")
        try await database.close()

        let points = try await PointInTimeRestore.restorePoints(backend: backend, layout: settings.layout)
        #expect(points.count == 1 && points.first?.segmentCount == 2)
        #expect((points.first?.latestRecoverableTime ?? 0) > cut)

        let latest = try await PointInTimeRestore.restore(backend: backend, layout: settings.layout, target: .latest, destination: directory.path + "/latest.rdb")
        #expect(latest.recordsApplied == 21 && latest.segmentsReplayed == 2)
        #expect(try await Self.ids(directory.path + "/latest.rdb") == Array(6...40))
        let atTime = try await PointInTimeRestore.restore(backend: backend, layout: settings.layout, target: .init(timeMilliseconds: cut),
                                                          destination: directory.path + "/at-time.rdb")
        #expect(atTime.recordsApplied == 10 && atTime.recoveredToTime <= cut)
        #expect(try await Self.ids(directory.path + "/at-time.rdb") == Array(1...30))
        _ = try await PointInTimeRestore.restore(backend: backend, layout: settings.layout, target: .init(lsn: cutLSN), destination: directory.path + "/at-lsn.rdb")
        #expect(try await Self.ids(directory.path + "/at-lsn.rdb") == Array(1...30))
        await #expect(throws: RedError.self) {
            _ = try await PointInTimeRestore.restore(backend: backend, layout: settings.layout, target: .latest, destination: directory.path + "/latest.rdb")
        }
        await #expect(throws: RedError.self) {
            _ = try await PointInTimeRestore.restore(backend: backend, layout: settings.layout, target: .init(timeMilliseconds: 1_000),
                                                     destination: directory.path + "/too-early.rdb")
        }
    }

    @Test func backupArchiveAndRestoreToAPointInTimeOnADirectory() async throws {
        let directory = try Directory()
        try await backupAndRestore(backend: FileSystemBackend(root: directory.path + "/backups"), in: directory)
    }

    @Test func theSameOverS3WithPagedListsAndRetries() async throws {
        let s3 = FakeS3()
        try await s3.start()
        defer { s3.stop() }
        let directory = try Directory()
        let settings = try #require(try BackupSettings.fromEnvironment(s3.environment))
        s3.failNextRequests.withLock { $0 = 2 }  // the first two calls get 500 and are retried
        try await backupAndRestore(backend: settings.backend, in: directory)
        #expect(s3.failNextRequests.withLock { $0 } == 0)
        #expect(s3.refused.withLock { $0 } == 0, "every request's signature matched")
        #expect(s3.keys.allSatisfy { $0.hasPrefix("team-a/clusters/dev/") } && s3.keys.count >= 7, "\(s3.keys)")
        // A wrong secret is refused by the server, and the error says so.
        var wrong = (settings.backend as! S3Backend).settings
        wrong.secretKey = "nope"
        await #expect(throws: RedError.self) { _ = try await S3Backend(settings: wrong).get("clusters/dev/manifests/head.json") }
    }

    /// Three segments; `damage` breaks the backend; the restore must fail and create nothing.
    func restoreFails(_ damage: (FileSystemBackend, [String]) async throws -> Void) async throws -> RedError? {
        let directory = try Directory()
        let backend = FileSystemBackend(root: directory.path + "/backups")
        let database = try await Database.open(path: directory.path + "/data.rdb", options: ReplicationTests.options())
        let service = try BackupService(database: database, settings: BackupSettings(backend: backend), logger: Self.logger)
        let session = database.session()
        _ = try await session.execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        _ = try await service.trigger()
        for batch in 0..<3 {
            try await Self.insert(session, (batch * 10 + 1)...(batch * 10 + 10))
            #expect(try await service.archive() == 1)
        }
        try await database.close()
        let segments = try await backend.list(prefix: "clusters/dev/wal/").filter { $0.hasSuffix(".wal") }
        #expect(segments.count == 3)
        try await damage(backend, segments)
        let destination = directory.path + "/restored.rdb"
        do {
            _ = try await PointInTimeRestore.restore(backend: backend, layout: BackupLayout(), target: .latest, destination: destination)
            return nil
        } catch let error as RedError {
            #expect(!FileManager.default.fileExists(atPath: destination), "a refused restore creates nothing under the name")
            return error
        }
    }

    @Test func aBrokenChainIsRefusedBeforeAnythingIsApplied() async throws {
        let tampered = try await restoreFails { backend, segments in
            var bytes = try #require(try await backend.get(segments[1]))
            bytes[bytes.count / 2] ^= 0xFF
            try await backend.put(segments[1], bytes: bytes)
        }
        #expect(tampered?.message.contains("SHA-256") == true, "\(String(describing: tampered))")
        let missing = try await restoreFails { backend, segments in
            try await backend.delete(segments[1])
            try await backend.delete(segments[1] + ".manifest.json")
        }
        #expect(missing?.message.contains("gap") == true, "\(String(describing: missing))")
        let relinked = try await restoreFails { backend, segments in
            let key = segments[2] + ".manifest.json"
            let text = String(decoding: try #require(try await backend.get(key)), as: UTF8.self)
            let json = try JSONValue.parse(text)
            guard case .string(let previous)? = json["prev_hash"] else { Issue.record("no prev_hash"); return }
            try await backend.put(key, bytes: Array(text.replacingOccurrences(of: previous, with: String(repeating: "0", count: 64)).utf8))
        }
        #expect(relinked?.message.contains("predecessor") == true, "\(String(describing: relinked))")
        let intact = try await restoreFails { _, _ in }
        #expect(intact == nil)
    }

    @Test func aRestartContinuesTheChainAndARestoredDatabaseStartsItsOwn() async throws {
        let directory = try Directory()
        let backend = FileSystemBackend(root: directory.path + "/backups")
        let path = directory.path + "/data.rdb"
        var (database, service) = try await Self.openWithFirstBackup(path, backend)
        try await Self.insert(database.session(), 1...5)
        try await service.archive()
        // A crash after a segment but before the head: an orphan segment past the head's LSN.
        let orphan = "clusters/dev/wal/\(service.databaseID)/\(String(format: "%012llu-%012llu.wal", database.engine.replicationReadableLSN, database.engine.replicationReadableLSN + 10))"
        try await backend.put(orphan, bytes: [1, 2, 3])
        try await database.close()

        (database, service) = try await Self.open(path, backend)
        try await Self.insert(database.session(), 6...10)
        #expect(try await service.archive() == 1, "the chain goes on from the head after a restart")
        #expect(try await backend.get(orphan) == nil, "the orphan was removed")
        try await database.close()
        _ = try await PointInTimeRestore.restore(backend: backend, layout: BackupLayout(), target: .latest, destination: directory.path + "/r1.rdb")
        #expect(try await Self.ids(directory.path + "/r1.rdb") == Array(1...10))

        // The restored database backs up to the same place under its own id.
        let restored = try await Database.open(path: directory.path + "/r1.rdb", options: ReplicationTests.options())
        let second = try BackupService(database: restored, settings: BackupSettings(backend: backend), logger: Self.logger)
        #expect(second.databaseID != service.databaseID)
        #expect(try await second.archive() == 0, "no chain of its own until its first backup")
        _ = try await second.trigger()
        try await Self.insert(restored.session(), 11...12)
        #expect(try await second.archive() == 1)
        try await restored.close()
        let points = try await PointInTimeRestore.restorePoints(backend: backend, layout: BackupLayout())
        #expect(points.count == 2 && points.last?.snapshot.snapshotID == 2 && points.last?.segmentCount == 1)
        _ = try await PointInTimeRestore.restore(backend: backend, layout: BackupLayout(), target: .latest, destination: directory.path + "/r2.rdb")
        #expect(try await Self.ids(directory.path + "/r2.rdb") == Array(1...12))
        // The first database's history is still there, restorable to its own end.
        let first = try #require(points.first)
        _ = try await PointInTimeRestore.restore(backend: backend, layout: BackupLayout(),
                                                 target: .init(timeMilliseconds: first.latestRecoverableTime), destination: directory.path + "/r3.rdb")
        #expect(try await Self.ids(directory.path + "/r3.rdb") == Array(1...10))
    }

    @Test func onlyTheNewestSnapshotsAndTheWALTheyNeedAreKept() async throws {
        let directory = try Directory()
        let backend = FileSystemBackend(root: directory.path + "/backups")
        var settings = BackupSettings(backend: backend)
        settings.keepSnapshots = 2
        let database = try await Database.open(path: directory.path + "/data.rdb", options: ReplicationTests.options())
        let service = try BackupService(database: database, settings: settings, logger: Self.logger)
        let session = database.session()
        _ = try await session.execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        var times: [Int64] = []
        for round in 0..<4 {
            try await Self.insert(session, (round * 10 + 1)...(round * 10 + 10))
            try await service.archive()
            times.append(try await service.trigger().timestamp)
            try await Self.insert(session, (round * 10 + 100)...(round * 10 + 101))
            try await service.archive()
        }
        try await database.close()
        let points = try await PointInTimeRestore.restorePoints(backend: backend, layout: settings.layout)
        #expect(points.map(\.snapshot.snapshotID) == [3, 4])
        let segments = try await PointInTimeRestore.segmentManifests(backend: backend, prefix: settings.layout.walPrefix + service.databaseID + "/")
        #expect(segments.allSatisfy { $0.lsnEnd > points[0].snapshot.baseLSN }, "segments only the pruned snapshots needed are gone")
        #expect(try await backend.list(prefix: "clusters/dev/").allSatisfy { !$0.contains("000000000001-") && !$0.contains("000000000002-") })
        _ = try await PointInTimeRestore.restore(backend: backend, layout: settings.layout, target: .init(timeMilliseconds: times[2]),
                                                 destination: directory.path + "/third.rdb")
        #expect(try await Self.ids(directory.path + "/third.rdb").count == 30 + 4)
        _ = try await PointInTimeRestore.restore(backend: backend, layout: settings.layout, target: .latest, destination: directory.path + "/latest.rdb")
        #expect(try await Self.ids(directory.path + "/latest.rdb").count == 40 + 8)
    }

    @Test func aFailedHeadWriteNeitherForksNorLosesTheChain() async throws {
        let directory = try Directory()
        let backend = MisbehavingBackend(FileSystemBackend(root: directory.path + "/backups"))
        let path = directory.path + "/data.rdb"
        var (database, service) = try await Self.openWithFirstBackup(path, backend, headRefreshMilliseconds: 0)  // a head with every segment
        backend.refuseHeadWrites.withLock { $0 = true }
        try await Self.insert(database.session(), 1...5)
        await #expect(throws: RedError.self) { try await service.archive() }  // the segment is up, its head is not
        try await Self.insert(database.session(), 6...10)
        await #expect(throws: RedError.self) { try await service.archive() }
        try await database.close()
        // A restart reads the stale head and adopts the two segments past it.
        backend.refuseHeadWrites.withLock { $0 = false }
        (database, service) = try await Self.open(path, backend)
        try await Self.insert(database.session(), 11...12)
        #expect(try await service.archive() == 1)
        try await database.close()
        let segments = try await backend.list(prefix: "clusters/dev/wal/").filter { $0.hasSuffix(".wal") }
        #expect(segments.count == 3, "\(segments)")
        _ = try await PointInTimeRestore.restore(backend: backend, layout: BackupLayout(), target: .latest, destination: directory.path + "/r.rdb")
        #expect(try await Self.ids(directory.path + "/r.rdb") == Array(1...12))
    }

    /// Archiving rewrites `head.json` at most once per `headRefreshMilliseconds`: segments go up
    /// with their manifests while the head stays where the backup left it; a clean shutdown
    /// brings it up to date, and a start-up after a crash adopts what lies past it.
    @Test func archivingRewritesTheHeadAtMostOncePerRefresh() async throws {
        let directory = try Directory()
        let backend = FileSystemBackend(root: directory.path + "/backups")
        let path = directory.path + "/data.rdb"
        func head() async throws -> BackupHead {
            let layout = BackupLayout()
            let bytes = try #require(try await backend.get(layout.headKey))
            return try BackupHead(json: ManifestFields.load(bytes, key: layout.headKey), key: layout.headKey)
        }
        var (database, service) = try await Self.openWithFirstBackup(path, backend)
        let afterBackup = try await head().lastArchivedLSN
        try await Self.insert(database.session(), 1...5)
        #expect(try await service.archive() == 1)
        try await Self.insert(database.session(), 6...10)
        #expect(try await service.archive() == 1)
        #expect(try await head().lastArchivedLSN == afterBackup, "two segments, no head rewrite within the refresh")
        let segments = try await backend.list(prefix: "clusters/dev/wal/").filter { $0.hasSuffix(".wal") }
        #expect(segments.count == 2)
        // A crash now: the next start-up adopts both segments past the stale head.
        try await database.close()
        (database, service) = try await Self.open(path, backend)
        try await Self.insert(database.session(), 11...12)
        #expect(try await service.archive() == 1, "the chain goes on from the adopted segments")
        await service.finish()
        let final = try await head()
        #expect(final.lastArchivedLSN > afterBackup, "a clean stop writes the head")
        try await database.close()
        _ = try await PointInTimeRestore.restore(backend: backend, layout: BackupLayout(), target: .latest, destination: directory.path + "/r.rdb")
        #expect(try await Self.ids(directory.path + "/r.rdb") == Array(1...12))
    }

    /// A chain restarted at a new snapshot whose head never made it (a crash): the next start
    /// follows the restart from the snapshot's manifest instead of deleting its segments.
    @Test func aRestartedChainIsFollowedWhenItsHeadWasLost() async throws {
        let directory = try Directory()
        let backend = MisbehavingBackend(FileSystemBackend(root: directory.path + "/backups"))
        let path = directory.path + "/data.rdb"
        var (database, service) = try await Self.openWithFirstBackup(path, backend, headRefreshMilliseconds: 0)  // a head with every segment
        try await Self.insert(database.session(), 1...5)
        try await service.archive()
        // The chain must restart (as after the WAL was lost), and no head is written for it.
        service.state.withLock { $0.archivedLSN = nil }
        backend.refuseHeadWrites.withLock { $0 = true }
        try await Self.insert(database.session(), 6...10)
        await #expect(throws: RedError.self) { _ = try await service.trigger() }
        try await Self.insert(database.session(), 11...12)
        await #expect(throws: RedError.self) { try await service.archive() }
        try await database.close()
        backend.refuseHeadWrites.withLock { $0 = false }
        let uploaded = try await backend.list(prefix: "clusters/dev/wal/").filter { $0.hasSuffix(".wal") }

        (database, service) = try await Self.open(path, backend)
        try await Self.insert(database.session(), 13...14)
        #expect(try await service.archive() == 1, "the chain goes on after the restarted part")
        try await database.close()
        let now = try await backend.list(prefix: "clusters/dev/wal/").filter { $0.hasSuffix(".wal") }
        #expect(Set(uploaded).isSubset(of: Set(now)), "nothing archived was deleted")
        _ = try await PointInTimeRestore.restore(backend: backend, layout: BackupLayout(), target: .latest, destination: directory.path + "/r.rdb")
        #expect(try await Self.ids(directory.path + "/r.rdb") == Array(1...14))
    }

    @Test func commitRecordsCarryTheirTime() async throws {
        let directory = try Directory()
        let database = try await Database.open(path: directory.path + "/data.rdb", options: ReplicationTests.options())
        let before = SystemClock().nowMilliseconds()
        _ = try await database.session().execute("CREATE TABLE t (id INT)")
        let after = SystemClock().nowMilliseconds()
        let records = try database.engine.wholeCommitRecords(after: 0, maxBytes: 1 << 20).records
        let time = try #require(records.last.flatMap { StorageEngine.commitTime(ofRecord: $0.payload) })
        #expect(time >= before && time <= after)
        try await database.close()
    }
}
