import RedCore
import RedStorage

/// Keys and key ranges a transaction's writes rely on without writing them: at commit, a
/// version of any of them newer than the transaction's snapshot fails the commit with 40001,
/// as a write-write conflict does.
///
/// Snapshot isolation alone lets two transactions each keep an invariant over data the other
/// changes: one inserts an order for customer 7, which its snapshot shows; the other deletes
/// customer 7, whose orders its snapshot shows to be none; both commit, and the order points
/// nowhere. PostgreSQL closes this with shared row locks (`FOR KEY SHARE`). Here a writer
/// instead names what it read: the order's transaction guards the customer's key entry, the
/// delete guards the range of order-index entries for customer 7. Whichever commits second
/// finds the other's write newer than its snapshot and gets 40001. Readers of the same key
/// never conflict with each other, so concurrent orders for one customer both commit.
///
/// A guard may fail a commit that would have been safe (the key was rewritten to the same
/// value): it errs towards a retry, never towards a broken invariant.
///
/// The check relies on the tree keeping a record while a live snapshot can see one of its
/// versions (the committing transaction's own snapshot is live): a key deleted after the
/// snapshot still has its record, whose newest version is the deletion.
struct ReadGuards: Sendable {
    /// Tree keys (collection prefix included), each with the snapshot it was read at (0: the
    /// transaction's first; a READ COMMITTED statement reads at a newer one).
    private(set) var keys: [[UInt8]: UInt64] = [:]
    /// Tree key ranges: `lower` inclusive, `upper` exclusive (nil: to the end of the tree), each
    /// with the snapshot it was read at.
    private(set) var ranges: [Range: UInt64] = [:]

    struct Range: Hashable, Sendable {
        var lower: [UInt8]
        var upper: [UInt8]?
    }

    /// Memory the guards hold, about: counted with the transaction's writes against
    /// `Limits.maxTransactionBytes` (`Transaction.guardUnchanged`).
    private(set) var bytes = 0
    /// What a guard costs beyond its key bytes (the set's entry, the array headers).
    static let overheadBytes = 64

    var isEmpty: Bool { keys.isEmpty && ranges.isEmpty }

    /// Adds a guard read at snapshot `base`; one already there keeps the older snapshot.
    mutating func insert(key: [UInt8], base: UInt64) {
        if let old = keys[key] {
            keys[key] = min(old, base)
        } else {
            keys[key] = base
            bytes += key.count + Self.overheadBytes
        }
    }

    mutating func insert(_ range: Range, base: UInt64) {
        if let old = ranges[range] {
            ranges[range] = min(old, base)
        } else {
            ranges[range] = base
            bytes += range.lower.count + (range.upper?.count ?? 0) + Self.overheadBytes
        }
    }

    /// Throws 40001 if a transaction that committed after a guard was read (after `snapshot`,
    /// the transaction's first, for the guards read then) changed a guarded key or a key inside
    /// a guarded range. Runs under the tree's write lock, inside `commit`.
    func check(in tree: BTree, snapshot: UInt64) throws {
        let sorted = keys.keys.sorted { compareKeys($0, $1) < 0 }
        for (key, bytes) in zip(sorted, try tree.getSorted(sorted)) {
            if let bytes, try Self.newest(bytes, key) > max(snapshot, keys[key]!) { throw Self.conflict(key) }
        }
        for (range, base) in ranges {
            let seen = max(snapshot, base)
            var start = range.lower
            var inclusive = true
            scanning: while true {
                let batch = try tree.batch(after: start, inclusive: inclusive)
                guard let last = batch.last else { break }
                for entry in batch {
                    if let upper = range.upper, compareKeys(entry.key, upper) >= 0 { break scanning }
                    if try Self.newest(try tree.read(entry.value), entry.key) > seen { throw Self.conflict(entry.key) }
                }
                start = last.key
                inclusive = false
            }
        }
    }

    private static func newest(_ bytes: [UInt8], _ key: [UInt8]) throws -> UInt64 {
        try VersionChain.newestCommitTS(of: bytes, context: "record (\(Keyspace.describe(key)))")
    }

    private static func conflict(_ key: [UInt8]) -> WriteConflict {
        WriteConflict(collectionID: Keyspace.collectionID(of: key)) {
            "could not serialize access due to a concurrent change of a row this transaction's foreign key checks read (in \($0)); retry the transaction"
        }
    }
}
