import RedCore
@testable import RedStorage

/// A reference model and helpers shared by the B+tree and checkpoint tests.
struct StoreHarness {
    let fs: SimulatedFileSystem
    let path = "/db/data.rdb"

    init(fs: SimulatedFileSystem = SimulatedFileSystem()) {
        self.fs = fs
        try? fs.createDirectory("/db")
    }

    func open(cacheBytes: Int = 1 << 20) throws -> PagedStore {
        try PagedStore.open(path: path, fileSystem: fs, cacheBytes: cacheBytes, mayInitialize: true)
    }

    /// Writes `entries` keys (`value(i, size: valueSize)`), checkpoints and closes: reopening
    /// then starts with a cold cache over a tree of many pages.
    func checkpointed(entries: Int, valueSize: Int = 60) throws {
        let store = try open()
        for i in 0..<entries { try store.write { try $0.put(key(i), value(i, size: valueSize)) } }
        try store.checkpointNow()
        try store.close()
    }
}

func key(_ n: Int) -> [UInt8] { Array(String(format6(n)).utf8) }

/// Zero-padded decimal so byte order equals numeric order.
func format6(_ n: Int) -> String {
    let s = String(n)
    return String(repeating: "0", count: max(0, 8 - s.count)) + s
}

func value(_ n: Int, size: Int) -> [UInt8] {
    var rng = SplitMix64(seed: UInt64(n) &* 31 &+ UInt64(size))
    return rng.nextBytes(size)
}

extension PagedStore {
    /// Every entry in key order (descending with `reversed`), read through leaf batches.
    func allEntries(reversed: Bool = false) throws -> [([UInt8], [UInt8])] {
        var out: [([UInt8], [UInt8])] = []
        var cursor: [UInt8]? = nil
        while true {
            let batch = try read { tree in
                try (reversed ? tree.reverseBatch(before: cursor, inclusive: false) : tree.batch(after: cursor, inclusive: false))
                    .map { ($0.key, try tree.read($0.value)) }
            }
            if batch.isEmpty { return out }
            out.append(contentsOf: batch)
            cursor = batch.last!.0
        }
    }

    func allEntriesReversed() throws -> [([UInt8], [UInt8])] { try allEntries(reversed: true) }

    func checkpointNow(lsn: UInt64 = 0, ts: UInt64 = 0) throws {
        try write(freeze { (lsn, ts) })
    }
}
