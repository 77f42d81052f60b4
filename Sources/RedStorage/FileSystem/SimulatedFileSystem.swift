#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RedCore
import Synchronization

/// An in-memory file system that models what a power loss can do.
///
/// Each file keeps its *durable* bytes (what survived the last `sync`) apart
/// from the list of operations made since. Reads see every operation.
/// `crash(seed:)` returns a new file system holding what a power loss could
/// have left: for every unsynced operation, chosen deterministically from
/// the seed, it is kept whole, dropped, or torn (only some of its 512-byte
/// sectors reach the disk). Dropping an earlier write while keeping a later
/// one models reordering. Files created since their directory was last
/// synced may vanish entirely.
///
/// `failAfter(operations:)` makes the N+1-th mutating call (and every call
/// after it) throw, freezing the state at that instant: this is how tests
/// stop the engine "mid-write" before calling `crash(seed:)`.
/// `failSyncs` makes `sync` throw without crashing, to test fail-stop on a
/// failed fsync.
public final class SimulatedFileSystem: FileSystem, @unchecked Sendable {
    static let sectorBytes = 512

    enum Operation {
        case write(offset: Int, bytes: [UInt8])
        case truncate(size: Int)
    }

    struct FileState {
        var durable: [UInt8] = []
        var current: [UInt8] = []
        var pending: [Operation] = []
    }

    struct State {
        var files: [String: FileState] = [:]
        var directories: Set<String> = ["/"]
        var unsyncedEntries: Set<String> = []
        var locks: Set<String> = []
        var operationsUntilFailure: Int? = nil
        var crashed = false
        var failSyncs = false
        var failWrites = false
        var syncCount = 0
    }

    let state: Mutex<State>
    // Read on every operation, so kept out of `state`'s lock.
    private let syncLatency = Atomic<UInt32>(0)
    /// While set, every `sync` waits (`holdSyncs`).
    private let syncsHeld = Atomic<Bool>(false)
    /// Syncs waiting in `holdSyncs`'s hold right now.
    private let syncsWaiting = Atomic<Int>(0)
    /// Set when a held sync went on by itself after `maxSyncHoldSeconds` (see `holdSyncs`).
    private let holdExpired = Atomic<Bool>(false)
    private let readLatency = Atomic<UInt32>(0)
    private let writeLatency = Atomic<UInt32>(0)

    public init() { state = Mutex(State()) }

    init(state: State) { self.state = Mutex(state) }

    // MARK: Fault injection

    /// After `operations` more mutating calls succeed, every call throws.
    public func failAfter(operations: Int) {
        state.withLock { $0.operationsUntilFailure = operations }
    }

    /// When true, `sync` throws an I/O error (the data stays unsynced).
    public func setFailSyncs(_ fail: Bool) {
        state.withLock { $0.failSyncs = fail }
    }

    /// When true, `write` throws an I/O error (nothing is written); reads go on working.
    public func setFailWrites(_ fail: Bool) {
        state.withLock { $0.failWrites = fail }
    }

    /// Makes every `sync` block for this long, like a real disk, so that concurrent committers overlap.
    public func setSyncLatency(microseconds: UInt32) {
        syncLatency.store(microseconds, ordering: .relaxed)
    }

    var syncLatencyMicroseconds: UInt32 { syncLatency.load(ordering: .relaxed) }

