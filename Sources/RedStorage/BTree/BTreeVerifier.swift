import RedCore

/// Checks the structural invariants of the B+tree; used by tests after every
/// crash recovery and by `red` tooling.
///
/// Invariants checked:
/// - every node decodes and fits its page; interior nodes have keys + 1 children;
/// - keys strictly increase within a node and lie within the bounds the
///   parent's separators give (lower inclusive, upper exclusive);
/// - all leaves are at the same depth;
/// - no page is referenced twice (by nodes or overflow chains), every page is
///   a data page below the page count and not on the free list;
/// - every overflow chain has the length its cell records.
public struct BTreeReport: Sendable, Equatable {
    public var depth = 0
    public var interiorNodes = 0
    public var leafNodes = 0
    public var entries = 0
    public var overflowPages = 0
}

extension PagedStore {
    /// Verifies the live tree under the shared lock.
    public func verify() throws -> BTreeReport {
        try read { tree in
            var report = BTreeReport()
            guard tree.rootID != 0 else { return report }
            let free = Set(pager.allocation.withLock { $0.freePages })
            var seen = Set<PageID>()
            var leafDepth: Int?
            func fail(_ what: String) -> RedError { RedError(.dataCorrupted, "\(path): B+tree invariant violated: \(what)") }
            func claim(_ id: PageID) throws {
                guard id >= DatabaseHeader.firstDataPage, id < pager.pageCount else { throw fail("page \(id) out of range") }
                guard !free.contains(id) else { throw fail("page \(id) is in use and on the free list") }
                guard seen.insert(id).inserted else { throw fail("page \(id) referenced twice") }
            }
            func visit(_ id: PageID, depth: Int, lower: [UInt8]?, upper: [UInt8]?) throws {
                try claim(id)
                let node = try cache.node(id, pin: false)
                guard node.encodedBytes <= PageLayout.pageSize else { throw fail("node \(id) overflows its page") }
                let keys = node.allKeys
                guard node.prefixes.count == keys.count, zip(node.prefixes, keys).allSatisfy({ $0 == KeyPrefix($1) }) else {
                    throw fail("search prefixes out of step with the keys of page \(id)")
                }
                for i in 0..<keys.count {
                    if i > 0, compareKeys(keys[i - 1], keys[i]) >= 0 { throw fail("keys out of order in page \(id)") }
                    if let lower, compareKeys(keys[i], lower) < 0 { throw fail("key below its lower bound in page \(id)") }
                    if let upper, compareKeys(keys[i], upper) >= 0 { throw fail("key above its upper bound in page \(id)") }
                }
                if node.isLeaf {
                    report.leafNodes += 1
                    report.entries += keys.count
                    if let leafDepth, leafDepth != depth { throw fail("leaves at depths \(leafDepth) and \(depth)") }
                    leafDepth = depth
                    for value in node.allValues {
                        if case .overflow(let first, let length) = value {
                            try OverflowChain.walk(first: first, length: length, pager: pager) { page in
                                try claim(page.pageID)
                                report.overflowPages += 1
                            }
                        }
                    }
                } else {
                    report.interiorNodes += 1
                    guard node.allChildren.count == keys.count + 1 else { throw fail("page \(id) has \(node.allChildren.count) children for \(keys.count) keys") }
                    for (i, child) in node.allChildren.enumerated() {
                        try visit(child, depth: depth + 1,
                                  lower: i == 0 ? lower : keys[i - 1],
                                  upper: i == keys.count ? upper : keys[i])
                    }
                }
            }
            try visit(tree.rootID, depth: 1, lower: nil, upper: nil)
            report.depth = leafDepth ?? 0
            return report
        }
    }
}
