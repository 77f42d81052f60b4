import RedCore
import RedDB

/// SetSession (0x22), which upstream reserves without a body; ours: a JSON object of settings
/// for the stream's session, `{"statement_timeout": "5s", "application_name": "billing"}`.
/// A value of `null` restores the default. Every name is checked before any is applied, so a
/// bad request changes nothing. The reply is a `Result` with every setting's value now:
/// `{"ok":true,"settings":{"application_name":"billing","statement_timeout":"5s"}}`.
///
/// - `statement_timeout`: PostgreSQL's (milliseconds as a number, or text with a unit `ms`,
///   `s`, `min`, `h`, `d`; 0 = none). A request running longer fails with 57014
///   "canceling statement due to statement timeout".
/// - `application_name`: up to 64 bytes, logged (at debug level) when set and reported back,
///   so a client can label its streams.
struct RedWireSessionSettings: Sendable {
    var statementTimeout = "0"
    var applicationName = ""

    static let maxApplicationNameBytes = 64

    var json: JSONValue {
        .object([("ok", .bool(true)), ("settings", .object([("application_name", .string(applicationName)),
                                                             ("statement_timeout", .string(statementTimeout))]))])
    }

    /// Applies a SetSession payload to these settings and to `session`.
    mutating func apply(_ payload: [UInt8], to session: Session) throws {
        let json: JSONValue
        do { json = try JSONValue.parse(String(decoding: payload, as: UTF8.self)) } catch let error as RedError {
            throw RedError(.invalidArgument, "SetSession: invalid JSON: \(error.message)")
        }
        guard case .object(let members) = json else { throw RedError(.invalidArgument, "SetSession: payload must be a JSON object of settings") }
        var next = self
        for (name, value) in members {
            switch (name.lowercased(), value) {
            case ("statement_timeout", .null):
                next.statementTimeout = "0"
            case ("statement_timeout", .integer(let ms)):
                next.statementTimeout = String(ms)
            case ("statement_timeout", .string(let text)):
                next.statementTimeout = text
            case ("application_name", .null):
                next.applicationName = ""
            case ("application_name", .string(let text)):
                guard text.utf8.count <= Self.maxApplicationNameBytes else {
                    throw RedError(.invalidArgument, "SetSession: application_name is limited to \(Self.maxApplicationNameBytes) bytes")
                }
                next.applicationName = text
            case ("statement_timeout", _), ("application_name", _):
                throw RedError(.invalidArgument, "SetSession: \(name) takes a string\(name == "statement_timeout" ? ", a number of milliseconds" : "") or null")
            default:
                throw RedError(.undefinedObject, "unrecognized configuration parameter \"\(name)\"")
            }
        }
        let milliseconds = try StatementTimeoutSetting.milliseconds(parsing: next.statementTimeout)
        self = next
        session.statementTimeoutMilliseconds = milliseconds
    }
}
