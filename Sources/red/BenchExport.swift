import ArgumentParser
import Foundation
import RedCore
import RedDB

/// `red bench export`: an online export (`Database.export(to:)`, what `POST /export` runs) of
/// a loaded database, against the physical limit of the same output: copying the export's
/// own files byte for byte, with an fsync, in the same process. The ratio says what reading
/// every key through a snapshot and writing it as a fresh database costs over moving the
/// bytes. The export is then opened and its rows counted.
struct BenchExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Online export of a loaded database, against copying the same bytes.")

    @Option(help: "Directory for the database files; removed afterwards.")
    var dir: String = "."

    @Option(help: "Rows to load (id, an indexed text column, a 100-byte payload).")
    var rows: Int = 1_000_000

    @Option(help: "Page cache budget in MiB.")
    var cacheMiB: Int = 1024

    mutating func run() async throws {
        #if DEBUG
        print("warning: this is a debug build; run `swift run -c release red bench export` for real figures\n")
        #endif
        guard rows > 0 else { throw ValidationError("--rows must be positive") }
        let root = (dir as NSString).appendingPathComponent(".red-bench-export-\(getpid())")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try await runRemovingOnInterrupt(scratch: root) {
            var options = DatabaseOptions()
            options.engine.cacheBytes = cacheMiB << 20
            let db = try await Database.open(path: root + "/bench.rdb", options: options)
            let session = db.session()
            try await session.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, tag TEXT, payload TEXT)")
            try await session.execute("CREATE INDEX t_tag ON t (tag)")
            var start = Date()
            let batch = 50_000
            for lower in stride(from: 1, through: rows, by: batch) {
                let upper = min(rows, lower + batch - 1)
                try await session.execute("INSERT INTO t SELECT g, 'tag' || (g % 1000), repeat('x', 100) FROM generate_series(\(lower), \(upper)) AS g")
            }
            print(String(format: "load %d rows: %.1f s", rows, Date().timeIntervalSince(start)))
            try await db.engine.checkpoint()

            start = Date()
            let summary = try await db.export(to: root + "/copy.rdb")
            let exportSeconds = Date().timeIntervalSince(start)
            let bytes = try Self.size(of: summary.path) + (try Self.size(of: summary.path + "-wal"))
            print(String(format: "export: %.2f s, %d keys, %.1f MiB (%.0f keys/s, %.1f MiB/s)", exportSeconds, summary.keys,
                         Double(bytes) / 1_048_576, Double(summary.keys) / exportSeconds, Double(bytes) / 1_048_576 / exportSeconds))

            start = Date()
            try Self.copy(summary.path, to: root + "/raw.rdb")
            try Self.copyDirectory(summary.path + "-wal", to: root + "/raw.rdb-wal")
            let copySeconds = Date().timeIntervalSince(start)
            print(String(format: "copying the export's files (read, write, fsync): %.2f s (%.1f MiB/s)", copySeconds, Double(bytes) / 1_048_576 / copySeconds))
            print(String(format: "ratio (copy / export, higher is better): %.2f×", copySeconds / exportSeconds))
            try await db.close()

            let copy = try await Database.open(path: summary.path, options: options)
            let count = try await copy.session().execute("SELECT count(*) FROM t WHERE tag = 'tag7'")
            let total = try await copy.session().execute("SELECT count(*) FROM t")
            try await copy.close()
            let expectedTagged = (1...rows).lazy.filter { $0 % 1000 == 7 }.count
            guard total.rows.first?.first == .integer(Int64(rows)), count.rows.first?.first == .integer(Int64(expectedTagged)) else {
                print("MISMATCH: the export holds \(total.rows) rows, \(count.rows) tagged")
                throw ExitCode.failure
            }
            print("the export opens and holds every row; its index answers")
        }
    }

    static func size(of path: String) throws -> Int64 {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return 0 }
        if !isDirectory.boolValue { return (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0 }
        return try FileManager.default.contentsOfDirectory(atPath: path).reduce(0) { $0 + (try size(of: path + "/" + $1)) }
    }

    /// Reads and writes in 1 MiB pieces, then fsyncs: what moving these bytes costs.
    static func copy(_ source: String, to target: String) throws {
        guard let input = FileHandle(forReadingAtPath: source) else { throw ValidationError("cannot read \(source)") }
        FileManager.default.createFile(atPath: target, contents: nil)
        guard let output = FileHandle(forWritingAtPath: target) else { throw ValidationError("cannot write \(target)") }
        while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty { try output.write(contentsOf: chunk) }
        try output.synchronize()
        try input.close()
        try output.close()
    }

    static func copyDirectory(_ source: String, to target: String) throws {
        guard FileManager.default.fileExists(atPath: source) else { return }
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: source) { try copy(source + "/" + name, to: target + "/" + name) }
    }
}
