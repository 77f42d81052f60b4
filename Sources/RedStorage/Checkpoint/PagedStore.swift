import RedCore
import Synchronization

/// The paged main file `data.rdb`: pager, page cache and the keyspace B+tree,
/// plus the checkpoint protocol that publishes a crash-safe image.
///
/// **Checkpoint protocol** (the only thing that ever makes tree pages durable):
/// 1. `freeze` — with no writer active (the caller holds its commit lock and
///    we take the tree's write lock): end epoch E, capture the root, the page
///    count, the free pages of image E, and the dirty nodes of epoch E.
///    Writers continue at once in epoch E+1, copying E's pages on write.
/// 2. The caller makes the WAL durable up to the checkpoint LSN, so the image
///    never holds a commit whose WAL record could still be lost.
/// 3. `write` — write E's dirty nodes and the free-list chain to their pages
///    (none referenced by the published image E-1), fsync the file, write
///    E's header into slot E % 2, fsync again. Only now is E published:
///    pages E stopped using become reusable, and the caller may delete WAL
///    before the checkpoint LSN.
///
/// A crash anywhere in 1–3 leaves header E-1 valid and its pages untouched,
/// and the WAL from E-1's checkpoint LSN still present: recovery is exact.
/// A torn header write fails its checksum and the other slot wins.
public final class PagedStore: @unchecked Sendable {
    public let path: String
    let file: any StorageFile
    let pager: Pager
    let cache: PageCache
    let tree: BTree
    let treeLock = ReadWriteLock()
    /// The header of the image this process opened from or last published.
    private let published: Mutex<DatabaseHeader>

    /// The image the store was opened from: redo starts at its checkpoint LSN.
    public let openedHeader: DatabaseHeader

    /// The format version checkpoints write: the opened image's until `markFormatCurrent`
    /// says the upgrade to the current version is committed, so that no image claims a
    /// version whose changes it does not hold.
    private let imageVersion: Mutex<UInt32>

    private init(path: String, file: any StorageFile, pager: Pager, cacheBytes: Int, header: DatabaseHeader) {
        self.path = path
        self.file = file
        self.pager = pager
        cache = PageCache(pager: pager, budgetBytes: cacheBytes)
        tree = BTree(pager: pager, cache: cache, rootID: header.rootPageID)
        published = Mutex(header)
        openedHeader = header
        imageVersion = Mutex(header.version)
    }

    /// From now on checkpoints write the current format version (the caller has committed
    /// whatever the upgrade from the opened version needs).
    public func markFormatCurrent() { imageVersion.withLock { $0 = DatabaseHeader.formatVersion } }

    /// Opens or creates the main file and locks it exclusively.
    ///
    /// `mayInitialize` says that no WAL exists yet. A file with no valid
    /// header is initialised only if it is empty, or if it is exactly what an
    /// interrupted initialisation leaves (each sector either zero or the bytes
    /// initialisation writes) and no WAL exists: nothing can have been
    /// committed into it, because the WAL is created after the first header
    /// is durable. Anything else with no valid header is refused.
    public static func open(path: String, fileSystem: any FileSystem, cacheBytes: Int,
                            mayInitialize: Bool) throws -> PagedStore {
        let file = try fileSystem.openFile(path, create: true)
        do {
            try file.lockExclusive()
            var header = try loadHeader(file: file, path: path)
            if header == nil {
                let size = try file.size()
                let start = try file.readUpTo(2 * PageLayout.pageSize, at: 0)
                if size == 0 || (mayInitialize && size <= UInt64(2 * PageLayout.pageSize) && isTornInitialization(start)) {
                    header = try initialize(file: file, path: path, fileSystem: fileSystem)
                } else if !containsMagic(start) {
                    throw RedError(.dataCorrupted, "\(path) is not a RedDB database (no valid header page)")
                } else {
                    throw RedError(.dataCorrupted,
                                   "\(path): neither header page is valid; refusing to open a damaged database")
                }
            }
            let h = header!
            let bootstrapPager = Pager(file: file, path: path, header: h, freePages: [], freeListPages: [])
            let (freePages, chain) = try FreeListCodec.read(
                head: h.freeListHead, expected: h.freePageCount, pageCount: h.pageCount,
                pager: { try bootstrapPager.readPage($0) }, file: path)
            let pager = Pager(file: file, path: path, header: h, freePages: freePages, freeListPages: chain)
            return PagedStore(path: path, file: file, pager: pager, cacheBytes: cacheBytes, header: h)
        } catch {
            try? file.close()
            throw error
        }
    }

    /// The newest valid header slot, nil if neither slot is valid.
    static func loadHeader(file: any StorageFile, path: String) throws -> DatabaseHeader? {
        var best: DatabaseHeader?
        for slot in PageID(0)...PageID(1) {
            let bytes = try file.readUpTo(PageLayout.pageSize, at: UInt64(slot) * UInt64(PageLayout.pageSize))
            do {
                let header = try DatabaseHeader.decode(try PageImage.verify(bytes, id: slot, file: path), file: path)
                if best == nil || header.epoch > best!.epoch { best = header }
            } catch let error as RedError where error.code != .unsupportedFormat {
                continue  // a torn or damaged slot: the other one may be valid
            }
        }
        return best
    }

