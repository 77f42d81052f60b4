import Foundation
import RedCore
import RedProto
import RedStorage
import SwiftProtobuf
import Testing
@testable import RedServer

/// The hand-written `BulkInsertBinary` decoder against swift-protobuf, the decoder it replaces:
/// on valid messages, in any field order and with unknown fields, both yield the same rows; on
/// damaged ones (cut short, bytes changed) ours fails exactly when swift-protobuf does, with an
/// INVALID_ARGUMENT error, and never reads past the message.
@Suite struct BinaryBulkInsertDecoderTests {
    /// What the generated message means, as the handler used to map it.
    static func expected(_ message: Reddb_V1_BinaryBulkInsertRequest) -> [[Value]] {
        message.rows.map { row in
            row.values.map { value -> Value in
                switch value.kind {
                case nil: .null
                case .textValue(let s): .text(s)
                case .intValue(let i): .integer(i)
                case .floatValue(let d): .float(d)
                case .boolValue(let b): .boolean(b)
                case .blobValue(let data): .blob(Array(data))
                }
            }
        }
    }

    static func decoded(_ bytes: [UInt8]) throws -> (String, [String], [[Value]]) {
        let scan = try BinaryBulkInsertScan(bytes)
        var rows: [[Value]] = []
        var position = BinaryBulkInsertScan.Position()
        while case let batch = try scan.nextRows(after: &position, limit: 7), !batch.isEmpty {  // in batches, as the handler does
            #expect(batch.count == 7 || rows.count + batch.count == scan.rowCount)
            rows += batch.arrays
        }
        #expect(rows.count == scan.rowCount)
        return (scan.collection, scan.fieldNames, rows)
    }

    static func randomValue(_ rng: inout SplitMix64) -> Reddb_V1_BinaryValue {
        switch rng.next() % 6 {
        case 0: return Reddb_V1_BinaryValue()
        case 1: return .with { $0.textValue = ["", "ada", "naïve ✓", String(repeating: "x", count: 200)][Int(rng.next() % 4)] }
        case 2: return .with { $0.intValue = [0, -1, .min, .max, 300][Int(rng.next() % 5)] }
        case 3: return .with { $0.floatValue = [0.5, -0.0, 1e300, .infinity][Int(rng.next() % 4)] }
        case 4: return .with { $0.boolValue = rng.next() % 2 == 0 }
        default: return .with { $0.blobValue = Data((0..<Int(rng.next() % 40)).map { UInt8(truncatingIfNeeded: $0 * 7) }) }
        }
    }

    static func randomMessage(_ rng: inout SplitMix64, rows: Int, width: Int) -> Reddb_V1_BinaryBulkInsertRequest {
        .with {
            $0.collection = "people"
            $0.fieldNames = (0..<width).map { "c\($0)" }
            $0.rows = (0..<rows).map { _ in .with { row in row.values = (0..<width).map { _ in randomValue(&rng) } } }
        }
    }

    @Test func decodesWhatSwiftProtobufDecodesInAnyFieldOrder() throws {
        var rng = SplitMix64(seed: 1)
        for _ in 0..<50 {
            let message = Self.randomMessage(&rng, rows: Int(rng.next() % 30), width: 1 + Int(rng.next() % 5))
            let bytes: [UInt8] = try message.serializedBytes()
            let (collection, names, rows) = try Self.decoded(bytes)
            #expect(collection == message.collection && names == message.fieldNames)
            #expect(rows == Self.expected(message))

            // Serialized messages concatenate as a merge: rows first, then the names and the
            // collection, with unknown fields (varint 9, length-delimited 10, fixed32 11, a group 12) around.
            var rowsOnly = message
            rowsOnly.fieldNames = []
            rowsOnly.collection = ""
            var header = message
            header.rows = []
            let unknown: [UInt8] = [9 << 3 | 0, 0x96, 0x01, 10 << 3 | 2, 2, 0xFF, 0xFE, 11 << 3 | 5, 1, 2, 3, 4,
                                    12 << 3 | 3, 1 << 3 | 0, 5, 12 << 3 | 4]
            let reordered = unknown + (try rowsOnly.serializedBytes() as [UInt8]) + unknown + (try header.serializedBytes() as [UInt8])
            let again = try Self.decoded(reordered)
            #expect(again.0 == message.collection && again.1 == message.fieldNames && again.2 == rows)
            let reference = try Reddb_V1_BinaryBulkInsertRequest(serializedBytes: reordered)  // keeps the unknown fields
            #expect(reference.collection == message.collection && reference.fieldNames == message.fieldNames && reference.rows == message.rows)
        }
    }

