import RedCore
import RedQuery

/// SQL functions (`CREATE FUNCTION`) as PostgreSQL's catalogs show them: `pg_proc` rows, and
/// the functions psql's `\df` and pg_dump print them with (`pg_get_function_arguments`,
/// `pg_get_function_identity_arguments`, `pg_get_function_result`, `pg_get_functiondef`).
///
/// Types are named as `format_type` names them without a typmod (`integer`, `numeric`,
/// `text[]`, a domain's or an enum type's name), as PostgreSQL keeps no typmod for a function's
/// arguments. A default is shown as written (PostgreSQL shows its deparsed expression).
extension PGCatalogModel {
    struct Function: Sendable {
        var oid: Int64
        var definition: CatalogSnapshot.Function
        var argumentTypes: [PGBuiltinType]
        /// RETURNS TABLE's columns' types, or the one result type; empty for SETOF a table.
        var resultTypes: [PGBuiltinType]

        var spec: FunctionSpec { definition.spec }

        /// `a integer, b text DEFAULT 'x'` (`defaults`), OUT and INOUT ones too, in their order, as
        /// `pg_get_function_arguments` prints them.
        func arguments(defaults: Bool) -> String {
            func shown(_ argument: FunctionSpec.Argument, _ type: PGBuiltinType, mode: String) -> String {
                mode + (argument.name.map { SQLIdentifier.quoted($0) + " " } ?? "") + type.formatted
                    + (defaults ? argument.defaultSQL.map { " DEFAULT \($0)" } ?? "" : "")
            }
            guard let modes = spec.parameterModes else {
                return zip(spec.arguments, argumentTypes).map { shown($0, $1, mode: "") }.joined(separator: ", ")
            }
            var inputs = zip(spec.arguments, argumentTypes).makeIterator(), outputs = zip(spec.tableColumns, resultTypes).makeIterator()
            return modes.compactMap { mode -> String? in
                switch mode {
                case "o": return outputs.next().map { shown($0.0, $0.1, mode: "OUT ") }
                case "b":
                    _ = outputs.next()
                    return inputs.next().map { shown($0.0, $0.1, mode: "INOUT ") }
                default: return inputs.next().map { shown($0.0, $0.1, mode: "") }
                }
            }.joined(separator: ", ")
        }

        /// The types of every parameter in declared order (OUT ones included), and their names.
        var allParameters: [(name: String, type: Int64)] {
            guard let modes = spec.parameterModes else {
                return zip(spec.arguments, argumentTypes).map { ($0.name ?? "", $1.oid) } + zip(spec.tableColumns, resultTypes).map { ($0.name ?? "", $1.oid) }
            }
            var inputs = zip(spec.arguments, argumentTypes).makeIterator(), outputs = zip(spec.tableColumns, resultTypes).makeIterator()
            return modes.compactMap { mode in
                if mode == "o" { return outputs.next().map { ($0.0.name ?? "", $0.1.oid) } }
                if mode == "b" { _ = outputs.next() }
                return inputs.next().map { ($0.0.name ?? "", $0.1.oid) }
            }
        }

        /// `integer`, `SETOF integer`, `SETOF orders`, `TABLE(n integer, s text)`.
        var result: String {
            if let table = definition.rowTable { return "SETOF \(SQLIdentifier.quoted(table))" }
            if spec.parameterModes != nil {  // OUT parameters: their one type, or a record
                let single = spec.tableColumns.count == 1 ? resultTypes.first?.formatted ?? "record" : "record"
                return (spec.returnsSet ? "SETOF " : "") + single
            }
            if !spec.tableColumns.isEmpty {
                let columns = zip(spec.tableColumns, resultTypes).map { "\(SQLIdentifier.quoted($0.name ?? spec.name)) \($1.formatted)" }
                return "TABLE(\(columns.joined(separator: ", ")))"
            }
            if spec.returnType?.lowercased() == "trigger" { return "trigger" }
            return (spec.returnsSet ? "SETOF " : "") + (resultTypes.first?.formatted ?? "void")
        }

