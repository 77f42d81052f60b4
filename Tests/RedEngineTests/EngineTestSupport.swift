import RedCore
import RedStorage
@testable import RedEngine

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
func text(_ b: [UInt8]?) -> String? { b.map { String(decoding: $0, as: UTF8.self) } }

/// An engine on a fresh simulated file system.
struct EngineHarness {
    let fs: SimulatedFileSystem
    let path = "/db/data.rdb"

    init(fs: SimulatedFileSystem = SimulatedFileSystem()) {
        self.fs = fs
        try? fs.createDirectory("/db")
    }

    static func options(_ configure: (inout EngineOptions) -> Void = { _ in }) -> EngineOptions {
        var o = EngineOptions()
        o.backgroundWork = false
        o.cacheBytes = 256 << 10
        configure(&o)
        return o
    }

    func open(_ options: EngineOptions = EngineHarness.options()) async throws -> StorageEngine {
        try await StorageEngine.open(path: path, options: options, fileSystem: fs)
    }
}

extension StorageEngine {
    /// Records of `collection` in the tree, whether visible or not (versions of a key count once).
    func recordCount(_ collection: Collection) throws -> Int {
        let end = Keyspace.prefix(collection.id + 1)
        return try store.read { tree in
            var n = 0
            var after = Keyspace.prefix(collection.id)
            var inclusive = true
            while true {
                let batch = try tree.batch(after: after, inclusive: inclusive).filter { compareKeys($0.key, end) < 0 }
                guard let last = batch.last else { return n }
                n += batch.count
                after = last.key
                inclusive = false
            }
        }
    }

    /// Creates a collection in its own transaction.
    func makeCollection(_ name: String) async throws -> Collection {
        try await transaction { try $0.createCollection(name) }
    }

    /// Commits one put.
    func put(_ c: Collection, _ k: String, _ v: String) async throws {
        try await transaction { try $0.put(c, bytes(k), bytes(v)) }
    }

    /// Reads everything in a collection at a fresh snapshot.
    func dump(_ name: String) async throws -> [String: String] {
        let tx = try begin()
        defer { tx.rollback() }
        guard let c = try tx.collectionIfExists(named: name) else { return [:] }
        var out: [String: String] = [:]
        for e in try tx.scan(c).collect() { out[text(e.key)!] = text(e.value)! }
        return out
    }

    /// Number of versions stored for a key (reaches into the tree).
    func versionCount(_ c: Collection, _ k: String) throws -> Int {
        let raw = try store.read { try $0.get(Keyspace.key(c.id, bytes(k))) }
        guard let raw else { return 0 }
        return try VersionChain(decoding: raw, context: "test").versions.count
    }
}
