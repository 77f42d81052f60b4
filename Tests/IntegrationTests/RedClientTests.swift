import Foundation
import RedClient
import RedCore
import RedDB
import Testing

/// RedClient against the real `red server` over every network transport, and embedded:
/// the same calls give the same answers and the same `RedError` codes.
@Suite(.serialized) struct RedClientTests {
    struct Person: Codable, Equatable, Sendable {
        let id: Int
        let name: String
        let score: Double?
    }

    static func urls(_ server: ServerProcess, userinfo: String = "") -> [String] {
        ["red://\(userinfo)127.0.0.1:\(server.wirePort)", "grpc://\(userinfo)127.0.0.1:\(server.grpcPort)",
         "http://\(userinfo)127.0.0.1:\(server.httpPort)"]
    }

    static func code(_ body: () async throws -> Void) async -> RedError.Code? {
        do {
            try await body()
            return nil
        } catch let error as RedError {
            return error.code
        } catch {
            Issue.record("not a RedError: \(error)")
            return nil
        }
    }

    /// The same script on one client; returns what it saw, for comparison across transports.
    static func script(_ db: RedClient, table: String) async throws -> [String] {
        var seen: [String] = []
        try await db.execute("CREATE TABLE \(table) (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score FLOAT)")
        #expect(try await db.execute("INSERT INTO \(table) VALUES ($1, $2, $3), ($4, $5, $6)",
                                     [.integer(1), .text("Ada"), .float(9.5), .integer(2), .text("Bob"), .null]) == 2)
        let people = try await db.query(Person.self, "SELECT id, name, score FROM \(table) ORDER BY id")
        #expect(people == [Person(id: 1, name: "Ada", score: 9.5), Person(id: 2, name: "Bob", score: nil)])
        let insert = db.prepare("INSERT INTO \(table) (id, name) VALUES ($1, $2)")
        for i in 3...5 { try await insert.execute([.integer(Int64(i)), .text("p\(i)")]) }
        let count = try await db.query("SELECT count(*) AS n FROM \(table)")
        seen.append("count \(count.rows[0][0].displayText) columns \(count.columns.map(\.name))")
        #expect(try await db.bulkInsert(into: table, columns: ["id", "name"], rows: (10..<2_010).map { [.integer(Int64($0)), .text("b\($0)")] }) == 2_000)
        seen.append("sum \(try await db.query("SELECT sum(id) FROM \(table)").rows[0][0].displayText)")
        seen.append("unique \(String(describing: await code { try await db.execute("INSERT INTO \(table) (id, name) VALUES (1, 'x')") }))")
        seen.append("missing \(String(describing: await code { try await db.query("SELECT * FROM nowhere_\(table)") }))")
        seen.append("syntax \(String(describing: await code { try await db.query("SELEC 1") }))")
        seen.append("notnull \(String(describing: await code { try await db.execute("INSERT INTO \(table) (id) VALUES (99)") }))")
        try await db.kvPut("greeting", .text("hello"), collection: "kv_\(table)")
        seen.append("kv \(String(describing: try await db.kvGet("greeting", collection: "kv_\(table)")))")
        seen.append("kv deleted \(try await db.kvDelete("greeting", collection: "kv_\(table)"))")
        seen.append("kv gone \(String(describing: try await db.kvGet("greeting", collection: "kv_\(table)")))")
        let rid = try await db.insertDocument(Person(id: 7, name: "Doc", score: 1), into: "docs_\(table)")
        let doc = try await db.query("SELECT name FROM \("docs_\(table)") WHERE rid = $1", [.integer(rid)])
        seen.append("doc \(doc.rows[0][0].displayText)")
        return seen
    }

    @Test func everyTransportAnswersTheSame() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let memory = try await RedClient.connect("memory://")
        let reference = try await Self.script(memory, table: "t")
        try await memory.close()
        #expect(reference.contains("unique Optional(RedCore.RedError.Code.uniqueViolation)"), "\(reference)")
        for (i, url) in Self.urls(server).enumerated() {
            let db = try await RedClient.connect(url)
            let seen = try await Self.script(db, table: "t\(i)")
            #expect(seen == reference, "\(url)")
            try await db.close()
        }
        let directory = NSTemporaryDirectory() + "redclient-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = try await RedClient.connect("file://\(directory)/data.rdb")
        #expect(try await Self.script(file, table: "t") == reference)
        try await file.close()
        let reopened = try await RedClient.connect("file://\(directory)/data.rdb")
        #expect(try await reopened.query("SELECT count(*) FROM t").rows[0][0] == .integer(2_005))
        try await reopened.close()
    }

    @Test func transactionsOverRedWireAndEmbedded() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        for url in ["red://127.0.0.1:\(server.wirePort)", "memory://"] {
            let db = try await RedClient.connect(url)
            try await db.execute("CREATE TABLE IF NOT EXISTS acct (id BIGINT PRIMARY KEY, balance BIGINT)")
            try await db.execute("INSERT INTO acct VALUES (1, 100), (2, 0)")
            try await db.transaction { tx in
                try await tx.execute("UPDATE acct SET balance = balance - 30 WHERE id = 1")
                try await tx.execute("UPDATE acct SET balance = balance + 30 WHERE id = 2")
            }
            struct Failure: Error {}
            await #expect(throws: Failure.self) {
                try await db.transaction { tx in
                    try await tx.execute("UPDATE acct SET balance = 0")
                    throw Failure()
                }
            }
            let tx = try await db.begin()
            try await tx.execute("DELETE FROM acct")
            // Outside the transaction the rows are still there (snapshot isolation).
            #expect(try await db.query("SELECT count(*) FROM acct").rows[0][0] == .integer(2))
            try await tx.rollback()
            await #expect(throws: RedError.self) { try await tx.commit() }
            let balances = try await db.query("SELECT balance FROM acct ORDER BY id").rows.map { $0[0] }
            #expect(balances == [.integer(70), .integer(30)], "\(url)")
            try await db.execute("DROP TABLE acct")
            try await db.close()
        }
        for url in Self.urls(server).dropFirst() {
            let db = try await RedClient.connect(url)
            #expect(await Self.code { _ = try await db.begin() } == .featureNotSupported)
            try await db.close()
        }
    }

    @Test func concurrentQueriesShareOneRedWireConnection() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let db = try await RedClient.connect("red://127.0.0.1:\(server.wirePort)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask {
                    let result = try await db.query("SELECT $1::bigint * 2 AS v", [.integer(Int64(i))])
                    #expect(result.rows[0][0] == .integer(Int64(i * 2)))
                }
            }
            try await group.waitForAll()
        }
        try await db.close()
    }

    /// The calling thread's name (NIO names its event-loop threads `NIO-…`).
    static func threadName() -> String {
        ((try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func callersOnTheConnectionsEventLoop() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        // The timeout must outlast every statement here but the endless one, on a loaded machine too.
        let db = try await RedClient.connect("red://127.0.0.1:\(server.wirePort)?pool=2&timeout_ms=5000")
        _ = try await db.execute("CREATE TABLE loop_t (id BIGINT PRIMARY KEY, name TEXT)")
        let names = try await db.withConnectionExecutor {
            var names = [Self.threadName()]
            #expect(try await db.query("SELECT $1::bigint * 2 AS v", [.integer(21)]).rows[0][0] == .integer(42))
            names.append(Self.threadName())
            try await db.transaction { tx in
                _ = try await tx.execute("INSERT INTO loop_t (id, name) VALUES (1, 'a')")
                _ = try await tx.execute("INSERT INTO loop_t (id, name) VALUES (2, 'b')")
            }
            names.append(Self.threadName())
            // The timeout's timer runs on the same loop while the caller waits there.
            #expect(await Self.code { _ = try await db.query("SELECT count(*) FROM generate_series(1, 1000000) a, generate_series(1, 1000000) b") } == .queryCanceled)
            // Other tasks' requests on the same connections go on meanwhile.
            async let outside = Task.detached { try await db.query("SELECT count(*) FROM loop_t").rows[0][0] }.value
            #expect(try await outside == .integer(2))
            names.append(Self.threadName())
            return names
        }
        #expect(names.allSatisfy { $0.hasPrefix("NIO-") }, "ran on \(names)")
        #expect(Set(names).count == 1, "one loop throughout: \(names)")
        #expect(try await db.query("SELECT name FROM loop_t ORDER BY id").rows.map { $0[0] } == [.text("a"), .text("b")])
        try await db.close()
    }

    @Test func timeoutsCancelOnTheServer() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let db = try await RedClient.connect("red://127.0.0.1:\(server.wirePort)?timeout_ms=300")
        #expect(await Self.code { _ = try await db.query("SELECT count(*) FROM generate_series(1, 100000000)") } == .queryCanceled)
        #expect(try await db.query("SELECT 1").rows[0][0] == .integer(1))
        try await db.close()
    }

    @Test func aTaskCancelledBeforeItsQuerySendsNothing() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let db = try await RedClient.connect("red://127.0.0.1:\(server.wirePort)?timeout_ms=5000")
        let outcome = await Task {
            withUnsafeCurrentTask { $0?.cancel() }
            do {
                _ = try await db.query("SELECT count(*) FROM generate_series(1, 100000000)")
                return "answered"
            } catch let error as RedError {
                return "\(error.code): \(error.message)"
            } catch {
                return "\(error)"
            }
        }.value
        // Not "timed out": the request never went out, so nothing ran on the server until the timeout.
        #expect(outcome == "\(RedError.Code.queryCanceled): request cancelled by the client")
        #expect(try await db.query("SELECT 1").rows[0][0] == .integer(1))
        try await db.close()
    }

    @Test func credentialsInTheURLAuthenticateEveryTransport() async throws {
        let server = try ServerProcess(arguments: ["--user", "ada:s3cret"])
        defer { server.remove() }
        for url in Self.urls(server, userinfo: "ada:s3cret@") {
            let db = try await RedClient.connect(url)
            #expect(try await db.query("SELECT 1 AS one").rows[0][0] == .integer(1), "\(url)")
            try await db.close()
        }
        for url in Self.urls(server, userinfo: "ada:wrong@") {
            #expect(await Self.code { _ = try await RedClient.connect(url) } == .invalidPassword, "\(url)")
        }
        let anonymous = try await RedClient.connect("http://127.0.0.1:\(server.httpPort)")
        #expect(await Self.code { _ = try await anonymous.query("SELECT 1") } == .invalidPassword)
        try await anonymous.close()
    }

    @Test func clearErrorsForBadConnectionStrings() async throws {
        #expect(await Self.code { _ = try await RedClient.connect("red://127.0.0.1:1") } == .closed)
        #expect(await Self.code { _ = try await RedClient.connect("postgres://x") } == .invalidArgument)
    }
}

