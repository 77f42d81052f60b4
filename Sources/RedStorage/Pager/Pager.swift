import RedCore
import Synchronization

/// Reads and writes page images of the main file and decides which page
/// numbers are free.
///
/// **Epochs and copy-on-write.** The file always contains one *published*
/// image: the tree reachable from the newest valid header slot. Nothing may
/// overwrite a page of that image, because after a crash it is all we have
/// besides the WAL. So every page carries the epoch in which it was written;
/// pages of the current epoch may be changed in place, older ones are copied
/// to a fresh page first (the B+tree does this). A checkpoint *freezes* the
/// current epoch E (its pages become immutable, writers move on to E+1),
/// writes E's pages, fsyncs, and publishes E's header.
///
/// **Free pages.** A page freed in epoch E that was written in E was never
/// part of a published image: it is reusable at once. A page freed in E that
/// belongs to an older image stays *pending* until image E is published (the
/// image that no longer references it). Writers therefore only ever write to
/// pages that no published-or-being-published image references.
///
/// Invariants:
/// - `allocate` never returns a page referenced by the published image or by
///   a frozen image that is being written.
/// - `currentEpoch` > every frozen or published epoch.
public final class Pager: @unchecked Sendable {
    public let file: any StorageFile
    public let path: String

    struct Allocation {
        var currentEpoch: UInt64
        var pageCount: UInt32
        var freePages: [PageID]
        /// Pages freed during epoch `key`, reusable once image `key` is published.
        var pendingFree: [UInt64: [PageID]]
    }

    let allocation: Mutex<Allocation>

    /// Opens the pager over an already-locked file positioned at a published image.
    init(file: any StorageFile, path: String, header: DatabaseHeader, freePages: [PageID], freeListPages: [PageID]) {
        self.file = file
        self.path = path
        allocation = Mutex(Allocation(
            currentEpoch: header.epoch + 1, pageCount: header.pageCount, freePages: freePages,
            pendingFree: freeListPages.isEmpty ? [:] : [header.epoch + 1: freeListPages]))
    }

    public var currentEpoch: UInt64 { allocation.withLock { $0.currentEpoch } }
    public var pageCount: UInt32 { allocation.withLock { $0.pageCount } }
    public var freePageCount: Int { allocation.withLock { $0.freePages.count } }

    // MARK: Page I/O

    /// Reads and verifies page `id`.
    public func readPage(_ id: PageID) throws -> PageImage {
        let bytes = try file.readUpTo(PageLayout.pageSize, at: UInt64(id) * UInt64(PageLayout.pageSize))
        return try PageImage.verify(bytes, id: id, file: path)
    }

    /// Seals and writes page `image` at its own page number.
    public func writePage(_ image: PageImage) throws {
        var sealed = image
        sealed.seal()
        try file.write(sealed.bytes, at: UInt64(sealed.pageID) * UInt64(PageLayout.pageSize))
    }

    /// Writes sealed pages `firstPage`, `firstPage + 1`, … held back to back in `pages`:
    /// one system call for a run of neighbours instead of one per page.
    public func writeSealedRun(_ pages: UnsafeRawBufferPointer, firstPage: PageID) throws {
        precondition(pages.count % PageLayout.pageSize == 0, "a run holds whole pages")
        try file.write(pages, at: UInt64(firstPage) * UInt64(PageLayout.pageSize))
    }

    // MARK: Allocation

    /// A page number no published or frozen image references.
    public func allocate() -> PageID {
        allocation.withLock { a in
            if let id = a.freePages.popLast() { return id }
            precondition(a.pageCount < UInt32.max, "database file reached 2^32 pages")
            let id = a.pageCount
            a.pageCount += 1
            return id
        }
    }

    /// Releases page `id`, written in `epoch`, no longer referenced by the live tree.
    public func free(_ id: PageID, writtenIn epoch: UInt64) {
        precondition(id >= DatabaseHeader.firstDataPage, "freeing header page \(id)")
        allocation.withLock { a in
            if epoch == a.currentEpoch {
                a.freePages.append(id)
            } else {
                precondition(epoch < a.currentEpoch, "page \(id) from future epoch \(epoch)")
                a.pendingFree[a.currentEpoch, default: []].append(id)
            }
        }
    }

