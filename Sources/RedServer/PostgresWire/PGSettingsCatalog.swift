import RedCore
import RedQuery

/// The connection's settings as PostgreSQL's catalog shows them: the `pg_settings` view
/// (one row per parameter, `setting` its current value, `source` `session` where it
/// differs from the default) and the functions `current_setting(name [, missing_ok])` and
/// `set_config(name, value, is_local)`, which read and change the values SET and SHOW do
/// (`PGSessionSettings`).
enum PGSettingsCatalog {
    static let columns: [SurfaceColumn] = [
        SurfaceColumn("name", .text), SurfaceColumn("setting", .text), SurfaceColumn("unit", .text), SurfaceColumn("category", .text),
        SurfaceColumn("short_desc", .text), SurfaceColumn("extra_desc", .text), SurfaceColumn("context", .text), SurfaceColumn("vartype", .text),
        SurfaceColumn("source", .text), SurfaceColumn("min_val", .text), SurfaceColumn("max_val", .text),
        SurfaceColumn("enumvals", .array, element: .text), SurfaceColumn("boot_val", .text), SurfaceColumn("reset_val", .text),
        SurfaceColumn("sourcefile", .text), SurfaceColumn("sourceline", .integer), SurfaceColumn("pending_restart", .boolean),
    ]

    /// `isolation`: the level in force, which `transaction_isolation` shows (the open block's,
    /// not the stored session default), as SHOW and `current_setting` do.
    static func relation(_ settings: PGSessionSettings, isolation: @escaping @Sendable () -> IsolationLevel? = { nil }) -> SurfaceRelation {
        SurfaceRelation(columns: columns) { _ in
            let level = isolation()
            return settings.read { current in
                current.all.map { name, stored -> [Value] in
                    let value = name == "transaction_isolation" ? level?.rawValue ?? stored : stored
                    let boot = PGSettings.defaults[name]
                    return [.text(name), .text(value), .null, .text(boot == nil ? "Customized Options" : "Ungrouped"), .text(""), .null,
                            .text(PGSettings.unchangeable.contains(name) ? "internal" : "user"), .text("string"),
                            .text(boot == value ? "default" : "session"), .null, .null, .null,
                            boot.map(Value.text) ?? .null, boot.map(Value.text) ?? .null, .null, .null, .boolean(false)]
                }
            }
        }
    }

    static func functions(_ settings: PGSessionSettings, isolation: @escaping @Sendable () -> IsolationLevel? = { nil }) -> [String: SurfaceFunction] {
        [
            "current_setting": SurfaceFunction(arity: 1...2, resultType: .text, strict: false) { args, _ in
                guard case .text(let name) = args[0] else {
                    if args[0].isNull { return .null }
                    throw RedError(.datatypeMismatch, "current_setting() takes a setting name")
                }
                let missingOK = args.count == 2 && args[1] == .boolean(true)
                if name.lowercased() == "transaction_isolation", let level = isolation() { return .text(level.rawValue) }
                return try settings.read { current in
                    do { return .text(try current.value(name)) } catch where missingOK { return .null }
                }
            },
            "set_config": SurfaceFunction(arity: 3...3, resultType: .text, strict: false) { args, _ in
                guard case .text(let name) = args[0] else {
                    throw RedError(.invalidArgument, "set_config() needs a setting name")
                }
                let value: String? = { if case .text(let v) = args[1] { return v }; return args[1].isNull ? nil : args[1].displayText }()
                try settings.set(name, value, local: args[2] == .boolean(true))
                return .text(try settings.read { try $0.value(name) })
            },
        ]
    }
}
