import Foundation
import RedCore
import RedDB
@testable import RedReplication
import Synchronization
import Testing

/// `MANIFEST.json` (`BackupCatalog`): after each backup and at a clean shutdown it lists exactly
/// the snapshots and segments the namespace holds, with their sidecars' checksums; a missing
/// or unreadable one is rebuilt from a listing.
@Suite(.serialized) struct BackupCatalogTests {
    static func read(_ backend: any BackupBackend, _ layout: BackupLayout) async throws -> (BackupCatalog, JSONValue) {
        let bytes = try #require(try await backend.get(layout.catalogKey))
        let json = try JSONValue.parse(utf8: bytes)
        return (try BackupCatalog(json: json, key: layout.catalogKey), json)
    }

    static func held(_ backend: any BackupBackend, _ layout: BackupLayout) async throws -> (snapshots: Set<String>, segments: Set<String>) {
        let keys = try await backend.list(prefix: "clusters/dev/")
        return (Set(keys.filter { $0.hasSuffix(".snapshot") }), Set(keys.filter { $0.hasSuffix(".wal") }))
    }

    @Test func theCatalogListsWhatTheNamespaceHolds() async throws {
        let directory = try BackupTests.Directory()
        let backend = FileSystemBackend(root: directory.path + "/backups")
        var settings = BackupSettings(backend: backend)
        settings.keepSnapshots = 2
        let layout = settings.layout
        #expect(layout.catalogKey == "clusters/dev/MANIFEST.json")
        let database = try await Database.open(path: directory.path + "/data.rdb", options: ReplicationTests.options())
        let service = try BackupService(database: database, settings: settings, logger: BackupTests.logger)
        let session = database.session()
        _ = try await session.execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        for round in 0..<3 {
            try await BackupTests.insert(session, (round * 10 + 1)...(round * 10 + 10))
            try await service.archive()
            _ = try await service.trigger()
            try await BackupTests.insert(session, (round * 10 + 100)...(round * 10 + 101))
            try await service.archive()
        }
        // Folded at the last backup (after pruning); the archive since is pending.
        var (catalog, json) = try await Self.read(backend, layout)
        var held = try await Self.held(backend, layout)
        #expect(Set(catalog.snapshots.keys) == held.snapshots && held.snapshots.count == 2, "pruned snapshots are gone from it")
        #expect(Set(catalog.segments.keys).isStrictSubset(of: held.segments), "the last archive is not folded in yet")
        #expect(Set(catalog.segments.keys).isSubset(of: held.segments), "pruned segments are gone from it")

        await service.finish()
        (catalog, json) = try await Self.read(backend, layout)
        #expect(Set(catalog.segments.keys) == held.segments && Set(catalog.snapshots.keys) == held.snapshots)
        guard case .string("1.0")? = json["version"], case .integer(let latest)? = json["latest_lsn"] else {
            Issue.record("version or latest_lsn missing: \(json)")
            return
        }
        #expect(UInt64(latest) == catalog.segments.values.map(\.lsnEnd).max())
        let sidecars = try await PointInTimeRestore.segmentManifests(backend: backend, prefix: layout.walPrefix + service.databaseID + "/")
        for sidecar in sidecars {
            let entry = try #require(catalog.segments[sidecar.key])
            #expect(entry.sha256 == sidecar.sha256 && entry.lsnStart == sidecar.lsnStart && entry.lsnEnd == sidecar.lsnEnd)
            #expect(entry.bytes.map(Int.init) == (try await backend.get(sidecar.key))?.count)
        }
        for snapshot in try await PointInTimeRestore.snapshotManifests(backend: backend, layout: layout) {
            let entry = try #require(catalog.snapshots[snapshot.snapshotKey])
            #expect(entry.sha256 == snapshot.sha256 && entry.lsn == snapshot.baseLSN && entry.id == snapshot.snapshotID && entry.bytes == snapshot.bytes)
        }

        // Missing: rebuilt from a listing, then the new segment folded in with its checksum.
        try await backend.delete(layout.catalogKey)
        try await BackupTests.insert(session, 500...505)
        try await service.archive()
        await service.finish()
        (catalog, _) = try await Self.read(backend, layout)
        held = try await Self.held(backend, layout)
        #expect(Set(catalog.segments.keys) == held.segments && Set(catalog.snapshots.keys) == held.snapshots)
        let newest = try #require(catalog.segments.values.max { $0.lsnEnd < $1.lsnEnd })
        #expect(newest.sha256 != nil && catalog.segments.values.contains { $0.sha256 == nil }, "rebuilt entries carry what their names say")

        // Unreadable: replaced the same way.
        try await backend.put(layout.catalogKey, bytes: Array("{\"version\": 7".utf8))
        try await BackupTests.insert(session, 600...601)
        try await service.archive()
        await service.finish()
        (catalog, _) = try await Self.read(backend, layout)
        held = try await Self.held(backend, layout)
        #expect(Set(catalog.segments.keys) == held.segments && Set(catalog.snapshots.keys) == held.snapshots)
        try await database.close()
    }

