import RedCore
import RedEngine
import Synchronization

/// The session's side of schemas (`SchemaCatalog`): the search path each of its transactions
/// looks unqualified names up along.
///
/// The path a surface gives (`Session.searchPath`, PG-wire's `search_path` with `$user` as the
/// connected user) is cut to the schemas that exist, as PostgreSQL reads it; public is added
/// last when it is left out (unlike PostgreSQL); a path of `public` alone is nil. So the
/// default `"$user", public` changes nothing where no schema is named after the user: plans
/// and statement descriptions are shared as before. Under another path plans are shared per
/// path (`PlanMemo`) and descriptions are made afresh.
extension Session {
    /// The path `tx` looks names up along (`Transaction.searchPath`), for the statement about
    /// to run: set as a transaction begins and again before each statement, since SET may
    /// change it in between.
    ///
    /// Every statement comes here (some twice), so the answer for a path at a definitions
    /// version is kept (`lastSearchPath`): one lock and a comparison of a few names after that.
    func applySearchPath(_ tx: Transaction) {
        guard let path = searchPath(), path != [SchemaCatalog.publicSchema] else {
            tx.searchPath = nil
            return
        }
        let definitions = database.engine.definitionState
        let current = tx.snapshot >= definitions.changeTS && !tx.hasDefinitionWrites
        if current, let kept = lastSearchPath.withLock({ $0 }), kept.version == definitions.version, kept.path == path {
            tx.searchPath = kept.effective
            return
        }
        // Unreadable, the catalog keeps every schema named: one that does not exist holds
        // nothing, so the lookup only misses there; the statement meets the storage error.
        let created = (try? Set(SchemaCatalog.all(tx).map(\.name))) ?? Set(path)
        var existing = path.filter { SchemaCatalog.builtIn.contains($0) || created.contains($0) }
        // Public is searched last when the path leaves it out: RedDB's own dumps (view texts,
        // defaults, REFERENCES) name public's relations bare, and pg_dump restores them under
        // an empty path.
        if !existing.contains(SchemaCatalog.publicSchema) { existing.append(SchemaCatalog.publicSchema) }
        let effective = existing == [SchemaCatalog.publicSchema] ? nil : existing
        if current { lastSearchPath.withLock { $0 = (definitions.version, path, effective) } }
        tx.searchPath = effective
    }
}
