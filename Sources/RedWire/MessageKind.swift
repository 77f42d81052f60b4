/// RedWire message kinds with their numeric codes (spec protocols §1.4). Codes are never
/// reused: 0x01–0x0F data plane, 0x10–0x1F handshake and lifecycle (Get/Delete/DeleteOk
/// sit there for history), 0x20–0x3F control plane.
public enum MessageKind: UInt8, Sendable, CaseIterable {
    case query = 0x01
    case result = 0x02
    case error = 0x03
    case bulkInsert = 0x04
    case bulkOk = 0x05
    case bulkInsertBinary = 0x06
    case queryBinary = 0x07
    case bulkInsertPrevalidated = 0x08
    case bulkStreamStart = 0x09
    case bulkStreamRows = 0x0A
    case bulkStreamCommit = 0x0B
    case bulkStreamAck = 0x0C
    case prepare = 0x0D
    case preparedOk = 0x0E
    case executePrepared = 0x0F
    case hello = 0x10
    case helloAck = 0x11
    case authRequest = 0x12
    case authResponse = 0x13
    case authOk = 0x14
    case authFail = 0x15
    case bye = 0x16
    case ping = 0x17
    case pong = 0x18
    case get = 0x19
    case delete = 0x1A
    case deleteOk = 0x1B
    case cancel = 0x20
    case compress = 0x21
    case setSession = 0x22
    case notice = 0x23
    case rowDescription = 0x24
    case streamEnd = 0x25
    case vectorSearch = 0x26
    case graphTraverse = 0x27
    case queryWithParams = 0x28

    public enum Direction: Sendable { case clientToServer, serverToClient, both }

    /// Who may send it.
    public var direction: Direction {
        switch self {
        case .result, .error, .bulkOk, .bulkStreamAck, .preparedOk, .helloAck, .authRequest, .authOk, .authFail,
             .deleteOk, .notice, .rowDescription, .streamEnd:
            return .serverToClient
        case .bye, .ping, .pong:
            return .both
        default:
            return .clientToServer
        }
    }

    /// Handshake and lifecycle kinds may carry MORE_FRAMES but never COMPRESSED.
    public var isLifecycle: Bool { (0x10...0x18).contains(rawValue) }

    /// The name error messages use (`redwire: Result is server-only`).
    public var name: String {
        switch self {
        case .query: return "Query"
        case .result: return "Result"
        case .error: return "Error"
        case .bulkInsert: return "BulkInsert"
        case .bulkOk: return "BulkOk"
        case .bulkInsertBinary: return "BulkInsertBinary"
        case .queryBinary: return "QueryBinary"
        case .bulkInsertPrevalidated: return "BulkInsertPrevalidated"
        case .bulkStreamStart: return "BulkStreamStart"
        case .bulkStreamRows: return "BulkStreamRows"
        case .bulkStreamCommit: return "BulkStreamCommit"
        case .bulkStreamAck: return "BulkStreamAck"
        case .prepare: return "Prepare"
        case .preparedOk: return "PreparedOk"
        case .executePrepared: return "ExecutePrepared"
        case .hello: return "Hello"
        case .helloAck: return "HelloAck"
        case .authRequest: return "AuthRequest"
        case .authResponse: return "AuthResponse"
        case .authOk: return "AuthOk"
        case .authFail: return "AuthFail"
        case .bye: return "Bye"
        case .ping: return "Ping"
        case .pong: return "Pong"
        case .get: return "Get"
        case .delete: return "Delete"
        case .deleteOk: return "DeleteOk"
        case .cancel: return "Cancel"
        case .compress: return "Compress"
        case .setSession: return "SetSession"
        case .notice: return "Notice"
        case .rowDescription: return "RowDescription"
        case .streamEnd: return "StreamEnd"
        case .vectorSearch: return "VectorSearch"
        case .graphTraverse: return "GraphTraverse"
        case .queryWithParams: return "QueryWithParams"
        }
    }
}
