/// The row ids a statement attempted without waiting reserved, given back when the attempt is
/// declined and the statement runs again on the waiting path.
///
/// Why: such an attempt is invisible to the client (it sees one statement), yet its row ids
/// would be skipped, so the same INSERT gave a graph's edges ids 4, 5, 6 or 7, 8, 9 depending
/// on whether a page happened to be cached. Ids a failed or rolled-back statement took stay
/// skipped, as a PostgreSQL sequence's values do.
///
/// How: `TableStore.reserveRowIDs` notes each reservation in the attempt the running task
/// carries (`TableStore.$rowIDAttempt`); `giveBack` returns them, latest first, where no one
/// has reserved ids of that collection since (the counter still ends at the attempt's last
/// id). The attempt's transaction is rolled back first, so no row holds them.
public final class RowIDAttempt: @unchecked Sendable {
    // Only the attempt's own statement, on one thread, appends; `giveBack` reads after it.
    var reserved: [(collection: UInt32, ids: Range<Int64>)] = []
    public init() {}
}

extension TableStore {
    @TaskLocal public static var rowIDAttempt: RowIDAttempt?

    /// Returns a declined attempt's row ids where no later reservation followed them.
    public func giveBack(_ attempt: RowIDAttempt) {
        ridCounters.withLock { counters in
            for (collection, ids) in attempt.reserved.reversed() where counters[collection] == ids.upperBound - 1 {
                counters[collection] = ids.lowerBound - 1
            }
        }
        attempt.reserved = []
    }
}
