/// The one error type of RedDB.
///
/// Every layer throws `RedError`; every surface maps its `code` to its own
/// encoding (SQLSTATE for PG-wire, a gRPC status, an HTTP status, a RedWire
/// error frame). The code is stable and machine-readable; the message is for
/// the user and should say what to do.
public struct RedError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue) (\(code.sqlState)): \(message)" }

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
        /// The transaction already committed or rolled back.
        case transactionClosed = "transaction_closed"
        /// The file was written by a newer or unknown format version.
        case unsupportedFormat = "unsupported_format"
        /// The database (or engine) has been closed.
        case closed = "closed"
        /// A bug: an invariant that must always hold did not.
        case internalError = "internal_error"

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
            case .transactionClosed: return "25P01"
            case .unsupportedFormat: return "XX001"
            case .closed: return "57P01"
            case .internalError: return "XX000"
            }
        }
    }
}
