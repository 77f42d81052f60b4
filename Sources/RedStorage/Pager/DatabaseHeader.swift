import RedCore

/// The database header: which checkpoint image is the published one.
///
/// Pages 0 and 1 are two header *slots*. A checkpoint of epoch E writes its
/// header into slot `E % 2` and fsyncs, so the other slot still holds the
/// previous image's header: a torn header write can never lose the database,
/// because opening picks the valid slot with the highest epoch.
///
/// Payload (after the 32-byte page header, type `.header`):
/// ```
///  +0  [8] magic "REDDBSW1"
///  +8  u32 formatVersion (2); a newer version is refused. Version 1 kept timestamps in
///          milliseconds: its rows still read (their values say which unit), but index keys
///          of timestamps and dates need rebuilding, which `Database.open` does once.
/// +12  u32 pageSize (4096)
/// +16  u64 epoch            checkpoint sequence number of this image
/// +24  u32 rootPageID       root of the keyspace B+tree, 0 = empty
/// +28  u32 pageCount        pages that exist in this image
/// +32  u32 freeListHead     first free-list page, 0 = none
/// +36  u32 freePageCount    ids stored in the free-list chain
/// +40  u64 checkpointLSN    WAL position where redo starts for this image
/// +48  u64 lastCommitTS     newest commit timestamp contained in the image
/// ```
public struct DatabaseHeader: Sendable, Equatable {
    public static let magic: [UInt8] = Array("REDDBSW1".utf8)
    public static let formatVersion: UInt32 = 2
    /// Pages 0 and 1 hold the slots; data pages start here.
    public static let firstDataPage: PageID = 2

    public var epoch: UInt64
    public var rootPageID: PageID
    public var pageCount: UInt32
    public var freeListHead: PageID
    public var freePageCount: UInt32
    public var checkpointLSN: UInt64
    public var lastCommitTS: UInt64
    /// The version the image was written in (`formatVersion` for new images).
    public var version: UInt32 = DatabaseHeader.formatVersion

    public static func empty(epoch: UInt64) -> DatabaseHeader {
        DatabaseHeader(epoch: epoch, rootPageID: 0, pageCount: UInt32(firstDataPage), freeListHead: 0,
                       freePageCount: 0, checkpointLSN: 0, lastCommitTS: 0)
    }

    public var slot: PageID { PageID(epoch % 2) }

    public func encode() -> PageImage {
        var page = PageImage(type: .header, id: slot, epoch: epoch)
        let base = PageLayout.headerBytes
        for (i, b) in Self.magic.enumerated() { page.bytes[base + i] = b }
        page.setU32(base + 8, version)
        page.setU32(base + 12, UInt32(PageLayout.pageSize))
        page.setU64(base + 16, epoch)
        page.setU32(base + 24, rootPageID)
        page.setU32(base + 28, pageCount)
        page.setU32(base + 32, freeListHead)
        page.setU32(base + 36, freePageCount)
        page.setU64(base + 40, checkpointLSN)
        page.setU64(base + 48, lastCommitTS)
        page.payloadBytes = 56
        page.seal()
        return page
    }

    /// Decodes a verified header page; throws on a foreign file or an unsupported version.
    public static func decode(_ page: PageImage, file: String) throws -> DatabaseHeader {
        let base = PageLayout.headerBytes
        guard page.type == .header, Array(page.bytes[base..<base + 8]) == magic else {
            throw RedError(.dataCorrupted, "\(file) is not a RedDB database (bad magic in header page \(page.pageID))")
        }
        let version = page.u32(base + 8)
        guard version <= formatVersion else {
            throw RedError(.unsupportedFormat,
                           "\(file) has format version \(version); this build reads up to \(formatVersion). Upgrade RedDB.")
        }
        guard page.u32(base + 12) == UInt32(PageLayout.pageSize) else {
            throw RedError(.unsupportedFormat, "\(file) uses page size \(page.u32(base + 12)); only \(PageLayout.pageSize) is supported")
        }
        let header = DatabaseHeader(
            epoch: page.u64(base + 16), rootPageID: page.u32(base + 24), pageCount: page.u32(base + 28),
            freeListHead: page.u32(base + 32), freePageCount: page.u32(base + 36),
            checkpointLSN: page.u64(base + 40), lastCommitTS: page.u64(base + 48), version: version)
        guard header.slot == page.pageID, header.pageCount >= UInt32(firstDataPage),
              header.rootPageID < header.pageCount, header.freeListHead < header.pageCount else {
            throw RedError(.dataCorrupted, "\(file): header page \(page.pageID) is inconsistent")
        }
        return header
    }
}
