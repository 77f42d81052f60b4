import NIOCore
import RedCore
import RedQuery

/// The session settings that change how values are written as text (binary forms are the
/// same whatever they are).
struct PGTextStyle {
    /// `IntervalStyle` is `iso_8601`: intervals are written `P1DT2H`.
    var intervalsAsISO8601 = false
    /// `TimeZone`: instants (`timestamptz`) are shown on its clocks.
    var timeZone = SessionTimeZone.utc
}

/// Builds backend (server to client) messages of the PostgreSQL protocol v3
/// into one outgoing buffer, so a whole reply (RowDescription, DataRows,
/// CommandComplete, ReadyForQuery) leaves in a single write.
///
/// Every message is `UInt8 tag` + `Int32 length` (including itself) + body;
/// strings are NUL-terminated, and a NUL inside an outgoing string is replaced
/// by U+FFFD so it cannot cut the message short.
struct PGBackendWriter {
    var buffer: ByteBuffer

    init(allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        buffer = allocator.buffer(capacity: 1024)
    }

    /// Takes everything written so far, leaving the writer empty.
    mutating func take() -> ByteBuffer {
        let out = buffer
        buffer.clear()
        return out
    }

    var isEmpty: Bool { buffer.readableBytes == 0 }

    /// Writes one message; `body` appends its fields.
    mutating func message(_ tag: Character, _ body: (inout ByteBuffer) -> Void = { _ in }) {
        buffer.writeInteger(tag.asciiValue!)
        let lengthIndex = buffer.writerIndex
        buffer.writeInteger(Int32(0))
        body(&buffer)
        buffer.setInteger(Int32(buffer.writerIndex - lengthIndex), at: lengthIndex)
    }

    mutating func authenticationOK() { message("R") { $0.writeInteger(Int32(0)) } }
    mutating func authenticationCleartextPassword() { message("R") { $0.writeInteger(Int32(3)) } }

    mutating func authenticationSASL(mechanisms: [String]) {
        message("R") { b in
            b.writeInteger(Int32(10))
            for m in mechanisms { b.writePGString(m) }
            b.writeInteger(UInt8(0))
        }
    }

    mutating func authenticationSASLContinue(_ data: [UInt8]) {
        message("R") { $0.writeInteger(Int32(11)); $0.writeBytes(data) }
    }

    mutating func authenticationSASLFinal(_ data: [UInt8]) {
        message("R") { $0.writeInteger(Int32(12)); $0.writeBytes(data) }
    }

    mutating func parameterStatus(_ name: String, _ value: String) {
        message("S") { $0.writePGString(name); $0.writePGString(value) }
    }

    mutating func backendKeyData(processID: Int32, secretKey: Int32) {
        message("K") { $0.writeInteger(processID); $0.writeInteger(secretKey) }
    }

    /// NotificationResponse: the notifying connection's process id, the channel, the payload.
    mutating func notification(_ notification: PGNotification) {
        message("A") { $0.writeInteger(notification.processID); $0.writePGString(notification.channel); $0.writePGString(notification.payload) }
    }

    mutating func readyForQuery(_ status: PGTransactionStatus) {
        message("Z") { $0.writeInteger(status.rawValue) }
    }

    mutating func rowDescription(_ columns: [PGColumn]) throws {
        try PGLimits.checkResultColumns(columns.count)
        message("T") { b in
            b.writeInteger(Int16(columns.count))
            for column in columns {
                b.writePGString(column.name)
                b.writeInteger(Int32(0))  // table OID
                b.writeInteger(Int16(0))  // column attribute number
                b.writeInteger(column.type.oid)
                b.writeInteger(column.type.size)
                b.writeInteger(column.type.typmod)
                b.writeInteger(column.format.rawValue)
            }
        }
    }

    /// One DataRow, each value encoded in its column's type and format.
    /// A failure leaves the buffer as it was, so the error that follows is a whole message.
    /// `style`: the session's settings that change how values are written as text.
    mutating func dataRow(_ row: [Value], _ columns: [PGColumn], style: PGTextStyle = PGTextStyle()) throws {
        try PGLimits.checkResultColumns(row.count)
        let start = buffer.writerIndex
        buffer.writeInteger(UInt8(ascii: "D"))
        let lengthIndex = buffer.writerIndex
        buffer.writeInteger(Int32(0))
        buffer.writeInteger(Int16(row.count))
        do {
            for (value, column) in zip(row, columns) {
                if style.intervalsAsISO8601, column.format == .text, column.type.oid == PGType.interval.oid, case .interval(let i) = value {
                    try PGValueCodec.write(.text(i.iso8601Text), as: column.type, format: .text, into: &buffer)
                    continue
                }
                try PGValueCodec.write(value, as: column.type, format: column.format, zone: style.timeZone, into: &buffer)
            }
        } catch {
            buffer.moveWriterIndex(to: start)
            throw error
        }
        let length = buffer.writerIndex - lengthIndex
        guard length <= PGLimits.maxResultMessageBytes else {
            buffer.moveWriterIndex(to: start)
            throw RedError(.limitExceeded, "a row of \(length) bytes is larger than a message may be (\(PGLimits.maxResultMessageBytes) bytes)")
        }
        buffer.setInteger(Int32(length), at: lengthIndex)
    }

