import Foundation
import RedCore
import RedDB

/// Exports and snapshots of the served database, for HTTP (`POST /export`, `GET /exports`,
/// `POST /snapshot`, `GET /snapshots`) and gRPC (`CreateExport`, `Exports`, `CreateSnapshot`,
/// `Snapshots`). Both are consistent online copies (`Database.export`) beside the database:
/// an export is `<db>.export.<name>.rdb`, a snapshot the export `snapshot-<unix ms>`, of
/// which the newest `maxSnapshots` are kept. A replica may export too: copying is a read.
extension CollectionOperations {
    static let maxSnapshots = 16
    static let snapshotPrefix = "snapshot-"

    func exportPath(_ name: String) -> String { database.engine.path + ".export.\(name).rdb" }

    /// `{"name"}` → `{"ok","name","path","lsn","keys","bytes","duration_ms"}`.
    func createExport(_ body: JSONValue) async throws -> JSONValue {
        guard case .string(let name)? = body["name"] else { throw RedError(.invalidArgument, "an export needs name") }
        try Self.validateExportName(name)
        guard !name.hasPrefix(Self.snapshotPrefix) else {
            throw RedError(.invalidArgument, "export names starting with \(Self.snapshotPrefix) are reserved for snapshots")
        }
        return Self.reply(name, try await database.export(to: exportPath(name)))
    }

    func createSnapshot() async throws -> JSONValue {
        var name = Self.snapshotPrefix + String(SystemClock().nowMilliseconds())
        while FileManager.default.fileExists(atPath: exportPath(name)) { name += "x" }
        let reply = Self.reply(name, try await database.export(to: exportPath(name)))
        let snapshots = try listExports().filter { $0.name.hasPrefix(Self.snapshotPrefix) }
        for old in snapshots.dropLast(Self.maxSnapshots) {
            try? FileManager.default.removeItem(atPath: old.path)
            try? FileManager.default.removeItem(atPath: old.path + "-wal")
        }
        return reply
    }

    /// `{"ok","exports":[{"name","path","bytes","created_at"}]}`, oldest first.
    func exports(snapshots: Bool) throws -> JSONValue {
        let list = try listExports().filter { $0.name.hasPrefix(Self.snapshotPrefix) == snapshots }
        return .object([("ok", .bool(true)), (snapshots ? "snapshots" : "exports", .array(list.map { e in
            .object([("name", .string(e.name)), ("path", .string(e.path)), ("bytes", .integer(e.bytes)), ("created_at", .integer(e.createdAt))])
        }))])
    }

    struct ExportFile {
        var name: String
        var path: String
        var bytes: Int64
        var createdAt: Int64
    }

    func listExports() throws -> [ExportFile] {
        let base = database.engine.path
        let directory = (base as NSString).deletingLastPathComponent
        let prefix = (base as NSString).lastPathComponent + ".export."
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)
        return names.compactMap { file -> ExportFile? in
            guard file.hasPrefix(prefix), file.hasSuffix(".rdb") else { return nil }
            let name = String(file.dropFirst(prefix.count).dropLast(4))
            guard (try? Self.validateExportName(name)) != nil else { return nil }
            let path = directory.isEmpty ? file : directory + "/" + file
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            let modified = (attributes?[.modificationDate] as? Date).map { Int64($0.timeIntervalSince1970 * 1000) } ?? 0
            return ExportFile(name: name, path: path, bytes: (attributes?[.size] as? NSNumber)?.int64Value ?? 0, createdAt: modified)
        }.sorted { ($0.createdAt, $0.name) < ($1.createdAt, $1.name) }
    }

    static func validateExportName(_ name: String) throws {
        guard (1...64).contains(name.utf8.count), name.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }) else {
            throw RedError(.invalidArgument, "an export name is 1 to 64 letters, digits, '-' or '_'")
        }
    }

    static func reply(_ name: String, _ s: Database.ExportSummary) -> JSONValue {
        .object([("ok", .bool(true)), ("name", .string(name)), ("path", .string(s.path)), ("lsn", .integer(Int64(s.lsn))),
                 ("keys", .integer(Int64(s.keys))), ("bytes", .integer(s.bytes)), ("duration_ms", .integer(s.milliseconds))])
    }
}
