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
        "transaction_isolation": "read committed",
        "default_transaction_isolation": "read committed",
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
        // Planner and resource settings tools and drivers SET or read; accepted and reported,
        // with PostgreSQL's defaults, and without effect on RedDB.
        "work_mem": "4MB", "maintenance_work_mem": "64MB", "temp_buffers": "8MB", "effective_cache_size": "4GB",
        "random_page_cost": "4", "seq_page_cost": "1", "cpu_tuple_cost": "0.01", "default_statistics_target": "100",
        "enable_seqscan": "on", "enable_indexscan": "on", "enable_bitmapscan": "on", "enable_hashjoin": "on",
        "enable_mergejoin": "on", "enable_nestloop": "on", "enable_hashagg": "on", "enable_sort": "on",
        "max_parallel_workers_per_gather": "2", "join_collapse_limit": "8", "from_collapse_limit": "8", "geqo": "on",
        "cursor_tuple_fraction": "0.1", "idle_session_timeout": "0", "log_statement": "none", "log_min_duration_statement": "-1",
        "default_text_search_config": "pg_catalog.simple", "escape_string_warning": "on", "array_nulls": "on",
        "backslash_quote": "safe_encoding", "check_function_bodies": "on", "session_replication_role": "origin",
        "default_tablespace": "", "default_table_access_method": "heap", "temp_tablespaces": "", "xmloption": "content", "timezone_abbreviations": "Default", "synchronize_seqscans": "on",
        "password_encryption": "scram-sha-256", "lc_collate": "C", "lc_ctype": "C", "block_size": "8192",
    ]
}
