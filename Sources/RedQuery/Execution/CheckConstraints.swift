import RedCore
import RedEngine

/// A table's CHECK constraints, bound once per statement and verified on every row it writes.
///
/// PostgreSQL's rules, which we follow:
/// - a row passes when each expression is true **or NULL** (`CHECK (price > 0)` admits a NULL
///   price); false fails with 23514 `new row for relation "t" violates check constraint "c"`;
/// - an expression reads only the row's own columns: no subqueries (0A000), no aggregates or
///   window functions (42803), no parameters;
/// - an unnamed constraint is named `<table>_<column>_check` when its expression reads exactly
///   one column (wherever it was declared), else `<table>_check`, with a number added when
///   that name is taken.
///
/// The table keeps each expression as its SQL text (`CollectionSchema.CheckConstraint`), as it
/// keeps column defaults; binding it against the table's columns each statement means ADD and
/// DROP COLUMN need no rewriting, and a check that names a dropped column goes with it.
struct CheckConstraints {
    let table: String
    let columns: [ColumnDefinition]
    /// In name order, the order PostgreSQL checks them in (so it reports the same one first).
    let bound: [(name: String, expr: BoundExpr)]
    /// The constraints of columns declared with a domain, checked before the table's
    /// (`DomainCatalog`); none when only some checks are asked for.
    let domains: [(columnID: UInt16, rules: DomainRules)]
    let context: ExecutionContext

    /// The checks of `schema` (those in `names`, when given) bound against its columns; empty,
    /// and free to verify, for a table with none.
    init(_ schema: CollectionSchema, table: String, planner: Planner, only names: Set<String>? = nil) throws {
        self.table = table
        self.columns = schema.columns
        self.context = planner.context
        bound = try (schema.checks ?? []).filter { names?.contains($0.name) ?? true }.sorted { $0.name < $1.name }.map { check in
            (check.name, try Self.bind(check.sql, columns: schema.columns, table: table, planner: planner))
        }
        var domains: [(UInt16, DomainRules)] = []
        if names == nil {
            var definitions: [String: DomainDefinition] = [:]
            for column in schema.columns {
                guard let domain = column.domain else { continue }
                if definitions[domain] == nil { definitions[domain] = try DomainCatalog.definition(of: domain, planner.context.transaction) }
                guard let definition = definitions[domain] else { continue }  // dropped with its columns, so never
                domains.append((column.id, try DomainRules(domain, definition, type: column.type, planner: planner)))
            }
        }
        self.domains = domains
    }

    init(_ handle: TableHandle, planner: Planner) throws {
        try self.init(handle.schema, table: handle.localName, planner: planner)
    }

    var isEmpty: Bool { bound.isEmpty && domains.isEmpty }

    /// Throws 23514 when `row` makes a check false (23502 for a domain's NOT NULL). An update
    /// passes the row it replaces (`old`): as in PostgreSQL, only the values it changes are
    /// checked against their domains (one a NOT VALID check admitted may stay).
    func verify(_ row: StoredRow, old: StoredRow? = nil) throws {
        for (columnID, rules) in domains {
            let value = row.values[columnID] ?? .null
            if let old, value == old.values[columnID] ?? .null { continue }
            try rules.verify(value, context)
        }
        if let name = try firstViolated(by: row) {
            throw RedError(.checkViolation, "new row for relation \"\(table)\" violates check constraint \"\(name)\"",
                           detail: Self.failingRowDetail(row, columns))
        }
    }

    /// PostgreSQL's DETAIL for a row a constraint refuses: `Failing row contains (2, -1, null).`,
    /// each value as its column shows it.
    static func failingRowDetail(_ row: StoredRow, _ columns: [ColumnDefinition]) -> String {
        let values = columns.map { column -> String in
            guard let value = row.values[column.id], !value.isNull else { return "null" }
            if case .boolean(let b) = value { return b ? "t" : "f" }
            return column.declared?.displayText(value) ?? value.displayText
        }
        return "Failing row contains (\(values.joined(separator: ", ")))."
    }

