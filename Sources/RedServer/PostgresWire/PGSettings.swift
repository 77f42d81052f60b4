import RedCore
import RedDB
import RedEngine
import RedQuery

/// The run-time parameters ("GUCs") a PostgreSQL client can SET and SHOW on
/// one connection. Most only shape what this connection reports (text is UTF-8);
/// `TimeZone` (how instants are read and shown, `SessionTimeZone`), `IntervalStyle`,
/// `statement_timeout`, `lock_timeout` and `default_transaction_isolation` change how its
/// statements run or answer.
struct PGSettings {
    static let serverVersion = PostgresCompatibility.serverVersion

    /// Lower-cased name → value.
    private(set) var values: [String: String] = Self.defaults {
        didSet {
            statementTimeoutMilliseconds = Self.milliseconds(values["statement_timeout"])
            if values["timezone"] != timeZone.name { timeZone = (values["timezone"]).flatMap { try? SessionTimeZone(setting: $0) } ?? .utc }
            if values["search_path"] != searchPathText || values["session_authorization"] != searchPathUser {
                (searchPathText, searchPathUser) = (values["search_path"], values["session_authorization"])
                let user = searchPathUser ?? ""
                searchPath = ((try? Self.schemas(inSearchPath: searchPathText ?? "")) ?? []).compactMap { $0 == "$user" ? (user.isEmpty ? nil : user) : $0 }
            }
        }
    }

    /// `search_path`'s schemas in order, `$user` replaced by the connection's user: parsed when
    /// either changes, as every statement reads it.
    private(set) var searchPath = [SchemaCatalog.publicSchema]
    private var searchPathText: String?
    private var searchPathUser: String?

    /// The schemas of a `search_path` value: `"$user", public`, `app,public`, `"My App"`.
    /// Unquoted names fold to lower case, as identifiers do; a quote left open is 22023.
    static func schemas(inSearchPath text: String) throws -> [String] {
        var schemas: [String] = [], current = "", quoted = false, wasQuoted = false
        var characters = text.makeIterator()
        func finish() {
            let name = wasQuoted ? current : current.trimmingCharacters(in: .whitespaces).lowercased()
            if !name.isEmpty || wasQuoted { schemas.append(name) }
            current = ""
            wasQuoted = false
        }
        while let c = characters.next() {
            if quoted {
                if c == "\"" {
                    // `""` inside quotes is one quote.
                    if let next = characters.next() {
                        if next == "\"" { current.append(next); continue }
                        quoted = false
                        if next == "," { finish() } else if !next.isWhitespace { current.append(next) }
                        continue
                    }
                    quoted = false
                } else {
                    current.append(c)
                }
            } else if c == "\"" {
                quoted = true
                wasQuoted = true
                current = ""
            } else if c == "," {
                finish()
            } else if !(wasQuoted && c.isWhitespace) {
                current.append(c)
            }
        }
        guard !quoted else { throw RedError(.invalidArgument, "invalid value for parameter \"search_path\": \"\(text)\"", detail: "List syntax is invalid.") }
        finish()
        return schemas
    }

    /// `TimeZone`, kept parsed (validated, and stored in its canonical spelling, when set).
    private(set) var timeZone = SessionTimeZone.utc

    static let defaults = PostgresCompatibility.defaultSettings

    /// The parameters PostgreSQL reports in ParameterStatus (at startup and whenever they change),
    /// with their canonical spelling.
    static let reported: [String: String] = [
        "server_version": "server_version", "server_encoding": "server_encoding", "client_encoding": "client_encoding",
        "application_name": "application_name", "datestyle": "DateStyle", "timezone": "TimeZone",
        "intervalstyle": "IntervalStyle", "integer_datetimes": "integer_datetimes",
        "standard_conforming_strings": "standard_conforming_strings", "is_superuser": "is_superuser",
        "session_authorization": "session_authorization", "default_transaction_read_only": "default_transaction_read_only",
        "in_hot_standby": "in_hot_standby",
    ]

    /// Startup packet options (`application_name`, `client_encoding`, `options` are honoured).
    /// A `TimeZone` that names no zone (pgJDBC sends the JVM's) is the error returned, which
    /// ends the connection as PostgreSQL ends it: the client's times would be read wrong.
    mutating func applyStartup(_ parameters: [String: String]) -> RedError? {
        for (name, value) in parameters {
            let key = name.lowercased()
            if key == "timezone" {
                do { values[key] = try SessionTimeZone(setting: value).name } catch let error as RedError { return error } catch { return nil }
            } else if key == "user" { values["session_authorization"] = value } else if values[key] != nil, key != "client_encoding" { values[key] = value }
        }
        return nil
    }

    func reportedAtStartup(serverVersion: String) -> [(String, String)] {
        Self.reported.keys.sorted().map { (Self.reported[$0]!, values[$0] ?? "") }
    }

    func value(_ name: String) throws -> String {
        guard let v = values[name.lowercased()] else {
            throw RedError(.undefinedObject, "unrecognized configuration parameter \"\(name)\"")
        }
        return v
    }

    /// Parameters fixed for the server's life: SET refuses them.
    static let unchangeable: Set<String> = ["server_version", "server_version_num", "server_encoding", "integer_datetimes", "max_identifier_length",
                                            "in_hot_standby", "is_superuser", "max_connections", "lc_collate", "lc_ctype", "block_size"]