    /// Makes every `sync` wait until `releaseSyncs`: a test then sees a commit stay in its
    /// fsync for as long as it needs, whatever the machine's load or signals (a sleep can be
    /// cut short by one).
    ///
    /// A held sync blocks its thread. Should the test itself end up waiting on one (a commit
    /// it expected to be declined that went to disk instead), nothing would release it: so a
    /// sync held longer than `maxSyncHoldSeconds` goes on by itself and `syncHoldExpired`
    /// tells the test, which then fails instead of hanging the whole run.
    public func holdSyncs() {
        holdExpired.store(false, ordering: .sequentiallyConsistent)
        syncsHeld.store(true, ordering: .sequentiallyConsistent)
    }
    public func releaseSyncs() { syncsHeld.store(false, ordering: .sequentiallyConsistent) }
    /// How many syncs are waiting in the hold.
    public var heldSyncs: Int { syncsWaiting.load(ordering: .sequentiallyConsistent) }
    /// Whether a sync outlasted the hold's limit since `holdSyncs` (see there).
    public var syncHoldExpired: Bool { holdExpired.load(ordering: .sequentiallyConsistent) }
    /// Far beyond any test's legitimate hold (milliseconds), short of CI's patience.
    public static let maxSyncHoldSeconds = 120

    func waitWhileSyncsHeld() {
        guard syncsHeld.load(ordering: .sequentiallyConsistent) else { return }
        syncsWaiting.add(1, ordering: .sequentiallyConsistent)
        let deadline = ContinuousClock.now + .seconds(Self.maxSyncHoldSeconds)
        while syncsHeld.load(ordering: .sequentiallyConsistent) {
            guard ContinuousClock.now < deadline else {
                holdExpired.store(true, ordering: .sequentiallyConsistent)
                break
            }
            usleep(200)
        }
        syncsWaiting.subtract(1, ordering: .sequentiallyConsistent)
    }

    /// Makes every `read` block for this long first, like a disk, so that concurrent reads overlap.
    public func setReadLatency(microseconds: UInt32) {
        readLatency.store(microseconds, ordering: .relaxed)
    }

    var readLatencyMicroseconds: UInt32 { readLatency.load(ordering: .relaxed) }

    /// Makes every `write` block for this long first, like a slow disk.
    public func setWriteLatency(microseconds: UInt32) {
        writeLatency.store(microseconds, ordering: .relaxed)
    }

    var writeLatencyMicroseconds: UInt32 { writeLatency.load(ordering: .relaxed) }

    public var isCrashed: Bool { state.withLock { $0.crashed } }
    /// Number of successful file syncs so far.
    public var syncCount: Int { state.withLock { $0.syncCount } }

    /// Flips one byte of a file, durably, as media corruption would.
    public func corruptByte(_ path: String, at offset: Int, xor mask: UInt8 = 0xFF) {
        state.withLock { s in
            guard var f = s.files[path], offset < f.current.count else { return }
            f.current[offset] ^= mask
            if offset < f.durable.count { f.durable[offset] ^= mask }
            s.files[path] = f
        }
    }

    /// Current (not necessarily durable) contents of a file, for inspection by tests.
    public func contents(_ path: String) -> [UInt8]? {
        state.withLock { $0.files[path]?.current }
    }

    /// What a power loss at this instant could leave behind, chosen by `seed`.
    public func crash(seed: UInt64) -> SimulatedFileSystem {
        var rng = SplitMix64(seed: seed)
        let s = state.withLock { $0 }
        var out = State()
        out.directories = s.directories
        for path in s.files.keys.sorted() {
            let file = s.files[path]!
            if s.unsyncedEntries.contains(path) && rng.next() % 2 == 0 { continue }
            var disk = file.durable
            for op in file.pending {
                switch op {
                case .truncate(let size):
                    if rng.next() % 2 == 0 { Self.resize(&disk, to: size) }
                case .write(let offset, let bytes):
                    switch rng.next() % 3 {
                    case 0: Self.apply(&disk, offset: offset, bytes: bytes[...])
                    case 1: break
                    default: Self.tear(&disk, offset: offset, bytes: bytes, rng: &rng)
                    }
                }
            }
            out.files[path] = FileState(durable: disk, current: disk, pending: [])
        }
        return SimulatedFileSystem(state: out)
    }

    // `resize`, `apply` and `copyBytes` move bytes with memset/memcpy: the tests build this
    // module unoptimized, where the generic element-by-element versions made simulated
    // writes most of the power-loss tests' CPU time.

