/// Writes B+tree nodes to their pages in page order, a run of neighbouring page numbers with
/// one system call: pages a load allocates one after another then cost one `pwrite` per 64
/// instead of one each (on ext4 a 4 KiB write costs about four times a 256 KiB write's share
/// per page). Nodes are encoded straight into the buffer written, without a page image each.
/// Used by the checkpoint and by the page cache's evictions.
enum NodeRunWriter {
    /// The most pages one call writes.
    static let pagesPerWrite = 64

    /// Writes `nodes` (any order; each page at most once); `written` sees each run once it is
    /// on its way to disk.
    static func write(_ nodes: [BTreeNode], to pager: Pager, written: (ArraySlice<BTreeNode>) -> Void = { _ in }) throws {
        let ordered = nodes.sorted { $0.pageID < $1.pageID }
        let size = PageLayout.pageSize
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: min(ordered.count, pagesPerWrite) * size, alignment: 16)
        defer { buffer.deallocate() }
        var i = 0
        while i < ordered.count {
            let first = ordered[i].pageID
            var n = 0
            while i + n < ordered.count, n < pagesPerWrite, ordered[i + n].pageID == first &+ PageID(n) {
                let page = UnsafeMutableRawBufferPointer(rebasing: buffer[(n * size)..<((n + 1) * size)])
                ordered[i + n].encode(into: page)
                PageImage.seal(page)
                n += 1
            }
            try pager.writeSealedRun(UnsafeRawBufferPointer(rebasing: buffer[0..<(n * size)]), firstPage: first)
            written(ordered[i..<(i + n)])
            i += n
        }
    }
}
