import RedCore
@testable import RedWire
import Testing

/// What a frame may cost the server once decoded, apart from its length on the wire.
@Suite struct DecodedSizeLimitTests {
    /// A bulk-insert payload for `collection (a)` claiming `rows` one-byte NULL rows.
    static func nullRows(_ rows: Int) -> [UInt8] {
        var payload = BinaryValueCodec.encode(BinaryValueCodec.BulkInsert(collection: "t", columns: ["a"], rows: []))
        payload.removeLast(4)  // nrows
        payload += withUnsafeBytes(of: UInt32(rows).littleEndian, Array.init)
        return payload + [UInt8](repeating: 0, count: rows)  // tag 0: NULL
    }

    /// 16 MiB of one-byte NULLs would decode to over a gigabyte of rows (a `Value` is 32
    /// bytes and each row an array of its own); such a frame is refused before decoding.
    @Test func rowsThatWouldDecodeHugeAreRefused() throws {
        let huge = Self.nullRows(Frame.maximumSize - 64)
        #expect(throws: RedError.self) { try BinaryValueCodec.decodeBulkInsert(huge) }
        do { _ = try BinaryValueCodec.decodeBulkInsert(huge) } catch let error as RedError {
            #expect(error.code == .limitExceeded, "\(error)")
        }
        let fine = try BinaryValueCodec.decodeBulkInsert(Self.nullRows(100_000))
        #expect(fine.rows.count == 100_000)
    }

    /// A compressed frame can be left compressed by the decoder (a server inflates it only
    /// when its reader takes it), and inflates to the same frame later.
    @Test func compressedFramesInflateWhenAsked() throws {
        guard Zstd.isAvailable else { return }
        let plain = Frame(.query, correlationID: 7, payload: Array(String(repeating: "SELECT 1; ", count: 200).utf8))
        let bytes = plain.compressed(level: 1).encoded()
        guard case .frame(let kept, _) = try FrameDecoder.decode(bytes[...], inflate: false) else { Issue.record("no frame"); return }
        #expect(kept.flags.contains(.compressed))
        #expect(kept.payload.count < plain.payload.count)
        let inflated = try kept.inflated()
        #expect(inflated.payload == plain.payload && !inflated.flags.contains(.compressed))
        guard case .frame(let direct, _) = try FrameDecoder.decode(bytes[...]) else { Issue.record("no frame"); return }
        #expect(direct.payload == plain.payload)
    }
}
