import Foundation
import RedCore
import RedEngine

/// PostgreSQL's SQL-language functions: `CREATE FUNCTION add(a int, b int) RETURNS int
/// LANGUAGE sql IMMUTABLE AS $$ SELECT a + b $$`, then `add(x, 1)` wherever an expression
/// goes, and functions returning rows (`RETURNS TABLE (…)`, `RETURNS SETOF type`) in FROM.
///
/// A function is kept in the engine's catalog storage under `function/<name>` as JSON (the
/// `FunctionSpec` as written; one entry per argument-type list, for functions that share a
/// name), so it changes transactionally with other DDL.
///
/// **Calls are inlined**, as PostgreSQL inlines simple SQL functions: the binder replaces the
/// call with the body, its parameters (by name, `f.name` or `$n`) standing for the arguments,
/// each cast to its declared type, the result cast to the declared one (`FunctionInlining`).
/// A body of one expression without FROM, reading only its parameters, is substituted directly
/// when every argument is evaluated as often as before; any other body becomes a subquery over
/// a one-row derived table of the arguments (`$args`, read by `$n`) and a row of the named ones
/// (named after the function, read by name or `f.name`):
///
///     (SELECT CAST((body) AS result) FROM (SELECT CAST(arg AS type) AS "$1", …) AS "$args",
///                                         LATERAL (SELECT "$1" AS name, …) AS f)
///
/// so each argument is evaluated once, a name in the body means a column of the body's own
/// tables before a parameter (PostgreSQL's rule) and never the caller's (`Scope.barrier`), and
/// STRICT is `WHERE` every argument `IS NOT NULL`. A scalar function's body gives its first
/// row, or NULL for none; OUT parameters are the result's columns (`tableColumns`).
///
/// Limits and differences from PostgreSQL: the body is one SELECT or VALUES query (no INSERT,
/// UPDATE or DELETE, no several statements); LANGUAGE plpgsql, VARIADIC arguments, a record as
/// a value and recursion (direct or through other functions) are refused with 0A000; argument
/// types are told apart by RedDB's types, so `f(int)` and `f(bigint)` are the same function;
/// the body is checked when the function is created, then bound anew at each use (a table it
/// reads that changes since may make calls fail); functions belong to no schema; what calls a
/// function is found by its name in stored SQL (`users(of:)`), so DROP and RENAME see views,
/// indexes, defaults and checks but not which of several same-named functions they call.
enum FunctionCatalog {
    static let prefix = Array("function/".utf8)
    static let maxArguments = 100
    /// Most functions a name may have (different argument types).
    static let maxOverloads = 64
    /// Longest body kept, in bytes.
    static let maxBodyBytes = 1 << 20
    /// Deepest chain of functions calling functions one expression may inline.
    static let maxInliningDepth = 32
    /// How the parser marks `table.column%TYPE` in a parameter's or result's type, for CREATE
    /// FUNCTION to resolve (`DDLExecutor.resolvingTypeReferences`).
    static let typeReferenceSuffix = "%TYPE"
    /// Most calls of SQL functions one statement may inline, however they nest or repeat.
    static let maxInlinedCalls = 10_000

    static func key(_ name: String) -> [UInt8] { prefix + Array(name.utf8) }

    /// Every function called `name` (none: empty).
    static func overloads(of name: String, _ tx: Transaction) throws -> [FunctionSpec] {
        guard let bytes = try tx.catalogGet(key(name)) else { return [] }
        return try decode(bytes, name: name)
    }

    static func decode(_ bytes: [UInt8], name: String) throws -> [FunctionSpec] {
        do { return try JSONDecoder().decode([FunctionSpec].self, from: Data(bytes)) } catch {
            throw RedError(.dataCorrupted, "the definition of function \(name) does not decode: \(error)")
        }
    }