    @Test func theLastFieldOfAValuesOneofWins() throws {
        // One row, one value: text "a", then int 5 in the same BinaryValue.
        let value: [UInt8] = [1 << 3 | 2, 1, 0x61, 2 << 3 | 0, 5]
        let row: [UInt8] = [1 << 3 | 2, UInt8(value.count)] + value
        let bytes: [UInt8] = [2 << 3 | 2, 1, 0x63, 3 << 3 | 2, UInt8(row.count)] + row
        #expect(try Self.decoded(bytes).2 == [[.integer(5)]])
        #expect(Self.expected(try Reddb_V1_BinaryBulkInsertRequest(serializedBytes: bytes)) == [[.integer(5)]])
    }

    /// Rows of the wrong width fail with their index and count, found in the batch that holds
    /// them, without storing the surplus values or anything per row beforehand.
    @Test func rowsOfTheWrongWidthFailInTheirBatch() throws {
        let wide = Reddb_V1_BinaryRow.with { $0.values = Array(repeating: Reddb_V1_BinaryValue(), count: 10_000) }
        let narrow = Reddb_V1_BinaryRow.with { $0.values = [.with { $0.intValue = 1 }, .with { $0.intValue = 2 }] }
        var message = Reddb_V1_BinaryBulkInsertRequest.with { $0.collection = "t"; $0.fieldNames = ["a", "b"]; $0.rows = [narrow, narrow, wide] }
        let scan = try BinaryBulkInsertScan(try message.serializedBytes())
        var position = BinaryBulkInsertScan.Position()
        #expect(try scan.nextRows(after: &position, limit: 2).arrays == [[.integer(1), .integer(2)], [.integer(1), .integer(2)]])
        #expect(throws: RedError.self) { try scan.nextRows(after: &position, limit: 2) }
        do {
            _ = try scan.nextRows(after: &position, limit: 2)
        } catch let error as RedError {
            #expect(error.message == "row 2 has 10000 values for 2 field names")
        }
        // A million empty rows: counted by the scan, the first batch fails at row 0.
        message.rows = Array(repeating: Reddb_V1_BinaryRow(), count: 1_000_000)
        let empty = try BinaryBulkInsertScan(try message.serializedBytes())
        #expect(empty.rowCount == 1_000_000)
        var start = BinaryBulkInsertScan.Position()
        #expect(throws: RedError.self) { try empty.nextRows(after: &start, limit: 1_000) }
    }

    /// Field names are capped at a table's column limit while the message is scanned: empty
    /// names cost 2 bytes each on the wire and a String each in memory.
    @Test func fieldNamesBeyondATablesColumnsAreRefused() throws {
        var message = Reddb_V1_BinaryBulkInsertRequest.with { $0.collection = "t"; $0.fieldNames = Array(repeating: "", count: 1_600) }
        #expect(try BinaryBulkInsertScan(try message.serializedBytes()).fieldNames.count == 1_600)
        message.fieldNames.append("")
        let error = #expect(throws: RedError.self) { try BinaryBulkInsertScan(try message.serializedBytes()) }
        #expect(error?.code == .limitExceeded)
    }

    @Test func damagedMessagesFailExactlyWhenSwiftProtobufFails() throws {
        var rng = SplitMix64(seed: 2)
        var failures = 0
        for round in 0..<2_000 {
            let message = Self.randomMessage(&rng, rows: 1 + Int(rng.next() % 4), width: 1 + Int(rng.next() % 3))
            var bytes: [UInt8] = try message.serializedBytes()
            if round % 2 == 0 {
                bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
            } else {
                for _ in 0...(rng.next() % 3) { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            let reference = try? Reddb_V1_BinaryBulkInsertRequest(serializedBytes: bytes)
            do {
                let (collection, names, rows) = try Self.decoded(bytes)
                guard let reference else {
                    Issue.record("decoded what swift-protobuf rejects: \(bytes)")
                    continue
                }
                #expect(collection == reference.collection && names == reference.fieldNames)
                #expect(rows.elementsEqual(Self.expected(reference)) { $0.count == $1.count && zip($0, $1).allSatisfy(Self.same) })
            } catch let error as RedError {
                failures += 1
                #expect(error.code == .invalidArgument)
                #expect(reference.map { !Self.widthsMatch($0) } ?? true, "rejected what swift-protobuf accepts: \(bytes): \(error)")
            }
        }
        #expect(failures > 300)
    }

    /// A damaged message may still parse, with rows of other widths than the field names: the
    /// handler rejects those (as it always did), swift-protobuf does not know about them.
    static func widthsMatch(_ message: Reddb_V1_BinaryBulkInsertRequest) -> Bool {
        message.rows.allSatisfy { $0.values.count == message.fieldNames.count }
    }

    /// Equal, with NaN equal to NaN (a changed byte can make one).
    static func same(_ a: Value, _ b: Value) -> Bool {
        if case .float(let x) = a, case .float(let y) = b, x.isNaN, y.isNaN { return true }
        return a == b
    }
}
