import RedCore
import RedEngine
import Synchronization

/// What one session remembers of the sequences it used: `currval(s)` is the last value
/// nextval gave this session for `s`, `lastval()` the last value it gave for any (PostgreSQL's
/// session-local state; other sessions' nextval calls do not change it).
public final class SessionSequenceValues: Sendable {
    /// A sequence and run (`SequenceDefinition.id`, `epoch`): values of another run never mix.
    private struct Run: Hashable {
        var id: UInt64
        var epoch: UInt64
        init(_ definition: SequenceDefinition) { id = definition.id; epoch = definition.epoch }
    }

    private struct State {
        var byID: [UInt64: Int64] = [:]
        var last: Int64?
        /// Values nextval handed out during an attempt being recorded (`recordAttempt`).
        var taken: [Run: [Int64]]?
        /// Values of a declined attempt, handed out again, in order, before new ones.
        var replay: [Run: [Int64]] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    func note(_ value: Int64, of definition: SequenceDefinition) {
        state.withLock { s in
            if s.byID.count >= 10_000, s.byID[definition.id] == nil { s.byID.removeAll() }
            s.byID[definition.id] = value
            s.last = value
        }
    }

    func current(_ definition: SequenceDefinition) -> Int64? { state.withLock { $0.byID[definition.id] } }

    // MARK: Attempts run again
    //
    // A statement tried without waiting (`Session.executeWithoutWaiting`) may give up after
    // nextval handed it values, to run again on the waiting path. Those values were handed to
    // no one else, so the run again gets them back, in order, instead of new ones: a client
    // sees the ids PostgreSQL would give, with no gap for the attempt it never saw.

    /// Starts recording the values nextval hands out.
    public func recordAttempt() { state.withLock { $0.taken = [:] } }

    /// Stops recording; when the attempt was `declined`, its values are kept for the next
    /// statement's nextval calls.
    public func endAttempt(declined: Bool) {
        state.withLock { s in
            if declined, let taken = s.taken {
                // Ahead of values still kept: an attempt that took kept values and then gave way
                // itself hands the same ones back, in the order it took them.
                for (run, values) in taken { s.replay[run] = values + (s.replay[run] ?? []) }
            }
            s.taken = nil
        }
    }

    /// Drops values kept from a declined attempt that the statement run again did not use
    /// (it took another path, or failed first): they are skipped, as after a rollback.
    public func dropReplay() { state.withLock { if !$0.replay.isEmpty { $0.replay = [:] } } }

    /// A value kept from a declined attempt, if one is left for this sequence's run.
    func replayed(_ definition: SequenceDefinition) -> Int64? {
        state.withLock { s in
            let run = Run(definition)
            guard var values = s.replay[run], !values.isEmpty else { return nil }
            let value = values.removeFirst()
            s.replay[run] = values.isEmpty ? nil : values
            return value
        }
    }

    func recordTaken(_ value: Int64, of definition: SequenceDefinition) {
        state.withLock { s in
            guard s.taken != nil else { return }
            s.taken![Run(definition), default: []].append(value)
        }
    }

    var last: Int64? { state.withLock { $0.last } }

