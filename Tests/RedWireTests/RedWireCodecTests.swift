import RedCore
import Testing
@testable import RedWire

/// RedWire's codecs against the spec's worked byte-level example (protocols §1.11) and
/// its rules for frames, parameter tags and binary value tags.
struct RedWireCodecTests {
    static func hex(_ text: String) -> [UInt8] {
        let digits = Array(text.filter { !$0.isWhitespace && $0 != "|" })
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
    }

    static func decodeOne(_ bytes: [UInt8]) throws -> Frame {
        guard case .frame(let frame, let consumed) = try FrameDecoder.decode(bytes[...]) else {
            Issue.record("incomplete frame"); throw RedError(.internalError, "incomplete")
        }
        #expect(consumed == bytes.count)
        return frame
    }

    @Test func helloFrameOfTheWorkedExample() throws {
        let json = #"{"versions":[1],"auth_methods":["anonymous"],"features":0}"#
        let bytes = Self.hex("4a000000 | 10 | 00 | 0000 | 0100000000000000") + Array(json.utf8)
        let frame = try Self.decodeOne(bytes)
        #expect(frame.kind == .hello && frame.correlationID == 1 && frame.streamID == 0 && frame.flags == [])
        #expect(String(decoding: frame.payload, as: UTF8.self) == json)
        #expect(frame.encoded() == bytes)
        #expect(RedWirePreamble.bytes == [0xFE, 0x01])
    }

    @Test func queryWithParamsFixtureSelectOneMixed() throws {
        let bytes = Self.hex("""
            31000000 | 28 | 00 | 0000 | 0400000000000000
            09000000 53454c4543542024 31 03000000
            02 2a00000000000000   04 01000000 78   00
            """)
        let frame = try Self.decodeOne(bytes)
        #expect(frame.kind == .queryWithParams && frame.correlationID == 4)
        let query = try ParamValueCodec.decode(frame.payload)
        #expect(query == ParamValueCodec.QueryWithParams(sql: "SELECT $1", parameters: [.integer(42), .text("x"), .null]))
        #expect(ParamValueCodec.encode(query) == frame.payload)
    }

    @Test func bulkInsertBinaryAndBulkOkOfTheWorkedExample() throws {
        let bytes = Self.hex("""
            32000000 | 06 | 00 | 0000 | 0500000000000000
            0100 74  0200  0200 6964  0400 6e616d65  01000000
            01 0100000000000000   03 01000000 61
            """)
        let frame = try Self.decodeOne(bytes)
        let bulk = try BinaryValueCodec.decodeBulkInsert(frame.payload)
        #expect(bulk == BinaryValueCodec.BulkInsert(collection: "t", columns: ["id", "name"], rows: [[.integer(1), .text("a")]]))
        #expect(BinaryValueCodec.encode(bulk) == frame.payload)
        var count = ByteWriter()
        count.u64(1)
        let ok = Frame.reply(.bulkOk, to: frame, payload: count.bytes)
        #expect(ok.encoded() == Self.hex("18000000 | 05 | 00 | 0000 | 0500000000000000 | 0100000000000000"))
    }

    @Test func binaryResultOfTheWorkedExample() throws {
        let payload = Self.hex("0200 0200 6964 0400 6e616d65 01000000 01 0100000000000000 03 01000000 61")
        let result = try BinaryValueCodec.decodeColumnar(payload)
        #expect(result == BinaryValueCodec.Columnar(columns: ["id", "name"], rows: [[.integer(1), .text("a")]]))
        #expect(BinaryValueCodec.encode(result) == payload)
        #expect(BinaryValueCodec.encode(BinaryValueCodec.Columnar(columns: [], rows: [])) == [0, 0, 0, 0, 0, 0])
    }

    @Test func standaloneTopologyBlob() throws {
        #expect(Topology.standalone.encoded().count == 30)
        #expect(Topology.standalone.base64 == "ARkAAAAAAAAAAAAAAAAAAAAFAAAAbG9jYWwAAAAA")
        let cluster = Topology(epoch: 7, primaryAddress: "10.0.0.1:5050", primaryRegion: "eu", replicas: [
            .init(address: "10.0.0.2:5050", region: "eu", healthy: true, lagMilliseconds: 12, lastAppliedLSN: 4096),
        ])
        #expect(try Topology.decode(cluster.encoded()) == cluster)
        // A newer tag ahead of ours is skipped by its length.
        let future: [UInt8] = [0x02, 3, 0, 0, 0, 9, 9, 9]
        #expect(try Topology.decode(future + cluster.encoded()) == cluster)
    }