    /// Is a page written in `epoch` writable in place?
    public func isWritable(epoch: UInt64) -> Bool { epoch == currentEpoch }

    // MARK: Checkpoint support

    /// What a frozen epoch needs to be written as a published image.
    struct FrozenImage {
        var epoch: UInt64
        var pageCount: UInt32
        /// Pages free in the frozen image, to be stored in `freeListPages`.
        var freeIDs: [PageID]
        var freeListPages: [PageID]
    }

    /// Ends the current epoch. Must run while no writer is active.
    func freeze() -> FrozenImage {
        allocation.withLock { a in
            let epoch = a.currentEpoch
            a.currentEpoch += 1
            var pendingCount = 0
            for (e, ids) in a.pendingFree where e <= epoch { pendingCount += ids.count }
            let total = a.freePages.count + pendingCount
            let chainPages = (total + FreeListCodec.idsPerPage - 1) / FreeListCodec.idsPerPage
            var chain: [PageID] = []
            for _ in 0..<chainPages {
                if let id = a.freePages.popLast() {
                    chain.append(id)
                } else {
                    chain.append(a.pageCount)
                    a.pageCount += 1
                }
            }
            var free = a.freePages
            for (e, ids) in a.pendingFree where e <= epoch { free.append(contentsOf: ids) }
            // The chain belongs to image `epoch`; it is garbage once image epoch+1 is published.
            if !chain.isEmpty { a.pendingFree[epoch + 1, default: []].append(contentsOf: chain) }
            return FrozenImage(epoch: epoch, pageCount: a.pageCount, freeIDs: free, freeListPages: chain)
        }
    }

    /// Image `epoch` is durable: pages it stopped referencing become reusable.
    func published(epoch: UInt64) {
        allocation.withLock { a in
            for e in a.pendingFree.keys where e <= epoch {
                a.freePages.append(contentsOf: a.pendingFree.removeValue(forKey: e)!)
            }
        }
    }
}

/// Encodes the persisted free list: a chain of `.freeList` pages, each holding
/// `count` little-endian u32 page ids, linked by `link`.
enum FreeListCodec {
    static let idsPerPage = PageLayout.payloadCapacity / 4

    static func encode(ids: [PageID], into chain: [PageID], epoch: UInt64) -> [PageImage] {
        var pages: [PageImage] = []
        var index = 0
        for (n, id) in chain.enumerated() {
            var page = PageImage(type: .freeList, id: id, epoch: epoch)
            page.link = n + 1 < chain.count ? chain[n + 1] : 0
            let end = min(ids.count, index + idsPerPage)
            for (k, free) in ids[index..<end].enumerated() { page.setU32(PageLayout.headerBytes + 4 * k, free) }
            page.count = end - index
            page.payloadBytes = 4 * (end - index)
            index = end
            pages.append(page)
        }
        precondition(index == ids.count, "free list chain too short")
        return pages
    }

    /// Reads the chain starting at `head`; returns (free ids, chain page ids).
    static func read(head: PageID, expected: UInt32, pageCount: UInt32, pager read: (PageID) throws -> PageImage,
                     file: String) throws -> ([PageID], [PageID]) {
        var ids: [PageID] = []
        var chain: [PageID] = []
        var next = head
        while next != 0 {
            guard chain.count <= Int(pageCount), next < pageCount, next >= DatabaseHeader.firstDataPage else {
                throw RedError(.dataCorrupted, "\(file): free list chain is broken at page \(next)")
            }
            let page = try read(next)
            guard page.type == .freeList, page.count <= idsPerPage else {
                throw RedError(.dataCorrupted, "\(file): page \(next) is not a free list page")
            }
            chain.append(next)
            for k in 0..<page.count {
                let id = page.u32(PageLayout.headerBytes + 4 * k)
                guard id >= DatabaseHeader.firstDataPage, id < pageCount else {
                    throw RedError(.dataCorrupted, "\(file): free list page \(next) lists invalid page \(id)")
                }
                ids.append(id)
            }
            next = page.link
        }
        guard ids.count == Int(expected) else {
            throw RedError(.dataCorrupted, "\(file): free list holds \(ids.count) pages, header says \(expected)")
        }
        return (ids, chain)
    }
}