        /// `CREATE OR REPLACE FUNCTION …` as `pg_get_functiondef` prints it.
        var definitionText: String {
            let volatility = ["i": "IMMUTABLE", "s": "STABLE"][spec.volatility]
            let traits = [volatility, spec.strict ? "STRICT" : nil].compactMap { $0 }
            var tag = "$function$"
            while spec.body.contains(tag) { tag = String(tag.dropLast()) + "x$" }  // as PostgreSQL makes the quote unique
            return "CREATE OR REPLACE FUNCTION public.\(SQLIdentifier.quoted(spec.name))(\(arguments(defaults: true)))\n RETURNS \(result)\n"
                + " LANGUAGE \(spec.language)\n" + (traits.isEmpty ? "" : " \(traits.joined(separator: " "))\n") + "AS \(tag)\(spec.body)\(tag)\n"
        }
    }

    func function(oid: Int64) -> Function? { functions.first { $0.oid == oid } }
}

enum PGFunctionCatalog {
    /// PostgreSQL's OID for LANGUAGE sql (`pg_language`).
    static let sqlLanguageOID: Int64 = 14
    /// `record`, the result type of a function returning rows of several columns.
    static let recordOID: Int64 = 2249

    static let pgProc = PGCatalogTable("""
        oid:i proname:nm pronamespace:i proowner:i prolang:i procost:f prorows:f provariadic:i prosupport:t prokind:t \
        prosecdef:b proleakproof:b proisstrict:b proretset:b provolatile:t proparallel:t pronargs:i pronargdefaults:i \
        prorettype:i proargtypes:o proallargtypes:ai proargmodes:a proargnames:a proargdefaults:t protrftypes:a prosrc:t \
        probin:t prosqlbody:t proconfig:a proacl:a
        """) { model in
        model.functions.map { f in
            let spec = f.spec
            let table = spec.tableColumns
            let all = f.allParameters
            let names = all.map(\.name)
            let modes = spec.parameterModes ?? (spec.arguments.map { _ in "i" } + table.map { _ in "t" })
            // Rows of several columns are records; one column's type is the result's, as in PostgreSQL.
            let resultType = spec.returnType?.lowercased() == "trigger" ? 2279
                : f.definition.rowTable != nil || table.count > 1 ? recordOID : f.resultTypes.first?.oid ?? 2278
            return [
                "oid": .integer(f.oid), "proname": .text(spec.name), "pronamespace": .integer(PGCatalogModel.publicNamespace),
                "proowner": .integer(PGCatalogModel.ownerOID), "prolang": .integer(spec.language == "plpgsql" ? 13_576 : sqlLanguageOID), "procost": .float(100),
                "prorows": .float(spec.returnsSet ? 1000 : 0), "provariadic": .integer(0), "prosupport": .text("-"), "prokind": .text("f"),
                "prosecdef": .boolean(false), "proleakproof": .boolean(false), "proisstrict": .boolean(spec.strict), "proretset": .boolean(spec.returnsSet),
                "provolatile": .text(spec.volatility), "proparallel": .text("u"), "pronargs": .integer(Int64(spec.arguments.count)),
                "pronargdefaults": .integer(Int64(spec.arguments.filter { $0.defaultSQL != nil }.count)), "prorettype": .integer(resultType),
                "proargtypes": PGCatalogTable.ints(f.argumentTypes.map(\.oid)),
                "proallargtypes": table.isEmpty ? .null : PGCatalogTable.ints(all.map(\.type)),
                "proargmodes": table.isEmpty ? .null : PGCatalogTable.texts(modes),
                "proargnames": names.allSatisfy(\.isEmpty) ? .null : PGCatalogTable.texts(names),
                "prosrc": .text(spec.body),
            ]
        }
    }

