import Foundation
import RedCore
import RedProto
import SwiftProtobuf
import Testing
@testable import RedClient

/// RedClient writes `BulkInsertBinary` requests by hand; they must be the bytes swift-protobuf
/// writes for the same message, so any gRPC server reads them as it reads a generated client's.
@Suite struct BinaryBulkInsertEncodingTests {
    @Test func writesWhatSwiftProtobufWrites() throws {
        let samples: [Value] = [.null, .boolean(true), .boolean(false), .integer(0), .integer(-1), .integer(.min), .integer(.max),
                                .integer(300), .float(0), .float(-0.0), .float(1e300), .float(.infinity), .text(""), .text("naïve ✓"),
                                .text(String(repeating: "x", count: 300)), .blob([]), .blob(Array(0..<200))]
        var seed: UInt64 = 7
        func next() -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(seed >> 33)
        }
        for rowCount in [0, 1, 5, 40] {
            for width in 1...4 {
                let rows = (0..<rowCount).map { _ in (0..<width).map { _ in samples[next() % samples.count] } }
                let columns = (0..<width).map { "c\($0)" }
                let reference = Reddb_V1_BinaryBulkInsertRequest.with {
                    $0.collection = "people"
                    $0.fieldNames = columns
                    $0.rows = rows.map { row in .with { $0.values = row.map(Self.generated) } }
                }
                let expected: [UInt8] = try reference.serializedBytes()
                #expect(BinaryBulkInsertEncoding.encode(table: "people", columns: columns, rows: rows) == expected)
            }
        }
        let empty: [UInt8] = try Reddb_V1_BinaryBulkInsertRequest.with { $0.fieldNames = ["a"] }.serializedBytes()
        #expect(BinaryBulkInsertEncoding.encode(table: "", columns: ["a"], rows: []) == empty)
    }

    @Test func kindsWithoutAFieldTravelAsTheirText() throws {
        let value = Value.decimal(Numeric(unchecked: 12_345, scale: 4))
        let bytes = BinaryBulkInsertEncoding.encode(table: "t", columns: ["d"], rows: [[value, .integer(1)]])
        let message = try Reddb_V1_BinaryBulkInsertRequest(serializedBytes: bytes)
        #expect(message.rows.first?.values.map(\.kind) == [.textValue(value.displayText), .intValue(1)])
    }

    static func generated(_ value: Value) -> Reddb_V1_BinaryValue {
        .with {
            switch value {
            case .boolean(let v): $0.boolValue = v
            case .integer(let v): $0.intValue = v
            case .float(let v): $0.floatValue = v
            case .text(let v): $0.textValue = v
            case .blob(let v): $0.blobValue = Data(v)
            default: break
            }
        }
    }
}
