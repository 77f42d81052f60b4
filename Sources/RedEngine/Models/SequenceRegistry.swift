import RedCore
import Synchronization

/// The values sequences hand out: one shared counter per sequence (per restart epoch), outside
/// every transaction, as PostgreSQL's nextval is — a value taken is never handed out again,
/// even when the transaction that took it rolls back.
///
/// Durability without a commit per value: a counter reserves a run of values ahead and
/// records the end of that run in `__system` (key `seq/<id><epoch>`) with an internal
/// transaction of its own. After a crash the counter resumes past the recorded end (a gap,
/// as PostgreSQL leaves after a crash). The rule that keeps acknowledged data safe: nothing
/// that used a value may commit or reach the client before the reservation covering the
/// value is durable. `next` only moves memory; the session calls `settle()` after each
/// statement (a no-op unless some reservation is still in flight), and only then commits or
/// answers.
///
/// Runs grow while a sequence is busy (up to `maxReservation` values, doubling each time a
/// run is used up within a second), so a bulk insert writes a reservation every few thousand
/// values and a quiet sequence every `minReservation`.
///
/// Reservations are written one flush at a time (`flushing`), so they never conflict with one
/// another; no user transaction writes them (DDL changes the definition, never these keys).
public final class SequenceRegistry: Sendable {
    static let minReservation: Int64 = 32
    static let maxReservation: Int64 = 65_536
    static let keyPrefix = Array("seq/".utf8)

    struct Key: Hashable {
        var id: UInt64
        var epoch: UInt64
    }

    /// What a counter recorded last: values up to `high` may have been handed out.
    struct Reservation: Equatable {
        var high: Int64
        var isCalled: Bool
    }

    struct Counter {
        var last: Int64
        var isCalled: Bool
        /// The end of the reserved run (nil: nothing reserved yet in this epoch).
        var reserved: Int64?
        var runLength = SequenceRegistry.minReservation
        var reservedAt: ContinuousClock.Instant?
    }

    struct Shared {
        var counters: [Key: Counter] = [:]
        var pending: [Key: Reservation] = [:]
        /// Bumped with each new pending reservation; `durable` catches up as flushes commit.
        var requested: UInt64 = 0
        /// Decoded definitions by name, with the catalog bytes they came from: a lookup reads
        /// the bytes through the transaction (so it always sees its own snapshot) and decodes
        /// only when they changed.
        var definitions: [String: (bytes: [UInt8], definition: SequenceDefinition)] = [:]
    }

    private let engine: StorageEngine
    private let shared = Mutex(Shared())
    private let durable = Atomic<UInt64>(0)
    private let flushing = AsyncMutex()

    init(engine: StorageEngine) { self.engine = engine }

    // MARK: Definitions

    /// The sequence called `name` as `tx` sees it, or nil.
    public func definition(_ tx: Transaction, _ name: String) throws -> SequenceDefinition? {
        let name = SchemaCatalog.canonical(name)
        guard let bytes = try tx.catalogGet(SequenceDefinition.catalogKey(name)) else { return nil }
        if let cached = shared.withLock({ $0.definitions[name] }), cached.bytes == bytes { return cached.definition }
        let definition = try SequenceDefinition.decode(bytes, name: name)
        shared.withLock { s in
            if s.definitions.count > 4096 { s.definitions.removeAll() }
            s.definitions[name] = (bytes, definition)
        }
        return definition
    }

    /// The stored name of the sequence `name` means to `tx`'s session, or nil when there is
    /// none: `pg_temp.s` and a stored temporary name (`__temp/…`) only among the session's
    /// temporary tables' sequences; any other name a permanent sequence first, then one of
    /// those (see `TemporaryNamespace`).
    public func storedName(_ tx: Transaction, _ name: String) throws -> String? {
        let name = SchemaCatalog.canonical(name)
        let namespace = tx.temporaryNamespace.flatMap { $0.isUsed ? $0 : nil }
        let (unqualified, temporaryOnly) = TemporaryNamespace.unqualified(name)
        if temporaryOnly {
            guard let physical = namespace?.physicalName(unqualified), try definition(tx, physical) != nil else { return nil }
            return physical
        }
        if TemporaryNamespace.isTemporary(name) {
            guard namespace?.owns(name) == true, try definition(tx, name) != nil else { return nil }
            return name
        }
        if name.hasPrefix("__") { return nil }
        if try definition(tx, name) != nil { return name }
        guard let physical = namespace?.physicalName(name), try definition(tx, physical) != nil else { return nil }
        return physical
    }