    @Test func everyValueTypeRoundTripsAsAParameter() throws {
        let values: [Value] = [
            .null, .boolean(true), .boolean(false), .integer(-5), .integer(.max), .float(2.5), .float(-.infinity),
            .text("héllo"), .blob([0, 1, 255]), .vector([1.5, -2]), .json(try JSONValue.parse(#"{"a":[1,true,null]}"#)),
            .timestamp(1_700_000_000_000_000), .uuid(0x0011_2233_4455_6677_8899_aabb_ccdd_eeff),
        ]
        let query = ParamValueCodec.QueryWithParams(sql: "SELECT 1", parameters: values)
        #expect(try ParamValueCodec.decode(ParamValueCodec.encode(query)) == query)
        // Sub-second timestamps, decimals and dates travel as their text (the spec's timestamp counts seconds).
        let lossy = ParamValueCodec.QueryWithParams(sql: "", parameters: [.timestamp(1_500_001), .decimal(Numeric(unchecked: 12_500, scale: 4)), .date(0)])
        #expect(try ParamValueCodec.decode(ParamValueCodec.encode(lossy)).parameters
                == [.text("1970-01-01 00:00:01.500001"), .text(Value.decimal(Numeric(unchecked: 12_500, scale: 4)).displayText), .text(Value.date(0).displayText)])
        var uuid = ByteWriter()
        ParamValueCodec.encode(.uuid(0x0011_2233_4455_6677_8899_aabb_ccdd_eeff), into: &uuid)
        #expect(uuid.bytes == [0x09] + Self.hex("00112233445566778899aabbccddeeff"))
    }

    @Test func binaryValuesUseTheirOwnTags() throws {
        func encoded(_ value: Value) -> [UInt8] {
            var writer = ByteWriter()
            BinaryValueCodec.encode(value, into: &writer)
            return writer.bytes
        }
        #expect(encoded(.null) == [0])
        #expect(encoded(.integer(1)) == [1, 1, 0, 0, 0, 0, 0, 0, 0])
        #expect(encoded(.boolean(true)) == [4, 1])
        #expect(encoded(.timestamp(2000)) == [5, 2, 0, 0, 0, 0, 0, 0, 0])  // milliseconds, upstream's TimestampMs
        #expect(encoded(.timestamp(2001)).first == 3)  // microseconds: as text, which keeps them
        // Types without a tag go as text, which a spec client still reads.
        #expect(encoded(.decimal(Numeric(unchecked: 12_500, scale: 4))).first == 3)
        let result = BinaryValueCodec.Columnar(columns: ["a", "b", "c", "d"], rows: [
            [.integer(-1), .float(0.5), .text("x"), .boolean(false)], [.null, .null, .null, .null],
        ])
        #expect(try BinaryValueCodec.decodeColumnar(BinaryValueCodec.encode(result)) == result)
        // U64 beyond Int64 stays exact, as text.
        var reader = WireReader([5, 255, 255, 255, 255, 255, 255, 255, 255])
        #expect(try BinaryValueCodec.decode(&reader) == .text("18446744073709551615"))
    }

    @Test func codecErrorsUseTheSpecTexts() {
        func message(_ payload: [UInt8]) -> String? {
            do { _ = try ParamValueCodec.decode(payload); return nil } catch let error as RedError { return error.message } catch { return "\(error)" }
        }
        let sql: [UInt8] = [1, 0, 0, 0, 0x41]
        #expect(message([1, 0]) == "truncated sql length")
        #expect(message(sql + [1, 0, 0, 0, 0x01, 2]) == "invalid bool payload byte 2")
        #expect(message(sql + [1, 0, 0, 0, 0x0A]) == "unknown parameter value tag 0x0a")
        #expect(message(sql + [0, 0, 0, 0, 7]) == "1 trailing bytes after payload")
        #expect(message(sql + [1, 0, 1, 0]) == "param_count 65537 exceeds RedWire v1 limit")
        #expect(message([1, 0, 0, 0, 0xFF, 0, 0, 0, 0]) == "sql must be valid UTF-8")
        #expect(message(sql + [1, 0, 0, 0, 0x04, 0xFF, 0xFF, 0xFF, 0x7F]) == "truncated text")
        #expect(throws: RedError.self) { try BinaryValueCodec.decodeBulkInsert([1, 0]) }
        #expect(throws: RedError.self) { try BinaryValueCodec.decodeColumnar([1, 0, 1, 0, 0x61, 0xFF, 0xFF, 0xFF, 0xFF, 1]) }
    }

    @Test func frameHeaderRules() throws {
        let ping = Frame(.ping, correlationID: 9, streamID: 3).encoded()
        #expect(try FrameDecoder.decode(ping[..<15]) == .needMoreBytes)
        #expect(try FrameDecoder.decode((ping + [0x20, 0])[...]) == .frame(Frame(.ping, correlationID: 9, streamID: 3), consumed: 16))
        var long = Frame(.query, correlationID: 1, payload: Array("SELECT 1".utf8)).encoded()
        #expect(try FrameDecoder.decode(long[..<20]) == .needMoreBytes)
        func rejects(_ bytes: [UInt8]) -> Bool { (try? FrameDecoder.decode(bytes[...])) == nil }
        var bad = ping; bad[0] = 15
        #expect(rejects(bad))  // shorter than a header
        bad = ping; bad[0] = 0; bad[1] = 0; bad[2] = 0; bad[3] = 2
        #expect(rejects(bad))  // over 16 MiB
        bad = ping; bad[4] = 0x29
        #expect(rejects(bad))  // unknown kind
        bad = ping; bad[5] = 0x04
        #expect(rejects(bad))  // unknown flag
        bad = ping; bad[5] = 0x01
        #expect(rejects(bad))  // lifecycle kinds are never compressed
        long[5] = 0x02
        #expect(!rejects(long))  // MORE_FRAMES is allowed
        long[5] = 0x01
        #expect(rejects(long))  // COMPRESSED, but the payload is not zstd
        #expect(Frame.reply(.pong, to: Frame(.ping, correlationID: 7, streamID: 5)).streamID == 5)
    }

    /// zstd (libzstd loaded at run time): round trips, inflation on decode, the 16 MiB cap
    /// against bombs, and garbage refused.
    @Test(.enabled(if: Zstd.isAvailable, "libzstd.so.1 is not installed")) func zstdCompressedFrames() throws {
        let sql = "SELECT " + Array(repeating: "'redwire'", count: 200).joined(separator: ", ")
        let frame = Frame(.query, correlationID: 4, streamID: 2, payload: Array(sql.utf8))
        let packed = frame.compressed()
        #expect(packed.flags.contains(.compressed) && packed.payload.count < frame.payload.count / 4)
        #expect(try FrameDecoder.decode(packed.encoded()[...]) == .frame(frame, consumed: packed.encoded().count))
        #expect(Frame(.ping, correlationID: 1).compressed().flags.isEmpty)  // lifecycle kinds stay plain
        #expect(Frame(.query, correlationID: 1, payload: [1, 2, 3]).compressed().flags.isEmpty)  // too small to bother

        // Several frames concatenated decode as one payload; a truncated one does not.
        let twice = Zstd.compress([1, 2, 3])! + Zstd.compress([4, 5])!
        #expect(try Zstd.decompress(twice, maxBytes: 100) == [1, 2, 3, 4, 5])
        let whole = Zstd.compress(Array(sql.utf8))!
        #expect(throws: RedError.self) { try Zstd.decompress(Array(whole.dropLast(3)), maxBytes: 1 << 20) }
        #expect(throws: RedError.self) { try Zstd.decompress(Array("not zstd at all".utf8), maxBytes: 1 << 20) }

        // 17 MiB of zeros compresses to a few hundred bytes; decoding stops at the 16 MiB cap.
        let bomb = Zstd.compress([UInt8](repeating: 0, count: 17 << 20))!
        #expect(bomb.count < 4096)
        #expect(throws: RedError.self) { try Zstd.decompress(bomb, maxBytes: Frame.maximumSize) }
        var bombFrame = Frame(.query, correlationID: 5, payload: bomb)
        bombFrame.flags = .compressed
        #expect((try? FrameDecoder.decode(bombFrame.encoded()[...])) == nil)
    }

    @Test func kindsKnowTheirDirectionAndName() {
        #expect(MessageKind.allCases.count == 36)
        #expect(MessageKind.result.direction == .serverToClient && MessageKind.query.direction == .clientToServer)
        #expect(MessageKind.ping.direction == .both && MessageKind.queryWithParams.rawValue == 0x28)
        #expect(MessageKind.bulkStreamRows.name == "BulkStreamRows" && MessageKind.hello.isLifecycle && !MessageKind.get.isLifecycle)
    }

    /// Random and mutated input never traps: every decoder either decodes or throws.
    @Test func decodersSurviveGarbage() {
        var generator = SystemRandomNumberGenerator()
        let seeds: [[UInt8]] = [
            Frame(.query, correlationID: 1, payload: Array("SELECT 1".utf8)).encoded(),
            ParamValueCodec.encode(.init(sql: "SELECT $1, $2", parameters: [.integer(1), .vector([1, 2]), .json(.null), .uuid(1)])),
            BinaryValueCodec.encode(BinaryValueCodec.BulkInsert(collection: "t", columns: ["a", "b"], rows: [[.integer(1), .text("x")]])),
            Topology.standalone.encoded(),
        ]
        for round in 0..<20_000 {
            var bytes = seeds[round % seeds.count]
            if round % 3 == 0 {
                bytes = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            } else {
                for _ in 0..<Int.random(in: 1...4, using: &generator) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
                if Bool.random(using: &generator) { bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator))) }
            }
            _ = try? FrameDecoder.decode(bytes[...])
            _ = try? ParamValueCodec.decode(bytes)
            _ = try? BinaryValueCodec.decodeBulkInsert(bytes)
            _ = try? BinaryValueCodec.decodeColumnar(bytes)
            _ = try? Topology.decode(bytes)
        }
    }
}
