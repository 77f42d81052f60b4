import RedCore

/// The `[^N]` markers of an answer, and whether they are sound.
///
/// A marker is `[^` + ASCII digits without a leading zero (N ≥ 1, fits in UInt32) + `]`;
/// `\[^` escapes one; text inside ``` fenced blocks is not scanned. A marker whose N is past
/// the sources still counts as a citation, with an `out_of_range` warning; `[^` followed by
/// anything else is `malformed`. Spans are byte offsets into the answer.
public struct AskCitation: Sendable, Equatable {
    public var marker: UInt32
    public var span: Range<Int>

    public func json(sources: [AskSource]) -> JSONValue {
        let index = Int(marker) - 1
        let urn: JSONValue = sources.indices.contains(index) ? .string(sources[index].urn) : .null
        return .object([("marker", .integer(Int64(marker))), ("span", .array([.integer(Int64(span.lowerBound)), .integer(Int64(span.upperBound))])),
                        ("source_index", .integer(Int64(index))), ("urn", urn)])
    }
}

public struct AskValidation: Sendable, Equatable {
    public struct Item: Sendable, Equatable {
        public var kind: String
        public var detail: String
    }

    public var warnings: [Item] = []
    public var errors: [Item] = []
    public var ok: Bool { errors.isEmpty }

    /// Warnings that make a strict answer fail (a mode fallback note is not one).
    var structuralWarnings: [Item] { warnings.filter { $0.kind == "malformed" || $0.kind == "out_of_range" } }

    public var json: JSONValue {
        func items(_ list: [Item]) -> JSONValue { .array(list.map { .object([("kind", .string($0.kind)), ("detail", .string($0.detail))]) }) }
        return .object([("ok", .bool(ok)), ("warnings", items(warnings)), ("errors", items(errors))])
    }
}

public enum AskCitationParser {
    public static func parse(_ answer: String, sourceCount: Int) -> (citations: [AskCitation], validation: AskValidation) {
        let bytes = Array(answer.utf8)
        var citations: [AskCitation] = []
        var validation = AskValidation()
        var i = 0
        var inFence = false
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "`"), i + 2 < bytes.count, bytes[i + 1] == UInt8(ascii: "`"), bytes[i + 2] == UInt8(ascii: "`") {
                inFence.toggle()
                i += 3
                continue
            }
            if inFence { i += 1; continue }
            if bytes[i] == UInt8(ascii: "\\"), i + 2 < bytes.count, bytes[i + 1] == UInt8(ascii: "["), bytes[i + 2] == UInt8(ascii: "^") {
                i += 3
                continue
            }
            guard bytes[i] == UInt8(ascii: "["), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "^") else { i += 1; continue }
            let start = i
            var j = i + 2
            while j < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[j]) { j += 1 }
            let digits = bytes[(i + 2)..<j]
            if !digits.isEmpty, j < bytes.count, bytes[j] == UInt8(ascii: "]"), digits.first != UInt8(ascii: "0"), digits.count <= 10,
               let n = UInt32(String(decoding: digits, as: UTF8.self)) {
                citations.append(AskCitation(marker: n, span: start..<(j + 1)))
                if Int(n) > sourceCount {
                    validation.warnings.append(.init(kind: "out_of_range", detail: "[^\(n)] cites source \(n) but there are \(sourceCount) sources"))
                }
                i = j + 1
            } else {
                let end = min(bytes.count, max(j, i + 2) + (j < bytes.count && bytes[j] == UInt8(ascii: "]") ? 1 : 0))
                validation.warnings.append(.init(kind: "malformed", detail: "malformed citation marker '\(String(decoding: bytes[start..<end], as: UTF8.self))' at byte \(start)"))
                i = max(j, i + 2)
            }
        }
        return (citations, validation)
    }
}