    public func store(_ tx: Transaction, _ name: String, _ definition: SequenceDefinition) throws {
        try tx.catalogPut(SequenceDefinition.catalogKey(name), definition.encoded())
    }

    public func remove(_ tx: Transaction, _ name: String) throws {
        let name = SchemaCatalog.canonical(name)
        _ = try tx.catalogDelete(SequenceDefinition.catalogKey(name))
    }

    /// Every sequence `tx` sees, by name.
    public func all(_ tx: Transaction) throws -> [(name: String, definition: SequenceDefinition)] {
        let cursor = try tx.catalogScan(.prefix(SequenceDefinition.catalogPrefix))
        var out: [(String, SequenceDefinition)] = []
        while let (key, value) = try cursor.next() {
            let name = String(decoding: key.dropFirst(SequenceDefinition.catalogPrefix.count), as: UTF8.self)
            out.append((name, try SequenceDefinition.decode(value, name: name)))
        }
        return out
    }

    // MARK: Values

    /// The next value of `definition`'s sequence (`name` for errors); 2200H past its bound
    /// without CYCLE.
    public func next(_ definition: SequenceDefinition, name: String) throws -> Int64 {
        let key = Key(id: definition.id, epoch: definition.epoch)
        let loaded = try counterIfUnknown(key, definition)
        return try shared.withLock { s in
            var counter = s.counters[key] ?? loaded!
            var value: Int64
            var wrapped = false
            if !counter.isCalled {
                value = counter.last
            } else {
                let (sum, overflow) = counter.last.addingReportingOverflow(definition.increment)
                value = sum
                if overflow || sum > definition.maxValue || sum < definition.minValue {
                    guard definition.cycle else {
                        let bound = definition.isAscending ? definition.maxValue : definition.minValue
                        throw RedError(.numericOutOfRange, "nextval: reached \(definition.isAscending ? "maximum" : "minimum") value of sequence \"\(name)\" (\(bound))",
                                       condition: "2200H")
                    }
                    value = definition.isAscending ? definition.minValue : definition.maxValue
                    wrapped = true
                }
            }
            let beyond = counter.reserved.map { definition.isAscending ? value > $0 : value < $0 } ?? true
            if beyond || wrapped {
                // Memory alone cannot cover this value: a new reservation must be flushed first.
                try NonBlockingExecution.refuseIfActive(.longRunning)
                let now = ContinuousClock.now
                if let at = counter.reservedAt, now - at < .seconds(1) {
                    counter.runLength = min(counter.runLength * 2, Self.maxReservation)
                } else {
                    counter.runLength = Self.minReservation
                }
                counter.reservedAt = now
                let (end, overflow) = value.addingReportingOverflow(definition.increment.multipliedReportingOverflow(by: counter.runLength - 1).partialValue)
                let high = overflow ? (definition.isAscending ? definition.maxValue : definition.minValue)
                                    : min(max(end, definition.minValue), definition.maxValue)
                counter.reserved = high
                s.pending[key] = Reservation(high: high, isCalled: true)
                s.requested += 1
            } else if s.requested > durable.load(ordering: .acquiring) {
                // A reservation covering this value may still be in flight.
                try NonBlockingExecution.refuseIfActive(.longRunning)
            }
            counter.last = value
            counter.isCalled = true
            s.counters[key] = counter
            return value
        }
    }

    /// What `SELECT * FROM s` shows: the last value handed out (the start value before the
    /// first nextval), whether nextval has handed it out, and how many more values the
    /// durable reservation already covers (PostgreSQL's `log_cnt` counts the same kind of
    /// run: values fetched before the next WAL record).
    public func state(_ definition: SequenceDefinition) throws -> (lastValue: Int64, isCalled: Bool, reservedAhead: Int64) {
        let key = Key(id: definition.id, epoch: definition.epoch)
        let loaded = try counterIfUnknown(key, definition)
        return shared.withLock { s in
            let counter = s.counters[key] ?? loaded!
            guard counter.isCalled, let reserved = counter.reserved, definition.increment != 0 else {
                return (counter.last, counter.isCalled, 0)
            }
            let ahead = reserved.subtractingReportingOverflow(counter.last)
            return (counter.last, true, ahead.overflow ? 0 : max(0, ahead.partialValue / definition.increment))
        }
    }

