import RedCore
import RedEngine

/// CREATE, ALTER and DROP DOMAIN (`DomainCatalog` describes domains).
extension DDLExecutor {
    func createDomain(_ spec: DomainSpec) throws -> QueryResult {
        try requireTypeNameFree(spec.name)
        var definition = DomainDefinition(base: spec.baseType, notNull: spec.notNull, defaultSQL: spec.defaultSQL)
        try DomainCatalog.requireNoCycle(spec.name, definition, tx)
        if let over = try DomainCatalog.baseDomain(of: definition, tx) {
            definition.base = DomainCatalog.baseText(naming: over.name)  // as the catalog names it, whatever the spelling
            definition.defaultSQL = definition.defaultSQL ?? over.definition.defaultSQL  // PostgreSQL copies the base's default
        }
        let base = try DomainCatalog.resolvedBase(definition, tx)
        if let named = base.namedType, base.type == .enumeration, try EnumTypeCatalog.labels(of: named, tx) == nil {
            throw RedError(.undefinedObject, "type \"\(named)\" does not exist")
        }
        guard spec.checks.count <= DomainCatalog.maxChecks else { throw RedError(.limitExceeded, "a domain has at most \(DomainCatalog.maxChecks) CHECK constraints") }
        for check in spec.checks {
            definition.checks.append(.init(name: try newConstraintName(check.name, domain: spec.name, definition), sql: check.sql))
        }
        _ = try DomainRules(spec.name, definition, type: base.type, planner: Planner(context: context))  // the checks bind
        try DomainCatalog.store(spec.name, definition, tx)
        return .message("domain '\(spec.name)' created", type: "create", tag: "CREATE DOMAIN")
    }

    /// 42710 when a type of that name exists (PostgreSQL's, a surface's, an enum type or a
    /// domain; RedDB's own, `email`, may be overridden).
    func requireTypeNameFree(_ name: String) throws {
        let enumType = try EnumTypeCatalog.labels(of: name, tx), domain = try DomainCatalog.definition(of: name, tx)
        // A surface's types too (PG-wire's `regclass`, `oid`): catalog queries cast to them.
        if DataType.isPostgresTypeName(name) || enumType != nil || domain != nil || context.surfaceCatalog?.cast(to: name) != nil {
            throw RedError(.duplicateObject, "type \"\(name)\" already exists")
        }
    }

    /// A new check's name: the given one, which must be free, else `<domain>_check` numbered as
    /// PostgreSQL numbers it.
    private func newConstraintName(_ given: String?, domain: String, _ definition: DomainDefinition) throws -> String {
        let taken = Set(definition.checks.map(\.name))
        guard let given else { return DDLExecutor.firstFree("\(domain)_check") { taken.contains($0) } }
        guard !taken.contains(given) else { throw RedError(.duplicateObject, "constraint \"\(given)\" for domain \"\(domain)\" already exists") }
        return given
    }

    /// Why `name` names no domain: 42809 when it is some other type (PostgreSQL's messages
    /// quote the name in DROP, not in ALTER), else 42704.
    private func noDomain(_ name: String, quoted: Bool) throws -> RedError {
        let enumType = try EnumTypeCatalog.labels(of: name, tx) != nil
        let rowType = try store.open(tx, name) != nil  // a table's row type, as PostgreSQL has one per table
        let otherType = enumType || rowType || DataType.isPostgresTypeName(name) || context.surfaceCatalog?.cast(to: name) != nil
        guard otherType else { return RedError(.undefinedObject, "type \"\(name)\" does not exist") }
        return RedError(.invalidOperation, quoted ? "\"\(name)\" is not a domain" : "\(name) is not a domain")
    }

