import Foundation
import Logging
import NIOCore
import PostgresNIO
import Testing

/// The real `red server`, driven by PostgresNIO (a third-party PostgreSQL client):
/// simple and extended queries, binary parameters, transactions, SQLSTATEs, COPY,
/// and 100 concurrent connections.
@Suite(.serialized) struct PostgresClientTests {
    static let logger = Logger(label: "postgres-nio-test")

    static func connect(_ server: ServerProcess, user: String = "tester", password: String? = nil, port: Int? = nil) async throws -> PostgresConnection {
        let configuration = PostgresConnection.Configuration(host: "127.0.0.1", port: port ?? server.pgPort, username: user, password: password,
                                                             database: "reddb", tls: .disable)
        return try await PostgresConnection.connect(configuration: configuration, id: Int.random(in: 1...1_000_000), logger: logger)
    }

    /// Connects, runs `body`, and always closes the connection before returning (PostgresNIO
    /// asserts that connections are closed before they are released).
    static func withConnection<T>(_ server: ServerProcess, user: String = "tester", password: String? = nil,
                                  _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let conn = try await connect(server, user: user, password: password)
        do {
            let result = try await body(conn)
            try await conn.close()
            return result
        } catch {
            try? await conn.close()
            throw error
        }
    }

    /// Runs a query and reads every row (PostgresNIO reports errors raised at execution while rows are read).
    @discardableResult
    static func run(_ conn: PostgresConnection, _ query: PostgresQuery) async throws -> Int {
        var count = 0
        for try await _ in try await conn.query(query, logger: logger) { count += 1 }
        return count
    }

    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// ROLLBACK TO SAVEPOINT closes the SQL cursors declared since the savepoint and keeps the
    /// others, as PostgreSQL 15 does (checked: the same statements print 1, 3 and 4 there).
    @Test func aRollbackToSavepointClosesTheCursorsDeclaredSince() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withConnection(server) { conn in
            for statement in ["BEGIN", "DECLARE a CURSOR FOR SELECT 1", "SAVEPOINT s", "DECLARE c CURSOR FOR SELECT 2", "ROLLBACK TO s"] {
                try await Self.run(conn, PostgresQuery(unsafeSQL: statement))
            }
            #expect(try await Self.run(conn, "FETCH a") == 1)
            try await Self.run(conn, "DECLARE c CURSOR FOR SELECT 3")  // the name is free again
            #expect(try await conn.query("FETCH c", logger: Self.logger).collect().first?.decode(Int.self) == 3)
            for statement in ["SAVEPOINT t", "DECLARE d CURSOR FOR SELECT 4", "RELEASE t"] {
                try await Self.run(conn, PostgresQuery(unsafeSQL: statement))
            }
            #expect(try await Self.run(conn, "FETCH d") == 1)  // RELEASE keeps it
            try await Self.run(conn, "COMMIT")
        }
    }

    @Test func extendedQueriesBindParametersAndDecodeRows() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withConnection(server) { conn in
            try await conn.query("CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score FLOAT, active BOOLEAN)", logger: Self.logger)
            for (id, name, score, active) in [(1, "Ada", 9.5, true), (2, "Grace", 7.25, false), (3, "Linus", 8.0, true)] {
                try await conn.query("INSERT INTO users (id, name, score, active) VALUES (\(id), \(name), \(score), \(active))", logger: Self.logger)
            }
            var seen: [(Int, String, Double, Bool)] = []
            let rows = try await conn.query("SELECT id, name, score, active FROM users WHERE id >= \(2) ORDER BY id", logger: Self.logger)
            for try await row in rows.decode((Int, String, Double, Bool).self) { seen.append(row) }
            #expect(seen.map(\.0) == [2, 3])
            #expect(seen.map(\.1) == ["Grace", "Linus"])
            #expect(seen.map(\.2) == [7.25, 8.0])
            #expect(seen.map(\.3) == [false, true])
            // Aggregates and expressions over parameters.
            let sums = try await conn.query("SELECT count(*), sum(id) + \(100) FROM users WHERE active = \(true)", logger: Self.logger)
            for try await (count, sum) in sums.decode((Int, Int).self) {
                #expect(count == 2)
                #expect(sum == 104)
            }
        }
    }

    /// pg_stat_activity lists the server's PG-wire connections, each with its user, state and
    /// statement; pg_cancel_backend stops another connection's statement (false for a pid
    /// that is none), which leaves that block failed.
    @Test func pgStatActivityShowsConnectionsAndPgCancelBackendStopsOne() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withConnection(server) { sleeper in
            try await Self.withConnection(server) { watcher in
                func activity(_ sql: PostgresQuery) async throws -> [(Int, String, String, String)] {
                    var rows: [(Int, String, String, String)] = []
                    for try await row in try await watcher.query(sql, logger: Self.logger).decode((Int, String, String, String).self) { rows.append(row) }
                    return rows
                }
                try await sleeper.query("BEGIN", logger: Self.logger)
                let sleeping = Task { try await Self.run(sleeper, "SELECT pg_sleep(300)") }
                let sleepingQuery: PostgresQuery = "SELECT pid, usename, state, backend_type FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(300)'"
                var found = try await activity(sleepingQuery)
                for _ in 0..<6_000 where found.first?.2 != "active" {  // the task sends it when it runs
                    try await Task.sleep(for: .milliseconds(10))
                    found = try await activity(sleepingQuery)
                }
                let pid = try #require(found.first?.0)
                #expect(found.first?.1 == "tester" && found.first?.2 == "active" && found.first?.3 == "client backend", "\(found)")
                let mine = try await activity("SELECT pid, usename, state, query FROM pg_stat_activity WHERE pid = pg_backend_pid()")
                #expect(mine.first?.2 == "active" && mine.first?.3.hasPrefix("SELECT pid, usename") == true, "\(mine)")
                var cancelled: [Bool] = []
                for try await row in try await watcher.query("SELECT pg_cancel_backend(\(pid)), pg_cancel_backend(999999)", logger: Self.logger).decode((Bool, Bool).self) {
                    cancelled += [row.0, row.1]
                }
                #expect(cancelled == [true, false])
                do {
                    _ = try await sleeping.value
                    Issue.record("the sleep was not cancelled")
                } catch {
                    #expect(Self.sqlState(error) == "57014")
                }
                let after = try await activity("SELECT pid, usename, state, query FROM pg_stat_activity WHERE pid = \(pid)")
                #expect(after.first?.2 == "idle in transaction (aborted)", "\(after)")
                try await sleeper.query("ROLLBACK", logger: Self.logger)
            }
        }
    }

    /// PostgresNIO's `listen(on:)`: notifications sent by another connection (NOTIFY, and
    /// `pg_notify` with a bound payload) arrive while the listener waits, in order, and one a
    /// rolled-back block sent never does.
    @Test func postgresNIOListensForNotifications() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withConnection(server) { listener in
            try await Self.withConnection(server) { sender in
                let payloads = try await listener.listen(on: "jobs") { notifications in
                    try await sender.query("NOTIFY jobs, 'first'", logger: Self.logger)
                    try await sender.query("BEGIN", logger: Self.logger)
                    try await sender.query("NOTIFY jobs, 'rolled back'", logger: Self.logger)
                    try await sender.query("ROLLBACK", logger: Self.logger)
                    try await sender.query("SELECT pg_notify('jobs', \("second: ünïcode"))", logger: Self.logger)
                    var payloads: [String] = []
                    for try await notification in notifications {
                        payloads.append(notification.payload)
                        if payloads.count == 2 { break }
                    }
                    return payloads
                }
                #expect(payloads == ["first", "second: ünïcode"])
            }
        }
    }

    /// Short reads are answered on the connection's event loop, through the extended and the
    /// simple protocol alike; a long read goes to the shared pool. Results are the same either
    /// way, inside a transaction too.
    @Test func shortReadsAreAnsweredOnTheEventLoop() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        func eventLoopStatements(_ outcome: String) async throws -> Int {
            try await HTTPClientTests.eventLoopStatements(server, surface: "pg", outcome: outcome)
        }
        try await Self.withConnection(server) { conn in
            try await conn.query("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT)", logger: Self.logger)
            for i in 1...20 { try await conn.query("INSERT INTO t (id, name) VALUES (\(i), \("n\(i)"))", logger: Self.logger) }
            let (answered, declined) = (try await eventLoopStatements("answered"), try await eventLoopStatements("declined"))
            for i in 1...20 {
                for try await name in try await conn.query("SELECT name FROM t WHERE id = \(i)", logger: Self.logger).decode(String.self) {
                    #expect(name == "n\(i)")
                }
            }
            let simple = try await conn.simpleQuery("SELECT count(*) FROM t").get()
            #expect(simple.first?.column("count")?.string == "20")
            for try await n in try await conn.query("SELECT count(*) FROM generate_series(1, 100000) AS g", logger: Self.logger).decode(Int.self) {
                #expect(n == 100_000)
            }
            #expect(try await eventLoopStatements("answered") == answered + 21)
            #expect(try await eventLoopStatements("declined") == declined + 1)

            try await conn.query("BEGIN", logger: Self.logger)
            try await conn.query("INSERT INTO t (id, name) VALUES (21, 'n21')", logger: Self.logger)
            for try await n in try await conn.query("SELECT count(*) FROM t", logger: Self.logger).decode(Int.self) { #expect(n == 21) }
            do {
                try await conn.query("SELECT * FROM missing", logger: Self.logger)
                Issue.record("a missing table must fail")
            } catch {
                #expect(Self.sqlState(error) == "42P01")
            }
            do {
                try await conn.query("SELECT 1", logger: Self.logger)
                Issue.record("the failed transaction must refuse statements")
            } catch {
                #expect(Self.sqlState(error) == "25P02")
            }
            try await conn.query("ROLLBACK", logger: Self.logger)
            for try await n in try await conn.query("SELECT count(*) FROM t", logger: Self.logger).decode(Int.self) { #expect(n == 20) }
        }
    }

    @Test func everyCoreTypeRoundTripsInBinary() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withConnection(server) { conn in
            try await conn.query("""
                CREATE TABLE kinds (id BIGINT PRIMARY KEY, b BOOLEAN, f FLOAT, t TEXT, u UUID, ts TIMESTAMP, d BYTEA, j JSONB, n NUMERIC)
                """, logger: Self.logger)
            let uuid = UUID()
            let date = Date(timeIntervalSince1970: 1_700_000_000.123)
            let bytes = ByteBuffer(bytes: [0, 1, 2, 254, 255])
            let json = JSONPayload(a: 1, b: 2)
            try await conn.query("""
                INSERT INTO kinds VALUES (\(1), \(true), \(2.5), \("héllo"), \(uuid), \(date), \(bytes), \(json), \(Decimal(string: "12.3456")!))
                """, logger: Self.logger)
            let rows = try await conn.query("SELECT b, f, t, u, ts, d, j, n FROM kinds WHERE id = \(1)", logger: Self.logger)
            var count = 0
            for try await (b, f, t, u, ts, d, j, n) in rows.decode((Bool, Double, String, UUID, Date, ByteBuffer, JSONPayload, Decimal).self) {
                count += 1
                #expect(b == true)
                #expect(f == 2.5)
                #expect(t == "héllo")
                #expect(u == uuid)
                #expect(abs(ts.timeIntervalSince(date)) < 0.001)
                #expect(d == bytes)
                #expect(j == json)
                #expect(n == Decimal(string: "12.3456")!)
            }
            #expect(count == 1)
            // NULLs decode as nil.
            try await conn.query("INSERT INTO kinds (id) VALUES (\(2))", logger: Self.logger)
            for try await (t, u) in try await conn.query("SELECT t, u FROM kinds WHERE id = \(2)", logger: Self.logger).decode((String?, UUID?).self) {
                #expect(t == nil)
                #expect(u == nil)
            }
        }
    }

    /// Columns declared `integer`, `smallint` and `real` travel as int4, int2 and float4, as do
    /// expressions PostgreSQL types so, so a client decodes them into the Swift types of those
    /// widths; an out-of-range value bound
    /// as int8 is 22003, a too-long text 22001.
    @Test func declaredWidthsTravelAsTheirPostgresTypes() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withConnection(server) { conn in
            try await conn.query("CREATE TABLE widths (id INTEGER PRIMARY KEY, s SMALLINT, r REAL, code VARCHAR(3), at TIMESTAMPTZ)", logger: Self.logger)
            let date = Date(timeIntervalSince1970: 1_700_000_000)
            try await conn.query("INSERT INTO widths VALUES (\(1), \(7), \(2.5), \("abc"), \(date))", logger: Self.logger)
            var count = 0
            let rows = try await conn.query("SELECT id, s, r, code, at, id::smallint FROM widths", logger: Self.logger)
            for try await (id, s, r, code, at, narrow) in rows.decode((Int32, Int16, Float, String, Date, Int16).self) {
                count += 1
                #expect(id == 1 && s == 7 && r == 2.5 && code == "abc" && narrow == 1)
                #expect(abs(at.timeIntervalSince(date)) < 0.001)
            }
            #expect(count == 1)
            // Expressions have PostgreSQL's widths too: int4 + int4 is int4, length() int4, smallint + smallint int2.
            let computed = try await conn.query("SELECT id + 1, s + s, length(code), 1, max(id) FROM widths GROUP BY id, s, code", logger: Self.logger)
            for try await (next, twice, length, one, top) in computed.decode((Int32, Int16, Int32, Int32, Int32).self) {
                count += 1
                #expect(next == 2 && twice == 14 && length == 3 && one == 1 && top == 1)
            }
            #expect(count == 2)
            do {
                try await Self.run(conn, "INSERT INTO widths (id) VALUES (\(Int64(1) << 40))")
                Issue.record("an int4 column took 2^40")
            } catch {
                #expect(Self.sqlState(error) == "22003", "\(String(reflecting: error))")
            }
            do {
                try await Self.run(conn, "INSERT INTO widths (id, code) VALUES (\(2), \("abcd"))")
                Issue.record("a varchar(3) column took four characters")
            } catch {
                #expect(Self.sqlState(error) == "22001", "\(String(reflecting: error))")
            }
        }
    }

    /// Window functions are described by their result types (they were `text` until the rows
    /// were seen): PostgresNIO describes the statement before it runs and decodes by that.
    @Test func windowFunctionsAreDescribedByTheirTypes() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withConnection(server) { conn in
            try await conn.query("CREATE TABLE w (id BIGINT PRIMARY KEY, v BIGINT, f DOUBLE PRECISION)", logger: Self.logger)
            try await conn.query("INSERT INTO w VALUES (1, 10, 0.5), (2, 20, 1.5), (3, 30, 2.5)", logger: Self.logger)
            var seen: [[String]] = []
            let rows = try await conn.query("""
                SELECT row_number() OVER (ORDER BY id), rank() OVER (ORDER BY v) - 1, sum(v) OVER (), lag(v) OVER (ORDER BY id),
                       percent_rank() OVER (ORDER BY id), max(f) OVER (), count(*) OVER (), first_value(f) OVER (ORDER BY id)
                FROM w WHERE id >= \(1) ORDER BY id
                """, logger: Self.logger)
            for try await (n, r, sum, previous, rank, top, count, first) in rows.decode((Int, Int, Int, Int?, Double, Double, Int, Double).self) {
                seen.append([n, r, sum, previous ?? -1, count].map { String($0) } + [rank, top, first].map { String($0) })
            }
            #expect(seen == [["1", "0", "60", "-1", "3", "0.0", "2.5", "0.5"], ["2", "1", "60", "10", "3", "0.5", "2.5", "0.5"],
                             ["3", "2", "60", "20", "3", "1.0", "2.5", "0.5"]])
        }
    }

    /// Lists bound as PostgreSQL arrays (PostgresNIO sends `[Int]` as binary int8[], `[String]`
    /// as text[], `[UUID]` as uuid[]), the way ORMs write `WHERE id = ANY($1)`.
    @Test func arrayParametersBindInBinary() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withConnection(server) { conn in
            try await conn.query("CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT, u UUID, tags TEXT[])", logger: Self.logger)
            let uuids = [UUID(), UUID(), UUID()]
            for (i, uuid) in uuids.enumerated() {
                try await conn.query("INSERT INTO items VALUES (\(i + 1), \("n\(i + 1)"), \(uuid), \(["t\(i)", "shared"]))", logger: Self.logger)
            }
            var ids: [Int] = []
            for try await id in try await conn.query("SELECT id FROM items WHERE id = ANY(\([1, 3, 99])) ORDER BY id", logger: Self.logger).decode(Int.self) {
                ids.append(id)
            }
            #expect(ids == [1, 3])
            var names: [String] = []
            for try await name in try await conn.query("SELECT name FROM items WHERE name <> ALL(\(["n1", "n2"])) ORDER BY id", logger: Self.logger).decode(String.self) {
                names.append(name)
            }
            #expect(names == ["n3"])
            for try await n in try await conn.query("SELECT count(*) FROM items WHERE u = ANY(\([uuids[0], uuids[2]]))", logger: Self.logger).decode(Int.self) {
                #expect(n == 2)
            }
            for try await n in try await conn.query("SELECT count(*) FROM items WHERE tags @> \(["shared"]) AND tags && \(["t1", "zz"])", logger: Self.logger).decode(Int.self) {
                #expect(n == 1)
            }
            for try await (n, joined) in try await conn.query("SELECT cardinality(\([1.5, 2.5])), array_to_string(\([true, false]), ',')", logger: Self.logger).decode((Int, String).self) {
                #expect(n == 2 && joined == "t,f")
            }
        }
    }

    /// An `int4[]` column travels as `int4[]` (PostgresNIO decodes `[Int32]` only from that),
    /// `varchar(3)[]` as `varchar[]`, and a parameter bound to one is checked element by element.
    @Test func declaredArrayColumnsTravelAsTheirArrayTypes() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withConnection(server) { conn in
            try await Self.run(conn, "CREATE TABLE readings (id INT PRIMARY KEY, levels INT4[], codes VARCHAR(3)[], small SMALLINT[])")
            try await Self.run(conn, "INSERT INTO readings VALUES (1, \([Int32(7), 8, -9]), \(["ab", "cde"]), \([Int16(3)]))")
            for try await (levels, codes, small) in try await conn.query("SELECT levels, codes, small FROM readings", logger: Self.logger)
                .decode(([Int32], [String], [Int16]).self) {
                #expect(levels == [7, 8, -9] && codes == ["ab", "cde"] && small == [3])
            }
            await #expect { try await Self.run(conn, "INSERT INTO readings (id, levels) VALUES (2, \([Int64(1) << 40]))") } throws: { Self.sqlState($0) == "22003" }
            await #expect { try await Self.run(conn, "INSERT INTO readings (id, codes) VALUES (3, \(["long"]))") } throws: { Self.sqlState($0) == "22001" }
        }
    }

    @Test func transactionsCommitRollBackAndReportFailure() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withConnection(server) { conn in
            try await conn.query("CREATE TABLE t (id BIGINT PRIMARY KEY)", logger: Self.logger)
            try await conn.query("BEGIN", logger: Self.logger)
            try await conn.query("INSERT INTO t VALUES (1)", logger: Self.logger)
            try await conn.query("ROLLBACK", logger: Self.logger)
            try await conn.query("BEGIN", logger: Self.logger)
            try await conn.query("INSERT INTO t VALUES (2)", logger: Self.logger)
            try await conn.query("COMMIT", logger: Self.logger)
            var ids: [Int] = []
            for try await id in try await conn.query("SELECT id FROM t ORDER BY id", logger: Self.logger).decode(Int.self) { ids.append(id) }
            #expect(ids == [2])
            // An error aborts the transaction; later statements get 25P02 until ROLLBACK.
            try await conn.query("BEGIN", logger: Self.logger)
            await #expect { try await Self.run(conn, "INSERT INTO t VALUES (2)") } throws: { error in
            Self.sqlState(error) == "23505" && (error as? PSQLError)?.serverInfo?[.detail] == "Key (id)=(2) already exists."
        }
            await #expect { try await Self.run(conn, "SELECT 1") } throws: { Self.sqlState($0) == "25P02" }
            try await conn.query("ROLLBACK", logger: Self.logger)
            var one = 0
            for try await v in try await conn.query("SELECT 1", logger: Self.logger).decode(Int.self) { one = v }
            #expect(one == 1)
        }
    }

    @Test func errorsCarrySQLStateAndPosition() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withConnection(server) { conn in
            await #expect { try await Self.run(conn, "SELECT * FROM missing_table") } throws: { Self.sqlState($0) == "42P01" }
            await #expect { try await Self.run(conn, "SELECT 1/0") } throws: { Self.sqlState($0) == "22012" }
            do {
                try await Self.run(conn, "SELEC 1")
                Issue.record("a syntax error was accepted")
            } catch let error as PSQLError {
                #expect(error.serverInfo?[.sqlState] == "42601")
                #expect(error.serverInfo?[.position] == "1")
            }
            // The connection stays usable after errors.
            for try await v in try await conn.query("SELECT \(41) + 1", logger: Self.logger).decode(Int.self) { #expect(v == 42) }
        }
    }

    @Test func copyFromStdinLoadsRowsInOneTransaction() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withConnection(server) { conn in
            try await conn.query("CREATE TABLE people (id BIGINT PRIMARY KEY, name TEXT, note TEXT)", logger: Self.logger)
            try await conn.copyFrom(table: "people", columns: ["id", "name", "note"], logger: Self.logger) { writer in
                try await writer.write(ByteBuffer(string: "1\tAda\tfirst\\tline\n2\tGrace\t\\N\n"))
                try await writer.write(ByteBuffer(string: "3\tLi"))
                try await writer.write(ByteBuffer(string: "nus\tx\n"))
            }
            var rows: [(Int, String, String?)] = []
            for try await row in try await conn.query("SELECT id, name, note FROM people ORDER BY id", logger: Self.logger)
                .decode((Int, String, String?).self) { rows.append(row) }
            #expect(rows.map(\.0) == [1, 2, 3])
            #expect(rows.map(\.1) == ["Ada", "Grace", "Linus"])
            #expect(rows.map(\.2) == ["first\tline", nil, "x"])
            // A bad row fails the whole COPY: nothing of it lands.
            await #expect {
                try await conn.copyFrom(table: "people", columns: ["id", "name", "note"], logger: Self.logger) { writer in
                    try await writer.write(ByteBuffer(string: "10\tok\tok\n11\tmissing-a-column\n"))
                }
            } throws: { Self.sqlState($0) == "22P02" }
            var count = 0
            for try await c in try await conn.query("SELECT count(*) FROM people", logger: Self.logger).decode(Int.self) { count = c }
            #expect(count == 3)
        }
    }

    /// COPY parses the next batch while the previous one is inserted: rows of several batches all
    /// land, in one transaction, and a failure found by the insert of a later batch (a duplicate
    /// key) or by the parser after batches went in leaves nothing of that COPY behind.
    @Test func copyOverManyBatchesStaysAtomic() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withConnection(server) { conn in
            try await conn.query("CREATE TABLE big (id BIGINT PRIMARY KEY, name TEXT)", logger: Self.logger)
            func rows(_ ids: some Sequence<Int>) -> String { ids.map { "\($0)\tname-\($0)\n" }.joined() }
            try await conn.copyFrom(table: "big", columns: ["id", "name"], logger: Self.logger) { writer in
                for chunk in stride(from: 0, to: 4_500, by: 700) { try await writer.write(ByteBuffer(string: rows(chunk..<min(4_500, chunk + 700)))) }
            }
            func count() async throws -> Int {
                var n = -1
                for try await c in try await conn.query("SELECT count(*), sum(id) FROM big", logger: Self.logger).decode((Int, Int).self) {
                    n = c.0
                    #expect(c.1 == (0..<c.0).reduce(0, +))
                }
                return n
            }
            #expect(try await count() == 4_500)
            // The key 100 again, in the fourth batch: 23505 when that batch is inserted, and the
            // batches inserted before it are rolled back with it.
            await #expect {
                try await conn.copyFrom(table: "big", columns: ["id", "name"], logger: Self.logger) { writer in
                    try await writer.write(ByteBuffer(string: rows(Array(10_000..<13_000) + [100] + Array(13_000..<14_000))))
                }
            } throws: { Self.sqlState($0) == "23505" }
            #expect(try await count() == 4_500)
            // A malformed row after two batches went in.
            await #expect {
                try await conn.copyFrom(table: "big", columns: ["id", "name"], logger: Self.logger) { writer in
                    try await writer.write(ByteBuffer(string: rows(20_000..<22_500) + "bad-id\tx\n" + rows(22_500..<23_000)))
                }
            } throws: { Self.sqlState($0) == "22P02" }
            #expect(try await count() == 4_500)
            // Inside the client's own transaction the COPY's rows are the transaction's.
            try await conn.query("BEGIN", logger: Self.logger)
            try await conn.copyFrom(table: "big", columns: ["id", "name"], logger: Self.logger) { writer in
                try await writer.write(ByteBuffer(string: rows(4_500..<7_000)))
            }
            #expect(try await count() == 7_000)
            try await conn.query("ROLLBACK", logger: Self.logger)
            #expect(try await count() == 4_500)
        }
    }

    @Test func hundredConcurrentConnections() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withConnection(server) { setup in
            try await setup.query("CREATE TABLE hits (id BIGINT PRIMARY KEY, worker BIGINT)", logger: Self.logger)
        }
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<100 {
                group.addTask {
                    try await Self.withConnection(server) { conn in
                        try await conn.query("INSERT INTO hits VALUES (\(worker), \(worker))", logger: Self.logger)
                        var echoed = -1
                        for try await v in try await conn.query("SELECT worker FROM hits WHERE id = \(worker)", logger: Self.logger).decode(Int.self) {
                            echoed = v
                        }
                        return echoed == worker ? 1 : 0
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(total == 100)
        try await Self.withConnection(server) { check in
            for try await c in try await check.query("SELECT count(*) FROM hits", logger: Self.logger).decode(Int.self) { #expect(c == 100) }
        }
    }

    @Test func scramAuthenticationAcceptsTheRightPasswordOnly() async throws {
        let server = try ServerProcess(arguments: ["--user", "alice:s3cret"])
        defer { server.remove() }
        try await Self.withConnection(server, user: "alice", password: "s3cret") { conn in
            for try await v in try await conn.query("SELECT 1", logger: Self.logger).decode(Int.self) { #expect(v == 1) }
        }
        await #expect { try await Self.withConnection(server, user: "alice", password: "wrong") { _ in } } throws: { Self.sqlState($0) == "28P01" }
        await #expect { try await Self.withConnection(server, user: "mallory", password: "s3cret") { _ in } } throws: { Self.sqlState($0) == "28P01" }
        // Cleartext passwords, for old clients, when chosen explicitly.
        let cleartext = try ServerProcess(arguments: ["--user", "bob:pw", "--pg-auth", "password"])
        defer { cleartext.remove() }
        try await Self.withConnection(cleartext, user: "bob", password: "pw") { _ in }
        await #expect { try await Self.withConnection(cleartext, user: "bob", password: "no") { _ in } } throws: { Self.sqlState($0) == "28P01" }
    }

    @Test func sessionFunctionsSetAndShow() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withConnection(server) { conn in
            let rows = try await conn.query("SELECT version(), current_setting('server_version_num'), current_database(), current_schema()",
                                            logger: Self.logger)
            for try await (version, number, database, schema) in rows.decode((String, String, String, String).self) {
                #expect(version.hasPrefix("PostgreSQL 15."))
                #expect(number == "150000")
                #expect(database == "reddb")
                #expect(schema == "public")
            }
            await #expect { try await Self.run(conn, "SELECT current_setting('no_such')") } throws: { Self.sqlState($0) == "42704" }
            try await Self.run(conn, "SET application_name = 'checkout'")
            for try await name in try await conn.query("SHOW application_name", logger: Self.logger).decode(String.self) {
                #expect(name == "checkout")
            }
            await #expect { try await Self.run(conn, "SET client_encoding = 'LATIN1'") } throws: { Self.sqlState($0) == "0A000" }
            // SET TRANSACTION READ ONLY is enforced for the open transaction.
            try await Self.run(conn, "CREATE TABLE ro (id BIGINT)")
            try await Self.run(conn, "BEGIN")
            try await Self.run(conn, "SET TRANSACTION READ ONLY")
            for try await flag in try await conn.query("SHOW transaction_read_only", logger: Self.logger).decode(String.self) {
                #expect(flag == "on")
            }
            await #expect { try await Self.run(conn, "INSERT INTO ro VALUES (1)") } throws: { Self.sqlState($0) == "25006" }
            try await Self.run(conn, "ROLLBACK")
            // Casts may name PostgreSQL's schema-qualified types.
            for try await v in try await conn.query("SELECT CAST(\(41) AS \"pg_catalog\".\"int8\") + 1", logger: Self.logger).decode(Int.self) {
                #expect(v == 42)
            }
        }
    }

    @Test func multiModelStatementsReturnRowSets() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withConnection(server) { conn in
            try await conn.query("KV PUT settings.theme = 'dark'", logger: Self.logger)
            for try await (key, value) in try await conn.query("KV GET settings.theme", logger: Self.logger).decode((String, String).self) {
                #expect(key == "theme")
                #expect(value == "dark")
            }
            try await conn.query(#"INSERT INTO people DOCUMENT VALUES ({"name": "Ada", "langs": ["en"]})"#, logger: Self.logger)
            for try await name in try await conn.query("SELECT name FROM people", logger: Self.logger).decode(String.self) {
                #expect(name == "Ada")
            }
        }
    }
}

struct JSONPayload: Codable, Equatable, PostgresCodable {
    var a: Int
    var b: Int
}
