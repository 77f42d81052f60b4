import ArgumentParser
import Foundation
import RedCore
import RedReplication

/// `red pitr-list` and `red pitr-restore`: the backups in the backend `RED_BACKEND` names (the
/// same environment as `red server`), and an offline point-in-time restore into a new file.
struct PitrListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pitr-list",
        abstract: "List the restore points in the backup backend (RED_BACKEND, RED_FS_PATH or RED_S3_*).",
        discussion: "Example: RED_BACKEND=fs RED_FS_PATH=/var/backups/reddb red pitr-list --json")

    @Flag(help: "Print the JSON document instead of a table.")
    var json = false

    func run() async throws {
        let settings = try PitrSettings.load()
        let points = try await PointInTimeRestore.restorePoints(backend: settings.backend, layout: settings.layout)
        if json {
            print(JSONValue.object([("backend", .string(settings.backend.description)), ("restore_points", .array(points.map(\.json)))]).text)
            return
        }
        guard !points.isEmpty else {
            print("\(settings.backend.description) holds no snapshot")
            return
        }
        print("snapshot  taken (UTC)               base LSN      segments  recoverable to (UTC)")
        for point in points {
            let numbers = String(format: "%12llu  %8d", point.snapshot.baseLSN, point.segmentCount)
            print(String(format: "%8lld", point.snapshot.snapshotID) + "  " + PitrSettings.utc(point.snapshot.snapshotTime) + "  " + numbers
                  + "  " + PitrSettings.utc(point.latestRecoverableTime))
        }
    }
}

struct PitrRestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pitr-restore",
        abstract: "Restore a new database file from the backup backend as of a point in time.",
        discussion: """
            Example: RED_BACKEND=fs RED_FS_PATH=/var/backups/reddb red pitr-restore --target-time unix:1764660000 --dest restored.rdb
            Then: red server -d restored.rdb
            """)

    @Option(help: "unix:<seconds>, unix_ms:<ms> or a number (seconds below 10^12, else ms); 0 or absent: the latest.")
    var targetTime: String?

    @Option(help: "Stop after the commit ending at or before this LSN (of the snapshot's database).")
    var targetLSN: UInt64?

    @Option(help: "The database file to create (must not exist).")
    var dest: String

    func run() async throws {
        let settings = try PitrSettings.load()
        let time: Int64?
        do { time = try targetTime.flatMap(PointInTimeRestore.Target.parseTime) } catch let error as RedError { throw ValidationError(error.message) }
        do {
            let summary = try await PointInTimeRestore.restore(backend: settings.backend, layout: settings.layout,
                                                               target: .init(timeMilliseconds: time, lsn: targetLSN), destination: dest)
            print(summary.json.text)
        } catch let error as RedError {
            FileHandle.standardError.write(Data("red pitr-restore: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
    }
}

enum PitrSettings {
    static func load() throws -> BackupSettings {
        do {
            guard let settings = try BackupSettings.fromEnvironment() else {
                throw ValidationError("no backup backend: set RED_BACKEND=fs with RED_FS_PATH, or RED_BACKEND=s3 with RED_S3_*")
            }
            return settings
        } catch let error as RedError {
            throw ValidationError(error.message)
        }
    }

    static func utc(_ milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}
