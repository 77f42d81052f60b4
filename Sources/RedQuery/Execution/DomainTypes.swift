import Foundation
import RedCore
import RedEngine

/// PostgreSQL's domains: `CREATE DOMAIN posint AS integer CHECK (VALUE > 0)`, a base type
/// with a default and constraints, then columns and casts of type `posint` (what pg_dump,
/// Django's and Rails' schema files and hand-written schemas use for emails, amounts, codes).
///
/// A domain is kept in the engine's catalog storage under `domain/<name>` as JSON
/// (`DomainDefinition`), so it changes transactionally with DDL; the base type is kept as
/// written and parsed again where it is used. A column of the domain takes the base type
/// (`ColumnDefinition.domain` names the domain) and is checked on every write
/// (`CheckConstraints`): NOT NULL first (23502 `domain d does not allow null values`), then
/// each CHECK in name order with VALUE the column's value (23514 `value for domain d violates
/// check constraint "c"`); a NULL value is checked too, as PostgreSQL checks it, so a column
/// left out of an INSERT must satisfy the domain. The domain's DEFAULT applies to columns
/// without one of their own. A cast to the domain (`'5'::posint`, `CAST(x AS posint)`) casts to
/// the base type, then checks.
///
/// The checks are looked up per statement, so ALTER DOMAIN reaches every column at once: ADD
/// CHECK and SET NOT NULL first verify the columns' rows (unless NOT VALID). DROP DOMAIN
/// refuses while a column uses the domain (2BP01) unless CASCADE, which drops the columns.
///
/// A domain may be over another (checked first), or over an enum type. A user's domain may
/// take the name of one of RedDB's own types (`email`, `url`): the name then means the domain.
///
/// Differences from PostgreSQL: domains, like enum types, belong to no schema; values travel
/// over PG-wire as the base type (as PostgreSQL's RowDescription does); `pg_typeof` names the
/// base type; PREPARE's parameter types cannot name a domain; CREATE TABLE AS gives a domain-typed expression's column the base type.
struct DomainDefinition: Codable, Sendable, Equatable {
    struct Check: Codable, Sendable, Equatable {
        var name: String
        var sql: String
        /// Added NOT VALID and not validated since: rows from before may break it (catalogs
        /// say so, and pg_dump adds it after the data).
        var notValid: Bool? = nil
    }
    var base: String
    var notNull = false
    var defaultSQL: String?
    var checks: [Check] = []
}

enum DomainCatalog {
    static let prefix = Array("domain/".utf8)
    /// Most CHECK constraints one domain may have (as a table's: `DDLExecutor.maxChecks`).
    static let maxChecks = 100

    static func key(_ name: String) -> [UInt8] { prefix + Array(name.utf8) }

    static func definition(of name: String, _ tx: Transaction) throws -> DomainDefinition? {
        guard let bytes = try tx.catalogGet(key(name)) else { return nil }
        return try decode(bytes, name: name)
    }

    static func decode(_ bytes: [UInt8], name: String) throws -> DomainDefinition {
        do { return try JSONDecoder().decode(DomainDefinition.self, from: Data(bytes)) } catch {
            throw RedError(.dataCorrupted, "the definition of domain \(name) does not decode: \(error)")
        }
    }

    static func store(_ name: String, _ definition: DomainDefinition, _ tx: Transaction) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try tx.catalogPut(key(name), Array(try encoder.encode(definition)))
    }

    static func remove(_ name: String, _ tx: Transaction) throws -> Bool { try tx.catalogDelete(key(name)) }

    /// Every domain, by name.
    static func all(_ tx: Transaction) throws -> [(name: String, definition: DomainDefinition)] {
        let cursor = try tx.catalogScan(.prefix(prefix))
        var out: [(String, DomainDefinition)] = []
        while let (k, v) = try cursor.next() {
            let name = String(decoding: k.dropFirst(prefix.count), as: UTF8.self)
            out.append((name, try decode(v, name: name)))
        }
        return out
    }

    /// The base type as a column declares it (type, width, elements; an enum type's name unresolved).
    static func baseSpec(_ definition: DomainDefinition) throws -> ColumnSpec {
        var parser = try Parser("value \(definition.base)")
        return try parser.parseColumnSpec()
    }

    /// Most domains one may stack (a domain over a domain over …).
    static let maxDepth = 16

    /// The type at the bottom of a chain of domains: its named type, if any, is an enum type's
    /// or one of RedDB's own (`email`).
    static func resolvedBase(_ definition: DomainDefinition, _ tx: Transaction) throws -> ColumnSpec {
        var base = try baseSpec(definition)
        var depth = 0
        while let named = base.namedType, let inner = try DomainCatalog.definition(of: named, tx) {
            depth += 1
            guard depth <= maxDepth else { throw RedError(.limitExceeded, "domains nest at most \(maxDepth) deep") }
            base = try baseSpec(inner)
        }
        return base
    }

    /// Refuses a domain `name` whose chain of base domains (as `definition` would make it)
    /// comes back to it or runs deeper than `maxDepth`: a name RedDB's own type had (`email`)
    /// can be taken by a domain after another was made over that type, which would close a loop.
    static func requireNoCycle(_ name: String, _ definition: DomainDefinition, _ tx: Transaction) throws {
        var seen: Set<String> = [name]
        var current = try baseSpec(definition).namedType
        while let named = current {
            guard !seen.contains(named), seen.count <= maxDepth else {
                throw RedError(.invalidArgument, "domain \(name) would be over itself (through \(named)) or nest more than \(maxDepth) deep")
            }
            guard let inner = try DomainCatalog.definition(of: named, tx) else { return }
            seen.insert(named)
            current = try baseSpec(inner).namedType
        }
    }

    /// `name` as the base type text of another domain (quoted as needed).
    static func baseText(naming name: String) -> String { SQLIdentifier.quoted(name) }

    /// The domain `definition`'s base type names directly, if that is a domain.
    static func baseDomain(of definition: DomainDefinition, _ tx: Transaction) throws -> (name: String, definition: DomainDefinition)? {
        guard let named = try baseSpec(definition).namedType, let inner = try DomainCatalog.definition(of: named, tx) else { return nil }
        return (named, inner)
    }

    /// `spec`, declared with domain `name`, given the domain's base type.
    static func apply(_ name: String, _ definition: DomainDefinition, to spec: inout ColumnSpec, _ tx: Transaction) throws {
        let base = try resolvedBase(definition, tx)
        spec.type = base.type
        spec.declared = base.declared
        spec.integerWidth = base.integerWidth
        spec.arrayElement = base.arrayElement
        spec.elementDeclared = base.elementDeclared
        spec.enumVariants = base.enumVariants
        spec.namedType = base.namedType
        spec.domain = name
    }
}

