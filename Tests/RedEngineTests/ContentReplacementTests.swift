import RedCore
import RedStorage
import Testing
@testable import RedEngine

/// `StorageEngine.replaceContents` (the engine half of `POST /admin/restore`): the contents
/// become the source's, new transactions wait meanwhile, and a crash anywhere leaves the old
/// contents or, finished at the next open, the new ones — never a mix.
@Suite struct ContentReplacementTests {
    static let source = "/db/source.rdb"

    /// A database at `path` on `fs` holding `collections` (name → keys → values).
    static func make(_ path: String, on fs: SimulatedFileSystem, _ collections: [String: [String: String]]) async throws {
        let engine = try await StorageEngine.open(path: path, options: EngineHarness.options(), fileSystem: fs)
        for (name, records) in collections.sorted(by: { $0.key < $1.key }) {
            let c = try await engine.makeCollection(name)
            try await engine.transaction { tx in for (k, v) in records { try tx.put(c, bytes(k), bytes(v)) } }
        }
        try await engine.close()
    }

    static func records(_ prefix: String, _ count: Int, _ value: String) -> [String: String] {
        Dictionary(uniqueKeysWithValues: (0..<count).map { ("\(prefix)\($0)", value) })
    }

    @Test func theContentsBecomeTheSourcesAndTheSourceIsRemoved() async throws {
        let h = EngineHarness()
        try await Self.make(h.path, on: h.fs, ["a": Self.records("k", 100, "old"), "gone": Self.records("g", 5, "x")])
        try await Self.make(Self.source, on: h.fs, ["a": Self.records("k", 3, "new"), "b": Self.records("b", 50, "y")])
        let engine = try await h.open()
        let copied = try await engine.replaceContents(withDatabaseAt: Self.source)
        #expect(copied >= 53)
        #expect(try await engine.dump("a") == Self.records("k", 3, "new"))
        #expect(try await engine.dump("b") == Self.records("b", 50, "y"))
        #expect(try await engine.dump("gone").isEmpty)
        #expect(!h.fs.fileExists(StorageEngine.replacementIntentPath(for: h.path)) && !h.fs.fileExists(Self.source))
        // Life goes on: a new collection takes an id the copied registry has not used.
        let c = try await engine.makeCollection("c")
        try await engine.put(c, "x", "1")
        let (b, c2) = (try await engine.dump("b"), try await engine.dump("c"))
        #expect(b.count == 50 && c2 == ["x": "1"])
        try await engine.close()
        let reopened = try await h.open()
        let (a, c3) = (try await reopened.dump("a"), try await reopened.dump("c"))
        #expect(a == Self.records("k", 3, "new") && c3 == ["x": "1"])
        try await reopened.close()
    }

    /// New transactions are refused meanwhile; open ones are waited for (the copy deletes the
    /// old records outright), and one open too long makes the restore fail having changed nothing.
    /// Write fences (read-only mode) do not stop it.
    @Test func openTransactionsAreWaitedForAndNewOnesRefused() async throws {
        let h = EngineHarness()
        try await Self.make(h.path, on: h.fs, ["a": Self.records("k", 10, "old")])
        try await Self.make(Self.source, on: h.fs, ["a": Self.records("k", 2, "new")])
        let engine = try await h.open()
        engine.setWriteFence(RedError(.readOnlyTransaction, "read only"), by: "read_only")
        let open = try engine.begin()
        let timedOut = await #expect(throws: RedError.self) {
            _ = try await engine.replaceContents(withDatabaseAt: Self.source, waitingUpTo: .milliseconds(100))
        }
        #expect(timedOut?.code == .objectNotInPrerequisiteState && timedOut?.message.contains("still open") == true)
        #expect(try await engine.dump("a") == Self.records("k", 10, "old") && !h.fs.fileExists(StorageEngine.replacementIntentPath(for: h.path)))

        let restore = Task { try await engine.replaceContents(withDatabaseAt: Self.source) }
        var refused: RedError?
        for _ in 0..<500 where refused == nil {  // the gate closes as soon as the restore starts waiting
            do { try engine.begin().rollback(); try await Task.sleep(for: .milliseconds(10)) } catch let error as RedError { refused = error }
        }
        #expect(refused?.code == .objectNotInPrerequisiteState && refused?.message.contains("being restored") == true)
        let a = try open.collection(named: "a")
        #expect(try open.scan(a).collect().count == 10, "the open transaction still reads its snapshot")
        open.rollback()
        _ = try await restore.value
        #expect(try await engine.dump("a") == Self.records("k", 2, "new"))
        let collection = try await engine.transaction { try $0.collection(named: "a") }
        await #expect(throws: RedError.self) { try await engine.put(collection, "z", "1") }  // the fence still holds for writes
        try await engine.close()
    }

    /// The disk stops after `seed`-dependent operations somewhere in the replacement, then the
    /// power goes: the reopened database holds the old contents or the new, whole.
    @Test(arguments: 0..<48 as Range<UInt64>) func aCrashAnywhereLeavesTheOldOrTheNewContents(seed: UInt64) async throws {
        let h = EngineHarness()
        let old = Self.records("k", 30, "old"), new = Self.records("k", 20, "new"), extra = Self.records("b", 10, "y")
        try await Self.make(h.path, on: h.fs, ["a": old])
        try await Self.make(Self.source, on: h.fs, ["a": new, "b": extra])
        let engine = try await h.open()
        h.fs.failAfter(operations: Int(seed % 24) * 2 + 1)
        let finished = (try? await engine.replaceContents(withDatabaseAt: Self.source)) != nil
        let crashed = h.fs.crash(seed: seed)
        let reopened = try await EngineHarness(fs: crashed).open()
        let (a, b) = (try await reopened.dump("a"), try await reopened.dump("b"))
        #expect((a == old && b.isEmpty) || (a == new && b == extra), "seed \(seed): a \(a.count) keys, b \(b.count)")
        if finished { #expect(a == new, "seed \(seed): a finished replacement survives") }
        #expect(!crashed.fileExists(StorageEngine.replacementIntentPath(for: h.path)))
        try await reopened.close()
    }

    @Test func aTornIntentIsIgnoredAndAMissingSourceIsAClearError() async throws {
        let h = EngineHarness()
        try await Self.make(h.path, on: h.fs, ["a": Self.records("k", 3, "old")])
        let intent = StorageEngine.replacementIntentPath(for: h.path)
        let torn = try h.fs.openFile(intent, create: true)
        try torn.write(Array("RDREPLACE1 ffff /db/sour".utf8), at: 0)
        try torn.close()
        var engine = try await h.open()
        let kept = try await engine.dump("a")
        #expect(kept == Self.records("k", 3, "old") && !h.fs.fileExists(intent))
        try await engine.close()
        // A whole intent naming a source that is gone: refused, nothing changed.
        let body = Array("/db/vanished.rdb".utf8)
        let whole = try h.fs.openFile(intent, create: true)
        try whole.write(Array("RDREPLACE1 \(String(CRC32.checksum(body), radix: 16)) ".utf8) + body, at: 0)
        try whole.close()
        let error = await #expect(throws: RedError.self) { _ = try await h.open() }
        #expect(error?.code == .dataCorrupted && error?.message.contains("partly replaced") == true)
        try h.fs.removeFile(intent)
        engine = try await h.open()
        #expect(try await engine.dump("a") == Self.records("k", 3, "old"))
        try await engine.close()
    }
}
