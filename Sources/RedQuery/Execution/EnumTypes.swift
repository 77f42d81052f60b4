import RedCore
import RedEngine

/// PostgreSQL's enum types: `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')` (what
/// SQLAlchemy's `Enum`, Prisma, Rails' `create_enum` and pg_dump emit), then columns of type
/// `mood`.
///
/// A type is kept in the engine's catalog storage under `type/<name>` as JSON
/// `{"labels": [...]}`, so it changes transactionally with DDL. A column of the type is an
/// ENUM column (`ColumnDefinition.enumVariants`, matched as RedDB's ENUM(…) columns are) that
/// also names the type (`enumType`); ALTER TYPE … ADD VALUE and RENAME TO rewrite those columns'
/// definitions, DROP TYPE refuses while a column uses the type (2BP01) unless CASCADE, which
/// drops the columns, as PostgreSQL does.
///
/// Values sort and compare in label order (`EnumOrder`). Differences from PostgreSQL: `min`
/// and `max` follow the text; over PG-wire a value travels as `text` (catalogs name the type:
/// `\d`, format_type, pg_enum).
enum EnumTypeCatalog {
    static let prefix = Array("type/".utf8)
    /// Most labels one type may have, and the longest label (PostgreSQL's NAMEDATALEN − 1).
    static let maxLabels = 10_000
    static let maxLabelBytes = 63

    static func key(_ name: String) -> [UInt8] { prefix + Array(name.utf8) }

    static func labels(of name: String, _ tx: Transaction) throws -> [String]? {
        guard let bytes = try tx.catalogGet(key(name)) else { return nil }
        return try decode(bytes, name: name)
    }

    static func decode(_ bytes: [UInt8], name: String) throws -> [String] {
        guard let json = try? JSONValue.parse(String(decoding: bytes, as: UTF8.self)), case .array(let items)? = json["labels"] else {
            throw RedError(.dataCorrupted, "the definition of type \(name) does not decode")
        }
        return items.compactMap { if case .string(let s) = $0 { return s } else { return nil } }
    }

    static func store(_ name: String, labels: [String], _ tx: Transaction) throws {
        try tx.catalogPut(key(name), JSONValue.object([("labels", .array(labels.map { .string($0) }))]).utf8)
    }

    static func remove(_ name: String, _ tx: Transaction) throws -> Bool { try tx.catalogDelete(key(name)) }

    /// Every enum type, by name.
    static func all(_ tx: Transaction) throws -> [(name: String, labels: [String])] {
        let cursor = try tx.catalogScan(.prefix(prefix))
        var out: [(String, [String])] = []
        while let (k, v) = try cursor.next() {
            let name = String(decoding: k.dropFirst(prefix.count), as: UTF8.self)
            out.append((name, try decode(v, name: name)))
        }
        return out
    }

    /// `__enum_cast(value, 'type', labels)`: what `value::type` binds to for an enum type.
    static let castFunction = "__enum_cast"

    static let cast = ScalarFunction(name: castFunction, arity: 3...3, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
        guard case .text(let type) = a[1], case .json(.array(let items)) = a[2] else { throw RedError(.internalError, "\(castFunction) needs a type and labels") }
        let labels = items.compactMap { if case .string(let s) = $0 { return s } else { return nil } }
        return .text(try label(DataType.text.coerce(a[0]).displayText, of: type, labels: labels))
    }

    static func checkLabel(_ label: String) throws {
        guard !label.isEmpty, label.utf8.count <= maxLabelBytes else {
            throw RedError(.invalidArgument, "invalid enum label \"\(label)\"", detail: "Labels must be 1 to \(maxLabelBytes) bytes long.",
                           condition: "22023")
        }
    }

    /// `value` as a label of `type`, or PostgreSQL's 22P02.
    static func label(_ value: String, of type: String, labels: [String]) throws -> String {
        guard labels.contains(value) else { throw RedError(.invalidTextRepresentation, "invalid input value for enum \(type): \"\(value)\"") }
        return value
    }
}

