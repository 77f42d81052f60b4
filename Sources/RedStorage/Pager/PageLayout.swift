import RedCore

/// Page identifiers are page numbers: the page lives at byte `id * pageSize`.
public typealias PageID = UInt32

/// The layout shared by every page of the main file `data.rdb`.
///
/// ```
/// offset size field
///      0  u32 checksum    CRC-32 (IEEE) of bytes 4..<pageSize
///      4   u8 type        PageType
///      5   u8 flags       0 (reserved for encryption: a future trailer flag)
///      6  u16 count       entries (leaf/interior), ids (free list), 0 otherwise
///      8  u32 pageID      the page's own number: catches misdirected writes
///     12  u32 link        next page of an overflow or free-list chain, else 0
///     16  u64 epoch       checkpoint epoch in which the page was written (see Pager)
///     24  u32 payloadBytes bytes used after the header
///     28  u32 reserved    0
///     32  ...             payload
/// ```
/// Integers are little-endian. A page is *sealed* (checksum filled) just
/// before it is written and *verified* on every read from disk: a mismatch,
/// a wrong page id or an unknown type is a `RedError(.dataCorrupted)` naming
/// the file and the page, never a crash and never wrong data.
public enum PageLayout {
    public static let pageSize = 4096
    public static let headerBytes = 32
    public static let payloadCapacity = pageSize - headerBytes

    static let checksumOffset = 0
    static let typeOffset = 4
    static let countOffset = 6
    static let pageIDOffset = 8
    static let linkOffset = 12
    static let epochOffset = 16
    static let payloadBytesOffset = 24
}

/// What a page holds.
public enum PageType: UInt8, Sendable {
    /// Pages 0 and 1: the two database header slots.
    case header = 1
    case leaf = 2
    case interior = 3
    /// A chunk of a value too large to keep inside a leaf.
    case overflow = 4
    /// A chunk of the persisted free-page list.
    case freeList = 5
}

/// A fixed-size page image being built or parsed.
public struct PageImage: Sendable {
    public var bytes: [UInt8]

    public init(type: PageType, id: PageID, epoch: UInt64) {
        bytes = [UInt8](repeating: 0, count: PageLayout.pageSize)
        bytes[PageLayout.typeOffset] = type.rawValue
        setU32(PageLayout.pageIDOffset, id)
        setU64(PageLayout.epochOffset, epoch)
    }

    public init(verifiedBytes: [UInt8]) { bytes = verifiedBytes }

    public var type: PageType? { PageType(rawValue: bytes[PageLayout.typeOffset]) }
    public var pageID: PageID { u32(PageLayout.pageIDOffset) }
    public var epoch: UInt64 { u64(PageLayout.epochOffset) }
    public var link: PageID {
        get { u32(PageLayout.linkOffset) }
        set { setU32(PageLayout.linkOffset, newValue) }
    }
    public var count: Int {
        get { Int(u16(PageLayout.countOffset)) }
        set { setU16(PageLayout.countOffset, UInt16(newValue)) }
    }
    public var payloadBytes: Int {
        get { Int(u32(PageLayout.payloadBytesOffset)) }
        set { setU32(PageLayout.payloadBytesOffset, UInt32(newValue)) }
    }

    /// Fills in the checksum; call last, just before writing.
    public mutating func seal() {
        bytes.withUnsafeMutableBytes { Self.seal($0) }
    }

    /// `seal` for a page held in a caller's buffer (exactly one page).
    public static func seal(_ page: UnsafeMutableRawBufferPointer) {
        let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: page[4...]))
        page.storeBytes(of: crc.littleEndian, toByteOffset: PageLayout.checksumOffset, as: UInt32.self)
    }

    /// Writes every header field but the checksum into the first bytes of `page`.
    static func writeHeader(into page: UnsafeMutableRawBufferPointer, type: PageType, id: PageID, epoch: UInt64,
                            count: Int, payloadBytes: Int) {
        page.storeBytes(of: type.rawValue, toByteOffset: PageLayout.typeOffset, as: UInt8.self)
        page.storeBytes(of: 0, toByteOffset: PageLayout.typeOffset + 1, as: UInt8.self)  // flags
        page.storeBytes(of: UInt16(count).littleEndian, toByteOffset: PageLayout.countOffset, as: UInt16.self)
        page.storeBytes(of: id.littleEndian, toByteOffset: PageLayout.pageIDOffset, as: UInt32.self)
        page.storeBytes(of: UInt32(0), toByteOffset: PageLayout.linkOffset, as: UInt32.self)
        page.storeBytes(of: epoch.littleEndian, toByteOffset: PageLayout.epochOffset, as: UInt64.self)
        page.storeBytes(of: UInt32(payloadBytes).littleEndian, toByteOffset: PageLayout.payloadBytesOffset, as: UInt32.self)
        page.storeBytes(of: UInt32(0), toByteOffset: PageLayout.payloadBytesOffset + 4, as: UInt32.self)  // reserved
    }

    /// Checks checksum, page id and type of bytes read from `file` as page `id`.
    public static func verify(_ bytes: [UInt8], id: PageID, file: String) throws -> PageImage {
        guard bytes.count == PageLayout.pageSize else {
            throw RedError(.dataCorrupted, "\(file): page \(id) is truncated (\(bytes.count) of \(PageLayout.pageSize) bytes)")
        }
        let image = PageImage(verifiedBytes: bytes)
        let stored = image.u32(PageLayout.checksumOffset)
        let computed = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[4...])) }
        guard stored == computed else {
            throw RedError(.dataCorrupted,
                "\(file): page \(id) failed its checksum (stored \(hex(stored)), computed \(hex(computed))); the file is damaged")
        }
        guard image.pageID == id else {
            throw RedError(.dataCorrupted, "\(file): page \(id) holds the contents of page \(image.pageID) (misdirected write)")
        }
        guard image.type != nil else {
            throw RedError(.dataCorrupted, "\(file): page \(id) has unknown type \(bytes[PageLayout.typeOffset])")
        }
        guard image.payloadBytes <= PageLayout.payloadCapacity else {
            throw RedError(.dataCorrupted, "\(file): page \(id) claims \(image.payloadBytes) payload bytes")
        }
        return image
    }

    static func hex(_ v: UInt32) -> String {
        let digits = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }

    // MARK: Little-endian field access

    @inline(__always) public func u16(_ o: Int) -> UInt16 { UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8 }
    @inline(__always) public func u32(_ o: Int) -> UInt32 {
        UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
    }
    @inline(__always) public func u64(_ o: Int) -> UInt64 { UInt64(u32(o)) | UInt64(u32(o + 4)) << 32 }
    @inline(__always) public mutating func setU16(_ o: Int, _ v: UInt16) {
        bytes[o] = UInt8(truncatingIfNeeded: v)
        bytes[o + 1] = UInt8(truncatingIfNeeded: v >> 8)
    }
    @inline(__always) public mutating func setU32(_ o: Int, _ v: UInt32) {
        for i in 0..<4 { bytes[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) }
    }
    @inline(__always) public mutating func setU64(_ o: Int, _ v: UInt64) {
        setU32(o, UInt32(truncatingIfNeeded: v))
        setU32(o + 4, UInt32(truncatingIfNeeded: v >> 32))
    }
}
