import AsyncHTTPClient
import Foundation
import GRPCCore
import RedProto
import RedWire
import Logging
import NIOCore
import PostgresNIO
import RedDB
import Testing

/// One list of statements — DDL, DML, queries, errors, multi-model — run on the
/// embedded API, over PG-wire (PostgresNIO, simple and extended protocol), HTTP,
/// RedWire (QueryWithParams, structured errors) and gRPC (`Query`), each on a fresh
/// database. Results must agree: the same columns, rows and SQLSTATEs, differing only in
/// each surface's value encoding (PG text, JSON).
@Suite(.serialized) struct SurfaceParityTests {
    static let statements = [
        "CREATE TABLE p (id BIGINT PRIMARY KEY, name TEXT, score FLOAT, tags JSON, active BOOLEAN, price NUMERIC)",
        #"INSERT INTO p VALUES (1, 'Ada', 9.5, '{"a": [1, 2]}', true, 12.5), (2, 'Bob', NULL, NULL, false, 0.1)"#,
        "SELECT * FROM p ORDER BY id",
        "SELECT count(*) AS n, sum(score) AS total, min(name) AS first FROM p",
        "UPDATE p SET score = score + 1 WHERE id = 1",
        "SELECT name, score, price * 2 AS doubled FROM p WHERE active",
        "SELECT id, name FROM p WHERE name LIKE 'A%' OR score IS NULL ORDER BY id DESC",
        "DELETE FROM p WHERE id = 2",
        "SELECT 1/0",
        "SELECT sqrt(-1)",
        "SELECT id, tags->'a'->>1 AS second, tags @> '{\"a\": [2]}' AS has FROM p ORDER BY id",
        "SELECT id, name, t FROM p, unnest(ARRAY['x', name]) AS t WHERE id = ANY('{1,3}') AND t <> ALL(ARRAY['zz']) ORDER BY t",
        "SELECT * FROM nope",
        "SELEC 1",
        "INSERT INTO p (id, name) VALUES (1, 'dup')",
        "KV PUT cfg.mode = 'fast'",
        "KV GET cfg.mode",
        #"INSERT INTO docs DOCUMENT VALUES ({"name": "Ada", "langs": ["en", "fr"]})"#,
        "SELECT name, langs FROM docs",
        "SELECT collection, kind FROM ANY ORDER BY collection",
        "CREATE VECTOR emb DIM 3 METRIC L2",
        #"INSERT INTO emb VECTOR (dense, content, metadata) VALUES ([3, 4, 0], 'a', {"k": "x"}), ([0, 0, 0.5], 'b', NULL)"#,
        "SELECT rid, dense, content FROM emb ORDER BY rid",
        "SELECT entity_id, score, distance, content, metadata FROM (VECTOR SEARCH emb SIMILAR TO [0, 0, 0] LIMIT 5) s",
        "SEARCH SIMILAR [3, 4, 0] COLLECTION emb",
        "SELECT entity_id FROM (VECTOR SEARCH emb SIMILAR TO [3, 4, 0] WHERE k = 'x') s",
        "VECTOR SEARCH emb SIMILAR TO [1, 2]",
        "INSERT INTO net NODE (label, node_type, size) VALUES ('x', 'host', 3), ('y', 'host', NULL), ('z', 'router', 1)",
        "INSERT INTO net EDGE (label, from, to, weight) VALUES ('link', 'x', 'y', 2), ('link', 'y', 'z', 0.5), ('link', 'x', 'z', 9)",
        "SELECT rid, kind, label, from_rid, to_rid, weight, size FROM net ORDER BY rid",
        "GRAPH TRAVERSE net FROM 'x' STRATEGY dfs",
        "GRAPH SHORTEST_PATH 'x' TO 'z' ALGORITHM dijkstra",
        "GRAPH NEIGHBORHOOD 'nobody'",
        "MATCH (a:host)-[l:link]->(b) WHERE l.weight < 5 RETURN a.label, b.label, l.weight",
    ]

