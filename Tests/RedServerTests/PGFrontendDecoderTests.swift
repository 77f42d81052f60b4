import NIOCore
import RedCore
@testable import RedServer
import Testing

/// Framing of client messages: startup packets, tagged messages, limits, partial input, fuzz.
@Suite struct PGFrontendDecoderTests {
    static func startup(_ pairs: [(String, String)]) -> ByteBuffer {
        var body = ByteBuffer()
        body.writeInteger(Int32(196_608))
        for (k, v) in pairs { body.writePGString(k); body.writePGString(v) }
        body.writeInteger(UInt8(0))
        var out = ByteBuffer()
        out.writeInteger(Int32(body.readableBytes + 4))
        out.writeBuffer(&body)
        return out
    }

    static func message(_ tag: Character, _ fill: (inout ByteBuffer) -> Void) -> ByteBuffer {
        var writer = PGBackendWriter()
        writer.message(tag, fill)
        return writer.take()
    }

    /// Decodes everything in `buffer`, returning the messages (throws on a violation).
    static func decodeAll(_ buffer: ByteBuffer, decoder: inout PGFrontendDecoder) throws -> [PGFrontendMessage] {
        var input = buffer
        var out: [PGFrontendMessage] = []
        while let m = try decoder.decode(buffer: &input) { out.append(m) }
        return out
    }

    @Test func sslRequestThenStartupThenQuery() throws {
        var decoder = PGFrontendDecoder()
        var bytes = ByteBuffer(bytes: [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F])
        var startup = Self.startup([("user", "ada"), ("database", "shop")])
        bytes.writeBuffer(&startup)
        var query = Self.message("Q") { $0.writePGString("SELECT 1") }
        bytes.writeBuffer(&query)
        let messages = try Self.decodeAll(bytes, decoder: &decoder)
        #expect(messages.count == 3)
        guard case .sslRequest = messages[0], case .startup(let parameters) = messages[1], case .query(let sql) = messages[2] else {
            Issue.record("unexpected \(messages)")
            return
        }
        #expect(parameters == ["user": "ada", "database": "shop"])
        #expect(sql == "SELECT 1")
    }

    @Test func partialInputWaitsForTheRest() throws {
        var decoder = PGFrontendDecoder()
        let full = Self.startup([("user", "x")])
        var first = full.getSlice(at: 0, length: 5)!
        #expect(try decoder.decode(buffer: &first) == nil)
        var all = full
        #expect(try decoder.decode(buffer: &all) != nil)
    }

    @Test func cancelRequestCarriesKey() throws {
        var decoder = PGFrontendDecoder()
        var bytes = ByteBuffer(bytes: [0, 0, 0, 16, 0x04, 0xD2, 0x16, 0x2E, 0, 0, 0, 7, 0xFF, 0xFF, 0xFF, 0xFE])
        guard case .cancelRequest(let pid, let secret)? = try decoder.decode(buffer: &bytes) else {
            Issue.record("not a cancel request")
            return
        }
        #expect(pid == 7)
        #expect(secret == -2)
    }

    @Test func bindWithNullAndBinaryParameters() throws {
        var decoder = PGFrontendDecoder()
        var bytes = Self.startup([("user", "x")])
        var bind = Self.message("B") { b in
            b.writePGString("p1"); b.writePGString("s1")
            b.writeInteger(Int16(1)); b.writeInteger(Int16(1))
            b.writeInteger(Int16(2))
            b.writeInteger(Int32(8)); b.writeInteger(Int64(42))
            b.writeInteger(Int32(-1))
            b.writeInteger(Int16(0))
        }
        bytes.writeBuffer(&bind)
        let messages = try Self.decodeAll(bytes, decoder: &decoder)
        guard case .bind(let b) = messages.last else {
            Issue.record("no bind")
            return
        }
        #expect(b.portal == "p1" && b.statement == "s1")
        #expect(b.parameterFormats == [1])
        #expect(b.parameters.count == 2)
        #expect(b.parameters[0]?.getInteger(at: b.parameters[0]!.readerIndex, as: Int64.self) == 42)
        #expect(b.parameters[1] == nil)
    }

    @Test func limitsAndMalformedMessagesAreProtocolViolations() throws {
        func violation(_ bytes: [UInt8], afterStartup: Bool) -> Bool {
            var decoder = PGFrontendDecoder()
            var buffer = afterStartup ? Self.startup([("user", "x")]) : ByteBuffer()
            buffer.writeBytes(bytes)
            do {
                _ = try Self.decodeAll(buffer, decoder: &decoder)
                return false
            } catch let error as RedError {
                return error.code == .protocolViolation
            } catch {
                return false
            }
        }
        #expect(violation([0x7F, 0, 0, 0, 0, 3, 0, 0], afterStartup: false))  // startup length too large
        #expect(violation([0, 0, 0, 4], afterStartup: false))  // startup length too small
        #expect(violation([0, 0, 0, 8, 0, 2, 0, 0], afterStartup: false))  // protocol 2.0
        #expect(violation([UInt8(ascii: "Q"), 0x7F, 0xFF, 0xFF, 0xFF], afterStartup: true))  // > maxMessageBytes
        #expect(violation([UInt8(ascii: "Q"), 0, 0, 0, 3], afterStartup: true))  // length below 4
        #expect(violation([UInt8(ascii: "Q"), 0, 0, 0, 6, 65, 66], afterStartup: true))  // no NUL terminator
        #expect(violation([UInt8(ascii: "B"), 0, 0, 0, 8, 0, 0, 0xFF, 0xFF], afterStartup: true))  // negative count
        #expect(violation([UInt8(ascii: "D"), 0, 0, 0, 6, UInt8(ascii: "X"), 0], afterStartup: true))  // bad target
        #expect(violation([UInt8(ascii: "E"), 0, 0, 0, 5, 0], afterStartup: true))  // truncated Execute
    }

    @Test func randomBytesNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<2_000 {
            var decoder = PGFrontendDecoder()
            var buffer = round % 2 == 0 ? Self.startup([("user", "x")]) : ByteBuffer()
            let count = Int.random(in: 0...200, using: &generator)
            buffer.writeBytes((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
            _ = try? Self.decodeAll(buffer, decoder: &decoder)
        }
    }
}