extension DDLExecutor {
    func createEnumType(_ name: String, labels: [String]) throws -> QueryResult {
        try requireTypeNameFree(name)
        guard labels.count <= EnumTypeCatalog.maxLabels else { throw RedError(.limitExceeded, "an enum type has at most \(EnumTypeCatalog.maxLabels) labels") }
        for label in labels { try EnumTypeCatalog.checkLabel(label) }
        if let repeated = labels.enumerated().first(where: { i, label in labels[..<i].contains(label) })?.element {
            throw RedError(.uniqueViolation, "enum label \"\(repeated)\" already exists")
        }
        try EnumTypeCatalog.store(name, labels: labels, tx)
        return .message("type '\(name)' created", type: "create", tag: "CREATE TYPE")
    }

    func alterEnumType(_ name: String, _ change: EnumTypeAlteration) throws -> QueryResult {
        guard var labels = try EnumTypeCatalog.labels(of: name, tx) else { throw RedError(.undefinedObject, "type \"\(name)\" does not exist") }
        switch change {
        case .addValue(let label, let ifNotExists, let neighbour, let before):
            try EnumTypeCatalog.checkLabel(label)
            if labels.contains(label) {
                if ifNotExists { return .message("enum label \"\(label)\" already exists, skipping", type: "alter", tag: "ALTER TYPE") }
                throw RedError(.duplicateObject, "enum label \"\(label)\" already exists")
            }
            guard labels.count < EnumTypeCatalog.maxLabels else { throw RedError(.limitExceeded, "an enum type has at most \(EnumTypeCatalog.maxLabels) labels") }
            if let neighbour {
                guard let i = labels.firstIndex(of: neighbour) else {
                    throw RedError(.invalidArgument, "\"\(neighbour)\" is not an existing enum label", condition: "22023")
                }
                labels.insert(label, at: before ? i : i + 1)
            } else {
                labels.append(label)
            }
            try EnumTypeCatalog.store(name, labels: labels, tx)
            try updateColumns(ofType: name) { $0.enumVariants = labels }
            return .message("type '\(name)' altered", type: "alter", tag: "ALTER TYPE")
        case .rename(let newName):
            try requireTypeNameFree(newName)
            _ = try EnumTypeCatalog.remove(name, tx)
            try EnumTypeCatalog.store(newName, labels: labels, tx)
            try updateColumns(ofType: name) { $0.enumType = newName }
            for (dependent, var over) in try domains(over: name) {  // domains over it follow the new name
                over.base = DomainCatalog.baseText(naming: newName)
                try DomainCatalog.store(dependent, over, tx)
            }
            return .message("type '\(name)' renamed to '\(newName)'", type: "alter", tag: "ALTER TYPE")
        }
    }

    func dropTypes(_ names: [String], ifExists: Bool, cascade: Bool) throws -> QueryResult {
        var notices: [String] = []  // skipped names, and columns CASCADE drops
        for name in names {
            if try DomainCatalog.definition(of: name, tx) != nil {  // DROP TYPE takes a domain too, as in PostgreSQL
                notices += try dropDomains([name], ifExists: false, cascade: cascade).notices
                continue
            }
            guard try EnumTypeCatalog.labels(of: name, tx) != nil else {
                if ifExists { notices.append("type \"\(name)\" does not exist, skipping"); continue }
                throw RedError(.undefinedObject, "type \"\(name)\" does not exist")
            }
            let users = try store.listReachable(tx).flatMap { table in table.schema.columns.filter { $0.enumType == name }.map { (table.name, $0.name) } }
            let dependents = try domains(over: name)
            if !dependents.isEmpty {
                guard cascade else {
                    throw RedError(.dependentObjectsStillExist, "cannot drop type \(name) because other objects depend on it",
                                   detail: "type \(dependents[0].name) depends on type \(name)")
                }
                for (dependent, _) in dependents {
                    notices.append("drop cascades to type \(dependent)")
                    notices += try dropDomains([dependent], ifExists: false, cascade: true).notices
                }
            }
            if let (table, column) = users.first {
                guard cascade else {
                    throw RedError(.dependentObjectsStillExist, "cannot drop type \(name) because other objects depend on it",
                                   detail: "column \(column) of table \(table) depends on type \(name)")
                }
                for (table, column) in users {
                    notices.append("drop cascades to column \(column) of table \(table)")
                    var notes: [String] = []
                    _ = try alter(try self.table(table), .dropColumn(column, ifExists: false), &notes)
                }
            }
            _ = try EnumTypeCatalog.remove(name, tx)
        }
        return .message("type dropped", type: "drop", tag: "DROP TYPE", notices: notices)
    }