    static func resize(_ data: inout [UInt8], to size: Int) {
        if size < data.count { data.removeLast(data.count - size) } else if size > data.count {
            let extra = size - data.count
            data.append(contentsOf: [UInt8](unsafeUninitializedCapacity: extra) { buffer, count in
                memset(buffer.baseAddress!, 0, extra)
                count = extra
            })
        }
    }

    static func apply(_ data: inout [UInt8], offset: Int, bytes: ArraySlice<UInt8>) {
        guard !bytes.isEmpty else { return }
        if offset + bytes.count > data.count { resize(&data, to: offset + bytes.count) }
        data.withUnsafeMutableBytes { target in
            bytes.withUnsafeBytes { source in
                memcpy(target.baseAddress! + offset, source.baseAddress!, source.count)
            }
        }
    }

    static func copyBytes(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: bytes.count) { buffer, count in
            if let base = bytes.baseAddress, !bytes.isEmpty { memcpy(buffer.baseAddress!, base, bytes.count) }
            count = bytes.count
        }
    }

    /// Persists a random subset of the write's sectors.
    static func tear(_ data: inout [UInt8], offset: Int, bytes: [UInt8], rng: inout SplitMix64) {
        var start = 0
        while start < bytes.count {
            let sectorEnd = min(bytes.count, (((offset + start) / sectorBytes) + 1) * sectorBytes - offset)
            if rng.next() % 2 == 0 { apply(&data, offset: offset + start, bytes: bytes[start..<sectorEnd]) }
            start = sectorEnd
        }
    }

    // MARK: Internals

    /// Runs a mutating operation, counting it against the failure budget.
    func mutate<R>(_ what: String, _ path: String, _ body: (inout State) throws -> R) throws -> R {
        try state.withLock { s in
            if s.crashed { throw RedError(.ioError, "simulated crash: \(what) \(path) after power loss") }
            if let n = s.operationsUntilFailure {
                if n <= 0 {
                    s.crashed = true
                    throw RedError(.ioError, "simulated crash: \(what) \(path) after power loss")
                }
                s.operationsUntilFailure = n - 1
            }
            return try body(&s)
        }
    }

    /// Runs `body` over the current bytes of a file without copying them.
    func read<R>(_ path: String, _ body: ([UInt8]) -> R) throws -> R {
        try state.withLock { s in
            if s.crashed { throw RedError(.ioError, "simulated crash: read \(path) after power loss") }
            guard let f = s.files[path] else { throw RedError(.ioError, "\(path): no such file") }
            return body(f.current)
        }
    }

    // MARK: FileSystem

    public func openFile(_ path: String, create: Bool) throws -> any StorageFile {
        let exists = state.withLock { $0.files[path] != nil }
        if !exists {
            guard create else { throw RedError(.ioError, "open \(path) failed: no such file") }
            try mutate("create", path) { s in
                guard s.directories.contains(FilePath.parent(of: path)) else {
                    throw RedError(.ioError, "open \(path) failed: no such directory")
                }
                s.files[path] = FileState()
                s.unsyncedEntries.insert(path)
            }
        }
        return SimulatedFile(fs: self, path: path)
    }

    public func fileExists(_ path: String) -> Bool {
        state.withLock { $0.files[path] != nil || $0.directories.contains(path) }
    }

    public func removeFile(_ path: String) throws {
        try mutate("remove", path) { s in
            s.files[path] = nil
            s.unsyncedEntries.remove(path)
        }
    }

    public func listDirectory(_ path: String) throws -> [String] {
        try state.withLock { s in
            if s.crashed { throw RedError(.ioError, "simulated crash: list \(path)") }
            guard s.directories.contains(path) else { throw RedError(.ioError, "opendir \(path) failed: no such directory") }
            let names = s.files.keys.filter { FilePath.parent(of: $0) == path }.map { FilePath.name(of: $0) }
            let dirs = s.directories.filter { $0 != path && FilePath.parent(of: $0) == path }.map { FilePath.name(of: $0) }
            return (names + dirs).sorted()
        }
    }

    public func createDirectory(_ path: String) throws {
        try mutate("mkdir", path) { s in _ = s.directories.insert(path) }
    }

    public func syncDirectory(_ path: String) throws {
        try mutate("sync directory", path) { s in
            s.unsyncedEntries = s.unsyncedEntries.filter { FilePath.parent(of: $0) != path }
        }
    }
}

