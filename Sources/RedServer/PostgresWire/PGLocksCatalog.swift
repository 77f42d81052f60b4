import RedCore
import RedQuery

/// `pg_locks`, with PostgreSQL 15's columns: one row per advisory lock a session holds (one
/// per mode it holds it in) and per request waiting for one (`granted` false) — the only
/// locks RedDB keeps (`LockTable`). A bigint key shows as its high and low halves in
/// `classid`/`objid` with `objsubid` 1, an integer pair as its two integers with `objsubid` 2,
/// as PostgreSQL shows them, so `WHERE locktype = 'advisory' AND objid = …` finds a lock.
enum PGLocksCatalog {
    static let columns: [SurfaceColumn] = [
        SurfaceColumn("locktype", .text), SurfaceColumn("database", .integer), SurfaceColumn("relation", .integer),
        SurfaceColumn("page", .integer), SurfaceColumn("tuple", .integer), SurfaceColumn("virtualxid", .text),
        SurfaceColumn("transactionid", .integer), SurfaceColumn("classid", .integer), SurfaceColumn("objid", .integer),
        SurfaceColumn("objsubid", .integer), SurfaceColumn("virtualtransaction", .text), SurfaceColumn("pid", .integer),
        SurfaceColumn("mode", .text), SurfaceColumn("granted", .boolean), SurfaceColumn("fastpath", .boolean),
        SurfaceColumn("waitstart", .timestamp),
    ]

    static func relation(_ locks: LockTable) -> SurfaceRelation {
        SurfaceRelation(columns: columns) { _ in
            locks.rows().map { row -> [Value] in
                [.text("advisory"), .integer(PGCatalogModel.databaseOID), .null, .null, .null, .null, .null,
                 .integer(Int64(row.key.classID)), .integer(Int64(row.key.objectID)), .integer(Int64(row.key.subID)),
                 .text("\(row.processID)/1"), .integer(Int64(row.processID)), .text(row.shared ? "ShareLock" : "ExclusiveLock"),
                 .boolean(row.granted), .boolean(false), .null]
            }
        }
    }
}