    /// Applies `change` to every column of every table that has type `name`.
    private func updateColumns(ofType name: String, _ change: (inout ColumnDefinition) -> Void) throws {
        for table in try store.listReachable(tx) where table.schema.columns.contains(where: { $0.enumType == name }) {
            var schema = table.schema
            for i in schema.columns.indices where schema.columns[i].enumType == name { change(&schema.columns[i]) }
            _ = try store.setSchema(tx, table, schema)
        }
    }

    /// A column declared with a type name the parser did not know: an enum type's, a domain's
    /// (the column takes its base type, which may be an enum type), or 42704.
    func resolveNamedType(_ spec: inout ColumnSpec) throws {
        guard let name = spec.namedType else { return }
        if let labels = try EnumTypeCatalog.labels(of: name, tx) {
            spec.enumVariants = labels
            return
        }
        if let domain = try DomainCatalog.definition(of: name, tx) {
            try DomainCatalog.apply(name, domain, to: &spec, tx)
            return try resolveNamedType(&spec)
        }
        guard spec.type != .enumeration else { throw RedError(.undefinedObject, "type \"\(name)\" does not exist") }
        spec.namedType = nil  // one of RedDB's own types (`email`), which no domain or enum type overrides
    }
}

/// Enum values sort and compare in the order their labels were declared, as PostgreSQL's
/// do (`sad < ok < happy`), though they are held as text: ORDER BY keys and `<`, `<=`, `>`,
/// `>=`, BETWEEN on an enum column (a table's, or one a view, subquery or CTE passes on
/// unchanged) compare each value's position among the labels. Equality needs no position.
/// `min`/`max` and an index's order still follow the text (an index is then not used for
/// these, since the key is the position).
enum EnumOrder {
    static let positionFunction = "__enum_position"

    /// `__enum_position(value, labels)`: the value's place among the labels; a text that is
    /// none of them is 22P02, as PostgreSQL refuses it.
    static let position = ScalarFunction(name: positionFunction, arity: 2...2, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
        guard case .json(.array(let labels)) = a[1] else { throw RedError(.internalError, "\(positionFunction) needs labels") }
        let text = a[0].displayText
        guard let index = labels.firstIndex(of: .string(text)) else {
            throw RedError(.invalidTextRepresentation, "invalid input value for enum: \"\(text)\"")
        }
        return .integer(Int64(index))
    }

    /// The labels of the enum column `bound` reads, if it reads one directly (in an
    /// aggregate query, through a GROUP BY key).
    static func labels(of bound: BoundExpr, _ ctx: BindingContext) -> [String]? {
        guard case .column(let i) = bound else { return nil }
        if let aggregation = ctx.aggregation {
            guard i < aggregation.boundKeys.count, case .column(let j) = aggregation.boundKeys[i],
                  j < aggregation.inputScope.columns.count else { return nil }
            return aggregation.inputScope.columns[j].enumLabels
        }
        return i < ctx.scope.columns.count ? ctx.scope.columns[i].enumLabels : nil
    }

    /// `key` as it sorts: its position among `labels` for an enum column, else itself.
    static func sortKey(_ key: BoundExpr, labels: [String]?) -> BoundExpr {
        guard let labels else { return key }
        return .function(position, [key, .constant(.json(.array(labels.map { .string($0) })))])
    }

    /// An ordering comparison's operands, each as its position when either side is an enum column.
    static func comparable(_ l: BoundExpr, _ r: BoundExpr, _ ctx: BindingContext) -> (BoundExpr, BoundExpr)? {
        guard let labels = labels(of: l, ctx) ?? labels(of: r, ctx) else { return nil }
        return (sortKey(l, labels: labels), sortKey(r, labels: labels))
    }
}
