import RedCore
import RedEngine

/// Statements PostgreSQL's tools write that RedDB accepts for what they mean here (pg_dump
/// writes both): `ALTER … OWNER TO` and `LOCK TABLE`.
extension DDLExecutor {
    /// Objects have no owners here: what a role may do is RedDB's roles' business, whoever
    /// made the object. So the statement (one per object in a pg_dump) changes nothing once
    /// the object is found; the role is not looked up either.
    func alterOwner(kind: String, name: String, ifExists: Bool) throws -> QueryResult {
        let exists: Bool
        switch kind {
        case "schema": exists = try SchemaCatalog.exists(name, tx)
        case "type": exists = true  // types are checked where used
        case "domain": exists = try DomainCatalog.definition(of: name.hasPrefix("public.") ? String(name.dropFirst(7)) : name, tx) != nil
        case "sequence": exists = (try? context.sequence(named: name)) != nil
        default: exists = try store.open(tx, name) != nil || ViewCatalog.definition(of: name, tx) != nil || (try? context.sequence(named: name)) != nil
        }
        guard exists || ifExists else {
            if kind == "domain" { throw RedError(.undefinedObject, "type \"\(name)\" does not exist") }
            throw RedError(.undefinedCollection, "\(kind == "schema" ? "schema" : "relation") \"\(name)\" does not exist")
        }
        return .message("ALTER \(kind.uppercased())", type: "alter", tag: "ALTER \(kind.uppercased())")
    }

    /// The modes up to ROW EXCLUSIVE conflict only with the stronger ones, which no RedDB
    /// statement takes: writers never wait for readers, and the transaction's snapshot keeps
    /// reading the rows a later DROP or TRUNCATE removes. The stronger modes would have to hold
    /// writers off, which RedDB's writes do not check for, so they are refused rather than
    /// taken in name only.
    func lockTables(_ names: [String], mode: String) throws -> QueryResult {
        guard context.deferredConstraints != nil else {
            throw RedError(.transactionClosed, "LOCK TABLE can only be used in transaction blocks")
        }
        for name in names { _ = try table(name) }
        guard Parser.lockModes.prefix(3).contains(mode) else {
            throw RedError(.featureNotSupported, "LOCK TABLE … IN \(mode) MODE is not supported: RedDB has no table locks that hold writers off; lock the rows (SELECT … FOR UPDATE) or take an advisory lock (pg_advisory_xact_lock)")
        }
        return .message("LOCK TABLE", type: "lock", tag: "LOCK TABLE")
    }
}