/// `red query --url` and `red shell` on RedClient: the same JSON whatever the transport.
@Suite(.serialized) struct RedClientCLITests {
    /// Runs `red` with `arguments` and `input` on stdin; returns stdout, stderr and the exit status.
    static func red(_ arguments: [String], input: String = "") throws -> (out: String, err: String, status: Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try ServerProcess.redPath())
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        var environment = ProcessInfo.processInfo.environment
        environment["RED_HISTORY"] = NSTemporaryDirectory() + "red-history-" + UUID().uuidString
        process.environment = environment
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let out = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let err = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: environment["RED_HISTORY"]!)
        return (out, err, process.terminationStatus)
    }

    @Test func queryPrintsTheSameJSONOverEveryTransport() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let setup = try Self.red(["query", "--url", "red://127.0.0.1:\(server.wirePort)",
                                  "CREATE TABLE t (id BIGINT PRIMARY KEY, n TEXT, doc JSON); INSERT INTO t VALUES (1, 'a', '{\"k\": [1]}'), (2, NULL, NULL)"])
        #expect(setup.status == 0 && setup.out == "INSERT 0 2\n", "\(setup)")
        let select = "SELECT id, n, doc FROM t ORDER BY id"
        let outputs = try RedClientTests.urls(server).map { try Self.red(["query", "--url", $0, "--json", select]) }
        #expect(outputs.allSatisfy { $0.status == 0 })
        #expect(Set(outputs.map(\.out)).count == 1, "\(outputs.map(\.out))")
        #expect(outputs[0].out.contains(#""values":{"doc":{"k":[1]},"id":1,"n":"a"}"#), "\(outputs[0].out)")
        // The same statements on an embedded file print the same document.
        let directory = NSTemporaryDirectory() + "red-cli-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = try Self.red(["query", "--path", directory + "/d.rdb",
                          "CREATE TABLE t (id BIGINT PRIMARY KEY, n TEXT, doc JSON); INSERT INTO t VALUES (1, 'a', '{\"k\": [1]}'), (2, NULL, NULL)"])
        #expect(try Self.red(["query", "--path", directory + "/d.rdb", "--json", select]).out == outputs[0].out)
        // Errors: exit status 1, the SQLSTATE on stderr (or the JSON envelope with --json).
        let failure = try Self.red(["query", "--url", "grpc://127.0.0.1:\(server.grpcPort)", "SELECT * FROM missing"])
        #expect(failure.status == 1 && failure.err.hasPrefix("ERROR: 42P01"), "\(failure)")
        let jsonFailure = try Self.red(["query", "--url", "http://127.0.0.1:\(server.httpPort)", "--json", "SELEC 1"])
        #expect(jsonFailure.status == 1 && jsonFailure.out.contains(#""sqlstate":"42601""#), "\(jsonFailure)")
    }

    @Test func shellRunsStatementsAndMetaCommands() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let script = """
            CREATE TABLE people (id BIGINT PRIMARY KEY,
              name TEXT NOT NULL);
            INSERT INTO people VALUES (1, 'Ada');
            \\d
            \\d people
            \\timing
            SELECT name FROM people;
            \\json
            SELECT id FROM people;
            SELEC;
            \\q
            SELECT 'not reached';
            """
        let run = try Self.red(["shell", "red://127.0.0.1:\(server.wirePort)"], input: script)
        #expect(run.status == 0, "\(run)")
        #expect(run.out.contains(" people | table "), "\(run.out)")
        #expect(run.out.contains(" name   | text    | true     | false       | false  |"), "\(run.out)")
        #expect(run.out.contains(" Ada  \n(1 row)"), "\(run.out)")
        #expect(run.out.contains("Time: "))
        #expect(run.out.contains(#""values":{"id":1}"#))
        #expect(run.out.contains(#""sqlstate":"42601""#))
        #expect(!run.out.contains("not reached"))
    }
}

