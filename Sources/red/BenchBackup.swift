import ArgumentParser
import Foundation
import Logging
import RedCore
import RedDB
import RedReplication

/// `red bench backup`: a backup (online export, packed, uploaded to a directory backend), WAL
/// archiving of a backlog of single-row commits, and a point-in-time restore of both, each
/// against the physical limit of its output in the same run: copying the same bytes with an
/// fsync. The restore is then opened and its rows counted.
struct BenchBackup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Backup, WAL archiving and point-in-time restore against copying the same bytes.")

    @Option(help: "Directory for the database and the backend; removed afterwards.")
    var dir: String = "."

    @Option(help: "Rows loaded before the backup (id, an indexed text column, a 100-byte payload).")
    var rows: Int = 1_000_000

    @Option(help: "Single-row commits made after the backup, then archived and replayed.")
    var commits: Int = 20_000

    @Option(help: "Page cache budget in MiB.")
    var cacheMiB: Int = 1024

    mutating func run() async throws {
        #if DEBUG
        print("warning: this is a debug build; run `swift run -c release red bench backup` for real figures\n")
        #endif
        guard rows > 0, commits > 0 else { throw ValidationError("--rows and --commits must be positive") }
        let root = (dir as NSString).appendingPathComponent(".red-bench-backup-\(getpid())")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try await runRemovingOnInterrupt(scratch: root) {
            var options = DatabaseOptions()
            options.engine.cacheBytes = cacheMiB << 20
            options.engine.syncMode = .off  // the load and the commits are not what is measured
            let db = try await Database.open(path: root + "/bench.rdb", options: options)
            let session = db.session()
            try await session.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, tag TEXT, payload TEXT)")
            try await session.execute("CREATE INDEX t_tag ON t (tag)")
            for lower in stride(from: 1, through: rows, by: 50_000) {
                try await session.execute("INSERT INTO t SELECT g, 'tag' || (g % 1000), repeat('x', 100) FROM generate_series(\(lower), \(min(rows, lower + 49_999))) AS g")
            }
            try await db.engine.checkpoint()
            let databaseBytes = try BenchExport.size(of: root + "/bench.rdb") + (try BenchExport.size(of: root + "/bench.rdb-wal"))

            var settings = BackupSettings(backend: FileSystemBackend(root: root + "/backend"))
            settings.archiveIntervalMilliseconds = 0
            let service = try BackupService(database: db, settings: settings, logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
            var start = Date()
            let backup = try await service.trigger()
            let backupSeconds = Date().timeIntervalSince(start)
            start = Date()
            try BenchExport.copy(root + "/bench.rdb", to: root + "/raw.rdb")
            try BenchExport.copyDirectory(root + "/bench.rdb-wal", to: root + "/raw.rdb-wal")
            let copySeconds = Date().timeIntervalSince(start)
            print(String(format: "backup of %d rows: %.2f s, snapshot %.1f MiB (%.1f MiB/s of database)", rows, backupSeconds,
                         Double(backup.bytes) / 1_048_576, Double(databaseBytes) / 1_048_576 / backupSeconds))
            print(String(format: "copying the database's files (read, write, fsync): %.2f s; ratio (copy / backup, higher is better): %.2f×",
                         copySeconds, copySeconds / backupSeconds))

            for i in 1...commits {
                try await session.execute("INSERT INTO t VALUES ($1, 'late', repeat('y', 100))", parameters: [.integer(Int64(rows + i))])
            }
            // The commits ran without an fsync each (not what is measured); the checkpoint makes
            // them durable, which is when the archiver may ship them. The WAL stays: it is not archived yet.
            try await db.engine.checkpoint()
            let backlog = db.engine.replicationReadableLSN - backup.archivedLSN
            start = Date()
            let segments = try await service.archive()
            let archiveSeconds = Date().timeIntervalSince(start)
            let walBytes = try BenchExport.size(of: root + "/backend/clusters/dev/wal")
            start = Date()
            try BenchExport.copyDirectory(root + "/backend/clusters/dev/wal/\(service.databaseID)", to: root + "/raw-wal")
            let walCopySeconds = Date().timeIntervalSince(start)
            print(String(format: "WAL archive of %d commits (%.1f MiB of log): %.3f s in %d segments, %.1f MiB archived (%.0f commits/s)",
                         commits, Double(backlog) / 1_048_576, archiveSeconds, segments, Double(walBytes) / 1_048_576, Double(commits) / archiveSeconds))
            print(String(format: "copying the archived files (read, write, fsync): %.3f s; ratio (copy / archive, higher is better): %.2f×",
                         walCopySeconds, walCopySeconds / archiveSeconds))
            try await db.close()

            start = Date()
            let restored = try await PointInTimeRestore.restore(backend: settings.backend, layout: settings.layout, target: .latest,
                                                                destination: root + "/restored.rdb")
            let restoreSeconds = Date().timeIntervalSince(start)
            print(String(format: "point-in-time restore (snapshot + %d commits replayed): %.2f s (%.0f commits/s replayed on top of the copy)",
                         restored.recordsApplied, restoreSeconds, Double(restored.recordsApplied) / restoreSeconds))
            print(String(format: "ratio (copy of the database / restore, higher is better): %.2f×", copySeconds / restoreSeconds))

            let check = try await Database.open(path: root + "/restored.rdb", options: options)
            let total = try await check.session().execute("SELECT count(*) FROM t")
            let late = try await check.session().execute("SELECT count(*) FROM t WHERE tag = 'late'")
            try await check.close()
            guard total.rows.first?.first == .integer(Int64(rows + commits)), late.rows.first?.first == .integer(Int64(commits)) else {
                print("MISMATCH: the restore holds \(total.rows) rows, \(late.rows) late")
                throw ExitCode.failure
            }
            print("the restore opens and holds every row, the replayed ones found through the index")
        }
    }
}