    /// DISCARD SEQUENCES: currval and lastval know nothing again until the next nextval.
    public func forget() { state.withLock { $0 = State() } }
}

/// Sequences as statements use them: the functions nextval, currval, setval and lastval,
/// identity and serial columns' values, and the sequence DDL.
///
/// A column that draws from a sequence names it (`ColumnDefinition.sequence`), and the
/// sequence names its owner (`OWNED BY`): serial and identity columns own theirs, so
/// dropping the table or the column drops the sequence, and TRUNCATE … RESTART IDENTITY
/// restarts it.
extension ExecutionContext {
    /// The sequence `text` names, as nextval's text argument does in PostgreSQL: an unquoted
    /// name is folded to lower case, `"Quoted"` kept, `public.` accepted in front. A sequence of
    /// one of the session's temporary tables is found by `pg_temp.name`, by its stored name (a
    /// serial default's), or by its name when no permanent sequence has it: unlike PostgreSQL's
    /// search path, a permanent one comes first, since permanent tables' defaults name theirs
    /// by text and must never draw from a temporary namesake.
    ///
    /// An unqualified name is looked up along the search path (`SchemaCatalog`); the cache is
    /// kept per path, as a table's default looks its sequence up on the table's own path.
    func sequence(named text: String) throws -> (name: String, definition: SequenceDefinition) {
        let (name, qualified) = try Self.sequenceName(text)
        let path = transaction.searchPath
        let key = qualified || path == nil ? name : "\(path!.joined(separator: ","))/\(name)"
        if let cached = sequenceCache[key] { return (cached.name, cached.definition) }
        for candidate in qualified ? [name] : SchemaCatalog.candidates(for: name, transaction) {
            guard let stored = try store.sequences.storedName(transaction, candidate),
                  let definition = try store.sequences.definition(transaction, stored) else { continue }
            sequenceCache[key] = (candidate, definition)
            return (candidate, definition)
        }
        throw try (qualified ? SchemaCatalog.missingSchema(in: name, transaction) : nil) ?? RedError(.undefinedCollection, "relation \"\(name)\" does not exist")
    }

    static func sequenceName(_ text: String) throws -> (name: String, qualified: Bool) { try RelationNameText.read(text) }

    /// nextval: the sequence's next value, remembered for this session's currval/lastval.
    func nextValue(ofSequence name: String, _ definition: SequenceDefinition) throws -> Int64 {
        guard allowsSequenceWrites else {
            throw RedError(.readOnlyTransaction, "cannot execute nextval() in a read-only transaction")
        }
        if let kept = sessionSequences?.replayed(definition) {
            sessionSequences?.recordTaken(kept, of: definition)
            sessionSequences?.note(kept, of: definition)
            return kept
        }
        let value = try store.sequences.next(definition, name: name)
        sessionSequences?.recordTaken(value, of: definition)
        sessionSequences?.note(value, of: definition)
        return value
    }

    func nextValue(ofSequenceNamed text: String) throws -> Int64 {
        let (name, definition) = try sequence(named: text)
        return try nextValue(ofSequence: name, definition)
    }

    func currentValue(ofSequenceNamed text: String) throws -> Int64 {
        let (name, definition) = try sequence(named: text)
        guard let value = sessionSequences?.current(definition) else {
            throw RedError(.objectNotInPrerequisiteState, "currval of sequence \"\(name)\" is not yet defined in this session")
        }
        return value
    }

    func lastValue() throws -> Int64 {
        guard let last = sessionSequences?.last else {
            throw RedError(.objectNotInPrerequisiteState, "lastval is not yet defined in this session")
        }
        return last
    }

    func setValue(ofSequenceNamed text: String, to value: Int64, isCalled: Bool) throws -> Int64 {
        guard allowsSequenceWrites else {
            throw RedError(.readOnlyTransaction, "cannot execute setval() in a read-only transaction")
        }
        let (name, definition) = try sequence(named: text)
        try store.sequences.set(definition, name: name, to: value, isCalled: isCalled)
        return value
    }
}

/// PostgreSQL's sequence functions.
enum SequenceFunctions {
    static func text(_ v: Value, _ function: String) throws -> String {
        guard case .text(let s) = v else { throw RedError(.undefinedFunction, "function \(function)(\(v.kindName)) does not exist") }
        return s
    }

