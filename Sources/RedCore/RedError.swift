/// The one error type of RedDB.
///
/// Every layer throws `RedError`; every surface maps its `code` to its own
/// encoding (SQLSTATE for PG-wire, a gRPC status, an HTTP status, a RedWire
/// error frame). The code is stable and machine-readable; the message is for
/// the user and should say what to do.
public struct RedError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Code
    public var message: String
    /// 1-based character position in the statement text the error points at (syntax errors),
    /// reported by PG-wire as the ErrorResponse `P` field.
    public var position: Int?
    /// PostgreSQL's DETAIL line: the specifics behind the message (`Key (id)=(1) already exists.`).
    public var detail: String?
    /// PostgreSQL's HINT line: what the user might do about it (PG-wire's `H` field).
    public var hint: String?

    /// PostgreSQL's specific condition when it is narrower than `code`'s (`2201F` within
    /// `invalidArgument`'s 22023). Only PG-wire and the `sqlstate` fields show it; the stable
    /// `code` stays what other surfaces map.
    public var condition: String?

    /// The notices and warnings the failed statement raised before it failed (PL/pgSQL's
    /// RAISE NOTICE, in order). PostgreSQL sends each as it is raised, so a client sees them
    /// before the error; PG-wire sends these before the ErrorResponse.
    public var notices: [String] = []
    public var warnings: [String] = []

    /// This error with `notices` and `warnings` raised before what it already carries.
    public func raisedAfter(notices earlier: [String], warnings earlierWarnings: [String]) -> RedError {
        guard !earlier.isEmpty || !earlierWarnings.isEmpty else { return self }
        var error = self
        error.notices = earlier + notices
        error.warnings = earlierWarnings + warnings
        return error
    }

    public init(_ code: Code, _ message: String, detail: String? = nil, hint: String? = nil, condition: String? = nil) {
        self.code = code
        self.message = message
        self.detail = detail
        self.hint = hint
        self.condition = condition
    }

    /// The SQLSTATE clients see: the specific condition, else the code's.
    public var sqlState: String { condition ?? code.sqlState }

    /// Errors are equal when code and message are (the position is a presentation detail).
    public static func == (a: RedError, b: RedError) -> Bool { a.code == b.code && a.message == b.message }

    public var description: String { "\(code.rawValue) (\(sqlState)): \(message)" }

    /// Stable error codes. The raw value is the name clients see; `sqlState`
    /// is the PostgreSQL class/condition the code maps to.
    public enum Code: String, Sendable, CaseIterable {
        /// Bytes on disk do not match their checksum or structure.
        case dataCorrupted = "data_corrupted"
        /// An operating-system I/O call failed.
        case ioError = "io_error"
        /// A WAL fsync or write failed earlier; the database accepts no more writes.
        case storageFailed = "storage_failed"
        /// Another process holds the exclusive lock on the database file.
        case databaseLocked = "database_locked"
        /// A concurrent transaction committed a conflicting write first.
        case serializationFailure = "serialization_failure"
        /// A size, count or length limit was exceeded.
        case limitExceeded = "limit_exceeded"
        /// An argument is outside what the API accepts.
        case invalidArgument = "invalid_argument"
        /// A named collection (table) does not exist.
        case undefinedCollection = "undefined_collection"
        /// A collection with that name already exists.
        case duplicateCollection = "duplicate_collection"
        /// Another object (a constraint) already has that name.
        case duplicateObject = "duplicate_object"
        /// The transaction already committed or rolled back.
        case transactionClosed = "transaction_closed"
        /// The file was written by a newer or unknown format version.
        case unsupportedFormat = "unsupported_format"
        /// The database (or engine) has been closed.
        case closed = "closed"
        /// A bug: an invariant that must always hold did not.
        case internalError = "internal_error"
        /// The query text does not parse.
        case syntaxError = "syntax_error"
        /// A column name does not resolve.
        case undefinedColumn = "undefined_column"
        /// A column name resolves to more than one column.
        case ambiguousColumn = "ambiguous_column"
        /// An operator or function call that several candidates would fit (`time + time`).
        case ambiguousFunction = "ambiguous_function"
        /// A function (with these arguments) does not exist.
        case undefinedFunction = "undefined_function"
        /// An index, view or other named object does not exist.
        case undefinedObject = "undefined_object"
        /// A value violates a unique constraint or unique index.
        case uniqueViolation = "unique_violation"
        /// NULL was written into a NOT NULL column.
        case notNullViolation = "not_null_violation"
        /// A row makes a CHECK constraint's expression false.
        case checkViolation = "check_violation"
        /// A row names a key its referenced table lacks, or a referenced row still has references.
        case foreignKeyViolation = "foreign_key_violation"
        /// A FOREIGN KEY definition names no unique key of the referenced table.
        case invalidForeignKey = "invalid_foreign_key"
        /// The object is in use by this transaction (a table with deferred checks waiting).
        case objectInUse = "object_in_use"
        /// A text value does not parse as the target type (bad email, date, number …).
        case invalidTextRepresentation = "invalid_text_representation"
        /// Division (or modulo) by zero.
        case divisionByZero = "division_by_zero"
        /// Text longer than its `varchar(n)` / `char(n)` column allows.
        case stringDataRightTruncation = "string_data_right_truncation"
        /// A number does not fit its type.
        case numericOutOfRange = "numeric_value_out_of_range"
        /// Operand types do not fit the operator or column.
        case datatypeMismatch = "datatype_mismatch"
        /// A column is used outside an aggregate where GROUP BY requires one.
        case groupingError = "grouping_error"
        /// A scalar subquery returned more than one row.
        case cardinalityViolation = "cardinality_violation"
        /// An earlier statement failed; only ROLLBACK is accepted until the block ends.
        case inFailedTransaction = "in_failed_sql_transaction"
        /// The object is not in the state the operation needs (an analytics job's step out of order).
        case objectNotInPrerequisiteState = "object_not_in_prerequisite_state"
        /// The statement cannot run inside a transaction block (REINDEX CONCURRENTLY, DISCARD ALL …).
        case activeSQLTransaction = "active_sql_transaction"
        /// The operation is not allowed on this object (APPEND ONLY table, model mismatch …).
        case invalidOperation = "invalid_operation"
        /// Recognised but not supported.
        case featureNotSupported = "feature_not_supported"
        /// Parameters do not match the statement's placeholders.
        case invalidParameters = "invalid_parameters"
        /// LIMIT is negative or not a number of rows.
        case invalidLimit = "invalid_row_count_in_limit_clause"
        /// OFFSET is negative or not a number of rows.
        case invalidOffset = "invalid_row_count_in_result_offset_clause"
        /// A column name appears twice where names must be unique.
        case duplicateColumn = "duplicate_column"
        /// A table name or alias appears twice in one FROM clause.
        case duplicateAlias = "duplicate_alias"
        /// An ORDER BY / GROUP BY position or a DISTINCT ORDER BY item does not name a select-list entry.
        case invalidColumnReference = "invalid_column_reference"
        /// A window function where none is allowed.
        case windowingError = "windowing_error"
        /// Date/time text in the wrong shape.
        case invalidDatetimeFormat = "invalid_datetime_format"
        /// A date/time field out of range (month 13, February 30 …).
        case datetimeFieldOverflow = "datetime_field_overflow"
        /// An interval field out of its range (`'1:70'`, `'9999999999 years'`).
        case intervalFieldOverflow = "interval_field_overflow"
        /// Other objects (views) depend on what is being dropped.
        case dependentObjectsStillExist = "dependent_objects_still_exist"
        /// A definition change that is not allowed (CREATE OR REPLACE VIEW dropping columns …).
        case invalidTableDefinition = "invalid_table_definition"
        /// A CREATE FUNCTION that cannot make a function (no body, a result that does not fit).
        case invalidFunctionDefinition = "invalid_function_definition"
        /// `$n` past a SQL function's arguments.
        case undefinedParameter = "undefined_parameter"
        /// CREATE FUNCTION of a name and argument types another function has.
        case duplicateFunction = "duplicate_function"
        /// RELEASE / ROLLBACK TO names no open savepoint.
        case invalidSavepoint = "invalid_savepoint_specification"
        /// A client cancelled the running statement (PG CancelRequest, RedWire cancel).
        case queryCanceled = "query_canceled"
        /// Waiting for a lock would wait forever: sessions wait for each other in a cycle.
        case deadlockDetected = "deadlock_detected"
        /// A lock could not be taken, and waiting for it is not possible here.
        case lockNotAvailable = "lock_not_available"
        /// A network client broke its protocol: malformed or oversized message, wrong order.
        case protocolViolation = "protocol_violation"
        /// Wrong user name or password.
        case invalidPassword = "invalid_password"
        /// The client may not connect or act this way (authentication method, role).
        case invalidAuthorization = "invalid_authorization"
        /// A prepared statement name the connection never prepared.
        case undefinedPreparedStatement = "undefined_prepared_statement"
        /// Parse reused the name of a prepared statement that still exists.
        case duplicatePreparedStatement = "duplicate_prepared_statement"
        /// A portal (bound statement) name the connection never bound.
        case undefinedCursor = "undefined_cursor"
        /// A write inside BEGIN … READ ONLY.
        case readOnlyTransaction = "read_only_sql_transaction"
        /// The caller's role does not allow this (a `read` user writing, a non-admin managing users).
        case insufficientPrivilege = "insufficient_privilege"
        /// The server is at its connection limit.
        case tooManyConnections = "too_many_connections"
        /// An AI provider (embeddings, prompts, ASK) failed or could not be reached.
        case aiProviderFailed = "ai_provider_failed"
        /// An ASK answer cited sources it was not given, even after a retry (strict mode).
        case answerValidationFailed = "answer_validation_failed"
        /// A primary committed, but too few replicas acknowledged it in time (commit policy
        /// `ack_n` with fail-on-timeout): the write stands; whether it is replicated is unknown.
        case commitNotAcknowledged = "commit_not_acknowledged"
        /// A PL/pgSQL `RAISE EXCEPTION` (P0001, or the SQLSTATE it names, in `condition`), and
        /// PL/pgSQL's own runtime conditions (P0002 no rows, P0003 too many, P0004 ASSERT).
        case raisedException = "raise_exception"

        /// The PostgreSQL SQLSTATE for this code.
        public var sqlState: String {
            switch self {
            case .dataCorrupted: return "XX001"
            case .ioError: return "58030"
            case .storageFailed: return "58030"
            case .databaseLocked: return "55006"
            case .serializationFailure: return "40001"
            case .limitExceeded: return "54000"
            case .invalidArgument: return "22023"
            case .undefinedCollection: return "42P01"
            case .duplicateCollection: return "42P07"
            case .duplicateObject: return "42710"
            case .transactionClosed: return "25P01"
            case .unsupportedFormat: return "XX001"
            case .closed: return "57P01"
            case .internalError: return "XX000"
            case .syntaxError: return "42601"
            case .undefinedColumn: return "42703"
            case .ambiguousColumn: return "42702"
            case .ambiguousFunction: return "42725"
            case .undefinedFunction: return "42883"
            case .undefinedObject: return "42704"
            case .uniqueViolation: return "23505"
            case .notNullViolation: return "23502"
            case .checkViolation: return "23514"
            case .foreignKeyViolation: return "23503"
            case .invalidForeignKey: return "42830"
            case .objectInUse: return "55006"
            case .invalidTextRepresentation: return "22P02"
            case .divisionByZero: return "22012"
            case .numericOutOfRange: return "22003"
            case .stringDataRightTruncation: return "22001"
            case .datatypeMismatch: return "42804"
            case .groupingError: return "42803"
            case .cardinalityViolation: return "21000"
            case .inFailedTransaction: return "25P02"
            case .activeSQLTransaction: return "25001"
            case .objectNotInPrerequisiteState: return "55000"
            case .invalidOperation: return "42809"
            case .featureNotSupported: return "0A000"
            case .invalidParameters: return "08P01"
            case .invalidLimit: return "2201W"
            case .invalidOffset: return "2201X"
            case .duplicateColumn: return "42701"
            case .duplicateAlias: return "42712"
            case .invalidColumnReference: return "42P10"
            case .windowingError: return "42P20"
            case .invalidDatetimeFormat: return "22007"
            case .datetimeFieldOverflow: return "22008"
            case .intervalFieldOverflow: return "22015"
            case .dependentObjectsStillExist: return "2BP01"
            case .invalidTableDefinition: return "42P16"
            case .invalidFunctionDefinition: return "42P13"
            case .undefinedParameter: return "42P02"
            case .duplicateFunction: return "42723"
            case .invalidSavepoint: return "3B001"
            case .queryCanceled: return "57014"
            case .deadlockDetected: return "40P01"
            case .lockNotAvailable: return "55P03"
            case .protocolViolation: return "08P01"
            case .invalidPassword: return "28P01"
            case .invalidAuthorization: return "28000"
            case .undefinedPreparedStatement: return "26000"
            case .undefinedCursor: return "34000"
            case .duplicatePreparedStatement: return "42P05"
            case .tooManyConnections: return "53300"
            case .readOnlyTransaction: return "25006"
            case .insufficientPrivilege: return "42501"
            case .aiProviderFailed: return "58000"
            case .answerValidationFailed: return "22000"
            case .commitNotAcknowledged: return "08007"
            case .raisedException: return "P0001"
            }
        }
    }
}