    /// The name of the first check `row` makes false, if any.
    func firstViolated(by row: StoredRow) throws -> String? {
        guard !bound.isEmpty else { return nil }
        let values = columns.map { row.values[$0.id] ?? .null }
        let eval = context.evaluation([])
        return try bound.first { try Evaluation.truth(try eval.evaluate($0.expr, values)) == false }?.name
    }

    /// `sql` bound against `columns` (in schema order, as `verify` lays out a row's values).
    static func bind(_ sql: String, columns: [ColumnDefinition], table: String, planner: Planner) throws -> BoundExpr {
        let tokens = try Lexer.tokenize(sql, limits: ParserLimits())
        if tokens.contains(where: { [Token.Kind.identifier("select", quoted: false), .identifier("values", quoted: false)].contains($0.kind) }) {
            throw RedError(.featureNotSupported, "cannot use subquery in check constraint")
        }
        if tokens.contains(where: { if case .parameter = $0.kind { true } else { false } }) {
            throw RedError(.syntaxError, "cannot use a parameter ($n) in check constraint")
        }
        var parser = try Parser(sql)
        let expr = try parser.parseExpression()
        let scope = Scope(columns.map { ScopeColumn(qualifier: table, name: $0.name, type: $0.type) }, parent: nil)
        return try planner.bind(expr, BindingContext(scope: scope, aggregatesForbiddenIn: "check constraints"))
    }

    /// Whether `sql` reads `column`: it no longer binds once that column is gone.
    static func reads(_ sql: String, column: String, columns: [ColumnDefinition], table: String, planner: Planner) -> Bool {
        do {
            _ = try bind(sql, columns: columns.filter { $0.name != column }, table: table, planner: planner)
            return false
        } catch let error as RedError where error.code == .undefinedColumn {
            return true
        } catch {
            return false
        }
    }

    /// `sql` with every reference to column `old` made a reference to `new` (RENAME COLUMN).
    /// Works on tokens, so strings, comments and function names are left alone: an identifier
    /// is a column reference unless a `(` (a call) or a `.` (a table qualifier) follows it.
    static func renaming(_ sql: String, column old: String, to new: String) throws -> String {
        let bytes = Array(sql.utf8)
        let tokens = try Lexer.tokenize(sql, limits: ParserLimits())
        var out: [UInt8] = []
        var copied = 0
        for (i, token) in tokens.enumerated() {
            guard case .identifier(let name, let quoted) = token.kind, name == old else { continue }
            if i + 1 < tokens.count, case .symbol(let next) = tokens[i + 1].kind, next == "(" || next == "." { continue }
            var end = token.offset
            if quoted {
                end += 1
                while end < bytes.count {
                    if bytes[end] == UInt8(ascii: "\"") {
                        if end + 1 < bytes.count, bytes[end + 1] == UInt8(ascii: "\"") { end += 2; continue }
                        end += 1
                        break
                    }
                    end += 1
                }
            } else {
                while end < bytes.count, Lexer.isIdentPart(bytes[end]) { end += 1 }
            }
            out += bytes[copied..<token.offset]
            out += Array("\"\(new.replacingOccurrences(of: "\"", with: "\"\""))\"".utf8)
            copied = end
        }
        out += bytes[copied...]
        return String(decoding: out, as: UTF8.self)
    }

    /// The name of a new check on `table`: the given one (which must be free), else PostgreSQL's.
    static func name(for spec: CheckSpec, table: String, columns: [ColumnDefinition], taken: [String], planner: Planner) throws -> String {
        let taken = Set(taken)
        if let name = spec.name {
            guard !taken.contains(name) else { throw RedError(.duplicateObject, "constraint \"\(name)\" for relation \"\(table)\" already exists") }
            return name
        }
        let read = columns.filter { reads(spec.sql, column: $0.name, columns: columns, table: table, planner: planner) }
        return DDLExecutor.firstFree(read.count == 1 ? "\(table)_\(read[0].name)_check" : "\(table)_check") { taken.contains($0) }
    }
}
