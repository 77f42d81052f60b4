import RedCore
import RedEngine
import RedQuery

/// The session's side of temporary tables (`TemporaryNamespace`, `TemporaryTables`): every
/// transaction it begins carries its namespace, ON COMMIT actions run before each commit, and
/// DISCARD TEMP drops the tables (DISCARD SEQUENCES, beside it, forgets currval's values). The
/// session's end drops them too (`Session` deinit).
extension Session {
    /// Whether the session has made temporary tables (it may have some): work for it must run
    /// on it, not on a helper session, which cannot see them.
    public var hasTemporaryTables: Bool { temporaryTables.isUsed }

    /// A transaction of this session: its temporary tables are reachable in it.
    func beginTransaction() throws -> Transaction {
        let tx = try database.engine.begin()
        tx.temporaryNamespace = temporaryTables
        applySearchPath(tx)
        return tx
    }

    /// Runs the ON COMMIT actions of the temporary tables in `tx`, which is about to commit.
    func applyOnCommitActions(_ tx: Transaction) throws {
        guard temporaryTables.hasOnCommitActions else { return }
        try executor(tx, []).applyOnCommitActions()
    }

    /// DISCARD SEQUENCES: currval and lastval forget the values nextval gave this session.
    public func discardSequenceValues() { sequenceValues.forget() }

    /// DISCARD TEMP: drops the session's temporary tables now, in the open transaction block
    /// or in a transaction of its own.
    public func discardTemporaryTables() async throws {
        try await asRequest {
            guard temporaryTables.isUsed else { return }
            switch state {
            case .active(let tx):
                _ = try executor(tx, []).dropTemporaryTables()
            case .failed:
                throw RedError(.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
            case .idle:
                let tx = try beginTransaction()
                do {
                    _ = try executor(tx, []).dropTemporaryTables()
                    try await tx.commit()
                } catch {
                    tx.rollback()
                    throw error
                }
            }
        }
    }
}

extension Session {
    /// Refuses (0A000) a statement that writes `public.t` while the session has a temporary
    /// table `t`. PostgreSQL would reach the permanent table; here the parser drops `public.`,
    /// so the temporary one would answer instead — a silent write to the wrong table. Only a
    /// session with temporary tables, and only text holding `public.`, is looked at (its
    /// literals and comments too: a false alarm refuses a statement, it never misplaces rows).
    func refuseHiddenPublicNames(_ sql: String) throws {
        guard temporaryTables.isUsed else { return }
        let qualified = Self.publicQualifiedNames(in: sql)
        guard !qualified.isEmpty else { return }
        let temporary = try readCatalog { try database.store.listTemporary($0) }
        if let hidden = temporary.first(where: { qualified.contains($0.name) }) {
            abortOpenTransaction()
            throw RedError(.featureNotSupported, "public.\(hidden.name) is hidden by this session's temporary table \"\(hidden.name)\"",
                           detail: "Here a temporary table answers to its name even written public.\(hidden.name) (PostgreSQL would read the permanent table). Give the temporary table another name.")
        }
    }

    /// The names `sql` qualifies with the schema `public` (`public.t`, `"public"."T"`), folded
    /// as identifiers are.
    static func publicQualifiedNames(in sql: String) -> Set<String> {
        let bytes = Array(sql.utf8)
        func isWordByte(_ b: UInt8) -> Bool { b >= 0x80 || b == UInt8(ascii: "_") || b == UInt8(ascii: "$") || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) || (b >= 0x30 && b <= 0x39) }
        let word = Array("public".utf8)
        var names: Set<String> = []
        var i = 0
        while i < bytes.count {
            var end: Int?
            if bytes[i] == UInt8(ascii: "\""), i + 8 <= bytes.count, Array(bytes[(i + 1)..<(i + 7)]) == word, bytes[i + 7] == UInt8(ascii: "\"") {
                end = i + 8
            } else if i + 6 <= bytes.count, (i == 0 || !isWordByte(bytes[i - 1])), bytes[i..<(i + 6)].map({ $0 | 0x20 }) == word {
                end = i + 6
            }
            guard let after = end, after < bytes.count, bytes[after] == UInt8(ascii: "."), after + 1 < bytes.count else {
                i += 1
                continue
            }
            var j = after + 1
            if bytes[j] == UInt8(ascii: "\"") {
                var name: [UInt8] = []
                j += 1
                while j < bytes.count {
                    if bytes[j] == UInt8(ascii: "\"") {
                        if j + 1 < bytes.count, bytes[j + 1] == UInt8(ascii: "\"") { name.append(bytes[j]); j += 2; continue }
                        break
                    }
                    name.append(bytes[j])
                    j += 1
                }
                names.insert(String(decoding: name, as: UTF8.self))
            } else {
                let start = j
                while j < bytes.count, isWordByte(bytes[j]) { j += 1 }
                if j > start { names.insert(String(decoding: bytes[start..<j], as: UTF8.self).lowercased()) }
            }
            i = max(j, i + 1)
        }
        return names
    }
}
