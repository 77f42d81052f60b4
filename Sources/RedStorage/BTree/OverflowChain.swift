import RedCore

/// Values too large for a leaf cell live in a chain of overflow pages.
///
/// Each page (`PageType.overflow`) carries `payloadBytes` bytes of the value
/// and `link` to the next page (0 on the last). Chains are immutable: a new
/// value gets a new chain and the old chain is freed, so a chain never needs
/// copy-on-write. Chains bypass the page cache (they are written once, read
/// whole and rarely), and are written as soon as they are built: their pages
/// are fresh, so no published image can reference them.
enum OverflowChain {
    static let chunkBytes = PageLayout.payloadCapacity

    /// Writes `value` into new pages of the current epoch; returns the first page.
    static func write(_ value: [UInt8], pager: Pager) throws -> PageID {
        precondition(!value.isEmpty)
        let pageCount = (value.count + chunkBytes - 1) / chunkBytes
        var ids: [PageID] = []
        ids.reserveCapacity(pageCount)
        for _ in 0..<pageCount { ids.append(pager.allocate()) }
        let epoch = pager.currentEpoch
        // A failed write gives its pages back: nothing points to them yet.
        var written = false
        defer { if !written { for id in ids { pager.free(id, writtenIn: epoch) } } }
        for (n, id) in ids.enumerated() {
            var page = PageImage(type: .overflow, id: id, epoch: epoch)
            let start = n * chunkBytes
            let end = min(value.count, start + chunkBytes)
            page.bytes.replaceSubrange(PageLayout.headerBytes..<(PageLayout.headerBytes + end - start),
                                       with: value[start..<end])
            page.payloadBytes = end - start
            page.link = n + 1 < ids.count ? ids[n + 1] : 0
            try pager.writePage(page)
        }
        written = true
        return ids[0]
    }

    /// Reads a whole chain, checking that it holds exactly `length` bytes.
    static func read(first: PageID, length: UInt32, pager: Pager) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Int(length))
        try walk(first: first, length: length, pager: pager) { page in
            out.append(contentsOf: page.bytes[PageLayout.headerBytes..<(PageLayout.headerBytes + page.payloadBytes)])
        }
        return out
    }

    /// Frees every page of a chain.
    static func free(first: PageID, length: UInt32, pager: Pager) throws {
        var pages: [(PageID, UInt64)] = []
        try walk(first: first, length: length, pager: pager) { pages.append(($0.pageID, $0.epoch)) }
        for (id, epoch) in pages { pager.free(id, writtenIn: epoch) }
    }

    /// Visits the pages of a chain in order, validating type, links and total length.
    static func walk(first: PageID, length: UInt32, pager: Pager, _ visit: (PageImage) throws -> Void) throws {
        let expectedPages = (Int(length) + chunkBytes - 1) / chunkBytes
        var next = first
        var total = 0
        var visited = 0
        while next != 0 {
            guard visited < expectedPages, next >= DatabaseHeader.firstDataPage else {
                throw RedError(.dataCorrupted, "\(pager.path): overflow chain starting at page \(first) is longer than its value")
            }
            try NonBlockingExecution.refuseIfActive(.pageNotCached)  // chains are never cached: reading one is I/O
            let page = try pager.readPage(next)
            guard page.type == .overflow else {
                throw RedError(.dataCorrupted, "\(pager.path): page \(next) in overflow chain of page \(first) is not an overflow page")
            }
            total += page.payloadBytes
            visited += 1
            try visit(page)
            next = page.link
        }
        guard total == Int(length) else {
            throw RedError(.dataCorrupted, "\(pager.path): overflow chain at page \(first) holds \(total) bytes, expected \(length)")
        }
    }
}