    mutating func commandComplete(_ tag: String) { message("C") { $0.writePGString(tag) } }
    mutating func emptyQueryResponse() { message("I") }
    mutating func parseComplete() { message("1") }
    mutating func bindComplete() { message("2") }
    mutating func closeComplete() { message("3") }
    mutating func noData() { message("n") }
    mutating func portalSuspended() { message("s") }

    /// The count is unsigned on the wire, as PostgreSQL writes it (up to 65,535 parameters).
    mutating func parameterDescription(_ oids: [Int32]) throws {
        guard oids.count <= PGLimits.maxParameters else {
            throw RedError(.limitExceeded, "a statement may have at most \(PGLimits.maxParameters) parameters (this one has \(oids.count))")
        }
        message("t") { b in
            b.writeInteger(UInt16(oids.count))
            for oid in oids { b.writeInteger(oid) }
        }
    }

    mutating func copyInResponse(columns: Int, binary: Bool) throws { try copyResponse("G", columns: columns, binary: binary) }
    mutating func copyOutResponse(columns: Int, binary: Bool) throws { try copyResponse("H", columns: columns, binary: binary) }

    /// Overall format and per-column formats: all text (CSV is a text format too) or all binary.
    private mutating func copyResponse(_ tag: Character, columns: Int, binary: Bool) throws {
        try PGLimits.checkResultColumns(columns)
        message(tag) { b in
            b.writeInteger(UInt8(binary ? 1 : 0))
            b.writeInteger(Int16(columns))
            for _ in 0..<columns { b.writeInteger(Int16(binary ? 1 : 0)) }
        }
    }

    mutating func copyData(_ bytes: some Collection<UInt8>) { message("d") { $0.writeBytes(bytes) } }
    mutating func copyDone() { message("c") }

    /// ErrorResponse (`E`) or NoticeResponse (`N`) with PostgreSQL's fields; first the notices
    /// and warnings the statement raised before it failed, as PostgreSQL sent them meanwhile.
    mutating func error(_ error: RedError, severity: String = "ERROR") {
        for notice in error.notices { self.notice(severity: "NOTICE", code: QueryResult.noticeCode(notice), message: notice) }
        for warning in error.warnings { self.notice(severity: "WARNING", code: "01000", message: warning) }
        notice(tag: "E", severity: severity, code: error.sqlState, message: error.message, detail: error.detail, hint: error.hint, position: error.position)
    }

    mutating func notice(tag: Character = "N", severity: String, code: String, message text: String, detail: String? = nil, hint: String? = nil,
                         position: Int? = nil) {
        message(tag) { b in
            b.writeInteger(UInt8(ascii: "S")); b.writePGString(severity)
            b.writeInteger(UInt8(ascii: "V")); b.writePGString(severity)
            b.writeInteger(UInt8(ascii: "C")); b.writePGString(code)
            b.writeInteger(UInt8(ascii: "M")); b.writePGString(text)
            if let detail { b.writeInteger(UInt8(ascii: "D")); b.writePGString(detail) }
            if let hint { b.writeInteger(UInt8(ascii: "H")); b.writePGString(hint) }
            if let position { b.writeInteger(UInt8(ascii: "P")); b.writePGString(String(position)) }
            b.writeInteger(UInt8(0))
        }
    }
}

/// ReadyForQuery's transaction status byte.
enum PGTransactionStatus: UInt8 {
    case idle = 73          // 'I'
    case inTransaction = 84 // 'T'
    case failed = 69        // 'E'
}

/// Format code of a parameter or result column.
enum PGFormat: Int16 {
    case text = 0
    case binary = 1
}

/// One result column as the client will see it.
struct PGColumn {
    var name: String
    var type: PGType
    var format: PGFormat
}

extension ByteBuffer {
    mutating func writePGString(_ text: String) {
        if text.utf8.contains(0) {
            writeString(String(text.map { $0 == "\0" ? "\u{FFFD}" : $0 }))
        } else {
            writeString(text)
        }
        writeInteger(UInt8(0))
    }
}