    /// Custom (dotted) settings a connection may hold, and the longest value of one.
    static let maxCustomSettings = 1_000
    static let maxCustomValueBytes = 1 << 20

    /// Sets a parameter; nil restores the default. Returns the ParameterStatus to send, if any.
    mutating func set(_ name: String, _ value: String?) throws -> (String, String)? {
        let key = name.lowercased()
        guard let original = Self.defaults[key] else {
            // Unknown names with a dot are extension/custom settings, which PostgreSQL accepts too.
            guard key.contains(".") else { throw RedError(.undefinedObject, "unrecognized configuration parameter \"\(name)\"") }
            // Bounded, unlike PostgreSQL's: they are held per connection, from any client.
            guard (value ?? "").utf8.count <= Self.maxCustomValueBytes else {
                throw RedError(.limitExceeded, "a custom setting's value may be at most \(Self.maxCustomValueBytes) bytes")
            }
            guard values[key] != nil || values.count < Self.defaults.count + Self.maxCustomSettings else {
                throw RedError(.limitExceeded, "at most \(Self.maxCustomSettings) custom settings per connection")
            }
            values[key] = value ?? ""
            return nil
        }
        let newValue = value ?? original
        switch key {
        case "client_encoding":
            let normalized = newValue.uppercased().replacingUnderscoreAndDash()
            guard normalized == "UTF8" || normalized == "UNICODE" else {
                throw RedError(.featureNotSupported, "client_encoding \(newValue) is not supported: RedDB speaks UTF8 only")
            }
            values[key] = "UTF8"
        case _ where Self.unchangeable.contains(key):
            throw RedError(.invalidOperation, "parameter \"\(key)\" cannot be changed")
        case "default_transaction_read_only", "transaction_read_only":
            guard ["off", "false", "0"].contains(newValue.lowercased()) else {
                throw RedError(.featureNotSupported, "\(key) = on is not supported; use BEGIN READ ONLY or SET TRANSACTION READ ONLY")
            }
            values[key] = "off"
        case "default_transaction_isolation":
            guard let level = IsolationLevel(settingValue: newValue) else {
                throw RedError(.invalidArgument, "invalid value for parameter \"\(key)\": \"\(newValue)\"")
            }
            values[key] = level.rawValue
        case "statement_timeout", "lock_timeout":
            _ = try StatementTimeoutSetting.milliseconds(parsing: newValue)  // refuse what the session could not apply
            values[key] = newValue
        case "intervalstyle":
            // Intervals go out in PostgreSQL's default style or ISO 8601 (Rails asks for it);
            // the SQL-standard and verbose styles are not written.
            guard ["postgres", "iso_8601"].contains(newValue.lowercased()) else {
                throw RedError(.featureNotSupported, "IntervalStyle \(newValue) is not supported: postgres and iso_8601 are")
            }
            values[key] = newValue.lowercased()
        case "timezone":
            values[key] = try SessionTimeZone(setting: newValue).name
        case "search_path":
            _ = try Self.schemas(inSearchPath: newValue)
            values[key] = newValue
        case "standard_conforming_strings":
            guard ["on", "true", "1"].contains(newValue.lowercased()) else {
                throw RedError(.featureNotSupported, "standard_conforming_strings can only be on")
            }
        default:
            values[key] = newValue
        }
        guard let canonical = Self.reported[key] else { return nil }
        return (canonical, values[key] ?? "")
    }

    mutating func resetAll() { values = Self.defaults }

    /// Puts back a value SET LOCAL replaced (nil: the setting did not exist), without the
    /// checks SET makes: it held this value before. Returns the ParameterStatus to send, if any.
    mutating func restore(_ key: String, to value: String?) -> (String, String)? {
        values[key] = value
        guard let canonical = Self.reported[key], let value else { return nil }
        return (canonical, value)
    }

    /// `statement_timeout` in milliseconds (validated when set), kept parsed: every statement
    /// reads it, and parsing the text each time was 2% of a primary-key lookup's server time.
    private(set) var statementTimeoutMilliseconds = Self.milliseconds(Self.defaults["statement_timeout"])

    private static func milliseconds(_ setting: String?) -> Int {
        (try? StatementTimeoutSetting.milliseconds(parsing: setting ?? "0")) ?? 0
    }

    /// `lock_timeout` in milliseconds (validated when set), how long an advisory lock is waited for.
    var lockTimeoutMilliseconds: Int {
        (try? StatementTimeoutSetting.milliseconds(parsing: values["lock_timeout"] ?? "0")) ?? 0
    }

    /// `default_transaction_isolation` (validated when set).
    var defaultIsolation: IsolationLevel {
        values["default_transaction_isolation"].flatMap(IsolationLevel.init(settingValue:)) ?? .readCommitted
    }

    /// `SHOW ALL`: every parameter with its value, sorted by name.
    var all: [(String, String)] { values.keys.sorted().map { ($0, values[$0]!) } }
}

extension String {
    fileprivate func replacingUnderscoreAndDash() -> String { String(filter { $0 != "_" && $0 != "-" }) }
}