    /// Another server folds into the same `MANIFEST.json` between our read and our write:
    /// on a conditional backend our write is refused, we read again and merge again, and the
    /// document ends up with both servers' entries.
    @Test func aFoldRacingAnotherServerKeepsBothEntries() async throws {
        let directory = try BackupTests.Directory()
        let backend = RacingCatalogBackend(FileSystemBackend(root: directory.path + "/backups"))
        let settings = BackupSettings(backend: backend)
        let layout = settings.layout
        let database = try await Database.open(path: directory.path + "/data.rdb", options: ReplicationTests.options())
        let service = try BackupService(database: database, settings: settings, logger: BackupTests.logger)
        _ = try await database.session().execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        _ = try await service.trigger()  // the first fold: nothing to race yet
        try await BackupTests.insert(database.session(), 1...5)
        try await service.archive()
        backend.raceNextCatalogWrite.withLock { $0 = true }
        await service.finish()
        #expect(backend.racesRun.load(ordering: .relaxed) == 1)
        let (catalog, _) = try await Self.read(backend, layout)
        #expect(catalog.segments[RacingCatalogBackend.othersSegment] != nil, "the other server's entry survived our fold")
        let held = try await Self.held(backend, layout)
        #expect(held.segments.isSubset(of: Set(catalog.segments.keys)) && !held.segments.isEmpty, "and ours are there too")
        try await database.close()
    }

    @Test func aDocumentRoundTrips() throws {
        var catalog = BackupCatalog()
        catalog.snapshots["ns/snapshots/a"] = .init(id: 3, lsn: 400, time: 1_700_000_000_000, bytes: 9, key: "ns/snapshots/a", sha256: "ab")
        catalog.segments["ns/wal/x/1-2.wal"] = .init(lsnStart: 1, lsnEnd: 2, key: "ns/wal/x/1-2.wal", bytes: nil, sha256: nil)
        catalog.segments["ns/wal/x/2-9.wal"] = .init(lsnStart: 2, lsnEnd: 9, key: "ns/wal/x/2-9.wal", bytes: 5, sha256: "cd")
        let json = try JSONValue.parse(utf8: catalog.encoded())
        #expect(try BackupCatalog(json: json, key: "t") == catalog)
        #expect(json["latest_lsn"] == .integer(400))
        #expect(throws: RedError.self) { _ = try BackupCatalog(json: .object([("version", .string("2.0"))]), key: "t") }
    }
}

/// A directory backend where, once asked, another server writes `MANIFEST.json` (adding an
/// entry of its own) just before our next conditional write of it lands.
final class RacingCatalogBackend: ConditionalBackend {
    static let othersSegment = "clusters/dev/wal/other-server/000000000001-000000000002.wal"
    let inner: FileSystemBackend
    let raceNextCatalogWrite = Mutex(false)
    let racesRun = Atomic<Int>(0)

    init(_ inner: FileSystemBackend) { self.inner = inner }

    var description: String { "racing " + inner.description }

    func put(_ key: String, bytes: [UInt8]) async throws { try await inner.put(key, bytes: bytes) }
    func putFile(_ key: String, from path: String) async throws { try await inner.putFile(key, from: path) }
    func get(_ key: String) async throws -> [UInt8]? { try await inner.get(key) }
    func getFile(_ key: String, to path: String) async throws -> Bool { try await inner.getFile(key, to: path) }
    func list(prefix: String) async throws -> [String] { try await inner.list(prefix: prefix) }
    func delete(_ key: String) async throws { try await inner.delete(key) }
    func getVersioned(_ key: String) async throws -> (bytes: [UInt8], version: String)? { try await inner.getVersioned(key) }
    func delete(_ key: String, ifVersion version: String) async throws -> Bool { try await inner.delete(key, ifVersion: version) }

    func put(_ key: String, bytes: [UInt8], ifVersion version: String?) async throws -> Bool {
        if key.hasSuffix("MANIFEST.json"), raceNextCatalogWrite.withLock({ race in defer { race = false }; return race }) {
            var theirs = BackupCatalog()
            if let current = try await inner.get(key) {
                theirs = try BackupCatalog(json: ManifestFields.load(current, key: key), key: key)
            }
            theirs.segments[Self.othersSegment] = BackupCatalog.Segment(lsnStart: 1, lsnEnd: 2, key: Self.othersSegment, bytes: 10,
                                                                         sha256: String(repeating: "0", count: 64))
            try await inner.put(key, bytes: theirs.encoded())
            racesRun.add(1, ordering: .relaxed)
        }
        return try await inner.put(key, bytes: bytes, ifVersion: version)
    }
}
