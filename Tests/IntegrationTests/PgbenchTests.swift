import Foundation
import Testing

/// pgbench (PostgreSQL 15's, from the machine image): `pgbench -i` builds its tables with
/// CREATE … WITH (fillfactor), multi-table TRUNCATE, COPY … FREEZE, VACUUM ANALYZE and
/// ALTER TABLE ADD PRIMARY KEY, then the default TPC-B-like script runs in every query mode.
/// Skipped, with a notice, when pgbench is absent.
@Suite(.serialized) struct PgbenchTests {
    static let pgbenchPath = ["/usr/lib/postgresql/15/bin/pgbench", "/usr/bin/pgbench", "/usr/local/bin/pgbench"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs pgbench to its end, waiting on a thread of its own (`offPool`).
    static func pgbench(_ server: ServerProcess, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let port = server.pgPort
        return try await offPool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: pgbenchPath!)
            process.arguments = ["-h", "127.0.0.1", "-p", String(port), "-U", "bench"] + arguments + ["reddb"]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = out
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
    }

    @Test func initializeAndRunTheDefaultScript() async throws {
        guard Self.pgbenchPath != nil else {
            _ = ClientProgram.missing("pgbench", requiredBy: "REDDB_REQUIRE_POSTGRES", installer: "scripts/install-postgres", skipping: "PgbenchTests")
            return
        }
        let server = try ServerProcess()
        defer { server.remove() }
        let initialized = try await Self.pgbench(server, ["-i", "-s", "1", "-q"])
        #expect(initialized.status == 0, "\(initialized.output)")
        for mode in ["simple", "extended", "prepared"] {
            // Two clients update the single branch row: snapshot isolation makes the later
            // committer retry (40001), which pgbench does with --max-tries.
            let run = try await Self.pgbench(server, ["-c", "2", "-t", "15", "-M", mode, "--max-tries=100"])
            #expect(run.status == 0, "\(mode): \(run.output)")
            #expect(run.output.contains("number of transactions actually processed: 30/30"), "\(mode): \(run.output)")
            #expect(run.output.contains("number of failed transactions: 0 "), "\(mode): \(run.output)")
        }
    }
}
