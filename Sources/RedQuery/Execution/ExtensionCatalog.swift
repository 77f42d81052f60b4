import RedCore
import RedEngine

/// `CREATE EXTENSION` for the PostgreSQL extensions whose features RedDB has built in, so the
/// migrations that start with one (`CREATE EXTENSION IF NOT EXISTS vector;`) run unchanged:
///
/// | extension | what RedDB provides |
/// |---|---|
/// | `vector` (pgvector) | the `vector(n)` type, `<->` `<=>` `<#>` `<+>`, `l2_distance` … (`VectorFunctions`) |
/// | `pgcrypto` | `gen_random_uuid()`, `digest()`, `hmac()` |
/// | `uuid-ossp` | `uuid_generate_v4()` |
/// | `plpgsql` | always installed, as in PostgreSQL (no PL/pgSQL functions run here) |
///
/// The features are there whether or not the extension was created; what CREATE and DROP
/// change is the record `pg_extension` lists, kept in the engine's catalog storage under
/// `extension/<name>` (JSON `{"version": …}`) so it changes transactionally with other DDL.
/// CREATE of an extension already created is 42710 (a NOTICE with IF NOT EXISTS); any other
/// name is 0A000, as PostgreSQL 16 words it. DROP removes the record only: the types and
/// functions are built in, so columns of type `vector` keep their data (PostgreSQL's CASCADE
/// would drop them).
/// The extensions `CREATE EXTENSION` accepts: name, the version `pg_extension` shows, and
/// what `pg_available_extensions` says of it.
public enum BuiltinExtensions {
    public static let all: [(name: String, version: String, comment: String)] = [
        ("pgcrypto", "1.3", "cryptographic functions (built in: gen_random_uuid, digest, hmac)"),
        ("plpgsql", "1.0", "PL/pgSQL procedural language (installed; functions in it are not run)"),
        ("uuid-ossp", "1.1", "generate universally unique identifiers (built in: uuid_generate_v4)"),
        ("vector", "0.8.0", "vector data type and distance operators (built in, exact search)"),
    ]
}

enum ExtensionCatalog {
    /// Name → the version `pg_extension.extversion` shows.
    static let available = Dictionary(BuiltinExtensions.all.map { ($0.name, $0.version) }, uniquingKeysWith: { a, _ in a })
    /// Installed in every database, as PostgreSQL's template does.
    static let preinstalled: Set<String> = ["plpgsql"]

    static let prefix = Array("extension/".utf8)

    static func key(_ name: String) -> [UInt8] { prefix + Array(name.utf8) }

    /// The installed extensions with their versions, by name.
    static func all(_ tx: Transaction) throws -> [(name: String, version: String)] {
        var out = preinstalled.map { ($0, available[$0] ?? "1.0") }
        let cursor = try tx.catalogScan(.prefix(prefix))
        while let (k, v) = try cursor.next() {
            let name = String(decoding: k.dropFirst(prefix.count), as: UTF8.self)
            let version = (try? JSONValue.parse(String(decoding: v, as: UTF8.self)))?["version"].flatMap { json -> String? in
                if case .string(let s) = json { return s }
                return nil
            }
            out.append((name, version ?? available[name] ?? ""))
        }
        return out.sorted { $0.0 < $1.0 }
    }

    static func isInstalled(_ name: String, _ tx: Transaction) throws -> Bool {
        try preinstalled.contains(name) || tx.catalogGet(key(name)) != nil
    }

    static func create(_ name: String, ifNotExists: Bool, _ tx: Transaction) throws -> QueryResult {
        guard let version = available[name] else {
            throw RedError(.featureNotSupported, "extension \"\(name)\" is not available",
                           detail: "RedDB has these extensions built in: \(available.keys.sorted().joined(separator: ", ")).")
        }
        if try isInstalled(name, tx) {
            guard ifNotExists else { throw RedError(.duplicateObject, "extension \"\(name)\" already exists") }
            return .message("extension \"\(name)\" already exists, skipping", type: "create", tag: "CREATE EXTENSION")
        }
        try tx.catalogPut(key(name), JSONValue.object([("version", .string(version))]).utf8)
        return .message("extension \(name) created", type: "create", tag: "CREATE EXTENSION")
    }

    static func drop(_ names: [String], ifExists: Bool, _ tx: Transaction) throws -> QueryResult {
        var skipped: [String] = []
        for name in names {
            if preinstalled.contains(name) {
                throw RedError(.featureNotSupported, "extension \"\(name)\" is part of every RedDB database and cannot be dropped")
            }
            guard try tx.catalogDelete(key(name)) else {
                guard ifExists else { throw RedError(.undefinedObject, "extension \"\(name)\" does not exist") }
                skipped.append("extension \"\(name)\" does not exist, skipping")
                continue
            }
        }
        return .message("extension dropped", type: "drop", tag: "DROP EXTENSION", notices: skipped)
    }
}
