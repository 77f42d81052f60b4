import Foundation
import GRPCCore
import RedCore
import RedProto
import Testing

/// Online exports and snapshots of a running server: consistent copies that open as databases.
@Suite(.serialized) struct ExportTests {
    @Test func anExportIsAConsistentCopyThatOpensAsADatabase() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        var r = try await HTTPClientTests.call(server, "POST", "/query", body: """
            CREATE TABLE t (id INT PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t (v); \
            INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 5000) AS g; KV PUT settings.theme = 'dark'
            """)
        #expect(r.status == 200, "\(r.body)")
        // Writers keep going while the copy is taken; the copy holds one consistent state.
        let writer = Task {
            for i in 5001...5200 { _ = try await HTTPClientTests.call(server, "POST", "/query", body: "INSERT INTO t VALUES (\(i), 'late')") }
        }
        r = try await HTTPClientTests.call(server, "POST", "/export", body: #"{"name": "nightly"}"#)
        try await writer.value
        #expect(r.status == 200, "\(r.body)")
        guard case .string(let path)? = r.json["path"] else { Issue.record("no path: \(r.body)"); return }
        #expect(path == server.path + ".export.nightly.rdb")
        r = try await HTTPClientTests.call(server, "POST", "/export", body: #"{"name": "nightly"}"#)
        #expect(r.status == 409)
        r = try await HTTPClientTests.call(server, "POST", "/export", body: #"{"name": "../escape"}"#)
        #expect(r.status == 400)
        r = try await HTTPClientTests.call(server, "GET", "/exports")
        #expect(r.json["exports"]?.text.contains("nightly") == true, "\(r.body)")

        let copy = try ServerProcess(path: path)
        defer { copy.remove() }
        r = try await HTTPClientTests.call(copy, "POST", "/query", body: "SELECT count(*) AS n, count(*) FILTER (WHERE v = 'late') AS l FROM t")
        guard case .array(let records)? = r.json["result"]?["records"], case .object(let values)? = records.first?["values"] else {
            Issue.record("no rows: \(r.body)"); return
        }
        let count = values.first { $0.0 == "n" }?.1, late = values.first { $0.0 == "l" }?.1
        if case .integer(let n)? = count, case .integer(let l)? = late { #expect(n == 5000 + l, "\(r.body)") } else { Issue.record("\(r.body)") }
        r = try await HTTPClientTests.call(copy, "POST", "/query", body: "EXPLAIN SELECT * FROM t WHERE v = 'row 7'")
        #expect(r.body.contains("t_v"), "the index came along: \(r.body)")
        r = try await HTTPClientTests.call(copy, "POST", "/query", body: "KV GET settings.theme")
        #expect(r.body.contains("dark"))
    }

    @Test func snapshotsOverGrpcKeepTheNewestSixteen() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        _ = try await HTTPClientTests.call(server, "POST", "/query", body: "CREATE TABLE t (id INT); INSERT INTO t VALUES (1)")
        try await GRPCServerTests.withClient(server) { db, _ in
            for _ in 0..<17 { _ = try await db.createSnapshot(Reddb_V1_Empty()) }
            let list = try JSONValue.parse(try await db.snapshots(Reddb_V1_Empty()).payload)
            guard case .array(let snapshots)? = list["snapshots"] else { Issue.record("\(list.text)"); return }
            #expect(snapshots.count == 16)
            let export = try JSONValue.parse(try await db.createExport(.with { $0.name = "one" }).payload)
            #expect(export["keys"] != nil)
            let exports = try JSONValue.parse(try await db.exports(Reddb_V1_Empty()).payload)
            #expect(exports["exports"]?.text.contains("\"one\"") == true && exports["exports"]?.text.contains("snapshot-") == false)
            await #expect(throws: RPCError.self) { _ = try await db.createExport(.with { $0.name = "snapshot-1" }) }
        }
    }
}