/// A handle onto one simulated file.
final class SimulatedFile: StorageFile, @unchecked Sendable {
    let fs: SimulatedFileSystem
    let path: String
    private let holdsLock = Mutex(false)

    init(fs: SimulatedFileSystem, path: String) {
        self.fs = fs
        self.path = path
    }

    deinit { try? close() }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        let latency = fs.readLatencyMicroseconds
        if latency > 0 { usleep(latency) }
        return try fs.read(path) { data in
            let start = Int(offset)
            guard start < data.count else { return 0 }
            let n = min(buffer.count, data.count - start)
            data.withUnsafeBytes { src in
                buffer.baseAddress!.copyMemory(from: src.baseAddress! + start, byteCount: n)
            }
            return n
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        let latency = fs.writeLatencyMicroseconds
        if latency > 0 { usleep(latency) }
        let copy = SimulatedFileSystem.copyBytes(bytes)
        try fs.mutate("write", path) { s in
            if s.failWrites { throw RedError(.ioError, "pwrite \(path) failed: simulated EIO") }
            guard s.files[path] != nil else { throw RedError(.ioError, "\(path): file was removed") }
            // Mutate in place: taking the struct out of the dictionary would copy the whole file.
            SimulatedFileSystem.apply(&s.files[path]!.current, offset: Int(offset), bytes: copy[...])
            s.files[path]!.pending.append(.write(offset: Int(offset), bytes: copy))
        }
    }

    func size() throws -> UInt64 { try fs.read(path) { UInt64($0.count) } }

    func truncate(to size: UInt64) throws {
        try fs.mutate("truncate", path) { s in
            guard s.files[path] != nil else { throw RedError(.ioError, "\(path): file was removed") }
            SimulatedFileSystem.resize(&s.files[path]!.current, to: Int(size))
            s.files[path]!.pending.append(.truncate(size: Int(size)))
        }
    }

    func sync() throws {
        let latency = fs.syncLatencyMicroseconds
        if latency > 0 { usleep(latency) }
        fs.waitWhileSyncsHeld()
        try fs.mutate("sync", path) { s in
            if s.failSyncs { throw RedError(.ioError, "fdatasync \(path) failed: simulated EIO") }
            guard s.files[path] != nil else { throw RedError(.ioError, "\(path): file was removed") }
            s.files[path]!.durable = s.files[path]!.current
            s.files[path]!.pending = []
            s.syncCount += 1
        }
    }

    func lockExclusive() throws {
        try fs.state.withLock { s in
            guard !s.locks.contains(path) else {
                throw RedError(.databaseLocked, "\(path) is locked by another process (is another server running on it?)")
            }
            s.locks.insert(path)
        }
        holdsLock.withLock { $0 = true }
    }

    func close() throws {
        if holdsLock.withLock({ let held = $0; $0 = false; return held }) {
            fs.state.withLock { _ = $0.locks.remove(path) }
        }
    }
}

/// A small, fast, seedable PRNG (SplitMix64) for deterministic crash choices.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` random bytes, eight per `next()` (tests build unoptimized, where a byte-by-byte
    /// `map` was a tenth of the power-loss test's time).
    public mutating func nextBytes(_ count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            var offset = 0
            while offset < count {
                var word = next().littleEndian
                let n = min(8, count - offset)
                withUnsafeBytes(of: &word) { raw.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: n) }
                offset += n
            }
            initialized = count
        }
    }
}
