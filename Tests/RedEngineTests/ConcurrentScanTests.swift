import RedCore
import RedStorage
import Testing
@testable import RedEngine

@Suite struct ConcurrentScanTests {
    @Test func aLongScanSeesExactlyItsSnapshotWhileWritersReshapeTheTree() async throws {
        let engine = try await EngineHarness().open(EngineHarness.options { $0.cacheBytes = 128 << 10 })
        let c = try await engine.makeCollection("t")
        try await engine.transaction { tx in
            for i in stride(from: 0, to: 4000, by: 2) { try tx.put(c, bytes(String(format6(i))), bytes("v0-\(i)")) }
        }
        let reader = try engine.begin()
        let forward = try reader.scan(c)
        let backward = try reader.scan(c, reverse: true)
        var seenForward: [String] = []
        var seenBackward: [String] = []
        var round = 0
        while true {
            // Between every few reads, commit inserts (splits), updates and deletes (merges) all over the range.
            if round % 3 == 0 {
                try await engine.transaction { tx in
                    for k in 0..<40 {
                        let i = (round * 131 + k * 97) % 4000
                        if i % 2 == 1 { try tx.put(c, bytes(format6(i)), bytes("new")) }
                        else if k % 2 == 0 { try tx.put(c, bytes(format6(i)), bytes("updated")) }
                        else { try tx.delete(c, bytes(format6(i))) }
                    }
                }
            }
            round += 1
            let f = try forward.next()
            let b = try backward.next()
            if let f { seenForward.append("\(text(f.key)!)=\(text(f.value)!)") }
            if let b { seenBackward.append(text(b.key)!) }
            if f == nil && b == nil { break }
        }
        let expected = stride(from: 0, to: 4000, by: 2).map { "\(format6($0))=v0-\($0)" }
        #expect(seenForward == expected)
        #expect(seenBackward == stride(from: 0, to: 4000, by: 2).reversed().map { format6($0) })
        reader.rollback()
        _ = try engine.verify()
    }
}

func format6(_ n: Int) -> String {
    let s = String(n)
    return String(repeating: "0", count: max(0, 6 - s.count)) + s
}
