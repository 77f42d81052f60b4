import Foundation
import Testing
import RedDB

/// `red query`: one-shot and stdin modes, table and JSON output, errors and exit codes.
@Suite struct QueryCommandTests {
    static func redPath() throws -> String {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var dir = (exe as NSString).deletingLastPathComponent
        if dir.hasSuffix(".xctest/Contents/MacOS") { dir = ((dir as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent }
        let candidate = dir + "/red"
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw RedError(.internalError, "red not found at \(candidate); run `swift build` first")
        }
        return candidate
    }

    struct Output { let status: Int32; let stdout: String; let stderr: String }

    func run(_ arguments: [String], stdin: String? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.redPath())
        process.arguments = arguments
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: stdout, stderr: stderr)
    }

    func withDatabase(_ body: (String) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("red-query-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try body(dir.appendingPathComponent("data.rdb").path)
    }

    @Test func oneShotPrintsATable() throws {
        try withDatabase { path in
            let r = try run(["query", "--path", path, "CREATE TABLE t (id INT, name TEXT); INSERT INTO t (id, name) VALUES (1, 'Ada'), (2, NULL); SELECT * FROM t ORDER BY id"])
            #expect(r.status == 0)
            #expect(r.stdout.contains(" id | name "))
            #expect(r.stdout.contains(" 1  | Ada  "))
            #expect(r.stdout.contains("(2 rows)"))
        }
    }

    @Test func jsonOutputIsTheQueryEnvelope() throws {
        try withDatabase { path in
            _ = try run(["query", "--path", path, "CREATE TABLE t (id INT, name TEXT); INSERT INTO t (id, name) VALUES (1, 'Ada')"])
            let r = try run(["query", "--json", "--path", path, "SELECT id, name FROM t"])
            #expect(r.status == 0)
            let json = try JSONValue.parse(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(json["ok"] == .bool(true))
            #expect(json["statement"] == .string("select"))
            #expect(json["record_count"] == .integer(1))
            #expect(json["result"]?["columns"] == .array([.string("id"), .string("name")]))
            guard case .array(let records)? = json["result"]?["records"] else { Issue.record("no records"); return }
            #expect(records.first?["values"] == .object([("id", .integer(1)), ("name", .string("Ada"))]))
            let insert = try run(["query", "--json", "--path", path, "INSERT INTO t (id) VALUES (2), (3)"])
            #expect(try JSONValue.parse(insert.stdout.trimmingCharacters(in: .whitespacesAndNewlines))["affected_rows"] == .integer(2))
        }
    }

    @Test func errorsCarryCodeAndSQLStateAndExitNonZero() throws {
        try withDatabase { path in
            let r = try run(["query", "--json", "--path", path, "SELECT * FROM missing"])
            #expect(r.status != 0)
            let json = try JSONValue.parse(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(json["ok"] == .bool(false))
            #expect(json["sqlstate"] == .string("42P01"))
            #expect(json["code"] == .string("undefined_collection"))
            let plain = try run(["query", "--path", path, "SELEC 1"])
            #expect(plain.status != 0)
            #expect(plain.stderr.contains("42601"))
        }
    }

    @Test func readsStatementsFromStandardInput() throws {
        try withDatabase { path in
            let script = """
                CREATE TABLE t (id INT);
                INSERT INTO t (id) VALUES (1), (2),
                  (3);
                SELECT count(*) AS n FROM t; -- trailing comment
                """
            let r = try run(["query", "--path", path], stdin: script)
            #expect(r.status == 0)
            #expect(r.stdout.contains("CREATE TABLE"))
            #expect(r.stdout.contains("INSERT 0 3"))
            #expect(r.stdout.contains(" 3 "))
        }
    }
}