    static var all: [ScalarFunction] {
        [
            ScalarFunction(name: "nextval", arity: 1...1, acceptsNull: false, isDeterministicWithinStatement: false) { a, c in
                .integer(try c.nextValue(ofSequenceNamed: try text(a[0], "nextval")))
            },
            ScalarFunction(name: "currval", arity: 1...1, acceptsNull: false, isDeterministicWithinStatement: false) { a, c in
                .integer(try c.currentValue(ofSequenceNamed: try text(a[0], "currval")))
            },
            ScalarFunction(name: "lastval", arity: 0...0, acceptsNull: false, isDeterministicWithinStatement: false) { _, c in
                .integer(try c.lastValue())
            },
            ScalarFunction(name: "setval", arity: 2...3, acceptsNull: false, isDeterministicWithinStatement: false) { a, c in
                guard case .integer(let value) = try DataType.integer.coerce(a[1]) else { throw RedError(.datatypeMismatch, "setval() takes a bigint value") }
                var isCalled = true
                if a.count == 3 {
                    guard case .boolean(let b) = try DataType.boolean.coerce(a[2]) else { throw RedError(.datatypeMismatch, "setval() takes a boolean is_called") }
                    isCalled = b
                }
                return .integer(try c.setValue(ofSequenceNamed: try text(a[0], "setval"), to: value, isCalled: isCalled))
            },
            // The sequence a serial or identity column draws from, schema-qualified; NULL for
            // other columns. Table and column names are folded as nextval's are.
            ScalarFunction(name: "pg_get_serial_sequence", arity: 2...2, acceptsNull: false, isDeterministicWithinStatement: true) { a, c in
                let (name, qualified) = try ExecutionContext.sequenceName(try text(a[0], "pg_get_serial_sequence"))
                // Qualified (`public.t`), it is exactly that table; bare, the search path's.
                let table = qualified ? SchemaCatalog.exact(name) : name
                let columnName = try text(a[1], "pg_get_serial_sequence")
                guard let handle = try c.store.open(c.transaction, table) else {
                    throw RedError(.undefinedCollection, "relation \"\(table)\" does not exist")
                }
                guard let column = handle.schema.column(named: columnName) else {
                    throw RedError(.undefinedColumn, "column \"\(columnName)\" of relation \"\(table)\" does not exist")
                }
                guard let sequence = column.sequence else { return .null }
                if TemporaryNamespace.isTemporary(sequence) {
                    return .text("pg_temp." + DDLExecutor.quotedIdentifier(TemporaryNamespace.displayName(of: sequence)))
                }
                let (schema, local) = try SchemaCatalog.split(sequence, c.transaction)
                return .text(DDLExecutor.quotedIdentifier(schema) + "." + DDLExecutor.quotedIdentifier(local))
            },
        ]
    }
}

/// A relation's name written as text (nextval's, `regclass`'s argument).
public enum RelationNameText {
    /// The sequence (or table) a name's text means: `s`, `"S"`, `public.s` → `s` and `app.s`
    /// → `app.s` (`qualified`: not looked up along the search path), `pg_temp.s`.
    public static func read(_ text: String) throws -> (name: String, qualified: Bool) {
        var parts: [String] = []
        var current = ""
        var quoted = false, wasQuoted = false
        let characters = Array(text)
        var i = 0
        while i < characters.count {
            let c = characters[i]
            i += 1
            if quoted {
                if c != "\"" { current.append(c) } else if i < characters.count, characters[i] == "\"" {
                    current.append(c)  // "" inside quotes is one quote
                    i += 1
                } else {
                    quoted = false
                }
            } else if c == "\"" {
                quoted = true
                wasQuoted = true
            } else if c == "." {
                parts.append(wasQuoted ? current : current.lowercased())
                current = ""
                wasQuoted = false
            } else {
                current.append(c)
            }
        }
        parts.append(wasQuoted ? current : current.lowercased())
        guard !quoted, !parts.contains(where: \.isEmpty) else { throw RedError(.syntaxError, "invalid name syntax", condition: "42602") }
        if parts.count > 2 { throw RedError(.featureNotSupported, "cross-database references are not implemented: \"\(text)\"") }
        if parts.count == 2 {
            if parts[0] == "pg_temp" { return (TemporaryNamespace.qualifier + parts[1], true) }
            if parts[0] == "public" || parts[0] == "pg_catalog" { return (parts[1], true) }
            return (SchemaCatalog.physicalName(parts[1], inSchema: parts[0]), true)
        }
        return (parts[0], false)
    }
}
