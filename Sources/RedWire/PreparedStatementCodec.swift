import RedCore

/// Prepare (0x0D), PreparedOk (0x0E) and ExecutePrepared (0x0F) bodies (spec protocols
/// §1.6.8). The client picks the statement id; the server turns the statement's literals
/// into parameter slots and answers how many there are; each execution binds one binary
/// value (§1.6.3 tags) per slot.
public enum PreparedStatementCodec {
    public struct Prepare: Sendable, Equatable {
        public var statementID: UInt32
        public var sql: String
        public init(statementID: UInt32, sql: String) { self.statementID = statementID; self.sql = sql }
    }

    public struct Execute: Sendable, Equatable {
        public var statementID: UInt32
        public var parameters: [Value]
        public init(statementID: UInt32, parameters: [Value]) { self.statementID = statementID; self.parameters = parameters }
    }

    /// Prepare: `u32 stmt_id`, `u32 sql_len`, the SQL.
    public static func encode(_ prepare: Prepare) -> [UInt8] {
        var writer = ByteWriter()
        writer.u32(prepare.statementID)
        writer.text32(prepare.sql)
        return writer.bytes
    }

    public static func decodePrepare(_ payload: [UInt8]) throws -> Prepare {
        var reader = WireReader(payload)
        let id = try reader.u32("stmt_id")
        let sql = try reader.text(Int(try reader.u32("sql_len")), "sql")
        try reader.expectEnd()
        return Prepare(statementID: id, sql: sql)
    }

    /// PreparedOk: `u32 stmt_id`, `u16 param_count`.
    public static func encodePreparedOk(statementID: UInt32, parameterCount: UInt16) -> [UInt8] {
        var writer = ByteWriter(capacity: 6)
        writer.u32(statementID)
        writer.u16(parameterCount)
        return writer.bytes
    }

    public static func decodePreparedOk(_ payload: [UInt8]) throws -> (statementID: UInt32, parameterCount: UInt16) {
        var reader = WireReader(payload)
        let id = try reader.u32("stmt_id")
        let count = try reader.u16("param_count")
        try reader.expectEnd()
        return (id, count)
    }

    /// ExecutePrepared: `u32 stmt_id`, `u16 nparams`, the values.
    public static func encode(_ execute: Execute) -> [UInt8] {
        var writer = ByteWriter()
        writer.u32(execute.statementID)
        writer.u16(UInt16(truncatingIfNeeded: execute.parameters.count))
        for value in execute.parameters { BinaryValueCodec.encode(value, into: &writer) }
        return writer.bytes
    }

    public static func decodeExecute(_ payload: [UInt8]) throws -> Execute {
        var reader = WireReader(payload)
        let id = try reader.u32("stmt_id")
        let count = Int(try reader.u16("nparams"))
        // Every value takes at least its tag byte, so a count beyond the bytes left is a lie.
        guard count <= reader.remaining else { throw RedError(.protocolViolation, "truncated params: \(count) announced") }
        var parameters: [Value] = []
        parameters.reserveCapacity(count)
        for _ in 0..<count { parameters.append(try BinaryValueCodec.decode(&reader)) }
        try reader.expectEnd()
        return Execute(statementID: id, parameters: parameters)
    }
}
