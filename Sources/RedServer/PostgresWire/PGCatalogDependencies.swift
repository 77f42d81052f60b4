import RedCore
import RedQuery

/// `pg_depend` rows for what clients order objects by — pg_dump above all, which sorts its
/// output by them so that a restore creates everything before what needs it:
/// - a sequence owned by a column (`SERIAL`, `OWNED BY`) depends on it (`a`; `i` for an
///   identity column's), so pg_dump writes `ALTER SEQUENCE … OWNED BY` and the column's
///   `DEFAULT nextval(…)` apart, after the sequence;
/// - a column default that calls `nextval('s')` depends on the sequence `s` (`n`);
/// - a view (or materialized view) depends on the tables and views its query names (`n`). PostgreSQL records this
///   against the view's rewrite rule; RedDB has no rules, so the row names the view itself,
///   which pg_dump reads the same way. The names are found by the words of the view's text,
///   so a column or alias spelt like another relation adds a harmless extra dependency.
extension PGCatalogModel {
    static let pgClass: Int64 = 1259, pgAttrdef: Int64 = 2604

    var dependencies: [[String: Value]] {
        var rows: [[String: Value]] = []
        func row(_ classid: Int64, _ objid: Int64, _ refobjid: Int64, _ refobjsubid: Int64 = 0, type deptype: String) {
            rows.append(["classid": .integer(classid), "objid": .integer(objid), "refclassid": .integer(Self.pgClass),
                         "refobjid": .integer(refobjid), "refobjsubid": .integer(refobjsubid), "deptype": .text(deptype)])
        }
        for r in relations {
            if let sequence = r.sequence, let table = sequence.ownerTable.flatMap(relation(named:)),
               let column = sequence.ownerColumn, let position = table.columns.firstIndex(where: { $0.name == column }) {
                row(Self.pgClass, r.oid, table.oid, Int64(position + 1), type: table.columns[position].identity == nil ? "a" : "i")
            }
            if r.kind == "r" {
                for column in r.columns {
                    guard let sql = column.defaultSQL, let sequence = Self.sequenceCalled(in: sql).flatMap(relation(named:)) else { continue }
                    row(Self.pgAttrdef, Self.defaultOID(table: r.qualifiedName, column: column.name), sequence.oid, type: "n")
                }
            }
            if let query = r.view?.query ?? r.table?.schema.materializedQuery {
                // A word may name a relation in any schema (`shop.orders` is two words); every
                // relation it may name is a dependency, the extra ones harmless.
                let schemas = schemas.map(\.name)
                for word in Self.words(of: query) {
                    for name in [word] + schemas.map({ "\($0).\(word)" }) where name != r.qualifiedName {
                        if let used = relation(named: name), used.kind == "r" || used.kind == "v" || used.kind == "m" { row(Self.pgClass, r.oid, used.oid, type: "n") }
                    }
                }
            }
        }
        return rows
    }

    /// pg_attrdef's OID for a column's default (its row there carries the same).
    static func defaultOID(table: String, column: String) -> Int64 { stableOID("\(table).\(column)", kind: "default") }

    /// The sequence `nextval('name')` (or `nextval('name'::regclass)`) calls in a default, if any.
    static func sequenceCalled(in sql: String) -> String? {
        guard let call = sql.range(of: "nextval('") else { return nil }
        let rest = sql[call.upperBound...]
        guard let end = rest.firstIndex(of: "'") else { return nil }
        var name = String(rest[..<end])
        if name.hasPrefix("public.") { name.removeFirst("public.".count) }
        return name.replacingOccurrences(of: "\"", with: "")
    }

    /// The identifier-like words of SQL text, lower-cased unless quoted (each once).
    static func words(of sql: String) -> Set<String> {
        var words: Set<String> = []
        var current = "", quoted = false
        func flush() {
            if !current.isEmpty { words.insert(quoted ? current : current.lowercased()) }
            current = ""; quoted = false
        }
        for c in sql {
            if c == "\"" {
                if quoted { flush() } else { flush(); quoted = true }
            } else if quoted || c.isLetter || c.isNumber || c == "_" {
                current.append(c)
            } else {
                flush()
            }
        }
        flush()
        return words
    }
}
