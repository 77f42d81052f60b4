import RedCore
import Synchronization

/// Row batches on their way from a bulk load's parser (COPY over PG-wire, gRPC
/// `BulkInsertBinary`) to the one task inserting them, in order.
///
/// Why a queue and not one batch in flight: with a single batch handed over at a time, the
/// parser waited for each insert and the inserter for each parse, and every hand-over woke a
/// thread, so neither stage kept its core busy. With a few batches queued, each side runs on
/// until the queue is empty or full. At most `capacity` batches wait, so memory stays bounded
/// however fast the client sends.
final class RowBatchPipe: Sendable {
    private struct State {
        var queue: [RowBlock] = []
        var finished = false
        /// The inserter, waiting for a batch.
        var taker: CheckedContinuation<RowBlock?, Never>?
        /// The parser, waiting for room.
        var giver: CheckedContinuation<Void, Never>?
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Queues `batch`, then waits while the queue is full.
    func put(_ batch: RowBlock) async {
        let taker = state.withLock { s -> CheckedContinuation<RowBlock?, Never>? in
            if let taker = s.taker {
                s.taker = nil
                return taker
            }
            s.queue.append(batch)
            return nil
        }
        if let taker {
            taker.resume(returning: batch)
            return
        }
        await withCheckedContinuation { (giver: CheckedContinuation<Void, Never>) in
            let wait = state.withLock { s -> Bool in
                guard s.queue.count >= capacity else { return false }
                s.giver = giver
                return true
            }
            if !wait { giver.resume() }
        }
    }

    /// No more batches: the inserter's next `take` past the queued ones returns nil.
    func finish() {
        let taker = state.withLock { s -> CheckedContinuation<RowBlock?, Never>? in
            s.finished = true
            defer { s.taker = nil }
            return s.queue.isEmpty ? s.taker : nil
        }
        taker?.resume(returning: nil)
    }

    /// The inserting side's loop: passes each batch to `insert` in order until one throws, then
    /// sets `failed` (so the producer stops) and only drains the rest, so the producer never waits
    /// forever for room. Returns that failure, or nil once the pipe is finished and empty.
    func consume(failed: BatchFlag, _ insert: (RowBlock) async throws -> Void) async -> (any Error)? {
        var failure: (any Error)?
        while let rows = await take() {
            guard failure == nil else { continue }
            do {
                try await insert(rows)
            } catch {
                failure = error
                failed.set()
            }
        }
        return failure
    }

    /// The next batch, waiting for one; nil once finished and empty.
    func take() async -> RowBlock? {
        await withCheckedContinuation { (taker: CheckedContinuation<RowBlock?, Never>) in
            let (batch, giver, done) = state.withLock { s -> (RowBlock?, CheckedContinuation<Void, Never>?, Bool) in
                if !s.queue.isEmpty {
                    let giver = s.giver
                    s.giver = nil
                    return (s.queue.removeFirst(), giver, false)
                }
                if s.finished { return (nil, nil, true) }
                s.taker = taker
                return (nil, nil, false)
            }
            giver?.resume()
            if let batch { taker.resume(returning: batch) } else if done { taker.resume(returning: nil) }
        }
    }
}

/// Set once by one side of a bulk load and read by the other between batches: a cancel
/// arrived, or a batch failed to insert.
final class BatchFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .relaxed) }
    var isSet: Bool { flag.load(ordering: .relaxed) }
}
