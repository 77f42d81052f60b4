import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import RedCore
import RedProto
import SwiftProtobuf
import Testing

/// The gRPC surface of the real `red server`, called through grpc-swift 2 clients generated
/// from our `reddb.proto` (which keeps RedDB's field numbers and method paths).
@Suite(.serialized) struct GRPCServerTests {
    typealias RedDb = Reddb_V1_RedDb.Client<HTTP2ClientTransport.Posix>

    /// Runs `body` with a client connected to `server`'s gRPC port.
    static func withClient<T: Sendable>(_ server: ServerProcess,
                                        _ body: @Sendable (RedDb, GRPCClient<HTTP2ClientTransport.Posix>) async throws -> T) async throws -> T {
        try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: server.grpcPort),
                                                          transportSecurity: .plaintext)) { client in
            try await body(RedDb(wrapping: client), client)
        }
    }

    static func query(_ sql: String, _ params: [Reddb_V1_QueryValue] = []) -> Reddb_V1_QueryRequest {
        .with { $0.query = sql; $0.params = params }
    }

    static func records(_ reply: Reddb_V1_QueryReply) throws -> [JSONValue] {
        guard case .array(let records)? = try JSONValue.parse(reply.resultJson)["records"] else { return [] }
        return records
    }

    /// The code of the RPCError `body` throws (nil when it succeeds).
    static func code(_ body: () async throws -> Void) async -> (RPCError.Code, RPCError)? {
        do {
            try await body()
            return nil
        } catch let error as RPCError {
            return (error.code, error)
        } catch {
            Issue.record("not an RPCError: \(error)")
            return nil
        }
    }

    @Test func queryRequestMatchesTheSpecsGoldenEncoding() throws {
        let request = Self.query("SELECT $1", [.with { $0.intValue = 42 }, .with { $0.textValue = "x" }, .with { $0.nullValue = .init() }])
        let bytes: [UInt8] = try request.serializedBytes()
        #expect(bytes.map { String(format: "%02x", $0) }.joined() == "0a0953454c4543542024312202182a22032a017822020a00")
    }

    @Test func queriesWithEveryParameterKindRoundTrip() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withClient(server) { db, _ in
            let create = try await db.query(Self.query(
                "CREATE TABLE t (id BIGINT PRIMARY KEY, b BOOLEAN, f DOUBLE PRECISION, s TEXT, raw BYTEA, doc JSON, at TIMESTAMP, u UUID)"))
            #expect(create.ok && create.statement == "create")
            #expect(try JSONValue.parse(create.resultJson)["message"] == .string("table 't' created"))
            let params: [Reddb_V1_QueryValue] = [
                .with { $0.intValue = 1 }, .with { $0.boolValue = true }, .with { $0.floatValue = 2.5 }, .with { $0.textValue = "héllo" },
                .with { $0.bytesValue = Data([0xde, 0xad]) }, .with { $0.jsonValue = #"{"a":[1,2]}"# },
                .with { $0.timestampValue = 1_700_000_000 }, .with { $0.uuidValue = Data((0..<16).map { UInt8($0) }) },
            ]
            let insert = try await db.query(Self.query("INSERT INTO t VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", params))
            #expect(insert.statement == "insert")
            #expect(try JSONValue.parse(insert.resultJson)["affected_rows"] == .integer(1))
            let select = try await db.query(Self.query("SELECT id, b, f, s, raw, doc, u FROM t WHERE id = $1", [.with { $0.intValue = 1 }]))
            #expect(select.columns == ["id", "b", "f", "s", "raw", "doc", "u"])
            #expect(select.recordCount == 1 && select.mode == "sql" && select.engine == "runtime-table")
            let record = try #require(try Self.records(select).first)
            #expect(record["id"] == .integer(1) && record["b"] == .bool(true) && record["f"] == .float(2.5) && record["s"] == .string("héllo"))
            #expect(record["doc"] == (try JSONValue.parse(#"{"a":[1,2]}"#)))
            #expect(record["u"] == .string("000102030405060708090a0b0c0d0e0f"))  // as HTTP encodes a UUID
            let keys = try JSONValue.parse(select.resultJson)
            guard case .object(let members) = keys else { throw RedError(.internalError, "result_json is not an object") }
            #expect(members.map(\.0) == ["columns", "record_count", "selection", "records"])
            // The timestamp parameter is Unix seconds.
            let at = try await db.query(Self.query("SELECT at = $1::timestamp FROM t", [.with { $0.textValue = "2023-11-14 22:13:20" }]))
            #expect(try Self.records(at).first?["?column?"] == .bool(true))
        }
    }

    @Test func errorsMapToPreciseStatusCodes() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withClient(server) { db, _ in
            _ = try await db.query(Self.query("CREATE TABLE u (id BIGINT PRIMARY KEY)"))
            _ = try await db.query(Self.query("INSERT INTO u VALUES (1)"))
            let cases: [(String, RPCError.Code, String)] = [
                ("SELEC 1", .invalidArgument, "42601"),
                ("SELECT * FROM missing", .notFound, "42P01"),
                ("INSERT INTO u VALUES (1)", .alreadyExists, "23505"),
                ("SELECT 1 / 0", .invalidArgument, "22012"),
            ]
            for (sql, expected, sqlstate) in cases {
                let failure = await Self.code { _ = try await db.query(Self.query(sql)) }
                #expect(failure?.0 == expected, "\(sql): \(String(describing: failure?.1))")
                #expect(failure?.1.metadata[stringValues: "reddb-sqlstate"].first { _ in true } == sqlstate, "\(sql)")
            }
            let badUUID = await Self.code { _ = try await db.query(Self.query("SELECT $1", [.with { $0.uuidValue = Data([1, 2]) }])) }
            #expect(badUUID?.0 == .invalidArgument)
            #expect(badUUID?.1.message == "uuid param must be 16 bytes, got 2")
            let empty = await Self.code { _ = try await db.query(Self.query("")) }
            #expect(empty?.0 == .invalidArgument)
        }
    }

    @Test func queryStreamSendsHeaderChunksAndEnd() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withClient(server) { db, _ in
            let events = try await db.queryStream(Self.query("SELECT n, repeat('x', 100) AS pad FROM generate_series(1, 5000) AS g(n)")) { response in
                var collected: [Reddb_V1_QueryStreamEvent] = []
                for try await event in response.messages { collected.append(event) }
                return collected
            }
            guard case .header(let header)? = events.first?.event else { throw RedError(.internalError, "no header first") }
            #expect(header.columns == ["n", "pad"])
            guard case .end(let end)? = events.last?.event else { throw RedError(.internalError, "no end last") }
            #expect(end.recordCount == 5000)
            var ids: [Int64] = []
            for event in events.dropFirst().dropLast() {
                guard case .rows(let rows)? = event.event, case .array(let items) = try JSONValue.parse(rows.recordsJson) else {
                    throw RedError(.internalError, "expected rows")
                }
                #expect(items.count <= 1_000)
                ids += items.compactMap { if case .integer(let n)? = $0["n"] { return n } else { return nil } }
            }
            #expect(ids == Array(1...5000))
            #expect(events.count >= 7)  // header, at least five chunks, end

            // A statement that is not a query streams its RETURNING rows; an error is a status.
            _ = try await db.query(Self.query("CREATE TABLE s (id BIGINT PRIMARY KEY)"))
            let inserted = try await db.queryStream(Self.query("INSERT INTO s VALUES (1), (2) RETURNING id")) { response in
                var last: Reddb_V1_QueryStreamEvent?
                for try await event in response.messages { last = event }
                return last
            }
            guard case .end(let insertEnd)? = inserted?.event else { throw RedError(.internalError, "no end") }
            #expect(insertEnd.recordCount == 2 && insertEnd.affectedRows == 2)
            let failure = await Self.code {
                _ = try await db.queryStream(Self.query("SELECT * FROM nowhere")) { response in
                    for try await _ in response.messages {}
                }
            }
            #expect(failure?.0 == .notFound)
        }
    }

    /// Loads larger than one batch are decoded and inserted a batch at a time, still all or
    /// none: a malformed row (or a damaged message) late in the load leaves no row behind.
    @Test func bulkInsertBinaryLoadsInBatchesAllOrNone() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withClient(server) { db, _ in
            _ = try await db.query(Self.query("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT, f DOUBLE PRECISION, b BOOLEAN, x BYTEA)"))
            func row(_ i: Int) -> Reddb_V1_BinaryRow {
                .with {
                    $0.values = [.with { $0.intValue = Int64(i) }, .with { $0.textValue = "v\(i)" }, .with { $0.floatValue = Double(i) / 4 },
                                 .with { $0.boolValue = i % 2 == 0 }, i % 3 == 0 ? .init() : .with { $0.blobValue = Data([UInt8(i % 256)]) }]
                }
            }
            let names = ["id", "v", "f", "b", "x"]
            let loaded = try await db.bulkInsertBinary(.with { $0.collection = "t"; $0.fieldNames = names; $0.rows = (0..<2_500).map(row) })
            #expect(loaded.count == 2_500 && loaded.firstID > 0)
            let sums = try await db.query(Self.query("SELECT count(*) AS n, sum(f) AS f, count(x) AS x, count(*) FILTER (WHERE b) AS b FROM t"))
            let totals = try #require(try Self.records(sums).first)
            #expect(totals["n"] == .integer(2_500) && totals["x"] == .integer(2_500 - 834) && totals["b"] == .integer(1_250))
            #expect(totals["f"] == .float(Double((0..<2_500).reduce(0, +)) / 4))

            let short = await Self.code {
                _ = try await db.bulkInsertBinary(.with {
                    $0.collection = "t"
                    $0.fieldNames = names
                    $0.rows = (10_000..<12_500).map { i in i == 12_100 ? .with { $0.values = [.with { $0.intValue = 1 }] } : row(i) }
                })
            }
            #expect(short?.0 == .invalidArgument)
            #expect(short?.1.message.contains("row 2100 has 1 values for 5 field names") == true)
            let after = try await db.query(Self.query("SELECT count(*) AS n FROM t WHERE id >= 10000"))
            #expect(try Self.records(after).first?["n"] == .integer(0))
        }
    }

    @Test func collectionEntityAndKeyValueHelpers() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withClient(server) { db, _ in
            let created = try await db.createCollection(.with {
                $0.payloadJson = #"{"name":"people","columns":[{"name":"id","type":"BIGINT","primary_key":true},{"name":"name","type":"TEXT"}]}"#
            })
            #expect(try JSONValue.parse(created.payload)["model"] == .string("table"))
            let row = try await db.createRow(.with { $0.collection = "people"; $0.payloadJson = #"{"id":7,"name":"Ada"}"# })
            #expect(row.ok && row.id > 0)
            #expect(try JSONValue.parse(row.entityJson)["name"] == .string("Ada"))
            let bulk = try await db.bulkCreateRows(.with { $0.collection = "people"; $0.payloadJson = [#"{"id":8,"name":"Bob"}"#, #"{"id":9,"name":"Cy"}"#] })
            #expect(bulk.count == 2 && bulk.items.count == 2)
            let patched = try await db.patchEntity(.with { $0.collection = "people"; $0.id = row.id; $0.payloadJson = #"{"name":"Ada L."}"# })
            #expect(try JSONValue.parse(patched.entityJson)["name"] == .string("Ada L."))
            let scan = try await db.scan(.with { $0.collection = "people"; $0.limit = 2 })
            #expect(scan.total == 3 && scan.items.count == 2 && scan.nextOffset == 2)
            #expect(try JSONValue.parse(scan.items[0].json)["name"] == .string("Ada L."))
            let deleted = try await db.deleteEntity(.with { $0.collection = "people"; $0.id = row.id })
            #expect(deleted.ok)
            let missing = await Self.code { _ = try await db.deleteEntity(.with { $0.collection = "people"; $0.id = row.id }) }
            #expect(missing?.0 == .notFound)

            let binary = try await db.bulkInsertBinary(.with {
                $0.collection = "people"
                $0.fieldNames = ["id", "name"]
                $0.rows = (100..<110).map { i in .with { $0.values = [.with { $0.intValue = Int64(i) }, i == 105 ? .init() : .with { $0.textValue = "p\(i)" }] } }
            })
            #expect(binary.count == 10 && binary.firstID > 0)
            let nullName = try await db.query(Self.query("SELECT name FROM people WHERE id = 105"))
            #expect(try Self.records(nullName).first?["name"] == .null)
            // A duplicate key anywhere rolls the whole binary batch back.
            let duplicate = await Self.code {
                _ = try await db.bulkInsertBinary(.with {
                    $0.collection = "people"
                    $0.fieldNames = ["id"]
                    $0.rows = [200, 201, 100].map { i in .with { $0.values = [.with { $0.intValue = Int64(i) }] } }
                })
            }
            #expect(duplicate?.0 == .alreadyExists)
            let after = try await db.query(Self.query("SELECT count(*) AS n FROM people WHERE id >= 200"))
            #expect(try Self.records(after).first?["n"] == .integer(0))

            let document = try await db.createDocument(.with { $0.collection = "notes"; $0.payloadJson = #"{"title":"hi","tags":["a"]}"# })
            #expect(document.id > 0)
            let names = try await db.collections(Reddb_V1_Empty()).collections
            #expect(Set(names).isSuperset(of: ["people", "notes"]))
            let described = try await db.describeCollection(.with { $0.collection = "people" })
            #expect(try JSONValue.parse(described.payload)["entity_count"] == .integer(12))

            let put = try await db.kvPut(.with { $0.payloadJson = #"{"collection":"cache","key":"k1","value":{"n":1}}"# })
            #expect(try JSONValue.parse(put.payload)["created"] == .bool(true))
            let got = try await db.kvGet(.with { $0.payloadJson = #"{"collection":"cache","key":"k1"}"# })
            #expect(try JSONValue.parse(got.payload)["value"] == (try JSONValue.parse(#"{"n":1}"#)))
            let kv = try await db.createKv(.with { $0.collection = "cache"; $0.payloadJson = #"{"key":"k2","value":"v"}"# })
            #expect(kv.ok)
            _ = try await db.kvDelete(.with { $0.payloadJson = #"{"collection":"cache","key":"k1"}"# })
            let gone = await Self.code { _ = try await db.kvGet(.with { $0.payloadJson = #"{"collection":"cache","key":"k1"}"# }) }
            #expect(gone?.0 == .notFound)
            let badJSON = await Self.code { _ = try await db.kvPut(.with { $0.payloadJson = "{not json" }) }
            #expect(badJSON?.0 == .invalidArgument)

            let dropped = try await db.dropCollection(.with { $0.payloadJson = #"{"name":"notes"}"# })
            #expect(dropped.ok)
            let checkpoint = try await db.checkpoint(Reddb_V1_Empty())
            #expect(checkpoint.ok)
            func firstIndex(_ payload: String) throws -> JSONValue? {
                guard case .array(let items)? = try JSONValue.parse(payload)["indexes"] else { return nil }
                return items.first
            }
            let indexes = try firstIndex(try await db.indexes(.with { $0.collection = "people" }).payload)
            #expect(indexes?["status"] == .string("ready") && indexes?["columns"] == .array([.string("id")]))
            let declared = try firstIndex(try await db.declaredIndexes(.with { $0.collection = "people" }).payload)
            #expect(declared?["status"] == nil && declared?["unique"] == .bool(true))
            let operational = try firstIndex(try await db.operationalIndexes(.with { $0.collection = "people" }).payload)
            #expect(operational?["columns"] == nil && operational?["status"] == .string("ready"))
            #expect(try firstIndex(try await db.indexStatuses(Reddb_V1_Empty()).payload)?["collection"] == .string("people"))
            #expect(try JSONValue.parse(try await db.indexAttention(Reddb_V1_Empty()).payload)["indexes"] == .array([]))
            let noCollection = await Self.code { _ = try await db.indexes(.with { $0.collection = "nope" }) }
            #expect(noCollection?.0 == .notFound)
            let rebuilt = try JSONValue.parse(try await db.rebuildIndexes(.with { $0.collection = "people" }).payload)
            #expect(rebuilt["ok"] == .bool(true) && rebuilt["message"] == .string("reindexed 1 index"), "\(rebuilt.text)")
            let indexName: String
            if case .string(let name)? = indexes?["name"] { indexName = name } else { indexName = "" }
            let warmed = try JSONValue.parse(try await db.warmupIndex(.with { $0.name = indexName }).payload)
            #expect(warmed["collection"] == .string("people") && warmed["entries"] != nil, "\(warmed.text)")
            let noIndex = await Self.code { _ = try await db.warmupIndex(.with { $0.name = "nope" }) }
            #expect(noIndex?.0 == .notFound)
            let noTable = await Self.code { _ = try await db.rebuildIndexes(.with { $0.collection = "nope" }) }
            #expect(noTable?.0 == .notFound)
            // Operator marks: queries read through an index only while it is ready and enabled.
            func plan() async throws -> String {
                try await db.explainQuery(Self.query("SELECT name FROM people WHERE id = 7")).payload
            }
            #expect(try await plan().contains("Index Scan"))
            let expected = try Self.records(try await db.query(Self.query("SELECT name FROM people WHERE id >= 8 ORDER BY id")))
            #expect(!expected.isEmpty)
            for (mark, status) in [("stale", "stale"), ("failed", "failed"), ("building", "building")] {
                let reply: Reddb_V1_PayloadReply
                switch mark {
                case "stale": reply = try await db.markIndexStale(.with { $0.name = indexName })
                case "failed": reply = try await db.failIndex(.with { $0.name = indexName })
                default: reply = try await db.markIndexBuilding(.with { $0.name = indexName })
                }
                #expect(try JSONValue.parse(reply.payload)["status"] == .string(status))
                #expect(try await !plan().contains("Index Scan"), "a \(status) index is not read")
                let attention = try firstIndex(try await db.indexAttention(Reddb_V1_Empty()).payload)
                #expect(attention?["status"] == .string(status))
                let readiness = try JSONValue.parse(try await db.catalogReadiness(Reddb_V1_Empty()).payload)
                #expect(readiness["ready"] == .bool(false) && readiness["collections_not_ready"] == .array([.string("people")])
                        && readiness["indexes"]?[status] == .integer(1), "\(readiness.text)")
                let perCollection = try JSONValue.parse(try await db.collectionReadiness(Reddb_V1_Empty()).payload)
                #expect(perCollection.text.contains(#"{"collection":"people","indexes":1,"indexes_ready":0,"model":"table","ready":false}"#), "\(perCollection.text)")
                let flagged = try JSONValue.parse(try await db.collectionAttention(Reddb_V1_Empty()).payload)
                #expect(flagged.text.contains(#"{"name":"\#(indexName)","reason":"\#(status)"}"#), "\(flagged.text)")
                let summary = try JSONValue.parse(try await db.catalogAttentionSummary(Reddb_V1_Empty()).payload)
                #expect(summary["collections_needing_attention"] == .integer(1) && summary["by_reason"]?[status] == .integer(1))
                let rows = try Self.records(try await db.query(Self.query("SELECT name FROM people WHERE id >= 8 ORDER BY id")))
                #expect(rows == expected, "results never change")
            }
            _ = try await db.markIndexReady(.with { $0.name = indexName })
            #expect(try await plan().contains("Index Scan"))
            let disabled = try JSONValue.parse(try await db.setIndexEnabled(.with { $0.name = indexName; $0.enabled = false }).payload)
            #expect(disabled["enabled"] == .bool(false) && disabled["status"] == .string("ready"))
            #expect(try await !plan().contains("Index Scan"))
            _ = try await db.failIndex(.with { $0.name = indexName })
            _ = try await db.rebuildIndexes(.with { $0.collection = "people" })  // rebuilt: ready again, still disabled
            let state = try firstIndex(try await db.indexStatuses(Reddb_V1_Empty()).payload)
            #expect(state?["status"] == .string("ready") && state?["enabled"] == .bool(false))
            _ = try await db.setIndexEnabled(.with { $0.name = indexName; $0.enabled = true })
            #expect(try await plan().contains("Index Scan"))
            #expect(try JSONValue.parse(try await db.indexAttention(Reddb_V1_Empty()).payload)["indexes"] == .array([]))
            #expect(try JSONValue.parse(try await db.catalogReadiness(Reddb_V1_Empty()).payload)["ready"] == .bool(true))
            #expect(try JSONValue.parse(try await db.collectionAttention(Reddb_V1_Empty()).payload)["collections"] == .array([]))
            let consistency = try JSONValue.parse(try await db.catalogConsistency(Reddb_V1_Empty()).payload)
            #expect(consistency["consistent"] == .bool(true) && consistency.text.contains(#""collection":"people","consistent":true"#), "\(consistency.text)")
            let unknown = await Self.code { _ = try await db.failIndex(.with { $0.name = "nope" }) }
            #expect(unknown?.0 == .notFound)
            #expect(try await db.applyRetention(Reddb_V1_Empty()).message.hasPrefix("vacuum reclaimed"))
            #expect(try JSONValue.parse(try await db.replicationStatus(Reddb_V1_Empty()).payload)["role"] == .string("standalone"))
        }
    }

    @Test func batchPreparedAndExplain() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withClient(server) { db, _ in
            let batch = try await db.batchQuery(.with {
                $0.queries = ["CREATE TABLE b (id BIGINT PRIMARY KEY, v TEXT)", "BEGIN", "INSERT INTO b VALUES (1, 'one')", "COMMIT", "SELECT v FROM b"]
            })
            #expect(batch.results.count == 5)
            #expect(try Self.records(batch.results[4]).first?["v"] == .string("one"))
            let failing = await Self.code { _ = try await db.batchQuery(.with { $0.queries = ["INSERT INTO b VALUES (2, 'two')", "SELEC"] }) }
            #expect(failing?.0 == .invalidArgument)

            let prepared = try await db.prepareQuery(.with { $0.query = "SELECT v FROM b WHERE id = 1" })
            #expect(prepared.preparedID >= 1 && prepared.parameterCount == 1)
            let executed = try await db.executePrepared(.with { $0.preparedID = prepared.preparedID; $0.bindJson = ["2"] })
            #expect(try Self.records(executed).first?["v"] == .string("two"))
            let mismatch = await Self.code { _ = try await db.executePrepared(.with { $0.preparedID = prepared.preparedID; $0.bindJson = [] }) }
            #expect(mismatch?.0 == .invalidArgument)
            // Literals are the parameters (spec §3.5), so `$n` is refused.
            let placeholder = await Self.code { _ = try await db.prepareQuery(.with { $0.query = "SELECT v FROM b WHERE id = $1" }) }
            #expect(placeholder?.0 == .invalidArgument)
            let unknown = await Self.code { _ = try await db.executePrepared(.with { $0.preparedID = 9_999 }) }
            #expect(unknown?.0 == .notFound)

            let explain = try await db.explainQuery(Self.query("SELECT * FROM b WHERE id = 1"))
            #expect(explain.payload.contains("Index") || explain.payload.contains("Scan"), "\(explain.payload)")
        }
    }

    @Test func healthTopologyAndStandardHealthService() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withClient(server) { db, client in
            let health = try await db.health(Reddb_V1_Empty())
            #expect(health.healthy && health.state == "healthy" && health.checkedAtUnixMs > 0)
            let topology = try await db.topology(Reddb_V1_TopologyRequest())
            #expect(Data(topology.topologyBytes).base64EncodedString() == "ARkAAAAAAAAAAAAAAAAAAAAFAAAAbG9jYWwAAAAA")
            let standard = Grpc_Health_V1_Health.Client(wrapping: client)
            #expect(try await standard.check(.with { $0.service = "" }).status == .serving)
            #expect(try await standard.check(.with { $0.service = "reddb.v1.RedDb" }).status == .serving)
            let unknown = await Self.code { _ = try await standard.check(.with { $0.service = "nope" }) }
            #expect(unknown?.0 == .notFound)
            let first = try await standard.watch(.with { $0.service = "" }) { response in
                for try await message in response.messages { return message.status }
                return .unknown
            }
            #expect(first == .serving)
            let stats = try await db.stats(Reddb_V1_Empty())
            #expect(stats.pagedMode && stats.startedAtUnixMs > 0)
        }
    }

    @Test func bearerTokensWhenUsersAreConfigured() async throws {
        let server = try ServerProcess(arguments: ["--user", "ada:s3cret"])
        defer { server.remove() }
        try await Self.withClient(server) { db, _ in
            _ = try await db.health(Reddb_V1_Empty())  // health needs no token
            let anonymous = await Self.code { _ = try await db.query(Self.query("SELECT 1")) }
            #expect(anonymous?.0 == .unauthenticated)
            let wrong = await Self.code { _ = try await db.authLogin(.with { $0.payloadJson = #"{"username":"ada","password":"nope"}"# }) }
            #expect(wrong?.0 == .unauthenticated)
            let login = try await db.authLogin(.with { $0.payloadJson = #"{"username":"ada","password":"s3cret"}"# })
            guard case .string(let token)? = try JSONValue.parse(login.payload)["token"] else { throw RedError(.internalError, "no token") }
            let viaBearer = try await db.query(Self.query("SELECT 1 AS one"), metadata: ["authorization": "Bearer \(token)"])
            #expect(try Self.records(viaBearer).first?["one"] == .integer(1))
            let viaHeader = try await db.authWhoAmI(Reddb_V1_Empty(), metadata: ["x-reddb-token": .string(token)])
            #expect(try JSONValue.parse(viaHeader.payload)["username"] == .string("ada"))
            let forged = await Self.code { _ = try await db.query(Self.query("SELECT 1"), metadata: ["authorization": "Bearer rdb_forged"]) }
            #expect(forged?.0 == .unauthenticated)
        }
    }

    /// Without a valid token, a call may send 64 KiB, uncompressed, when the server has users:
    /// the transport would otherwise assemble (and inflate) up to 256 MiB per call before any
    /// handler looked at the token. The refusal names the limit; a caller with a token, or any
    /// caller of a server without users, sends large messages as before.
    @Test func unauthenticatedCallsMaySendOnlySmallUncompressedRequests() async throws {
        let server = try ServerProcess(arguments: ["--user", "ada:s3cret"])
        defer { server.remove() }
        let large = String(repeating: "x", count: 100_000)
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: server.grpcPort), transportSecurity: .plaintext,
            config: .defaults { $0.compression.enabledAlgorithms = [.gzip] })
        try await withGRPCClient(transport: transport) { client in
            let db = RedDb(wrapping: client)
            // An open rpc (login needs no token) with a request over the limit.
            let oversized = await Self.code {
                _ = try await db.authLogin(.with { $0.payloadJson = #"{"username":"ada","password":"\#(large)"}"# })
            }
            #expect(oversized?.0 == .unauthenticated)
            #expect(oversized?.1.message.contains("at most 64 KiB") == true, "\(String(describing: oversized?.1))")
            // A small compressed request without a token.
            var gzip = CallOptions.defaults
            gzip.compression = .gzip
            let compressed = await Self.code {
                _ = try await db.authLogin(.with { $0.payloadJson = #"{"username":"ada","password":"s3cret"}"# }, options: gzip)
            }
            #expect(compressed?.0 == .unauthenticated)
            #expect(compressed?.1.message.contains("compressed") == true, "\(String(describing: compressed?.1))")
            // Small, uncompressed and tokenless: as before.
            let login = try await db.authLogin(.with { $0.payloadJson = #"{"username":"ada","password":"s3cret"}"# })
            guard case .string(let token)? = try JSONValue.parse(login.payload)["token"] else { throw RedError(.internalError, "no token") }
            // With the token: large and compressed requests pass.
            let bearer: Metadata = ["authorization": "Bearer \(token)"]
            for options in [CallOptions.defaults, gzip] {
                let reply = try await db.query(Self.query("SELECT length($1) AS n", [.with { $0.textValue = large }]), metadata: bearer, options: options)
                #expect(try Self.records(reply).first?["n"] == .integer(Int64(large.count)))
            }
            // The connection still serves.
            #expect(try await db.health(Reddb_V1_Empty()).healthy)
        }
        // A server without users takes the same large request without a token.
        let open = try ServerProcess()
        defer { open.remove() }
        let n = try await Self.withClient(open) { db, _ in
            try Self.records(try await db.query(Self.query("SELECT length($1) AS n", [.with { $0.textValue = large }]))).first?["n"]
        }
        #expect(n == .integer(Int64(large.count)))
    }

    /// gzip- and deflate-compressed requests are accepted and answered.
    @Test func compressedRequestsAreAccepted() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        for algorithm in [CompressionAlgorithm.gzip, .deflate] {
            let transport = try HTTP2ClientTransport.Posix(
                target: .ipv4(address: "127.0.0.1", port: server.grpcPort), transportSecurity: .plaintext,
                config: .defaults { $0.compression.enabledAlgorithms = [.gzip, .deflate] })
            let text = String(repeating: "compressible ", count: 20_000)
            let length = try await withGRPCClient(transport: transport) { client in
                var options = CallOptions.defaults
                options.compression = algorithm
                let reply = try await RedDb(wrapping: client).query(Self.query("SELECT length($1) AS n", [.with { $0.textValue = text }]),
                                                                     options: options)
                return try Self.records(reply).first?["n"]
            }
            #expect(length == .integer(Int64(text.count)), "\(algorithm)")
        }
    }

    /// gRPC's own tasks run on the server's event loops, but statements must not: a long query
    /// there would hold up every call on its connection (and on its loop) until it ended. Here
    /// SELECT 1 on the same HTTP/2 connection finishes while a query of hours runs (cancelled
    /// afterwards); with the statement on the loop, SELECT 1 waits behind it and the test
    /// times out on its own deadline.
    @Test func aLongStatementDoesNotHoldUpOtherCallsOnItsConnection() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let order = try await Self.withClient(server) { db, _ in
            try await withThrowingTaskGroup(of: String.self) { group in
                group.addTask {
                    do {
                        _ = try await db.query(Self.query("SELECT count(*) FROM generate_series(1, 1000000) a, generate_series(1, 100000) b"))
                        return "long finished"
                    } catch let error as RPCError where error.code == .cancelled {
                        return "long cancelled"
                    } catch {
                        return "long failed: \(error)"
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(1))  // the long one is running by now
                    for _ in 0..<5 { _ = try await db.query(Self.query("SELECT 1")) }
                    return "short"
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(60))
                    return "deadline"
                }
                let first = try await group.next()!
                group.cancelAll()
                return first
            }
        }
        #expect(order == "short")
    }

    /// gRPC tells a handler of a cancelled call through the RPC's cancellation handle, not by
    /// cancelling its task; `GRPCCallInterceptor` turns one into the other. A query of hours whose
    /// client gives up must stop on the server: its call is counted in `reddb_queries_total`
    /// when its handler returns, which without the interceptor would be hours later. The cancel
    /// is sent only once the server is seen working on the query (its process using CPU), so a
    /// loaded machine cannot make the call end before it began.
    @Test func aCancelledCallStopsItsStatement() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        @Sendable func grpcQueries() async throws -> Int {
            let metrics = try await HTTPClientTests.call(server, "GET", "/metrics").body
            let line = metrics.split(separator: "\n").first { $0.hasPrefix("reddb_queries_total") && $0.contains("surface=\"grpc\"") && $0.contains("kind=\"query\"") }
            return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        }
        /// The server's user + system CPU time in clock ticks (fields 14 and 15 of /proc/PID/stat).
        let pid = server.process.processIdentifier
        @Sendable func serverCPUTicks() -> Int {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return 0 }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 12 ? (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0) : 0
        }
        try await Self.withClient(server) { db, _ in
            let long = Task { try await db.query(Self.query("SELECT count(*) FROM generate_series(1, 1000000) a, generate_series(1, 100000) b")) }
            var working = false
            for _ in 0..<60 where !working {  // up to 30 s for the query to be under way
                let before = serverCPUTicks()
                try await Task.sleep(for: .milliseconds(500))
                working = serverCPUTicks() - before >= 15  // 0.15 s of CPU in 0.5 s (ticks are 10 ms)
            }
            #expect(working, "the server never started on the query")
            #expect(try await grpcQueries() == 0)  // still running
            long.cancel()
            await #expect(throws: (any Error).self) { try await long.value }
            var ended = false
            for _ in 0..<600 where !ended {  // up to a minute; the query alone would run for hours
                ended = try await grpcQueries() == 1
                if !ended { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(ended, "the cancelled call's statement is still running")
        }
    }

    /// A message that is not valid protobuf, and bytes that are not HTTP/2: each fails alone,
    /// and the server goes on serving.
    @Test func malformedInputNeverTakesTheServerDown() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withClient(server) { _, client in
            let failure = await Self.code {
                _ = try await client.unary(request: ClientRequest(message: [UInt8]([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])),
                                           descriptor: Reddb_V1_RedDb.Method.Query.descriptor,
                                           serializer: RawBytes(), deserializer: RawBytes(), options: .defaults) { try $0.message }
            }
            #expect(failure != nil)
        }
        for garbage in [[UInt8](repeating: 0x41, count: 4096), Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [UInt8](repeating: 0xff, count: 64)] {
            let socket = try RawSocket(port: server.grpcPort)
            socket.send(garbage)
            shutdown(socket.fd, Int32(SHUT_WR))
            _ = socket.readAll(max: 1 << 12)
        }
        let healthy = try await Self.withClient(server) { db, _ in try await db.health(Reddb_V1_Empty()).healthy }
        #expect(healthy)
        #expect(server.process.isRunning)
    }
}

/// Passes bytes through untouched, to send a payload that is not a valid message.
struct RawBytes: MessageSerializer, MessageDeserializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}
