/// Append-only byte storage whose bytes never move: a pointer into it stays valid
/// for as long as the arena lives.
///
/// Why: a transaction's write set holds every key and value it wrote until commit.
/// As one `[UInt8]` each, a bulk load of 50,000 rows made 200,000 heap objects,
/// reference-counted as they passed from the write set to the WAL encoder and the
/// B+tree and freed one by one at the end, and scattered in memory, so reading them
/// back at commit missed the cache on nearly every key. In an arena they are written
/// one after another in a few large chunks and freed with them.
///
/// Chunks start small (a one-key transaction does not pay for a large one) and
/// double up to `maxChunkBytes`; a piece larger than a quarter of that gets a chunk of
/// its own. Bytes are never overwritten or freed before the arena, so copies of a
/// structure that point into the same arena (a savepoint's copy of a write set) stay
/// valid whatever the other copy appends.
///
/// Not thread-safe: one owner appends at a time (the write set lives under its
/// transaction's lock); reading bytes already written is safe from any thread.
public final class ByteArena: @unchecked Sendable {
    static let firstChunkBytes = 1 << 10
    static let maxChunkBytes = 64 << 10

    private var chunks: [UnsafeMutableRawPointer] = []
    private var cursor: UnsafeMutableRawPointer?
    private var remaining = 0
    private var nextChunkBytes = ByteArena.firstChunkBytes
    /// Bytes handed out so far.
    public private(set) var bytesUsed = 0

    public init() {}

    deinit {
        for chunk in chunks { chunk.deallocate() }
    }

    /// Room for `count` bytes (uninitialized), for the caller to fill before anyone reads them.
    public func allocate(_ count: Int) -> UnsafeMutableRawPointer {
        bytesUsed += count
        if count > Self.maxChunkBytes / 4 {
            let own = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 8)
            chunks.append(own)
            return own
        }
        if cursor == nil || count > remaining {
            let size = max(nextChunkBytes, count)
            nextChunkBytes = min(nextChunkBytes * 2, Self.maxChunkBytes)
            let chunk = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
            chunks.append(chunk)
            cursor = chunk
            remaining = size
        }
        let start = cursor!
        cursor = start + count
        remaining -= count
        return start
    }

    /// Room for at most `maxCount` bytes that `fill` writes, returning how many it wrote; the
    /// rest is given back when it was taken from the shared chunk. For an encoder that knows
    /// only a bound of its size (a row written straight into the arena).
    public func reserve(_ maxCount: Int, fill: (UnsafeMutableRawPointer) throws -> Int) rethrows -> UnsafeRawBufferPointer {
        let start = allocate(maxCount)
        let written = try fill(start)
        precondition(written >= 0 && written <= maxCount, "wrote \(written) bytes into room for \(maxCount)")
        if cursor == start + maxCount {  // the latest piece of the shared chunk: shrink it
            cursor = start + written
            remaining += maxCount - written
        }
        bytesUsed -= maxCount - written
        return UnsafeRawBufferPointer(start: start, count: written)
    }

    /// A copy of `bytes` that lives as long as the arena.
    public func copy(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let start = allocate(bytes.count)
        if bytes.count > 0 { start.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        return UnsafeRawBufferPointer(start: start, count: bytes.count)
    }

    /// A copy of `bytes` that lives as long as the arena.
    public func copy(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
        bytes.withUnsafeBytes { copy($0) }
    }
}

extension UnsafeRawBufferPointer {
    /// The bytes as a new array.
    @inlinable public var array: [UInt8] { [UInt8](self) }
}
