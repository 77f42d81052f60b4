import Foundation
import RedCore
import RedDB
import RedStorage
import Testing

/// The two header slots: a damaged older slot is passed over at open, shown as invalid, and
/// rewritten by the repair, with the data untouched.
@Suite struct HeaderRepairTests {
    @Test func aDamagedSlotIsPassedOverShownAndRewritten() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("header-repair-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/data.rdb"
        var db = try await Database.open(path: path)
        try await db.session().execute("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t SELECT g FROM generate_series(1, 100) AS g")
        try await db.engine.checkpoint()
        try await db.engine.checkpoint()
        let slots = try db.engine.headerSlots()
        #expect(slots.allSatisfy { $0.problem == nil && $0.epoch != nil })
        try await db.close()

        // Damage the slot an open will not take: the one with the older epoch, as the file holds them.
        let file = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        let epochs = try (0..<2).map { slot -> UInt64 in
            let page = Array(file[slot * PageLayout.pageSize..<(slot + 1) * PageLayout.pageSize])
            return try DatabaseHeader.decode(try PageImage.verify(page, id: PageID(slot), file: path), file: path).epoch
        }
        let older = (slot: epochs[0] < epochs[1] ? 0 : 1, epoch: min(epochs[0], epochs[1]))
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: UInt64(older.slot * PageLayout.pageSize + 100))
        try handle.write(contentsOf: Data([0xDE, 0xAD, 0xBE, 0xEF]))
        try handle.close()

        db = try await Database.open(path: path)
        let damaged = try db.engine.headerSlots()
        #expect(damaged.first { $0.slot == older.slot }?.problem != nil, "\(damaged)")
        #expect(try await db.session().execute("SELECT count(*) FROM t").rows == [[.integer(100)]], "the newer slot still opens it")
        let repaired = try await db.engine.rewriteHeaderSlots()
        #expect(repaired.allSatisfy { $0.problem == nil }, "\(repaired)")
        try await db.close()
        db = try await Database.open(path: path)
        #expect(try db.engine.headerSlots().allSatisfy { $0.problem == nil })
        #expect(try await db.session().execute("SELECT count(*) FROM t").rows == [[.integer(100)]])
        try await db.close()
    }
}