    /// The languages PostgreSQL always has; only `sql` functions can be made here.
    static let pgLanguage = PGCatalogTable("oid:i lanname:nm lanowner:i lanispl:b lanpltrusted:b lanplcallfoid:i laninline:i lanvalidator:i lanacl:a") { _ in
        [("internal", 12, false, false), ("c", 13, false, false), ("sql", sqlLanguageOID, false, true), ("plpgsql", 13_576, true, true)].map { name, oid, pl, trusted in
            ["oid": .integer(oid), "lanname": .text(name), "lanowner": .integer(PGCatalogModel.ownerOID), "lanispl": .boolean(pl),
             "lanpltrusted": .boolean(trusted), "lanplcallfoid": .integer(0), "laninline": .integer(0), "lanvalidator": .integer(0)]
        }
    }

    /// A `regproc` / `regprocedure` cast of a SQL function: its name (`fn`, `public.fn`, with
    /// `regprocedure` `fn(integer, text)`) to its OID, its OID to its name (with `withArguments`
    /// its argument types too). nil for anything else (`noFunction` answers).
    static func regproc(_ value: Value, _ model: PGCatalogModel, withArguments: Bool) throws -> Value? {
        guard case .text(let written) = value, Int64(written) == nil else {
            guard let oid = try? PGCatalogFunctions.integer(value), let f = model.function(oid: oid) else { return nil }
            return .text(SQLIdentifier.quoted(f.spec.name) + (withArguments ? "(\(f.argumentTypes.map(\.formatted).joined(separator: ",")))" : ""))
        }
        var name = written.trimmingCharacters(in: .whitespaces)
        var types: [String]?
        if let open = name.firstIndex(of: "("), name.hasSuffix(")") {
            let list = name[name.index(after: open)..<name.index(before: name.endIndex)]
            types = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            name = String(name[..<open]).trimmingCharacters(in: .whitespaces)
        }
        if name.hasPrefix("public.") { name.removeFirst("public.".count) }
        if name.hasPrefix("\""), name.hasSuffix("\""), name.count >= 2 { name = String(name.dropFirst().dropLast()) } else { name = name.lowercased() }
        var candidates = model.functions.filter { $0.spec.name == name }
        guard !candidates.isEmpty else { return nil }
        if let types {
            let oids = types.map { PGBuiltinType.byName[$0]?.oid }
            candidates = candidates.filter { f in
                f.argumentTypes.count == types.count && zip(f.argumentTypes, zip(types, oids)).allSatisfy { type, written in
                    written.1 == type.oid || written.0 == type.name || written.0 == type.formatted
                }
            }
            guard let f = candidates.first else { throw RedError(.undefinedFunction, "function \"\(written)\" does not exist") }
            return .integer(f.oid)
        }
        guard candidates.count == 1 else { throw RedError(.ambiguousFunction, "more than one function named \"\(written)\"") }
        return .integer(candidates[0].oid)
    }

    /// `pg_get_function_arguments`, `…_identity_arguments`, `…_result`, `pg_get_functiondef`:
    /// NULL for an OID that is no SQL function, as PostgreSQL answers for a missing one.
    static func functions(owner user: String) -> [String: SurfaceFunction] {
        func describing(_ text: @escaping @Sendable (PGCatalogModel.Function) -> String) -> SurfaceFunction {
            SurfaceFunction(arity: 1...1, resultType: .text) { args, snapshot in
                guard case .integer(let oid) = args[0], let f = PGCatalogModel.of(snapshot, owner: user).function(oid: oid) else { return .null }
                return .text(text(f))
            }
        }
        return [
            "pg_get_function_arguments": describing { $0.arguments(defaults: true) },
            "pg_get_function_identity_arguments": describing { $0.arguments(defaults: false) },
            "pg_get_function_result": describing(\.result),
            "pg_get_functiondef": describing(\.definitionText),
            // A body written as SQL-standard BEGIN ATOMIC (none here): psql's \df+ then shows prosrc.
            "pg_get_function_sqlbody": SurfaceFunction(arity: 1...1, resultType: .text, strict: false) { _, _ in .null },
        ]
    }
}
