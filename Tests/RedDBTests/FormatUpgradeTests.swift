import Foundation
import Testing
import RedCore
import RedDB

/// A file of format version 1 (timestamps in milliseconds) opens in this build: its values
/// read as written and its indexes, rebuilt for microsecond keys, find them again.
///
/// `Fixtures/format1` was written by the build before microsecond timestamps (`88841a2`):
/// ```sql
/// CREATE TABLE events (id INT PRIMARY KEY, at TIMESTAMP UNIQUE, day DATE, zoned TIMESTAMPTZ, note TEXT);
/// CREATE INDEX events_day ON events (day); CREATE INDEX events_zoned ON events (zoned);
/// CREATE INDEX events_hour ON events (date_trunc('hour', at));
/// INSERT INTO events VALUES (1, '2024-01-01 10:00:00.123', '2024-01-01', '2024-01-01 10:00:00+02', 'one'),
///   (2, '2024-03-05 23:59:59.999', '2024-03-05', '2024-03-05 12:00:00.5+00', 'two'),
///   (3, '1969-12-31 23:59:59.5', '1969-12-31', '1960-06-01 00:00:00+00', 'three');
/// CREATE TABLE kids (id INT PRIMARY KEY, parent_at TIMESTAMP REFERENCES events (at));
/// INSERT INTO kids VALUES (10, '2024-01-01 10:00:00.123');
/// ```
@Suite struct FormatUpgradeTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/format1")

    /// The fixture copied where a test may change it.
    func withFixtureCopy(_ body: (String) async throws -> Void) async throws {
        try await withTemporaryDatabasePath("format1") { path in
            let dir = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.removeItem(at: dir)
            try FileManager.default.copyItem(at: Self.fixture, to: dir)
            try await body(dir.appendingPathComponent("data.rdb").path)
        }
    }

    /// The format version written in the newest of the file's two header slots.
    func headerVersion(_ path: String) throws -> UInt32 {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)).prefix(2 * 4096))
        func u64(_ at: Int) -> UInt64 { bytes[at..<at + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
        func u32(_ at: Int) -> UInt32 { bytes[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        let slot = u64(32 + 16) >= u64(4096 + 32 + 16) ? 0 : 4096  // the higher epoch
        return u32(slot + 32 + 8)
    }

    func rows(_ session: Session, _ sql: String) async throws -> [[String]] {
        try await session.execute(sql).rows.map { $0.map(\.displayText) }
    }

    @Test func aVersionOneFileOpensWithItsValuesAndIndexesIntact() async throws {
        try await withFixtureCopy { path in
            #expect(try headerVersion(path) == 1)
            do {
                let db = try await Database.open(path: path)
                let s = db.session()
                #expect(try await rows(s, "SELECT id, at, day, zoned FROM events ORDER BY id") == [
                    ["1", "2024-01-01 10:00:00.123", "2024-01-01", "2024-01-01 08:00:00"],
                    ["2", "2024-03-05 23:59:59.999", "2024-03-05", "2024-03-05 12:00:00.5"],
                    ["3", "1969-12-31 23:59:59.5", "1969-12-31", "1960-06-01 00:00:00"],
                ])
                // Each lookup goes through an index whose keys were milliseconds.
                #expect(try await rows(s, "SELECT id FROM events WHERE at = '2024-03-05 23:59:59.999'") == [["2"]])
                #expect(try await rows(s, "SELECT id FROM events WHERE at = '1969-12-31 23:59:59.5'") == [["3"]])
                #expect(try await rows(s, "SELECT id FROM events WHERE day = '2024-01-01'") == [["1"]])
                #expect(try await rows(s, "SELECT id FROM events WHERE zoned BETWEEN '2024-01-01' AND '2024-01-02'") == [["1"]])
                #expect(try await rows(s, "SELECT id FROM events WHERE date_trunc('hour', at) = '2024-03-05 23:00'") == [["2"]])
                let plan = try await rows(s, "EXPLAIN SELECT id FROM events WHERE at = '2024-03-05 23:59:59.999'").joined().joined()
                #expect(plan.contains("Index"))
                // The unique index and the foreign key see the old keys as the new ones.
                await #expect(throws: RedError.self) {
                    try await s.execute("INSERT INTO events VALUES (4, '2024-01-01 10:00:00.123', NULL, NULL, 'dup')")
                }
                await #expect(throws: RedError.self) { try await s.execute("DELETE FROM events WHERE id = 1") }
                _ = try await s.execute("INSERT INTO kids VALUES (11, '2024-03-05 23:59:59.999')")
                // New values keep their microseconds, beside the old ones.
                _ = try await s.execute("INSERT INTO events VALUES (5, '2024-03-05 23:59:59.999001', '2024-03-05', now(), 'five')")
                #expect(try await rows(s, "SELECT id FROM events WHERE at > '2024-03-05 23:59:59.999' ORDER BY at") == [["5"]])
                try await db.close()
            }
            #expect(try headerVersion(path) == 2)
            let db = try await Database.open(path: path)
            let s = db.session()
            #expect(try await rows(s, "SELECT id, at FROM events WHERE at >= '2024-03-05' ORDER BY at") == [
                ["2", "2024-03-05 23:59:59.999"], ["5", "2024-03-05 23:59:59.999001"],
            ])
            #expect(try await rows(s, "SELECT count(*) FROM kids JOIN events ON kids.parent_at = events.at") == [["2"]])
            try await db.close()
        }
    }
}