    /// A surface-neutral outcome: columns, rows as PG-style text, affected count, or an error's SQLSTATE.
    struct Outcome: Equatable, CustomStringConvertible {
        var columns: [String] = []
        var rows: [[String?]] = []
        var error: String?
        var description: String { error.map { "error \($0)" } ?? "\(columns) \(rows)" }

        /// The same outcome with numbers written without a numeric's trailing zeros: JSON numbers
        /// (HTTP, gRPC, RedWire's envelope) and Foundation's `Decimal` (PostgresNIO's binary
        /// numeric) carry a value but not its display scale, so `25.0` arrives as `25`.
        var ignoringScale: Outcome {
            var copy = self
            copy.rows = rows.map { $0.map { cell in
                guard let cell, cell.contains("."), let n = try? Numeric.parse(cell) else { return cell }
                return n.withoutTrailingZeros().text
            } }
            return copy
        }

        /// The same outcome with JSON objects and arrays written one way: PG-wire sends a jsonb
        /// value as PostgreSQL writes it (`{"a": [1, 2]}`, keys sorted), a json value and the
        /// other surfaces compactly, in the keys' order.
        var normalizingJSON: Outcome {
            var copy = self
            copy.rows = rows.map { $0.map { cell in
                guard let cell, cell.hasPrefix("{") || cell.hasPrefix("["), let j = try? JSONValue.parse(cell) else { return cell }
                return j.jsonbText
            } }
            return copy
        }
    }

    static func pgText(_ value: Value) -> String? {
        switch value {
        case .null: return nil
        case .boolean(let b): return b ? "t" : "f"
        default: return value.displayText
        }
    }

    static func embedded() async throws -> [Outcome] {
        let database = try await Database.inMemory()
        let session = database.session()
        var outcomes: [Outcome] = []
        for sql in statements {
            do {
                let r = try await session.execute(sql)
                outcomes.append(Outcome(columns: r.columns.map(\.name), rows: r.rows.map { $0.map(pgText) }))
            } catch let error as RedError {
                outcomes.append(Outcome(error: error.sqlState))
            }
        }
        try await database.close()
        return outcomes
    }

    static func overPostgres(extended: Bool) async throws -> [Outcome] {
        let server = try ServerProcess()
        defer { server.remove() }
        return try await PostgresClientTests.withConnection(server) { conn in
        var outcomes: [Outcome] = []
        for sql in statements {
            do {
                var outcome = Outcome()
                if extended {
                    let rows = try await conn.query(PostgresQuery(unsafeSQL: sql), logger: PostgresClientTests.logger)
                    for try await row in rows {
                        if outcome.columns.isEmpty { outcome.columns = row.map(\.columnName) }
                        // Extended protocol rows arrive in binary; decode each cell by its column type to text.
                        outcome.rows.append(try row.map { cell in try Self.text(of: cell) })
                    }
                } else {
                    outcome = try Self.simpleProtocol(sql, port: server.pgPort)
                }
                outcomes.append(outcome)
            } catch let error as PSQLError {
                outcomes.append(Outcome(error: error.serverInfo?[.sqlState]))
            } catch {
                // The legacy simpleQuery API reports server errors as "server: message (SQLSTATE)".
                let text = String(describing: error)
                outcomes.append(Outcome(error: text.hasSuffix(")") ? String(text.suffix(6).prefix(5)) : text))
            }
        }
        return outcomes
        }
    }

