/// What RedDB tells PostgreSQL clients about itself, shared by the engine's
/// `version()` / `current_setting()` and the PG-wire layer's ParameterStatus and SHOW.
///
/// The server version leads with `15.0` because psql and drivers parse the
/// major.minor prefix to choose catalog queries and features.
public enum PostgresCompatibility {
    /// RedDB's own release.
    public static let redDBVersion = "0.1.0"
    public static let serverVersion = "15.0 (RedDB \(redDBVersion))"
    public static let versionString = "PostgreSQL 15.0 (RedDB \(redDBVersion)) on Swift"
    public static let databaseName = "reddb"
    public static let schemaName = "public"

    /// Run-time settings as `SHOW` and `current_setting()` report them by default (lower-case names).
    public static let defaultSettings: [String: String] = [
        "server_version": serverVersion,
        "server_version_num": "150000",
        "server_encoding": "UTF8",
        "client_encoding": "UTF8",
        "datestyle": "ISO, MDY",
        "timezone": "UTC",
        "intervalstyle": "postgres",
        "integer_datetimes": "on",
        "standard_conforming_strings": "on",
        "application_name": "",
        "is_superuser": "on",
        "session_authorization": "",
        "default_transaction_read_only": "off",
        "in_hot_standby": "off",
        "transaction_isolation": "repeatable read",
        "default_transaction_isolation": "repeatable read",
        "transaction_read_only": "off",
        "search_path": "\"$user\", public",
        "extra_float_digits": "1",
        "max_identifier_length": "63",
        "lc_messages": "C",
        "lc_monetary": "C",
        "lc_numeric": "C",
        "lc_time": "C",
        "statement_timeout": "0",
        "lock_timeout": "0",
        "idle_in_transaction_session_timeout": "0",
        "client_min_messages": "notice",
        "bytea_output": "hex",
        "max_connections": "1000",
        "synchronous_commit": "on",
        "row_security": "on",
        "jit": "off",
    ]
}
