import RedCore
import RedStorage

/// Temporary tables in the table store (see `TemporaryNamespace`): looking a name up among one
/// kind only, listing a session's tables, their collection names, and dropping them.
extension TableStore {
    /// The table `name` among the session's temporary tables (`temporary`) or among the
    /// permanent ones only: what a foreign key names lies beside the table that declares it.
    public func open(_ tx: Transaction, _ name: String, temporary: Bool) throws -> TableHandle? {
        let (name, temporaryOnly) = TemporaryNamespace.unqualified(name)
        guard temporary || temporaryOnly else { return name.hasPrefix("__") ? nil : try openCollection(tx, SchemaCatalog.canonical(name)) }
        guard let namespace = tx.temporaryNamespace, namespace.isUsed,
              let handle = try openCollection(tx, namespace.physicalName(name)) else { return nil }
        namespace.noteOpened()
        return handle
    }

    /// Every table `tx`'s session can reach by name: its temporary tables, then the permanent
    /// ones (a temporary table first, where both have a name).
    public func listReachable(_ tx: Transaction) throws -> [TableHandle] {
        try listTemporary(tx) + list(tx)
    }

    /// The temporary tables of `tx`'s session, ordered by name.
    public func listTemporary(_ tx: Transaction) throws -> [TableHandle] {
        guard let namespace = tx.temporaryNamespace, namespace.isUsed else { return [] }
        return try tx.collections(startingWith: namespace.prefix).map { try handle(tx, $0) }
    }

    /// The collection name of the temporary table `name` of `tx`'s session.
    public static func temporaryName(_ tx: Transaction, _ name: String) throws -> String {
        guard let namespace = tx.temporaryNamespace else {
            throw RedError(.featureNotSupported, "temporary tables belong to a session; this statement runs outside one")
        }
        let physical = namespace.physicalName(name)
        guard physical.utf8.count <= Collection.maxNameBytes else {
            throw RedError(.invalidArgument, "temporary table names are at most \(Collection.maxNameBytes - namespace.prefix.utf8.count) bytes of UTF-8")
        }
        return physical
    }

    /// Drops the temporary tables, with their indexes and sequences, whose collection names
    /// `matching` accepts (a session's at its end; those of dead processes at VACUUM) and
    /// returns how many. No view or permanent table may depend on a temporary table, so
    /// nothing else changes.
    @discardableResult
    public func dropTemporaryTables(_ tx: Transaction, matching: (String) -> Bool) throws -> Int {
        var dropped = 0
        for collection in try tx.collections(startingWith: TemporaryNamespace.marker) where matching(collection.name) {
            try drop(tx, try handle(tx, collection))
            dropped += 1
        }
        for sequence in try sequences.all(tx) where TemporaryNamespace.isTemporary(sequence.name) && matching(sequence.name) {
            try sequences.remove(tx, sequence.name)
        }
        return dropped
    }
}