    /// Runs one statement with the simple query protocol (text results) on a raw socket.
    static func simpleProtocol(_ sql: String, port: Int) throws -> Outcome {
        let s = try RawSocket(port: port)
        s.send(MalformedInputTests.startup())
        _ = MalformedInputTests.readUntilReady(s)
        s.send(MalformedInputTests.message("Q", Array(sql.utf8) + [0]))
        var outcome = Outcome()
        for (tag, body) in MalformedInputTests.readUntilReady(s) {
            var reader = body[...]
            func int16() -> Int { defer { reader = reader.dropFirst(2) }; return Int(reader.first!) << 8 | Int(reader.dropFirst().first!) }
            func int32() -> Int32 {
                let v = reader.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                reader = reader.dropFirst(4)
                return Int32(bitPattern: v)
            }
            switch tag {
            case UInt8(ascii: "T"):
                let count = int16()
                for _ in 0..<count {
                    let name = reader.prefix { $0 != 0 }
                    outcome.columns.append(String(decoding: name, as: UTF8.self))
                    reader = reader.dropFirst(name.count + 1 + 18)
                }
            case UInt8(ascii: "D"):
                let count = int16()
                var row: [String?] = []
                for _ in 0..<count {
                    let length = int32()
                    if length < 0 { row.append(nil); continue }
                    row.append(String(decoding: reader.prefix(Int(length)), as: UTF8.self))
                    reader = reader.dropFirst(Int(length))
                }
                outcome.rows.append(row)
            case UInt8(ascii: "E"):
                let fields = body.split(separator: 0)
                outcome = Outcome(error: fields.first { $0.first == UInt8(ascii: "C") }.map { String(decoding: $0.dropFirst(), as: UTF8.self) })
            default: break
            }
        }
        return outcome
    }

    /// A binary cell as PostgreSQL's text form, for the types RedDB sends.
    static func text(of cell: PostgresCell) throws -> String? {
        guard cell.bytes != nil else { return nil }
        switch cell.dataType {
        case .bool: return try cell.decode(Bool.self) ? "t" : "f"
        case .int8: return String(try cell.decode(Int64.self))
        case .float8: return Value.float(try cell.decode(Double.self)).displayText
        case .numeric: return Value.decimal(try Numeric.parse("\(try cell.decode(Decimal.self))") ?? Numeric(Int64(0))).displayText
        case .date:
            let date = try cell.decode(Date.self)
            return Value.date(Int32(date.timeIntervalSince1970 / 86_400)).displayText
        case .jsonb:
            var bytes = cell.bytes!
            _ = bytes.readInteger(as: UInt8.self)
            return String(buffer: bytes)
        case PostgresDataType(16_300):  // pgvector's vector: dimensions, unused, float4 components
            var bytes = cell.bytes!
            let dimensions = Int(bytes.readInteger(as: Int16.self) ?? 0)
            _ = bytes.readInteger(as: Int16.self)
            let components = (0..<dimensions).map { _ in Float(bitPattern: bytes.readInteger(as: UInt32.self) ?? 0) }
            return Value.vector(components).displayText
        default: return try cell.decode(String.self)
        }
    }

    static func overHTTP() async throws -> [Outcome] {
        let server = try ServerProcess()
        defer { server.remove() }
        var outcomes: [Outcome] = []
        for sql in statements {
            let reply = try await HTTPClientTests.call(server, "POST", "/query", body: sql)
            let json = reply.json
            if json["ok"] == .bool(false) {
                if case .string(let state)? = json["sqlstate"] { outcomes.append(Outcome(error: state)) } else { outcomes.append(Outcome(error: "?")) }
                continue
            }
            outcomes.append(Self.outcome(ofEnvelope: json))
        }
        return outcomes
    }

    /// The HTTP `/query` envelope (also RedWire's QueryWithParams reply) as an outcome.
    static func outcome(ofEnvelope json: JSONValue) -> Outcome {
        var outcome = Outcome()
        if case .array(let columns)? = json["result"]?["columns"] {
            outcome.columns = columns.compactMap { if case .string(let s) = $0 { s } else { nil } }
        }
        if case .array(let records)? = json["result"]?["records"] {
            outcome.rows = records.map { record in outcome.columns.map { Self.text(ofJSON: record["values"]?[$0] ?? .null) } }
        }
        return outcome
    }

