import RedCore

/// A few bytes written in front of a value, kept inline (no heap buffer).
///
/// Why: the engine stores every value behind a short header (its version
/// chain's, with the commit timestamp). Building `header + value` as a new
/// array for each of a bulk load's rows, only for the tree to copy it into a
/// leaf and free it, costs an allocation, a copy and a free per row. With the
/// header carried beside the value the leaf copies both straight into its cell.
public struct ValueHead: Sendable {
    public static let capacity = 24
    public static let empty = ValueHead()

    private var storage: (UInt64, UInt64, UInt64) = (0, 0, 0)
    public private(set) var count = 0

    public init() {}

    public mutating func append(_ byte: UInt8) {
        precondition(count < Self.capacity, "value head longer than \(Self.capacity) bytes")
        let at = count
        Swift.withUnsafeMutableBytes(of: &storage) { $0[at] = byte }
        count += 1
    }

    public mutating func appendVarint(_ value: UInt64) { Varint.forEachByte(of: value) { append($0) } }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: storage) { try body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }

    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}

/// One entry of a batch write: the value stored under `key` is `head` followed by `body`.
///
/// `key` and `body` point to bytes the caller owns (a write set's arena), which must stay
/// valid and unchanged until the batch call returns: the tree copies them straight into
/// its leaves, so a batch needs no heap object per entry.
public struct TreeEntry {
    public var key: UnsafeRawBufferPointer
    public var head: ValueHead
    public var body: UnsafeRawBufferPointer

    public init(key: UnsafeRawBufferPointer, head: ValueHead = .empty, body: UnsafeRawBufferPointer) {
        self.key = key
        self.head = head
        self.body = body
    }

    var valueCount: Int { head.count + body.count }
}
