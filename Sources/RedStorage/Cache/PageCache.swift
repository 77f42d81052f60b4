import RedCore
import Synchronization

/// Keeps decoded B+tree nodes in memory under a byte budget, evicting with
/// SIEVE, tracking dirty nodes and honouring pins.
///
/// **SIEVE.** Entries sit in one FIFO list (newest at the head). A hit only
/// sets the entry's `visited` bit, so hits are cheap. To evict, a *hand*
/// walks from the oldest entry towards newer ones: a visited entry gets its
/// bit cleared and is passed over, the first unvisited, unpinned entry is
/// evicted, and the hand stays where it stopped. (Zhang et al., NSDI '24.)
///
/// **Dirty nodes.** A node changed since it was last written is dirty.
/// Evicting a dirty node writes it first. That is always safe: the only
/// nodes that can be dirty are nodes of the current or the frozen epoch,
/// whose pages no published image references (see `Pager`), so an eviction
/// never overwrites the image a crash would recover from.
///
/// **Pins.** A writer pins every node it may mutate during an operation; a
/// pinned node is never evicted, so a mutation can never land in an object
/// the cache has already let go. Readers do not pin: nodes are reference
/// counted objects, and while a reader holds the tree's shared lock nobody
/// mutates them, so an eviction merely drops the cache's reference.
///
/// **Locking.** One mutex guards the map and the SIEVE list. Disk I/O never happens under it:
/// a miss reads its page outside it (see `node`), and an eviction writes its dirty victims
/// outside it before they leave (see `evictIfOverBudget`), so a slow disk holds up no other
/// thread's hits.
///
/// Budget: `budgetBytes` bounds the estimated heap bytes of cached nodes. If
/// every entry is pinned the cache overshoots until pins are released.
public final class PageCache: @unchecked Sendable {
    public struct Statistics: Sendable {
        public var hits: UInt64 = 0
        public var misses: UInt64 = 0
        public var evictions: UInt64 = 0
        public var dirtyWrites: UInt64 = 0
        public var residentBytes = 0
        public var residentNodes = 0
    }

    struct Slot {
        var node: BTreeNode?
        var visited = false
        var pins = 0
        var dirty = false
        /// Chosen by an eviction whose writes are under way: not chosen again meanwhile.
        var evicting = false
        var bytes = 0
        var newer: Int32 = -1
        var older: Int32 = -1
    }

    struct State {
        var map: [PageID: Int32] = [:]
        var slots: [Slot] = []
        var freeSlots: [Int32] = []
        var head: Int32 = -1
        var tail: Int32 = -1
        var hand: Int32 = -1
        var stats = Statistics()
        /// Bytes of the victims of evictions under way (still resident until written).
        var evictingBytes = 0
    }

    /// Victims an eviction chose: written, if dirty, without the lock, then removed.
    struct Eviction {
        var victims: [(index: Int32, node: BTreeNode)] = []
        var dirty: [BTreeNode] = []
        var bytes = 0
    }

    let pager: Pager
    public let budgetBytes: Int
    let state = Mutex(State())

    /// How far below the budget an eviction goes: a 64th of it, at most 1 MiB (about 200
    /// nodes), so dirty victims are written in batches.
    let evictionSlack: Int

    public init(pager: Pager, budgetBytes: Int) {
        self.pager = pager
        self.budgetBytes = max(budgetBytes, 16 * PageLayout.pageSize)
        self.evictionSlack = min(self.budgetBytes / 64, 1 << 20)
    }

    public var statistics: Statistics { state.withLock { $0.stats } }

    // MARK: Lookup

    /// The node of page `id`, loaded from disk on a miss (refused under `NonBlockingExecution`);
    /// pinned if asked.
    ///
    /// A miss reads and decodes the page without holding the cache's lock, so other threads'
    /// hits (and misses) do not wait for this one's I/O. That is safe because every caller
    /// holds the tree's lock, shared or exclusive: no writer can change, free or reuse a page
    /// while it is held, and a page absent from the cache is clean on disk (a dirty node leaves
    /// the cache only once written, under the lock). Two readers may load the same page at
    /// once; the first to insert it wins and the other takes that node, so a page never has
    /// two nodes.
    func node(_ id: PageID, pin: Bool) throws -> BTreeNode {
        if let cached = state.withLock({ s in Self.hit(&s, id, pin: pin) }) { return cached }
        try NonBlockingExecution.refuseIfActive(.pageNotCached)
        let loaded = try BTreeNode.decode(try pager.readPage(id), file: pager.path)
        let (node, over) = state.withLock { s in
            s.stats.misses += 1
            if let raced = Self.hit(&s, id, pin: pin) { return (raced, false) }
            insert(&s, loaded, dirty: false, pinned: pin)
            return (loaded, isOverBudget(s))
        }
        // A failed eviction does not fail the read: the page was read, and the failure is the
        // dirty victims' write, which the next write to the tree (`BTree.putSorted`) or the
        // next checkpoint meets and reports. Its clean victims left all the same (`finish`), so
        // after a storage failure, when the engine takes no more writes, reads go on: clean
        // pages come and go, and the dirty ones stay (over the budget by at most what was
        // dirty) until writes work again. Throwing here also left the page pinned with no one
        // to unpin it.
        if over { try? evictIfOverBudget() }
        return node
    }

