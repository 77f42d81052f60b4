import GRPCCore
import RedCore

/// `RedError` → gRPC status. Upstream answers INTERNAL for nearly everything; we map each
/// stable code to the status a gRPC client can act on, and keep the SQLSTATE and the
/// RedError code in the trailing metadata (`reddb-sqlstate`, `reddb-error-code`) so a
/// client can be as precise as a PostgreSQL one.
enum GRPCStatusMapping {
    static func status(for code: RedError.Code) -> RPCError.Code {
        switch code {
        case .undefinedCollection, .undefinedObject, .undefinedPreparedStatement, .undefinedCursor, .undefinedColumn, .undefinedFunction:
            return .notFound
        case .uniqueViolation, .duplicateCollection, .duplicateObject, .duplicateColumn, .duplicatePreparedStatement:
            return .alreadyExists
        case .serializationFailure, .deadlockDetected: return .aborted
        case .notNullViolation, .checkViolation, .foreignKeyViolation, .dependentObjectsStillExist, .readOnlyTransaction, .inFailedTransaction, .transactionClosed,
             .objectNotInPrerequisiteState, .activeSQLTransaction, .objectInUse, .lockNotAvailable, .raisedException:
            return .failedPrecondition
        case .featureNotSupported: return .unimplemented
        case .limitExceeded, .tooManyConnections: return .resourceExhausted
        case .invalidPassword: return .unauthenticated
        case .invalidAuthorization, .insufficientPrivilege: return .permissionDenied
        case .closed, .databaseLocked, .aiProviderFailed: return .unavailable
        case .queryCanceled: return .cancelled
        case .commitNotAcknowledged: return .deadlineExceeded
        case .dataCorrupted: return .dataLoss
        case .internalError, .ioError, .storageFailed, .unsupportedFormat: return .internalError
        case .numericOutOfRange, .stringDataRightTruncation, .datetimeFieldOverflow, .intervalFieldOverflow: return .outOfRange
        default: return .invalidArgument  // syntax, type, value and parameter errors: the request is at fault
        }
    }

    /// The RPCError for any error a handler throws; RPCErrors pass through unchanged.
    static func rpcError(_ error: any Error) -> RPCError {
        if let rpc = error as? RPCError { return rpc }
        let red = error as? RedError ?? RedError(.internalError, "\(error)")
        var metadata = Metadata()
        metadata.addString(red.sqlState, forKey: "reddb-sqlstate")
        metadata.addString(red.code.rawValue, forKey: "reddb-error-code")
        return RPCError(code: status(for: red.code), message: red.message, metadata: metadata)
    }
}
