import RedCore
import RedQuery

/// The built-in types `pg_type` lists: those RedDB's columns travel as (`PGType`), the
/// catalog's own (`oid`, `name`, `"char"`, `int2vector`, `regclass` …), and the array
/// type of each. Facts from PostgreSQL's catalog: OIDs, names, lengths and categories.
struct PGBuiltinType: Sendable {
    let oid: Int64
    let name: String
    /// `format_type`'s spelling (`bigint`, `timestamp without time zone`).
    let formatted: String
    let length: Int64
    let category: String
    let element: Int64
    let array: Int64

    static let all: [PGBuiltinType] = {
        let base: [(Int64, String, String, Int64, String, Int64)] = [
            (16, "bool", "boolean", 1, "B", 1000), (17, "bytea", "bytea", -1, "U", 1001), (18, "char", "\"char\"", 1, "Z", 1002),
            (19, "name", "name", 64, "S", 1003), (20, "int8", "bigint", 8, "N", 1016), (21, "int2", "smallint", 2, "N", 1005),
            (22, "int2vector", "int2vector", -1, "A", 1006), (23, "int4", "integer", 4, "N", 1007), (24, "regproc", "regproc", 4, "N", 1008),
            (25, "text", "text", -1, "S", 1009), (26, "oid", "oid", 4, "N", 1028), (30, "oidvector", "oidvector", -1, "A", 1013),
            (114, "json", "json", -1, "U", 199), (700, "float4", "real", 4, "N", 1021), (701, "float8", "double precision", 8, "N", 1022),
            (705, "unknown", "unknown", -2, "X", 0), (1042, "bpchar", "character", -1, "S", 1014),
            (1043, "varchar", "character varying", -1, "S", 1015), (1082, "date", "date", 4, "D", 1182),
            (1083, "time", "time without time zone", 8, "D", 1183), (1114, "timestamp", "timestamp without time zone", 8, "D", 1115),
            (1184, "timestamptz", "timestamp with time zone", 8, "D", 1185), (1186, "interval", "interval", 16, "T", 1187),
            (1700, "numeric", "numeric", -1, "N", 1231), (2205, "regclass", "regclass", 4, "N", 2210), (2206, "regtype", "regtype", 4, "N", 2211),
            (2950, "uuid", "uuid", 16, "U", 2951), (3802, "jsonb", "jsonb", -1, "U", 3807),
            (1560, "bit", "bit", -1, "V", 1561), (1562, "varbit", "bit varying", -1, "V", 1563),
            (16_300, "vector", "vector", -1, "U", 16_301),
            // Pseudo-types: what a function returning rows of several columns, or nothing, returns (pg_proc.prorettype).
            (2249, "record", "record", -1, "P", 2287), (2278, "void", "void", 4, "P", 0),
            (2279, "trigger", "trigger", 4, "P", 0),
        ]
        var types: [PGBuiltinType] = []
        for (oid, name, formatted, length, category, array) in base {
            types.append(PGBuiltinType(oid: oid, name: name, formatted: formatted, length: length, category: category, element: 0, array: array))
            if array != 0 {
                types.append(PGBuiltinType(oid: array, name: "_" + name, formatted: formatted + "[]", length: -1, category: "A", element: oid, array: 0))
            }
        }
        return types
    }()

    static let byOID: [Int64: PGBuiltinType] = Dictionary(all.map { ($0.oid, $0) }, uniquingKeysWith: { a, _ in a })

    /// By `typname` and by `format_type`'s spelling (`'integer'::regtype`, `'int4'::regtype`).
    static let byName: [String: PGBuiltinType] = {
        var table: [String: PGBuiltinType] = [:]
        for type in all.reversed() {
            table[type.name] = type
            table[type.formatted] = type
        }
        return table
    }()

    /// The type a RedDB column's values travel as (`element`: a `T[]` column's).
    static func of(_ type: DataType, element: DataType? = nil) -> PGBuiltinType {
        let oid = type == .array ? element.map { PGArrayCodec.arrayOID(of: PGType($0).oid) } ?? PGType.jsonb.oid : PGType(type).oid
        return byOID[Int64(oid)] ?? byOID[25]!
    }
}