/// `red bench surfaces` end to end with tiny sizes (figures are not checked: tests never
/// assert on time), and RedClient's bulk paths reporting the server's error.
@Suite(.serialized) struct SurfaceBenchSmokeTests {
    @Test func benchSurfacesRunsEverySurface() throws {
        let directory = NSTemporaryDirectory() + "red-bench-s-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try RedClientCLITests.red(["bench", "surfaces", "--requests", "20", "--warmup", "2", "--rows", "300", "--loads", "2",
                                             "--json", directory + ".json"])
        defer { try? FileManager.default.removeItem(atPath: directory + ".json") }
        #expect(run.status == 0, "\(run.err)")
        for surface in ["RedWire", "gRPC", "HTTP", "PG-wire", "RedWire (socket)", "PG-wire (socket)", "loopback echo",
                        "RedWire bulk", "gRPC bulk", "HTTP bulk", "PG-wire COPY"] {
            #expect(run.out.contains(surface), "\(surface): \(run.out)")
        }
        let json = try JSONValue.parse(try String(contentsOfFile: directory + ".json", encoding: .utf8))
        #expect(json["latency_us"]?["RedWire"]?["p50"] != nil && json["insert_rows_per_sec"]?["RedWire bulk"] != nil)
        // Every surface loaded once per round, into a table of its own (a reused table would fail the second round).
        if case .array(let rounds)? = json["insert_rounds"]?["PG-wire COPY"] { #expect(rounds.count == 2) } else { Issue.record("no insert_rounds") }
        // The blocking-socket probes did their handshakes and got real replies (they throw otherwise).
        #expect(json["latency_us"]?["RedWire (socket)"]?["p50"] != nil && json["latency_us"]?["PG-wire (socket)"]?["p50"] != nil)
    }

    /// Pinned placement (`--server-cpus`, `--client-cpus`): the probes and the echo peer (a
    /// process of its own) still answer; a CPU that does not exist is refused up front.
    @Test func benchSurfacesPinsServersAndProbes() throws {
        let run = try RedClientCLITests.red(["bench", "surfaces", "--requests", "20", "--warmup", "2", "--loads", "0",
                                             "--server-cpus", "0", "--client-cpus", "0", "--only", "RedWire (socket),loopback echo"])
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.contains("RedWire (socket)") && run.out.contains("loopback echo"), "\(run.out)")
        let bad = try RedClientCLITests.red(["bench", "surfaces", "--loads", "0", "--client-cpus", "4096"])
        #expect(bad.status != 0)
        #expect(bad.err.contains("CPU 4096 does not exist"), "\(bad.err)")
    }

    /// `--loads-only` runs the named loads alone (to profile one of them); an unknown name is refused.
    @Test func benchSurfacesRunsTheNamedLoadsOnly() throws {
        let run = try RedClientCLITests.red(["bench", "surfaces", "--requests", "4", "--warmup", "0", "--only", "loopback echo",
                                             "--loads", "1", "--rows", "300", "--loads-only", "RedWire bulk"])
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.contains("RedWire bulk") && !run.out.contains("gRPC bulk") && !run.out.contains("PG-wire COPY"), "\(run.out)")
        #expect(run.out.contains("server CPU µs/row"), "\(run.out)")
        let bad = try RedClientCLITests.red(["bench", "surfaces", "--requests", "4", "--warmup", "0", "--only", "loopback echo",
                                             "--loads", "1", "--rows", "10", "--loads-only", "RedWire"])
        #expect(bad.status != 0)
        #expect(bad.err.contains("no load named RedWire"), "\(bad.err)")
    }

    @Test func bulkInsertReportsTheServersError() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        for url in RedClientTests.urls(server) {
            let db = try await RedClient.connect(url)
            try await db.execute("CREATE TABLE IF NOT EXISTS b (id BIGINT PRIMARY KEY)")
            try await db.execute("DELETE FROM b")
            let rows: [[Value]] = [[.integer(1)], [.integer(2)], [.integer(1)]]
            #expect(await RedClientTests.code { try await db.bulkInsert(into: "b", columns: ["id"], rows: rows) } == .uniqueViolation, "\(url)")
            #expect(try await db.bulkInsert(into: "b", columns: ["id"], rows: (10..<20).map { [.integer($0)] }) == 10, "\(url)")
            try await db.close()
        }
    }
}