    /// The cached node of page `id`, marked visited (and pinned if asked); nil when not cached.
    private static func hit(_ s: inout State, _ id: PageID, pin: Bool) -> BTreeNode? {
        guard let index = s.map[id] else { return nil }
        s.slots[Int(index)].visited = true
        if pin { s.slots[Int(index)].pins += 1 }
        s.stats.hits += 1
        return s.slots[Int(index)].node!
    }

    func unpin(_ ids: [PageID]) {
        state.withLock { s in
            for id in ids {
                guard let index = s.map[id] else { preconditionFailure("unpinning uncached page \(id)") }
                precondition(s.slots[Int(index)].pins > 0, "page \(id) unpinned more than pinned")
                s.slots[Int(index)].pins -= 1
            }
        }
    }

    /// Adds a freshly allocated node (dirty, optionally pinned), replacing any stale entry for its page.
    /// Evicts nothing (see `evictIfOverBudget`).
    func insertNew(_ node: BTreeNode, pinned: Bool) {
        state.withLock { s in
            if let index = s.map[node.pageID] {
                let old = s.slots[Int(index)]
                precondition(old.pins == 0, "reallocating pinned page \(node.pageID)")
                precondition(!old.dirty || old.node!.epoch == node.epoch,
                             "reallocating page \(node.pageID) whose frozen image is unwritten")
                remove(&s, index)
            }
            insert(&s, node, dirty: true, pinned: pinned)
        }
    }

    /// Records that `node` changed: it must be written before it may be dropped. Evicts nothing
    /// (see `evictIfOverBudget`).
    func markDirty(_ node: BTreeNode) {
        state.withLock { s in
            guard let index = s.map[node.pageID], s.slots[Int(index)].node === node else {
                preconditionFailure("page \(node.pageID) changed while not cached (was it pinned?)")
            }
            let i = Int(index)
            s.slots[i].dirty = true
            let bytes = node.memoryFootprint
            s.stats.residentBytes += bytes - s.slots[i].bytes
            s.slots[i].bytes = bytes
        }
    }

    /// Drops a page freed in the current epoch without writing it.
    func discard(_ id: PageID) {
        state.withLock { s in
            guard let index = s.map[id] else { return }
            precondition(s.slots[Int(index)].pins <= 1, "discarding page \(id) pinned elsewhere")
            remove(&s, index)
        }
    }

    // MARK: Checkpoint support

    /// Every dirty node written in `epoch` or earlier (the frozen image's pages not yet on disk).
    func dirtyNodes(upTo epoch: UInt64) -> [BTreeNode] {
        state.withLock { s in
            var out: [BTreeNode] = []
            var i = s.head
            while i != -1 {
                let slot = s.slots[Int(i)]
                if slot.dirty, let node = slot.node, node.epoch <= epoch { out.append(node) }
                i = slot.older
            }
            return out
        }
    }

    /// `node` was written by the checkpointer; it is clean unless it has been replaced meanwhile.
    func markClean(_ node: BTreeNode) {
        state.withLock { s in
            guard let index = s.map[node.pageID], s.slots[Int(index)].node === node else { return }
            s.slots[Int(index)].dirty = false
        }
    }

    // MARK: Internals (state lock held)

    private func insert(_ s: inout State, _ node: BTreeNode, dirty: Bool, pinned: Bool) {
        let slot = Slot(node: node, visited: false, pins: pinned ? 1 : 0, dirty: dirty, bytes: node.memoryFootprint,
                        newer: -1, older: s.head)
        let index: Int32
        if let free = s.freeSlots.popLast() {
            index = free
            s.slots[Int(free)] = slot
        } else {
            index = Int32(s.slots.count)
            s.slots.append(slot)
        }
        if s.head != -1 { s.slots[Int(s.head)].newer = index }
        s.head = index
        if s.tail == -1 { s.tail = index }
        s.map[node.pageID] = index
        s.stats.residentBytes += slot.bytes
        s.stats.residentNodes += 1
    }

    private func remove(_ s: inout State, _ index: Int32) {
        let slot = s.slots[Int(index)]
        if slot.newer != -1 { s.slots[Int(slot.newer)].older = slot.older } else { s.head = slot.older }
        if slot.older != -1 { s.slots[Int(slot.older)].newer = slot.newer } else { s.tail = slot.newer }
        if s.hand == index { s.hand = slot.newer }
        s.map[slot.node!.pageID] = nil
        s.stats.residentBytes -= slot.bytes
        s.stats.residentNodes -= 1
        s.slots[Int(index)] = Slot()
        s.freeSlots.append(index)
    }

    // MARK: Eviction

