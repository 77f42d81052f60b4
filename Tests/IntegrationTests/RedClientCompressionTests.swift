import RedCore
import RedWire
import Testing
@testable import RedClient

/// `?compress=zstd`: RedClient and the server compress RedWire payloads both ways.
@Suite(.serialized) struct RedClientCompressionTests {
    @Test(.enabled(if: Zstd.isAvailable, "libzstd.so.1 is not installed")) func zstdBothWays() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let db = try await RedClient.connect("red://127.0.0.1:\(server.wirePort)?compress=zstd")
        let compressing = (db.transport as? RedWireTransport)?.connections.first?.isCompressing
        #expect(compressing == true)
        _ = try await db.execute("CREATE TABLE z (id BIGINT PRIMARY KEY, note TEXT)")
        let rows = (1...3_000).map { [Value.integer(Int64($0)), .text(String(repeating: "note \($0) ", count: 8))] }
        #expect(try await db.bulkInsert(into: "z", columns: ["id", "note"], rows: rows) == 3_000)
        let back = try await db.query("SELECT id, note FROM z ORDER BY id")
        #expect(back.rows.count == 3_000 && back.rows[2_999][1] == rows[2_999][1])
        let filtered = try await db.query("SELECT count(*) FROM z WHERE note LIKE $1", [.text("note 12 %")])
        #expect(filtered.rows[0][0] == .integer(1))
        try await db.close()

        let plain = try await RedClient.connect("red://127.0.0.1:\(server.wirePort)")
        #expect((plain.transport as? RedWireTransport)?.connections.first?.isCompressing == false)
        try await plain.close()
        await #expect(throws: RedError.self) { _ = try await RedClient.connect("red://127.0.0.1:\(server.wirePort)?compress=lz4") }
    }
}
