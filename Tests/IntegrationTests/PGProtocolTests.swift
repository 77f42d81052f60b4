import Foundation
import Testing

/// Protocol details no high-level client exposes, checked on a raw socket: row limits with
/// PortalSuspended, named statements and portals, Describe, Close, skipping to Sync after
/// an error, transaction status in ReadyForQuery, and notices.
@Suite(.serialized) struct PGProtocolTests {
    typealias M = MalformedInputTests

    static func cstring(_ s: String) -> [UInt8] { Array(s.utf8) + [0] }
    static func int16(_ v: Int16) -> [UInt8] { withUnsafeBytes(of: v.bigEndian, Array.init) }
    static func int32(_ v: Int32) -> [UInt8] { withUnsafeBytes(of: v.bigEndian, Array.init) }

    static func session(_ server: ServerProcess) throws -> RawSocket {
        let s = try RawSocket(port: server.pgPort)
        s.send(M.startup())
        _ = M.readUntilReady(s)
        return s
    }

    static func tags(_ messages: [(UInt8, [UInt8])]) -> String {
        String(messages.map { Character(UnicodeScalar($0.0)) })
    }

    /// `pg_terminate_backend` ends a connection as PostgreSQL's backends end: FATAL 57P01 and
    /// nothing else, whether it was idle or running a statement (no 57014, no ReadyForQuery).
    /// With a timeout it answers true once the connection has ended; a negative one is 22023.
    @Test func pgTerminateBackendEndsIdleAndBusyConnectionsWithFatal() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        func value(_ s: RawSocket, _ sql: String) -> String? {
            s.send(M.message("Q", Self.cstring(sql)))
            guard let row = M.readUntilReady(s).first(where: { $0.0 == UInt8(ascii: "D") })?.1, row.count >= 6 else { return nil }
            let length = Int(Int32(bitPattern: UInt32(row[2]) << 24 | UInt32(row[3]) << 16 | UInt32(row[4]) << 8 | UInt32(row[5])))
            return length < 0 ? nil : String(decoding: row[6..<(6 + length)], as: UTF8.self)
        }
        let idle = try Self.session(server), busy = try Self.session(server), admin = try Self.session(server), copying = try Self.session(server)
        let idlePID = try #require(value(idle, "SELECT pg_backend_pid()"))
        let busyPID = try #require(value(busy, "SELECT pg_backend_pid()"))
        // One in COPY FROM STDIN, waiting for data that never comes: closed all the same.
        let copyingPID = try #require(value(copying, "SELECT pg_backend_pid()"))
        _ = value(copying, "CREATE TABLE copied (x int)")
        copying.send(M.message("Q", Self.cstring("COPY copied FROM STDIN")))
        #expect(M.readUntil(copying, tag: "G"), "no CopyInResponse")
        busy.send(M.message("Q", Self.cstring("SELECT pg_sleep(300)")))
        var active = "0"
        for _ in 0..<3_000 where active != "1" {
            active = value(admin, "SELECT count(*) FROM pg_stat_activity WHERE pid = \(busyPID) AND state = 'active'") ?? "?"
            if active != "1" { usleep(10_000) }
        }
        #expect(active == "1", "the sleep never showed as active")
        #expect(value(admin, "SELECT pg_terminate_backend(\(idlePID), 20000)::text || pg_terminate_backend(\(busyPID), 20000)::text"
                      + " || pg_terminate_backend(\(copyingPID), 20000)::text") == "truetruetrue")
        for (name, socket) in [("idle", idle), ("busy", busy), ("copying", copying)] {
            let goodbye = M.readUntilReady(socket)
            #expect(Self.tags(goodbye) == "E", "\(name): \(Self.tags(goodbye))")
            let text = String(decoding: goodbye.first?.1 ?? [], as: UTF8.self)
            #expect(text.contains("FATAL") && text.contains("57P01") && text.contains("terminating connection due to administrator command"), "\(name): \(text)")
        }
        #expect(value(admin, "SELECT count(*) FROM pg_stat_activity WHERE pid IN (\(idlePID), \(busyPID), \(copyingPID))") == "0")
        #expect(value(admin, "SELECT pg_terminate_backend(999999)") == "f")
        admin.send(M.message("Q", Self.cstring("SELECT pg_terminate_backend(\(busyPID), -1)")))
        let refused = M.readUntilReady(admin)
        let refusal = String(decoding: refused.first?.1 ?? [], as: UTF8.self)
        #expect(refusal.contains("22023"), "\(Self.tags(refused))")
    }

    @Test func rowLimitsSuspendThePortal() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let s = try Self.session(server)
        s.send(M.message("Q", Self.cstring("CREATE TABLE n (v BIGINT); INSERT INTO n VALUES (1), (2), (3), (4), (5)")))
        _ = M.readUntilReady(s)
        s.send(M.message("P", Self.cstring("count_up") + Self.cstring("SELECT v FROM n WHERE v > $1 ORDER BY v") + Self.int16(1) + Self.int32(20))
               + M.message("D", [UInt8(ascii: "S")] + Self.cstring("count_up"))
               + M.message("B", Self.cstring("cur") + Self.cstring("count_up") + Self.int16(0) + Self.int16(1) + Self.int32(1) + Array("0".utf8) + Self.int16(0))
               + M.message("E", Self.cstring("cur") + Self.int32(2))
               + M.message("E", Self.cstring("cur") + Self.int32(2))
               + M.message("E", Self.cstring("cur") + Self.int32(2))
               + M.message("C", [UInt8(ascii: "P")] + Self.cstring("cur"))
               + M.message("S", []))
        let reply = M.readUntilReady(s)
        // ParseComplete, ParameterDescription, RowDescription, BindComplete, 2 rows + suspended, 2 rows + suspended,
        // the last row + CommandComplete, CloseComplete, ReadyForQuery.
        #expect(Self.tags(reply) == "1tT2DDsDDsDC3Z", "\(Self.tags(reply))")
        let complete = reply.first { $0.0 == UInt8(ascii: "C") }.map { String(decoding: $0.1.dropLast(), as: UTF8.self) }
        #expect(complete == "SELECT 1")
        // The named statement outlives the portal; executing a closed portal is 34000.
        s.send(M.message("E", Self.cstring("cur") + Self.int32(0)) + M.message("S", []))
        let missing = M.readUntilReady(s)
        #expect(Self.tags(missing) == "EZ")
        #expect(String(decoding: missing[0].1, as: UTF8.self).contains("34000"))
    }

    /// `x = ANY($1)` describes $1 as an array of x's type, so clients that encode by the
    /// described type (asyncpg) send a list; here in PostgreSQL's text form.
    @Test func anyOfAParameterDescribesAnArray() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let s = try Self.session(server)
        s.send(M.message("Q", Self.cstring("CREATE TABLE n (v BIGINT, t TEXT); INSERT INTO n VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')")))
        _ = M.readUntilReady(s)
        s.send(M.message("P", Self.cstring("in_list") + Self.cstring("SELECT count(*) FROM n WHERE v = ANY($1) AND t <> ALL($2)") + Self.int16(0))
               + M.message("D", [UInt8(ascii: "S")] + Self.cstring("in_list"))
               + M.message("S", []))
        let described = M.readUntilReady(s)
        let parameters = try #require(described.first { $0.0 == UInt8(ascii: "t") }?.1)
        #expect(parameters == Self.int16(2) + Self.int32(1016) + Self.int32(1009), "int8[] and text[]")
        s.send(M.message("B", Self.cstring("") + Self.cstring("in_list") + Self.int16(0) + Self.int16(2)
                             + Self.int32(7) + Array("{2,3,4}".utf8) + Self.int32(3) + Array("{c}".utf8) + Self.int16(0))
               + M.message("E", Self.cstring("") + Self.int32(0))
               + M.message("S", []))
        let reply = M.readUntilReady(s)
        let row = try #require(reply.first { $0.0 == UInt8(ascii: "D") }?.1)
        #expect(String(decoding: row.suffix(1), as: UTF8.self) == "2", "\(Self.tags(reply))")
    }

    /// A parameter takes the declared type of the column it meets or fills (an `integer` is
    /// int4, a `timestamptz` 1184, a `text[]` 1009, a `time` 1083), in `=`, IN, BETWEEN and
    /// INSERT, and a cast names its type (`$1::oid[]` is 1028), as PostgreSQL describes them.
    @Test func parametersTakeTheColumnsDeclaredTypes() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let s = try Self.session(server)
        s.send(M.message("Q", Self.cstring("CREATE TABLE w (id INTEGER, at TIMESTAMPTZ, tags TEXT[], t TIME)")))
        _ = M.readUntilReady(s)
        let cases: [(String, [Int32])] = [
            ("SELECT 1 FROM w WHERE id = $1 AND at > $2", [23, 1184]),
            ("SELECT 1 FROM w WHERE id IN ($1, $2) AND at BETWEEN $3 AND $4", [23, 23, 1184, 1184]),
            ("INSERT INTO w (id, at, tags, t) VALUES ($1, $2, $3, $4)", [23, 1184, 1009, 1083]),
            ("SELECT $1::text[], $2::oid[], $3::int4, $4::time", [1009, 1028, 23, 1083]),
        ]
        for (i, (sql, oids)) in cases.enumerated() {
            s.send(M.message("P", Self.cstring("p\(i)") + Self.cstring(sql) + Self.int16(0))
                   + M.message("D", [UInt8(ascii: "S")] + Self.cstring("p\(i)"))
                   + M.message("S", []))
            let described = M.readUntilReady(s)
            let parameters = try #require(described.first { $0.0 == UInt8(ascii: "t") }?.1, "\(sql)")
            #expect(parameters == Self.int16(Int16(oids.count)) + oids.flatMap(Self.int32), "\(sql)")
        }
    }

    /// `json` and `jsonb` as PostgreSQL tells them apart: a `json` column and json_build_object
    /// are `json` (OID 114), written compactly with their keys in order; a `jsonb` column, a
    /// cast and jsonb_build_object are `jsonb` (3802), written as PostgreSQL's jsonb_out writes
    /// them — `", "`, `": "`, keys shortest first, each once (the texts are PostgreSQL 15's).
    @Test func jsonAndJsonbAreDescribedAndWrittenAsInPostgreSQL() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let s = try Self.session(server)
        s.send(M.message("Q", Self.cstring(#"CREATE TABLE j (a JSON, b JSONB); INSERT INTO j VALUES ('{"b":1,"a":2}', '{"zeta": 1, "a": [1, {"k": null}], "bb": "x", "a": true}')"#)))
        _ = M.readUntilReady(s)
        s.send(M.message("Q", Self.cstring("SELECT a, b, json_build_object('y', 1, 'x', 2), jsonb_build_object('y', 1, 'x', 2), '[1,2]'::jsonb FROM j")))
        let reply = M.readUntilReady(s)
        let description = try #require(reply.first { $0.0 == UInt8(ascii: "T") }?.1)
        var oids: [Int32] = []
        var at = 2
        for _ in 0..<Int(description[0]) << 8 | Int(description[1]) {
            at = description[at...].firstIndex(of: 0)! + 1 + 6  // name, table OID, attribute number
            oids.append(description[at..<at + 4].reduce(Int32(0)) { $0 << 8 | Int32($1) })
            at += 4 + 2 + 4 + 2
        }
        #expect(oids == [114, 3802, 114, 3802, 3802])
        let row = try #require(reply.first { $0.0 == UInt8(ascii: "D") }?.1)
        var values: [String] = []
        at = 2
        while at < row.count {
            let length = Int(row[at..<at + 4].reduce(Int32(0)) { $0 << 8 | Int32($1) })
            values.append(String(decoding: row[(at + 4)..<(at + 4 + length)], as: UTF8.self))
            at += 4 + length
        }
        #expect(values == [#"{"b":1,"a":2}"#, #"{"a": true, "bb": "x", "zeta": 1}"#, #"{"y":1,"x":2}"#, #"{"x": 2, "y": 1}"#, "[1, 2]"])
    }

    /// current_user, session_user, current_role and user name the connection's user, as
    /// PostgreSQL's do (the engine alone answers with the database's name).
    @Test func currentUserIsTheConnectionsUser() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let s = try Self.session(server)
        s.send(M.message("Q", Self.cstring("SELECT current_user, session_user, current_role, user")))
        let row = try #require(M.readUntilReady(s).first { $0.0 == UInt8(ascii: "D") }?.1)
        #expect(String(decoding: row, as: UTF8.self).components(separatedBy: "fuzz").count == 5, "\(row)")
    }

    /// What a connection remembers of the texts it sent (`plainStatements`, at most 64) and
    /// the parameter counts the statement cache keeps: every text sent again, after the memo
    /// has been emptied and refilled, is still classified and described as the first time.
    @Test func rememberedTextsAnswerAsTheFirstTime() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let s = try Self.session(server)
        func firstValue(_ reply: [(UInt8, [UInt8])]) -> String? {
            guard let row = reply.first(where: { $0.0 == UInt8(ascii: "D") })?.1, row.count > 6 else { return nil }
            return String(decoding: row[6...], as: UTF8.self)
        }
        for pass in 0..<2 {
            for i in 0..<80 {
                // A wire command (answered by the PG layer, never by the lane) and plain SQL, each text its own.
                // CommandComplete, then ParameterStatus just before ReadyForQuery: PostgreSQL 15's order.
                s.send(M.message("Q", Self.cstring("SET application_name = 'a\(i)'")))
                let set = M.readUntilReady(s)
                #expect(Self.tags(set) == "CSZ", "pass \(pass) SET \(i): \(Self.tags(set))")
                s.send(M.message("Q", Self.cstring("SELECT \(i) + 1")))
                let select = M.readUntilReady(s)
                #expect(firstValue(select) == "\(i + 1)", "pass \(pass) SELECT \(i)")
                // Parse counts the parameters ($2 is the highest), Describe reports both.
                s.send(M.message("P", Self.cstring("") + Self.cstring("SELECT $2::BIGINT + $1::BIGINT + \(i)") + Self.int16(0))
                       + M.message("D", [UInt8(ascii: "S")] + Self.cstring(""))
                       + M.message("S", []))
                let described = M.readUntilReady(s)
                #expect(Self.tags(described) == "1tTZ", "pass \(pass) Parse \(i): \(Self.tags(described))")
                if let parameters = described.first(where: { $0.0 == UInt8(ascii: "t") })?.1 {
                    #expect(parameters.prefix(2) == [0, 2], "pass \(pass) Parse \(i)")
                }
            }
        }
        s.send(M.message("Q", Self.cstring("SHOW application_name")))
        #expect(firstValue(M.readUntilReady(s)) == "a79")
    }

    /// Messages answered in the pipeline (`PGFastLane`: Parse, Bind, Describe, Sync, short
    /// reads) and those the connection's task runs (the INSERTs) reply in the order sent, and
    /// each count sees the INSERT before it: all sent in one write, then one message per write.
    @Test func pipelinedMessagesReplyInOrder() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let s = try Self.session(server)
        s.send(M.message("Q", Self.cstring("CREATE TABLE p (v BIGINT)")))
        _ = M.readUntilReady(s)
        var pending: [UInt8] = []
        func readReplies(_ count: Int) -> [[(UInt8, [UInt8])]] {
            var replies: [[(UInt8, [UInt8])]] = [[]]
            var chunk = [UInt8](repeating: 0, count: 4096)
            while replies.count <= count {
                if pending.count >= 5 {
                    let length = Int(UInt32(pending[1]) << 24 | UInt32(pending[2]) << 16 | UInt32(pending[3]) << 8 | UInt32(pending[4]))
                    if pending.count >= length + 1 {
                        replies[replies.count - 1].append((pending[0], Array(pending[5..<(length + 1)])))
                        if pending[0] == UInt8(ascii: "Z") { replies.append([]) }
                        pending.removeFirst(length + 1)
                        continue
                    }
                }
                let n = chunk.withUnsafeMutableBytes { recv(s.fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                pending += chunk[0..<n]
            }
            return Array(replies.dropLast())
        }
        func firstValue(_ reply: [(UInt8, [UInt8])]) -> String? {
            guard let row = reply.first(where: { $0.0 == UInt8(ascii: "D") })?.1, row.count > 6 else { return nil }
            return String(decoding: row[6...], as: UTF8.self)
        }
        for round in 0..<2 {
            var messages: [[UInt8]] = []
            for i in 1...20 {
                let v = 20 * round + i
                messages += [M.message("P", Self.cstring("") + Self.cstring("INSERT INTO p VALUES (\(v))") + Self.int16(0)),
                             M.message("B", Self.cstring("") + Self.cstring("") + Self.int16(0) + Self.int16(0) + Self.int16(0)),
                             M.message("E", Self.cstring("") + Self.int32(0)), M.message("S", []),
                             M.message("P", Self.cstring("") + Self.cstring("SELECT count(*) FROM p") + Self.int16(0)),
                             M.message("B", Self.cstring("") + Self.cstring("") + Self.int16(0) + Self.int16(0) + Self.int16(0)),
                             M.message("D", [UInt8(ascii: "P")] + Self.cstring("")),
                             M.message("E", Self.cstring("") + Self.int32(0)), M.message("S", []),
                             M.message("Q", Self.cstring("SELECT \(v)"))]
            }
            if round == 0 {
                s.send(messages.flatMap { $0 })
            } else {
                for message in messages { s.send(message) }
            }
            let replies = readReplies(60)
            #expect(replies.count == 60)
            for (i, reply) in replies.enumerated() {
                let v = 20 * round + i / 3 + 1
                switch i % 3 {
                case 0: #expect(Self.tags(reply) == "12CZ", "INSERT \(v): \(Self.tags(reply))")
                case 1:
                    #expect(Self.tags(reply) == "12TDCZ", "count after INSERT \(v): \(Self.tags(reply))")
                    #expect(firstValue(reply) == "\(v)", "count after INSERT \(v)")
                default:
                    #expect(Self.tags(reply) == "TDCZ", "SELECT \(v): \(Self.tags(reply))")
                    #expect(firstValue(reply) == "\(v)")
                }
            }
        }
        // A long statement runs on the connection's task, the reader busy with it while the
        // Sync and the next Query arrive (each in a write of its own, after the reader took the
        // Execute): they are answered after it, not by the lane in the meantime.
        for message in [M.message("P", Self.cstring("") + Self.cstring("SELECT count(*) FROM generate_series(1, 400000) AS g") + Self.int16(0)),
                        M.message("B", Self.cstring("") + Self.cstring("") + Self.int16(0) + Self.int16(0) + Self.int16(0)),
                        M.message("E", Self.cstring("") + Self.int32(0))] {
            s.send(message)
        }
        Thread.sleep(forTimeInterval: 0.05)
        s.send(M.message("S", []))
        Thread.sleep(forTimeInterval: 0.01)
        s.send(M.message("Q", Self.cstring("SELECT 7")))
        let last = readReplies(2)
        #expect(last.map { Self.tags($0) } == ["12DCZ", "TDCZ"])
        #expect(last.first.flatMap(firstValue) == "400000")
        #expect(last.last.flatMap(firstValue) == "7")
    }

    @Test func errorsSkipToSyncAndStatusFollowsTheTransaction() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let s = try Self.session(server)
        s.send(M.message("Q", Self.cstring("BEGIN")))
        var reply = M.readUntilReady(s)
        #expect(reply.last?.1 == [UInt8(ascii: "T")])
        // BEGIN again: a WARNING notice, still in the transaction.
        s.send(M.message("Q", Self.cstring("BEGIN")))
        reply = M.readUntilReady(s)
        #expect(Self.tags(reply) == "NCZ", "\(Self.tags(reply))")
        // An error in the extended protocol: later messages up to Sync are skipped; status E.
        s.send(M.message("P", Self.cstring("") + Self.cstring("SELECT * FROM missing") + Self.int16(0))
               + M.message("B", Self.cstring("") + Self.cstring("") + Self.int16(0) + Self.int16(0) + Self.int16(0))
               + M.message("E", Self.cstring("") + Self.int32(0))
               + M.message("S", []))
        reply = M.readUntilReady(s)
        #expect(Self.tags(reply) == "EZ", "\(Self.tags(reply))")
        #expect(reply.last?.1 == [UInt8(ascii: "E")])
        s.send(M.message("Q", Self.cstring("ROLLBACK")))
        reply = M.readUntilReady(s)
        #expect(reply.last?.1 == [UInt8(ascii: "I")])
        // Duplicate statement names are 42P05; Describe of a missing statement is 26000.
        s.send(M.message("P", Self.cstring("a") + Self.cstring("SELECT 1") + Self.int16(0))
               + M.message("P", Self.cstring("a") + Self.cstring("SELECT 2") + Self.int16(0)) + M.message("S", []))
        reply = M.readUntilReady(s)
        #expect(Self.tags(reply) == "1EZ")
        #expect(String(decoding: reply[1].1, as: UTF8.self).contains("42P05"))
        s.send(M.message("D", [UInt8(ascii: "S")] + Self.cstring("nope")) + M.message("S", []))
        reply = M.readUntilReady(s)
        #expect(String(decoding: reply[0].1, as: UTF8.self).contains("26000"))
        // An empty query gets EmptyQueryResponse.
        s.send(M.message("Q", Self.cstring("  ")))
        #expect(Self.tags(M.readUntilReady(s)) == "IZ")
    }

    @Test func simpleQueryWithSeveralStatementsIsOneImplicitTransaction() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let s = try Self.session(server)
        s.send(M.message("Q", Self.cstring("CREATE TABLE t (id BIGINT PRIMARY KEY)")))
        _ = M.readUntilReady(s)
        s.send(M.message("Q", Self.cstring("INSERT INTO t VALUES (1); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)")))
        let reply = M.readUntilReady(s)
        #expect(Self.tags(reply) == "CEZ", "\(Self.tags(reply))")
        s.send(M.message("Q", Self.cstring("SELECT count(*) FROM t")))
        let count = M.readUntilReady(s).first { $0.0 == UInt8(ascii: "D") }?.1 ?? []
        #expect(count.suffix(1) == [UInt8(ascii: "0")])  // the first INSERT was rolled back with the failed batch
    }
}