/// A domain's NOT NULL and CHECKs, bound for one statement: each check reads one value, VALUE.
struct DomainRules: Sendable {
    let name: String
    let notNull: Bool
    /// In name order, the order PostgreSQL checks them in.
    let checks: [(name: String, expr: BoundExpr)]
    /// The rules of the domain this one is over, if it is over one: checked first.
    let base: [DomainRules]

    init(_ name: String, _ definition: DomainDefinition, type: DataType, planner: Planner, depth: Int = 0) throws {
        guard depth <= DomainCatalog.maxDepth else { throw RedError(.limitExceeded, "domains nest at most \(DomainCatalog.maxDepth) deep") }
        self.name = name
        notNull = definition.notNull
        base = try DomainCatalog.baseDomain(of: definition, planner.context.transaction).map {
            [try DomainRules($0.name, $0.definition, type: type, planner: planner, depth: depth + 1)]
        } ?? []
        let value = [ColumnDefinition(id: 0, name: "value", type: type)]
        checks = try definition.checks.sorted { $0.name < $1.name }.map { check in
            (check.name, try CheckConstraints.bind(check.sql, columns: value, table: name, planner: planner))
        }
    }

    /// Throws 23502 or 23514 when `value` is not a value of the domain (and, `includingBase`,
    /// of the domain it is over).
    func verify(_ value: Value, _ context: ExecutionContext, includingBase: Bool = true) throws {
        if includingBase { for rules in base { try rules.verify(value, context) } }
        if let violated = try firstViolated(by: value, context) {
            if violated.isEmpty { throw RedError(.notNullViolation, "domain \(name) does not allow null values") }
            throw RedError(.checkViolation, "value for domain \(name) violates check constraint \"\(violated)\"")
        }
    }

    /// The constraint of this domain's own that `value` breaks: "" for NOT NULL, else the
    /// check's name; nil if none.
    func firstViolated(by value: Value, _ context: ExecutionContext) throws -> String? {
        if notNull && value.isNull { return "" }
        let eval = context.evaluation([])
        return try checks.first { try Evaluation.truth(try eval.evaluate($0.expr, [value])) == false }?.name
    }
}

extension Planner {
    /// `x::d` for a domain `d`: `x` cast to the base type, then checked (`DomainRules`); typed
    /// as the base type.
    func bindDomainCast(_ argument: Expr, to name: String, _ definition: DomainDefinition, _ ctx: BindingContext) throws -> BoundExpr {
        let input = try bind(argument, ctx)
        let base = try DomainCatalog.resolvedBase(definition, context.transaction)
        var parser = try Parser("CAST(value AS \(definition.base))")
        let cast = try bind(try parser.parseExpression(),
                            BindingContext(scope: Scope([ScopeColumn(qualifier: nil, name: "value", type: .any)], parent: nil), aggregatesForbiddenIn: "a cast"))
        let rules = try DomainRules(name, definition, type: base.type, planner: self)
        let check = ScalarFunction(name: "__domain_cast", arity: 1...1, acceptsNull: true, isDeterministicWithinStatement: true) { a, context in
            let value = try context.evaluation([]).evaluate(cast, [a[0]])
            try rules.verify(value, context, includingBase: false)  // the cast to a base domain checked it
            return value
        }
        return .cast(.function(check, [input]), base.type == .enumeration ? .text : base.type)
    }
}