    func alterDomain(_ name: String, _ change: DomainAlteration) throws -> QueryResult {
        guard var definition = try DomainCatalog.definition(of: name, tx) else { throw try noDomain(name, quoted: false) }
        let done = QueryResult.message("domain '\(name)' altered", type: "alter", tag: "ALTER DOMAIN")
        switch change {
        case .setDefault(let sql):
            definition.defaultSQL = sql
        case .setNotNull(let notNull):
            if notNull && !definition.notNull {
                try verifyColumns(of: name) { value, _ in value.isNull ? "" : nil } violation: { column, table, _ in
                    RedError(.notNullViolation, "column \"\(column)\" of table \"\(table)\" contains null values")
                }
            }
            definition.notNull = notNull
        case .addCheck(let spec, let validate):
            guard definition.checks.count < DomainCatalog.maxChecks else {
                throw RedError(.limitExceeded, "a domain has at most \(DomainCatalog.maxChecks) CHECK constraints")
            }
            let checkName = try newConstraintName(spec.name, domain: name, definition)
            var added = definition
            added.notNull = false
            added.checks = [.init(name: checkName, sql: spec.sql)]
            let rules = try DomainRules(name, added, type: try DomainCatalog.resolvedBase(definition, tx).type, planner: Planner(context: context))
            if validate {
                try verifyColumns(of: name) { value, context in try rules.firstViolated(by: value, context) } violation: { column, table, _ in
                    RedError(.checkViolation, "column \"\(column)\" of table \"\(table)\" contains values that violate the new constraint")
                }
            }
            definition.checks.append(.init(name: checkName, sql: spec.sql, notValid: validate ? nil : true))
        case .dropConstraint(let constraint, let ifExists):
            guard definition.checks.contains(where: { $0.name == constraint }) else {
                if ifExists { return .message("constraint \"\(constraint)\" of domain \"\(name)\" does not exist, skipping", type: "alter", tag: "ALTER DOMAIN") }
                throw RedError(.undefinedObject, "constraint \"\(constraint)\" of domain \"\(name)\" does not exist")
            }
            definition.checks.removeAll { $0.name == constraint }
        case .renameConstraint(let old, let new):
            guard let i = definition.checks.firstIndex(where: { $0.name == old }) else {
                throw RedError(.undefinedObject, "constraint \"\(old)\" for domain \(name) does not exist")
            }
            definition.checks[i].name = try newConstraintName(new, domain: name, definition)
        case .validateConstraint(let constraint):
            guard let check = definition.checks.first(where: { $0.name == constraint }) else {
                throw RedError(.undefinedObject, "constraint \"\(constraint)\" of domain \"\(name)\" does not exist")
            }
            let rules = try DomainRules(name, DomainDefinition(base: definition.base, checks: [check]), type: try DomainCatalog.resolvedBase(definition, tx).type,
                                        planner: Planner(context: context))
            try verifyColumns(of: name) { value, context in try rules.firstViolated(by: value, context) } violation: { column, table, _ in
                RedError(.checkViolation, "column \"\(column)\" of table \"\(table)\" contains values that violate the new constraint")
            }
            if let i = definition.checks.firstIndex(where: { $0.name == constraint }) { definition.checks[i].notValid = nil }
        case .rename(let newName):
            try requireTypeNameFree(newName)
            try DomainCatalog.requireNoCycle(newName, definition, tx)
            _ = try DomainCatalog.remove(name, tx)
            try DomainCatalog.store(newName, definition, tx)
            for (table, _) in try columns(ofDomain: name) {
                var schema = table.schema
                for i in schema.columns.indices where schema.columns[i].domain == name { schema.columns[i].domain = newName }
                _ = try store.setSchema(tx, table, schema)
            }
            for (dependent, var over) in try domains(over: name) {
                over.base = DomainCatalog.baseText(naming: newName)
                try DomainCatalog.store(dependent, over, tx)
            }
            return done
        }
        try DomainCatalog.store(name, definition, tx)
        return done
    }

    func dropDomains(_ names: [String], ifExists: Bool, cascade: Bool) throws -> QueryResult {
        var notices: [String] = []  // skipped names, and columns CASCADE drops
        for name in names {
            guard try DomainCatalog.definition(of: name, tx) != nil else {
                let missing = try noDomain(name, quoted: true)
                if ifExists && missing.code == .undefinedObject { notices.append("type \"\(name)\" does not exist, skipping"); continue }
                throw missing
            }
            let users = try columns(ofDomain: name)
            let dependents = try domains(over: name)
            if !users.isEmpty || !dependents.isEmpty {
                guard cascade else {
                    let detail = dependents.map { "type \($0.name) depends on type \(name)" }
                        + users.map { "column \($0.column.name) of table \($0.table.name) depends on type \(name)" }
                    throw RedError(.dependentObjectsStillExist, "cannot drop type \(name) because other objects depend on it",
                                   detail: detail.joined(separator: "\n"))
                }
                _ = try DomainCatalog.remove(name, tx)  // first: a dependent's own dependents never lead back here
                for (dependent, _) in dependents {
                    notices.append("drop cascades to type \(dependent)")
                    notices += try dropDomains([dependent], ifExists: false, cascade: true).notices
                }
                for (table, column) in users {
                    notices.append("drop cascades to column \(column.name) of table \(table.name)")
                    var notes: [String] = []
                    _ = try alter(try self.table(table.name), .dropColumn(column.name, ifExists: false), &notes)
                }
            }
            _ = try DomainCatalog.remove(name, tx)
        }
        return .message("domain dropped", type: "drop", tag: "DROP DOMAIN", notices: notices)
    }

    /// Every column declared with domain `name` (`transitively`: or with a domain over it, at
    /// any depth), with its table.
    func columns(ofDomain name: String, transitively: Bool = false) throws -> [(table: TableHandle, column: ColumnDefinition)] {
        var names: Set<String> = [name]
        if transitively {
            var frontier = [name]
            while let next = frontier.popLast() {
                for (dependent, _) in try domains(over: next) where names.insert(dependent).inserted { frontier.append(dependent) }
            }
        }
        return try store.listReachable(tx).flatMap { table in table.schema.columns.filter { $0.domain.map(names.contains) ?? false }.map { (table, $0) } }
    }

    /// The domains directly over domain `name`.
    func domains(over name: String) throws -> [(name: String, definition: DomainDefinition)] {
        try DomainCatalog.all(tx).filter { try DomainCatalog.baseSpec($0.definition).namedType == name }
    }

    /// Throws `violation` for the first visible row whose value in a column of domain `name`
    /// `violated` finds at fault (nil: none).
    private func verifyColumns(of name: String, _ violated: (Value, ExecutionContext) throws -> String?,
                               violation: (_ column: String, _ table: String, _ constraint: String) -> RedError) throws {
        for (table, column) in try columns(ofDomain: name, transitively: true) {
            let cursor = try store.scan(tx, table)
            while let row = try cursor.next() {
                try context.countScanned()
                guard row.isVisible(at: context.now), let constraint = try violated(row.values[column.id] ?? .null, context) else { continue }
                throw violation(column.name, table.name, constraint)
            }
        }
    }
}