    /// Lets go of every clean, unpinned node (the dirty ones stay until a checkpoint or an
    /// eviction writes them): memory back before an idle spell (`ServerlessReclaim`). The
    /// caller holds the tree's exclusive lock, so no reader or writer is using a node meanwhile.
    /// Returns the nodes and estimated bytes released.
    public func dropClean() -> (nodes: Int, bytes: Int) {
        state.withLock { s in
            let before = (s.stats.residentNodes, s.stats.residentBytes)
            for index in Array(s.map.values) {
                let slot = s.slots[Int(index)]
                guard slot.pins == 0, !slot.dirty, !slot.evicting else { continue }
                remove(&s, index)
            }
            return (before.0 - s.stats.residentNodes, before.1 - s.stats.residentBytes)
        }
    }

    /// Once over budget, evicts down to `evictionSlack` below it in one go. Victims are chosen
    /// under the lock; the dirty ones are then written together, in page order with neighbours
    /// in one call (`NodeRunWriter`), **without** the lock, so other threads' hits and misses do
    /// not wait for that I/O; then the victims leave. A failed write keeps every victim.
    ///
    /// Writing outside the lock is safe for the reason misses read outside it (see `node`):
    /// every caller holds the tree's lock, so while the victims are written no other thread
    /// can change or pin them (only a writer does, and a writer excludes everyone else; the
    /// caller itself is busy here). Others may still hit a victim, which stays valid; a victim
    /// that is somehow pinned by the time its write ends stays.
    ///
    /// **Only where the tree is whole.** An eviction can fail (a full disk, an I/O error), and
    /// its error ends the tree operation that called it. Called from inside a split or a merge,
    /// it left that change half made: entries moved to a new node the parent did not point to
    /// yet, a changed parent never marked dirty, an overfull leaf that no page could hold. The
    /// engine stops accepting writes after such a failure, but it still serves reads, and
    /// those returned wrong rows or stopped the process. So the calls that change nodes
    /// (`insertNew`, `markDirty`) only count bytes, and the tree calls this between whole
    /// changes (`BTree.putSorted` before each descent and at its end, `BTree.delete` at its
    /// end). A miss (`node`) evicts too: every miss comes before the change that needs the node.
    func evictIfOverBudget() throws {
        guard let eviction = state.withLock({ s in chooseVictims(&s) }) else { return }
        do {
            if !eviction.dirty.isEmpty { try NodeRunWriter.write(eviction.dirty, to: pager) }
        } catch {
            state.withLock { s in finish(eviction, written: false, &s) }
            throw error
        }
        state.withLock { s in finish(eviction, written: true, &s) }
    }

    /// Over budget, counting out what evictions under way are about to free. Callers test it
    /// in the critical section they hold anyway, so a change that stays within budget costs
    /// no second lock.
    private func isOverBudget(_ s: State) -> Bool { s.stats.residentBytes - s.evictingBytes > budgetBytes }

    private func chooseVictims(_ s: inout State) -> Eviction? {
        guard isOverBudget(s) else { return nil }
        let target = budgetBytes - evictionSlack
        var eviction = Eviction()
        while s.stats.residentBytes - s.evictingBytes - eviction.bytes > target, let victim = sieveVictim(&s) {
            s.slots[Int(victim)].evicting = true
            let slot = s.slots[Int(victim)]
            eviction.victims.append((victim, slot.node!))
            eviction.bytes += slot.bytes
            if slot.dirty { eviction.dirty.append(slot.node!) }
        }
        guard !eviction.victims.isEmpty else { return nil }
        s.evictingBytes += eviction.bytes
        return eviction
    }

    /// Removes an eviction's victims once written. When the write failed, the dirty ones stay
    /// (their changes exist nowhere else) and the clean ones leave anyway: they need no write,
    /// and dropping them is what keeps reads working, within the budget, on a disk that no
    /// longer takes writes (see `node`).
    private func finish(_ eviction: Eviction, written: Bool, _ s: inout State) {
        s.evictingBytes -= eviction.bytes
        var removed: UInt64 = 0
        for (index, node) in eviction.victims where s.slots[Int(index)].node === node {
            s.slots[Int(index)].evicting = false
            guard written || !s.slots[Int(index)].dirty, s.slots[Int(index)].pins == 0 else { continue }
            remove(&s, index)
            removed += 1
        }
        if written { s.stats.dirtyWrites += UInt64(eviction.dirty.count) }
        s.stats.evictions += removed
    }

    /// Walks the hand from old to new, clearing visited bits, until it finds an unpinned, unvisited
    /// entry that no eviction under way has chosen.
    private func sieveVictim(_ s: inout State) -> Int32? {
        var h = s.hand != -1 ? s.hand : s.tail
        var probes = 0
        let limit = 2 * s.map.count + 2
        while h != -1 && probes < limit {
            probes += 1
            let next = s.slots[Int(h)].newer != -1 ? s.slots[Int(h)].newer : s.tail
            if s.slots[Int(h)].pins > 0 || s.slots[Int(h)].evicting {
                h = next
                continue
            }
            if s.slots[Int(h)].visited {
                s.slots[Int(h)].visited = false
                h = next
                continue
            }
            s.hand = s.slots[Int(h)].newer
            return h
        }
        return nil
    }
}