extension RedClientTests {
    /// RedWire over a Unix domain socket (`--wire-bind unix:///path`, `red+unix:///path`):
    /// the same script and answers as over TCP; the socket file goes away with the server.
    @Test func redWireOverAUnixSocket() async throws {
        let socketPath = "/tmp/red-it-\(UInt32.random(in: 0...UInt32.max)).sock"  // sockaddr_un allows 107 bytes
        let server = try ServerProcess(arguments: ["--wire-bind", "unix://\(socketPath)", "--pg-bind", "127.0.0.1:0", "--user", "ada:s3cret"],
                                       surfaces: false)
        defer { server.remove() }
        #expect(FileManager.default.fileExists(atPath: socketPath))
        // A second server may not take over a socket a live server answers on.
        do {
            let second = try ServerProcess(arguments: ["--wire-bind", "unix://\(socketPath)"], surfaces: false)
            second.remove()
            Issue.record("a second server took over a live socket")
        } catch {
            #expect("\(error)".contains("another server is listening"), "\(error)")
        }
        #expect(await Self.code { _ = try await RedClient.connect("red+unix://\(socketPath)").query("SELECT 1") } == .invalidPassword)
        let db = try await RedClient.connect("red+unix://\(socketPath)?timeout_ms=60000&user=ada&password=s3cret")
        let seen = try await Self.script(db, table: "unix")
        try await db.close()
        let embedded = try await RedClient.connect("memory://")
        #expect(seen == (try await Self.script(embedded, table: "unix")))
        try await embedded.close()
        server.stop()
        #expect(!FileManager.default.fileExists(atPath: socketPath), "the socket file outlived the server")
    }
}