    /// What each header slot holds now, read from the file: its epoch when its checksum and
    /// layout verify, else why not (`NativeHeaderRepairPolicy`).
    public func headerSlots() throws -> [(slot: Int, epoch: UInt64?, problem: String?)] {
        try (PageID(0)...PageID(1)).map { slot in
            let bytes = try file.readUpTo(PageLayout.pageSize, at: UInt64(slot) * UInt64(PageLayout.pageSize))
            do {
                let header = try DatabaseHeader.decode(try PageImage.verify(bytes, id: slot, file: path), file: path)
                return (Int(slot), header.epoch, nil)
            } catch let error as RedError {
                return (Int(slot), nil, error.message)
            }
        }
    }

    /// The bytes `initialize` writes: two empty header slots.
    static func initialImage() -> [UInt8] {
        DatabaseHeader.empty(epoch: 0).encode().bytes + DatabaseHeader.empty(epoch: 1).encode().bytes
    }

    /// True if every 512-byte sector of `start` is zero or matches the initial image.
    static func isTornInitialization(_ start: [UInt8]) -> Bool {
        let expected = initialImage()
        let sector = 512
        var offset = 0
        while offset < start.count {
            let end = min(start.count, offset + sector)
            let chunk = start[offset..<end]
            if !chunk.allSatisfy({ $0 == 0 }) && !chunk.elementsEqual(expected[offset..<end]) { return false }
            offset = end
        }
        return true
    }

    static func containsMagic(_ start: [UInt8]) -> Bool {
        for slot in 0..<2 {
            let o = slot * PageLayout.pageSize + PageLayout.headerBytes
            if start.count >= o + 8, Array(start[o..<o + 8]) == DatabaseHeader.magic { return true }
        }
        return false
    }

    private static func initialize(file: any StorageFile, path: String, fileSystem: any FileSystem) throws -> DatabaseHeader {
        try file.truncate(to: 0)
        try file.write(initialImage(), at: 0)
        try file.sync()
        try fileSystem.syncDirectory(FilePath.parent(of: path))
        return DatabaseHeader.empty(epoch: 1)
    }

    // MARK: Access

    /// Runs `body` with shared access to the tree (many readers at once).
    public func read<R>(_ body: (BTree) throws -> R) throws -> R {
        try treeLock.withReadLock { try body(tree) }
    }

    /// Runs `body` with exclusive access to the tree.
    public func write<R>(_ body: (BTree) throws -> R) rethrows -> R {
        try treeLock.withWriteLock { try body(tree) }
    }

    /// `write`, or `WouldBlock` before `body` runs when the tree is held and the caller must
    /// not wait (`refusing`; see `ReadWriteLock.withWriteLock(refusing:_:)`).
    public func write<R>(refusing: Bool, _ body: (BTree) throws -> R) throws -> R {
        try treeLock.withWriteLock(refusing: refusing) { try body(tree) }
    }

    public var cacheStatistics: PageCache.Statistics { cache.statistics }
    public var pageCount: UInt32 { pager.pageCount }
    /// Drops the cache's clean nodes under the tree's exclusive lock (see `PageCache.dropClean`).
    public func dropCleanNodes() -> (nodes: Int, bytes: Int) { write { _ in cache.dropClean() } }

    /// Pages on the free list, ready for reuse.
    public var freePageCount: Int { pager.freePageCount }
    public var publishedHeader: DatabaseHeader { published.withLock { $0 } }

    // MARK: Checkpoint

    /// A frozen epoch on its way to becoming the published image.
    public struct FrozenCheckpoint: Sendable {
        public let header: DatabaseHeader
        let freeIDs: [PageID]
        let freeListPages: [PageID]
        let dirtyNodes: [BTreeNode]
    }

    /// Ends the current epoch (step 1). Commits apply under the same exclusive lock, so
    /// `position` (called under it) returns the WAL end LSN and newest commit timestamp that
    /// exactly match the frozen tree.
    public func freeze(position: () -> (checkpointLSN: UInt64, lastCommitTS: UInt64)) -> FrozenCheckpoint {
        treeLock.withWriteLock {
            let (checkpointLSN, lastCommitTS) = position()
            let image = pager.freeze()
            let nodes = cache.dirtyNodes(upTo: image.epoch)
            let header = DatabaseHeader(
                epoch: image.epoch, rootPageID: tree.rootID, pageCount: image.pageCount,
                freeListHead: image.freeListPages.first ?? 0, freePageCount: UInt32(image.freeIDs.count),
                checkpointLSN: checkpointLSN, lastCommitTS: lastCommitTS, version: imageVersion.withLock { $0 })
            return FrozenCheckpoint(header: header, freeIDs: image.freeIDs, freeListPages: image.freeListPages,
                                    dirtyNodes: nodes)
        }
    }

    /// Writes and publishes a frozen image (step 3). Runs concurrently with readers and writers.
    public func write(_ checkpoint: FrozenCheckpoint) throws {
        try writeNodes(checkpoint.dirtyNodes)
        for page in FreeListCodec.encode(ids: checkpoint.freeIDs, into: checkpoint.freeListPages,
                                         epoch: checkpoint.header.epoch) {
            try pager.writePage(page)
        }
        try file.sync()
        try pager.writePage(checkpoint.header.encode())
        try file.sync()
        published.withLock { $0 = checkpoint.header }
        pager.published(epoch: checkpoint.header.epoch)
    }

    /// Writes `nodes` in page order, neighbours together (`NodeRunWriter`), each marked clean
    /// once written.
    private func writeNodes(_ nodes: [BTreeNode]) throws {
        try NodeRunWriter.write(nodes, to: pager) { run in
            for node in run { cache.markClean(node) }
        }
    }

    /// Releases the file lock. Unwritten changes are not saved: checkpoint first.
    public func close() throws {
        try file.close()
    }
}
