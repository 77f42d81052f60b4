import Crypto
import RedCore

/// One retrieved item an ASK answer may cite.
///
/// Sources come from four buckets — rows holding a literal of the question, BM25 text hits,
/// vector hits and graph items — and are fused by Reciprocal Rank Fusion (k = 60):
/// score(d) = Σ over buckets of 1 / (60 + rank), ranks 1-based; ties go to the smaller
/// `"<collection>/<id>"`; the first bucket a source appears in decides its kind.
public struct AskSource: Sendable, Equatable {
    public enum Kind: String, Sendable { case row, textHit = "text_hit", vectorHit = "vector_hit", graphNode = "graph_node", graphEdge = "graph_edge" }

    public var kind: Kind
    public var collection: String
    public var id: String
    /// The bucket's own score (BM25, similarity, graph relevance); nil for literal rows.
    public var score: Double?
    public var matchedLiteral: String?
    public var matchedColumn: String?
    public var depth: Int?
    /// The item's content as compact JSON (what the model reads), cut to `maxContentBytes`.
    public var content: String

    /// Longest content of one source given to the model.
    public static let maxContentBytes = 2048

    public init(kind: Kind, collection: String, id: String, score: Double? = nil, content: String = "",
                matchedLiteral: String? = nil, matchedColumn: String? = nil, depth: Int? = nil) {
        self.kind = kind
        self.collection = collection
        self.id = id
        self.score = score
        self.content = content
        self.matchedLiteral = matchedLiteral
        self.matchedColumn = matchedColumn
        self.depth = depth
    }

    var identity: String { "\(collection)/\(id)" }

    /// `reddb:<collection>/<id>[#<suffix>]`, each part percent-encoded; a vector hit's suffix is
    /// its score (6 decimals, trailing zeros trimmed).
    public var urn: String {
        var urn = "reddb:\(Self.percentEncoded(collection))/\(Self.percentEncoded(id))"
        if kind == .vectorHit, let score { urn += "#" + Self.percentEncoded(Self.scoreSuffix(score)) }
        return urn
    }

    static func scoreSuffix(_ score: Double) -> String {
        var text = String(format6: score)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    /// Escapes `/`, `#`, `%`, space, control bytes and every byte ≥ 0x80.
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if byte < 0x20 || byte >= 0x7F || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "#") || byte == UInt8(ascii: "%") || byte == UInt8(ascii: " ") {
                let hex = Array("0123456789ABCDEF".utf8)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 15)]))
            } else {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return out
    }

    /// The `sources_flat` entry.
    public var json: JSONValue {
        var members: [(String, JSONValue)] = [("kind", .string(kind.rawValue)), ("urn", .string(urn)), ("collection", .string(collection)), ("id", .string(id))]
        if let score { members.append(("score", .float(score))) }
        if let matchedLiteral { members.append(("matched_literal", .string(matchedLiteral))) }
        if let matchedColumn { members.append(("matched_column", .string(matchedColumn))) }
        if let depth { members.append(("depth", .integer(Int64(depth)))) }
        members.append(("content", .string(content)))
        return .object(members)
    }

    /// Reciprocal Rank Fusion of ranked buckets, best first, at most `limit`.
    public static func fuse(_ buckets: [[AskSource]], limit: Int) -> [AskSource] {
        var fused: [String: (source: AskSource, score: Double)] = [:]
        for bucket in buckets {
            var seenInBucket: Set<String> = []
            for (rank, source) in bucket.enumerated() where seenInBucket.insert(source.identity).inserted {
                let add = 1.0 / Double(60 + rank + 1)
                if let existing = fused[source.identity] {
                    fused[source.identity] = (existing.source, existing.score + add)
                } else {
                    fused[source.identity] = (source, add)
                }
            }
        }
        return fused.values.sorted { $0.score != $1.score ? $0.score > $1.score : $0.source.identity < $1.source.identity }
            .prefix(max(0, limit)).map(\.source)
    }

    /// Lower-case hex SHA-256 over the sorted `(urn, content)` pairs: changes whenever a cited
    /// item's content does, which is what keys (and so invalidates) cached answers.
    public static func fingerprint(_ sources: [AskSource]) -> String {
        var hasher = SHA256()
        for (urn, content) in sources.map({ ($0.urn, $0.content) }).sorted(by: { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }) {
            hasher.update(data: Array(urn.utf8))
            hasher.update(data: [0x1F])
            hasher.update(data: Array(content.utf8))
            hasher.update(data: [0x1E])
        }
        return hasher.finalize().map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }
}

extension String {
    /// Six decimals, without Foundation's locale-dependent formatting.
    init(format6 value: Double) {
        guard value.isFinite else { self = "0"; return }
        guard abs(value) < 1e12 else { self = "\(value)"; return }  // scores of huge vectors: no fixed-point digits to cut
        let negative = value < 0
        let scaled = (abs(value) * 1_000_000).rounded()
        let whole = UInt64(scaled / 1_000_000), fraction = UInt64(scaled.truncatingRemainder(dividingBy: 1_000_000))
        self = (negative ? "-" : "") + "\(whole)." + String(fraction).leftPadded(to: 6)
    }

    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
