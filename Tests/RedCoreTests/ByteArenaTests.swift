import Testing
@testable import RedCore

@Suite struct ByteArenaTests {
    /// Pieces of every size — empty, small, larger than the chunk being filled, larger than a
    /// quarter chunk (their own chunk) — each filled with its own pattern: at the end every
    /// piece still holds its bytes at the address it was given (nothing moved or overlapped).
    @Test func piecesKeepTheirBytesAndAddresses() {
        let arena = ByteArena()
        var pieces: [(UnsafeRawBufferPointer, UInt8)] = []
        var state: UInt64 = 7
        var total = 0
        for i in 0..<3_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let size: Int
            switch i % 10 {
            case 0: size = 0
            case 1: size = Int(state >> 33) % 70_000  // sometimes a chunk of its own
            case 2: size = 1_000 + Int(state >> 40) % 15_000  // larger than a young chunk
            default: size = Int(state >> 50) % 200
            }
            let pattern = UInt8(truncatingIfNeeded: i)
            let source = [UInt8](repeating: pattern, count: size)
            let piece = i % 2 == 0 ? arena.copy(source) : source.withUnsafeBytes { arena.copy($0) }
            #expect(piece.count == size)
            pieces.append((piece, pattern))
            total += size
        }
        for (piece, pattern) in pieces {
            #expect(piece.allSatisfy { $0 == pattern })
        }
        #expect(arena.bytesUsed == total)
        #expect(pieces[5].0.array == [UInt8](repeating: 5, count: pieces[5].0.count))
    }
}