    static func overRedWire() async throws -> [Outcome] {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try RawSocket(port: server.wirePort)
        socket.send(RedWirePreamble.bytes)
        let hello = Frame(.hello, correlationID: 1, payload: Array(#"{"versions":[1],"auth_methods":["anonymous"],"features":2}"#.utf8))
        #expect(RedWireServerTests.request(socket, hello)?.kind == .helloAck)
        #expect(RedWireServerTests.request(socket, Frame(.authResponse, correlationID: 2))?.kind == .authOk)
        var outcomes: [Outcome] = []
        for (i, sql) in statements.enumerated() {
            let request = Frame(.queryWithParams, correlationID: UInt64(10 + i), payload: ParamValueCodec.encode(.init(sql: sql, parameters: [])))
            let reply = try #require(RedWireServerTests.request(socket, request))
            let json = try JSONValue.parse(String(decoding: reply.payload, as: UTF8.self))
            if reply.kind == .error {
                guard case .string(let state)? = json["sqlstate"] else { throw RedError(.internalError, "unstructured error \(json.text)") }
                outcomes.append(Outcome(error: state))
            } else {
                outcomes.append(Self.outcome(ofEnvelope: json))
            }
        }
        return outcomes
    }

    static func overGRPC() async throws -> [Outcome] {
        let server = try ServerProcess()
        defer { server.remove() }
        return try await GRPCServerTests.withClient(server) { db, _ in
            var outcomes: [Outcome] = []
            for sql in statements {
                do {
                    let reply = try await db.query(.with { $0.query = sql })
                    let records = try GRPCServerTests.records(reply)
                    outcomes.append(Outcome(columns: reply.columns, rows: records.map { r in reply.columns.map { Self.text(ofJSON: r[$0] ?? .null) } }))
                } catch let error as RPCError {
                    outcomes.append(Outcome(error: error.metadata[stringValues: "reddb-sqlstate"].first { _ in true } ?? "\(error.code)"))
                }
            }
            return outcomes
        }
    }

    /// An HTTP JSON value as PG-style text (numbers, strings, booleans; JSON inline).
    static func text(ofJSON j: JSONValue) -> String? {
        switch j {
        case .null: return nil
        case .bool(let b): return b ? "t" : "f"
        case .integer(let i): return String(i)
        case .float(let d): return Value.float(d).displayText
        case .decimal(let n): return Value.decimal(n).displayText
        case .string(let s): return s
        case .array, .object: return j.text
        }
    }

    @Test func pgWireSimpleAndExtendedMatchEmbedded() async throws {
        let reference = try await Self.embedded()
        let simple = try await Self.overPostgres(extended: false)
        let extended = try await Self.overPostgres(extended: true)
        for (i, sql) in Self.statements.enumerated() {
            #expect(simple[i].normalizingJSON == reference[i].normalizingJSON, "simple protocol: \(sql)")
            #expect(extended[i].ignoringScale.normalizingJSON == reference[i].ignoringScale.normalizingJSON, "extended protocol: \(sql)")
        }
    }

    @Test func redWireAndGRPCMatchEmbedded() async throws {
        let reference = try await Self.embedded()
        let wire = try await Self.overRedWire()
        let grpc = try await Self.overGRPC()
        for (i, sql) in Self.statements.enumerated() {
            #expect(wire[i].ignoringScale == reference[i].ignoringScale, "RedWire: \(sql)")
            #expect(grpc[i].ignoringScale == reference[i].ignoringScale, "gRPC: \(sql)")
        }
    }

    @Test func httpMatchesEmbedded() async throws {
        let reference = try await Self.embedded()
        let http = try await Self.overHTTP()
        for (i, sql) in Self.statements.enumerated() {
            #expect(http[i].ignoringScale == reference[i].ignoringScale, "HTTP: \(sql)")
        }
    }
}