    /// Stores the functions called `name` (none: the record goes).
    static func store(_ name: String, _ functions: [FunctionSpec], _ tx: Transaction) throws {
        guard !functions.isEmpty else {
            _ = try tx.catalogDelete(key(name))
            return
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try tx.catalogPut(key(name), Array(try encoder.encode(functions)))
    }

    /// Every function, by name.
    static func all(_ tx: Transaction) throws -> [FunctionSpec] {
        let cursor = try tx.catalogScan(.prefix(prefix))
        var out: [FunctionSpec] = []
        while let (k, v) = try cursor.next() {
            out += try decode(v, name: String(decoding: k.dropFirst(prefix.count), as: UTF8.self))
        }
        return out
    }

    /// A type as RedDB tells types apart: `integer` and `int8` are one, `text[]` and `int[]` two.
    static func identity(ofType text: String) throws -> String {
        var parser = try Parser("value \(text)")
        let spec = try parser.parseColumnSpec()
        if let named = spec.namedType { return named }
        return spec.type.rawValue + (spec.arrayElement.map { "[\($0.rawValue)]" } ?? "")
    }

    /// The identities of `function`'s argument types: what CREATE OR REPLACE and DROP match.
    static func signature(_ types: [String]) throws -> [String] { try types.map(identity(ofType:)) }

    /// `name(type, …)` as PostgreSQL's messages write a function.
    static func described(_ name: String, _ types: [String]) -> String { "\(name)(\(types.joined(separator: ", ")))" }

    /// `CAST(expr AS type)` for a type as written, which may declare widths, arrays, an enum
    /// type or a domain (each cast as a column of it would be).
    static func cast(_ expr: Expr, to type: String) throws -> Expr {
        var parser = try Parser("CAST($1 AS \(type))")
        return try parser.parseExpression().replacing { e in
            if case .parameter(1) = e { return expr }
            return nil
        }
    }

    /// Whether the token at `i` calls a SQL function that is not IMMUTABLE (under any of its
    /// argument types): what index expressions and generated columns refuse (42P17).
    static func callsMutableFunction(_ tokens: [Token], at i: Int, _ tx: Transaction) throws -> Bool {
        guard case .identifier(let word, _) = tokens[i].kind, i + 1 < tokens.count, tokens[i + 1].kind == .symbol("(") else { return false }
        return try overloads(of: word, tx).contains { $0.volatility != "i" }
    }

    /// Where `name` is called in the database's stored SQL (views, index expressions and
    /// predicates, defaults, generated columns, checks, other functions' argument defaults), as
    /// PostgreSQL's DROP FUNCTION lists what depends on it. Other functions' bodies do not count,
    /// as in PostgreSQL, which records nothing for them. Found by the call's tokens, so a
    /// function of the same name under other argument types counts too. Triggers call the
    /// function of no arguments only (`triggerFunction`: whether that is the one meant).
    static func users(of name: String, _ tx: Transaction, _ store: TableStore, triggerFunction: Bool = true) throws -> [String] {
        func calls(_ sql: String?) -> Bool {
            guard let sql, sql.lowercased().contains(name.lowercased()), let tokens = try? Lexer.tokenize(sql, limits: ParserLimits()) else { return false }
            return tokens.indices.contains { i in
                if case .identifier(name, _) = tokens[i].kind, i + 1 < tokens.count, tokens[i + 1].kind == .symbol("(") { return true }
                return false
            }
        }
        var users: [String] = []
        for view in try ViewCatalog.all(tx) where calls(view.definition.query) { users.append("view \(view.name)") }
        for table in try store.list(tx) {
            let schema = table.schema
            if calls(schema.materializedQuery) { users.append("materialized view \(table.name)") }
            for index in schema.indexes where (index.expressions ?? []).contains(where: calls) || calls(index.predicate) {
                users.append("index \(index.name)")
            }
            for column in schema.columns where calls(column.defaultSQL) || calls(column.generatedSQL) {
                users.append("\(column.generatedSQL != nil ? "generated column" : "default value for column") \(column.name) of table \(table.name)")
            }
            for check in schema.checks ?? [] where calls(check.sql) { users.append("constraint \(check.name) on table \(table.name)") }
            for trigger in schema.triggerList where (triggerFunction && trigger.functionName == name) || calls(trigger.whenSQL) {
                users.append("trigger \(trigger.name) on table \(table.localName)")
            }
        }
        for domain in try DomainCatalog.all(tx) where calls(domain.definition.defaultSQL) || domain.definition.checks.contains(where: { calls($0.sql) }) {
            users.append("type \(domain.name)")
        }
        for function in try all(tx) where function.name != name {
            if function.arguments.contains(where: { calls($0.defaultSQL) }) { users.append("function \(function.name)") }
        }
        return users
    }

    /// The body's one query, or a clear refusal (checked by CREATE FUNCTION, again at each use).
    static func bodyQuery(_ function: FunctionSpec) throws -> Query {
        let statements = try Parser.parseScript(function.body)
        guard statements.count == 1, case .query(let query) = statements[0].0 else {
            throw RedError(.featureNotSupported, "the body of SQL function \(function.name) must be one SELECT or VALUES query here (INSERT, UPDATE, DELETE and several statements are not supported yet)")
        }
        let command = query.containsTableRef { ref in
            switch ref {
            case .vectorSearch, .command: return true
            default: return false
            }
        }
        if command {
            throw RedError(.featureNotSupported, "the body of SQL function \(function.name) may not run VECTOR SEARCH, SEARCH or GRAPH commands in FROM")
        }
        return query
    }
}