    /// setval: the counter continues after `value` (or at it, when `isCalled` is false).
    /// Not undone by a rollback, as in PostgreSQL.
    public func set(_ definition: SequenceDefinition, name: String, to value: Int64, isCalled: Bool) throws {
        guard value >= definition.minValue, value <= definition.maxValue else {
            throw RedError(.numericOutOfRange, "setval: value \(value) is out of bounds for sequence \"\(name)\" (\(definition.minValue)..\(definition.maxValue))")
        }
        try NonBlockingExecution.refuseIfActive(.longRunning)
        let key = Key(id: definition.id, epoch: definition.epoch)
        shared.withLock { s in
            var counter = s.counters[key] ?? Counter(last: value, isCalled: isCalled)
            counter.last = value
            counter.isCalled = isCalled
            counter.reserved = isCalled ? value : value &- definition.increment
            counter.reservedAt = nil
            s.counters[key] = counter
            s.pending[key] = Reservation(high: counter.reserved!, isCalled: true)
            s.requested += 1
        }
    }

    /// A counter for `key` read from its last durable reservation (or fresh), when memory has
    /// none yet; nil when memory has one. Read with a transaction of its own, so it sees every
    /// committed reservation whatever the caller's snapshot.
    private func counterIfUnknown(_ key: Key, _ definition: SequenceDefinition) throws -> Counter? {
        if shared.withLock({ $0.counters[key] != nil }) { return nil }
        try NonBlockingExecution.refuseIfActive(.longRunning)
        let tx = try engine.begin()
        defer { tx.rollback() }
        guard let bytes = try tx.get(Transaction.system, Self.storageKey(key)) else {
            return Counter(last: definition.firstValue, isCalled: false)
        }
        let reservation = try Self.decode(bytes)
        return Counter(last: reservation.high, isCalled: reservation.isCalled, reserved: reservation.high)
    }

    // MARK: Durability

    /// True when every reservation handed out so far is durable.
    public var isSettled: Bool { shared.withLock { $0.requested } <= durable.load(ordering: .acquiring) }

    /// Waits until every reservation made before the call is durable, writing them if no other
    /// caller is. Throws what the commit throws (a fenced or failed engine); the reservations
    /// stay pending for the next caller then.
    public func settle() async throws {
        let target = shared.withLock { $0.requested }
        while durable.load(ordering: .acquiring) < target {
            await flushing.lock()
            if durable.load(ordering: .acquiring) >= target {
                flushing.unlock()
                return
            }
            let (generation, records) = shared.withLock { s -> (UInt64, [Key: Reservation]) in
                let taken = s.pending
                s.pending = [:]
                return (s.requested, taken)
            }
            do {
                if !records.isEmpty {
                    let tx = try engine.begin()
                    do {
                        for (key, record) in records { try tx.put(Transaction.system, Self.storageKey(key), Self.encode(record)) }
                        _ = try await tx.commit()
                    } catch {
                        tx.rollback()
                        throw error
                    }
                }
                durable.store(generation, ordering: .releasing)
                flushing.unlock()
            } catch {
                shared.withLock { s in
                    for (key, record) in records where s.pending[key] == nil { s.pending[key] = record }
                }
                flushing.unlock()
                throw error
            }
        }
    }

    static func storageKey(_ key: Key) -> [UInt8] {
        var w = ByteWriter(capacity: 20)
        w.append(keyPrefix)
        w.u32BigEndian(UInt32(truncatingIfNeeded: key.id >> 32))
        w.u32BigEndian(UInt32(truncatingIfNeeded: key.id))
        w.u32BigEndian(UInt32(truncatingIfNeeded: key.epoch >> 32))
        w.u32BigEndian(UInt32(truncatingIfNeeded: key.epoch))
        return w.bytes
    }

    static func encode(_ r: Reservation) -> [UInt8] {
        var w = ByteWriter(capacity: 10)
        w.u8(1)
        w.u64(UInt64(bitPattern: r.high))
        w.u8(r.isCalled ? 1 : 0)
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws -> Reservation {
        var r = ByteReader(bytes, context: "sequence reservation")
        guard try r.u8() == 1 else { throw RedError(.dataCorrupted, "sequence reservation: unknown version") }
        let high = Int64(bitPattern: try r.u64())
        return Reservation(high: high, isCalled: try r.u8() != 0)
    }
}
