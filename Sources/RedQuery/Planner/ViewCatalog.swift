import RedCore
import RedEngine

/// A stored view: its query text and optional output column names.
struct ViewDefinition: Sendable {
    var query: String
    var columns: [String]
}

/// View definitions, kept in the engine's catalog storage under `view/<name>` as
/// JSON `{"query": "...", "columns": [...]}`, so they change transactionally with DDL.
///
/// Views are expanded by re-planning their text on every use; dependencies are
/// found by reading that text (tables and column names it mentions), which is
/// what DROP TABLE / DROP COLUMN consult before removing something a view uses.
enum ViewCatalog {
    static let prefix = Array("view/".utf8)
    static func key(_ name: String) -> [UInt8] { prefix + Array(name.utf8) }

    static func definition(of name: String, _ tx: Transaction) throws -> ViewDefinition? {
        let name = SchemaCatalog.canonical(name)
        guard let bytes = try tx.catalogGet(key(name)) else { return nil }
        return try decode(bytes, name: name)
    }

    static func decode(_ bytes: [UInt8], name: String) throws -> ViewDefinition {
        guard let json = try? JSONValue.parse(String(decoding: bytes, as: UTF8.self)), case .string(let query)? = json["query"] else {
            throw RedError(.dataCorrupted, "the definition of view \(name) does not decode")
        }
        var columns: [String] = []
        if case .array(let items)? = json["columns"] { columns = items.compactMap { if case .string(let s) = $0 { return s } else { return nil } } }
        return ViewDefinition(query: query, columns: columns)
    }

    static func store(_ name: String, _ definition: ViewDefinition, _ tx: Transaction) throws {
        let json = JSONValue.object([("query", .string(definition.query)), ("columns", .array(definition.columns.map { .string($0) }))])
        try tx.catalogPut(key(name), json.utf8)
    }

    static func remove(_ name: String, _ tx: Transaction) throws -> Bool { try tx.catalogDelete(key(name)) }

    /// The view a name a user wrote means: looked up along the search path when unqualified.
    static func resolve(_ name: String, _ tx: Transaction) throws -> (name: String, definition: ViewDefinition)? {
        for candidate in SchemaCatalog.candidates(for: name, tx) {
            if let definition = try definition(of: candidate, tx) { return (candidate, definition) }
        }
        return nil
    }

    /// Every view, by name.
    static func all(_ tx: Transaction) throws -> [(name: String, definition: ViewDefinition)] {
        let cursor = try tx.catalogScan(.prefix(prefix))
        var out: [(String, ViewDefinition)] = []
        while let (k, v) = try cursor.next() {
            let name = String(decoding: k.dropFirst(prefix.count), as: UTF8.self)
            out.append((name, try decode(v, name: name)))
        }
        return out
    }

    /// Views whose query reads `table` (and, when given, mentions `column` or uses `*`). A bare
    /// name in a view of schema `app` is `app.t` when that relation exists, else public's `t`
    /// (`SchemaCatalog.homePath`).
    static func dependents(of table: String, column: String? = nil, _ tx: Transaction) throws -> [String] {
        try all(tx).filter { view in
            guard var parser = try? Parser(view.definition.query), let query = try? parser.parseQuery() else { return false }
            var names = QueryNames()
            names.visit(query)
            let home = SchemaCatalog.homePath(of: view.name)?.first
            let reads = try names.tables.contains { written in
                guard let home, !written.contains(".") else { return SchemaCatalog.canonical(written) == table }
                let inHome = "\(home).\(written)"
                let homeHasIt = try tx.collectionIfExists(named: inHome) != nil || definition(of: inHome, tx) != nil
                return (homeHasIt ? inHome : written) == table
            }
            guard reads else { return false }
            guard let column else { return true }
            return names.star || names.columns.contains(column)
        }.map(\.name)
    }
}

/// Table and column names a query mentions (conservatively: any path segment counts as a column name).
struct QueryNames {
    var tables = Set<String>()
    var columns = Set<String>()
    var star = false

    mutating func visit(_ query: Query) {
        for cte in query.with { visit(cte.query) }
        visit(query.body)
        for item in query.orderBy { visit(item.expr) }
        if let l = query.limit { visit(l) }
        if let o = query.offset { visit(o) }
    }

    mutating func visit(_ body: QueryBody) {
        switch body {
        case .select(let s):
            for item in s.items { visit(item.expr) }
            for e in s.distinctOn { visit(e) }
            if let from = s.from { visit(from) }
            if let w = s.whereClause { visit(w) }
            for g in s.groupBy { visit(g) }
            if let h = s.having { visit(h) }
        case .values(let rows): for row in rows { for e in row { visit(e) } }
        case .setOperation(_, _, let l, let r): visit(l); visit(r)
        case .nested(let q): visit(q)
        }
    }

    mutating func visit(_ ref: TableRef) {
        switch ref {
        case .table(let name, _): tables.insert(name)
        case .qualifiedTable(let schema, let name, _): tables.insert("\(schema).\(name)")
        case .any: break
        case .subquery(let q, _, _): visit(q)
        case .lateral(let inner): visit(inner)
        case .function(let call, _, _): for a in call.arguments { visit(a) }
        case .join(let l, let r, _, let on): visit(l); visit(r); if let on { visit(on) }
        case .joinUsing(let l, let r, _, let names): visit(l); visit(r); columns.formUnion(names)
        case .vectorSearch(let search, _):
            tables.insert(search.collection)
            switch search.source {
            case .value(let e), .text(let e): visit(e)
            case .reference(let collection, let id): tables.insert(collection); visit(id)
            }
            if let filter = search.filter { visit(filter) }
        case .command(.textSearch(let search), _): tables.formUnion(search.collections)
        case .command(.contextSearch(let search), _): if let c = search.collection { tables.insert(c) }
        case .command(.graph(let command), _): if let collection = command.collection { tables.insert(collection) }
        case .command(.hybridSearch(let search), _): tables.insert(search.collection)
        case .command: break  // MATCH reads every graph collection, none by name
        }
    }

    mutating func visit(_ e: Expr) {
        switch e {
        case .literal, .parameter: break
        case .column(let path): columns.formUnion(path)
        case .star: star = true
        case .unary(_, let x), .isNull(let x, _), .cast(let x, _): visit(x)
        case .binary(_, let a, let b), .isDistinctFrom(let a, let b, _), .like(let a, let b, _, _): visit(a); visit(b)
        case .between(let a, let b, let c, _): visit(a); visit(b); visit(c)
        case .inList(let x, let items, _): visit(x); for i in items { visit(i) }
        case .inSubquery(let x, let q, _): visit(x); visit(q)
        case .quantified(_, let x, _, let source): visit(x); visit(source)
        case .exists(let q, _), .subquery(let q): visit(q)
        case .caseWhen(let o, let branches, let other):
            if let o { visit(o) }
            for b in branches { visit(b.condition); visit(b.result) }
            if let other { visit(other) }
        case .function(let call):
            for a in call.arguments { visit(a) }
            if let f = call.filter { visit(f) }
            for o in call.orderBy { visit(o.expr) }
            if let over = call.over {
                for p in over.partitionBy { visit(p) }
                for o in over.orderBy { visit(o.expr) }
            }
        case .array(let items): for i in items { visit(i) }
        }
    }
}
