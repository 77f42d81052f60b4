import Foundation
import RedCore
import RedEngine

/// `SEARCH TEXT 'q' [COLLECTION c …] [LIMIT n] [FUZZY]`: items ranked by BM25 over their text.
///
/// An item's text is every string it holds: a row's text columns, a document's string
/// values at any depth, a KV item's key and string value, a vector's content and metadata
/// strings, a graph item's label, type and property strings. Words are runs of letters and
/// digits, compared lower-cased. The statement scans the collections it names (all of them
/// without COLLECTION) in its snapshot: there is no text index yet, so this is a full scan,
/// exact, and its figures (N, document frequencies, average length) are those of the items
/// scanned. With FUZZY a query word of four or more letters also matches words one edit
/// away, at half weight.
///
/// Columns: `entity_id, score` (as upstream), then `collection` and `kind` (ours: ids repeat
/// across collections); best first, ties by collection then id. KV items have no id (NULL).
struct TextSearchExecutor {
    let context: ExecutionContext

    static let defaultResults = 10
    /// Most distinct words one search looks for (each matching item keeps a count per word).
    static let maxTerms = 64
    /// BM25's term-frequency saturation and length normalisation, at their usual values.
    static let k1 = 1.2, b = 0.75

    static let columns = [ResultColumn(name: "entity_id", type: .integer), ResultColumn(name: "score", type: .float),
                          ResultColumn(name: "collection", type: .text), ResultColumn(name: "kind", type: .text)]

    struct Match {
        let collection: String
        let rid: Int64?
        let kind: String
        let length: Int
        let frequencies: [Double]
    }

    func run(_ search: TextSearch) throws -> QueryResult {
        let planner = Planner(context: context)
        let text = try planner.constant(search.query, in: "SEARCH TEXT")
        let terms = Array(Set(Self.words(text.isNull ? "" : text.displayText))).sorted()
        guard !terms.isEmpty else { throw RedError(.invalidArgument, "SEARCH TEXT needs at least one word to look for") }
        guard terms.count <= Self.maxTerms else {
            throw RedError(.limitExceeded, "SEARCH TEXT looks for at most \(Self.maxTerms) distinct words, got \(terms.count)")
        }
        var termIndex: [Substring: Int] = [:]
        for (t, term) in terms.enumerated() { termIndex[term] = t }
        let limit = try search.limit.map { try VectorSearchNode.count(try planner.constant($0, in: "SEARCH TEXT")) } ?? Self.defaultResults
        let store = context.store, tx = context.transaction
        let handles = search.collections.isEmpty ? try store.list(tx) : try search.collections.map { name in
            guard let handle = try store.open(tx, name) else { throw RedError(.undefinedCollection, "relation \"\(name)\" does not exist") }
            return handle
        }
        var matches: [Match] = []
        var documents = 0, totalLength = 0
        for handle in handles {
            let textColumns = Self.textColumns(handle.schema)
            let cursor = try store.scan(tx, handle)
            while let (key, item) = try cursor.nextEntry() {
                guard item.isVisible(at: context.now) else { continue }
                documents += 1
                if documents & 1023 == 0 { try context.checkCancelled() }
                var words: [Substring] = []
                if handle.schema.model == .kv { words += Self.words(String(decoding: key, as: UTF8.self)) }
                for column in textColumns {
                    guard let value = item.values[column] else { continue }
                    // A node's type defaults to its label: the same words are not counted twice.
                    if column == GraphItem.nodeTypeColumn, handle.schema.model == .graph, value == item.values[GraphItem.labelColumn] { continue }
                    Self.collect(value, into: &words)
                }
                totalLength += words.count
                var frequencies = [Double](repeating: 0, count: terms.count)
                var any = false
                for word in words {
                    if let t = termIndex[word] {
                        frequencies[t] += 1
                        any = true
                    } else if search.fuzzy {
                        for (t, term) in terms.enumerated() where term.count >= 4 && Self.oneEditApart(word, term) {
                            frequencies[t] += 0.5
                            any = true
                        }
                    }
                }
                guard any else { continue }
                let rid: Int64? = handle.schema.model == .kv ? nil : StoredRow.rid(fromKey: key)
                matches.append(Match(collection: handle.name, rid: rid, kind: Self.kind(handle.schema.model, item), length: words.count, frequencies: frequencies))
                try context.checkMaterialized(matches.count, "SEARCH TEXT")
            }
        }
        let averageLength = documents == 0 ? 1 : max(1, Double(totalLength) / Double(documents))
        let idf = terms.indices.map { t -> Double in
            let df = Double(matches.lazy.filter { $0.frequencies[t] > 0 }.count)
            return log(1 + (Double(documents) - df + 0.5) / (df + 0.5))
        }
        let scored = matches.map { m -> (Match, Double) in
            let norm = Self.k1 * (1 - Self.b + Self.b * Double(m.length) / averageLength)
            let score = terms.indices.reduce(0.0) { sum, t in
                let f = m.frequencies[t]
                return sum + (f == 0 ? 0 : idf[t] * f * (Self.k1 + 1) / (f + norm))
            }
            return (m, score)
        }
        let best = scored.sorted { (a: (Match, Double), b: (Match, Double)) -> Bool in
            if a.1 != b.1 { return a.1 > b.1 }
            if a.0.collection != b.0.collection { return a.0.collection < b.0.collection }
            return (a.0.rid ?? 0) < (b.0.rid ?? 0)
        }.prefix(limit)
        let rows: [[Value]] = best.map { (m: Match, score: Double) -> [Value] in
            let id: Value = m.rid.map { Value.integer($0) } ?? .null
            return [id, .float(score), .text(m.collection), .text(m.kind)]
        }
        return QueryResult(columns: Self.columns, rows: rows, statementType: "select", commandTag: "SELECT \(rows.count)")
    }

    /// The stored columns whose strings are an item's text: a table's live columns (a dropped
    /// column's values stay in old rows, and must not be found), a graph item's label, type and
    /// properties (not its kind), the one value of documents and KV, a vector's content and metadata.
    static func textColumns(_ schema: CollectionSchema) -> [UInt16] {
        switch schema.model {
        case .table: return schema.columns.map(\.id)
        case .document, .kv: return [0]
        case .vector: return [1, 2]
        case .graph: return [GraphItem.labelColumn, GraphItem.nodeTypeColumn, GraphItem.propertiesColumn]
        }
    }

    static func kind(_ model: CollectionSchema.Model, _ item: StoredRow) -> String {
        switch model {
        case .table: return "row"
        case .document: return "document"
        case .kv: return "kv"
        case .vector: return "vector"
        case .graph: return item.values[GraphItem.kindColumn] == GraphItem.edgeKind ? "edge" : "node"
        }
    }

    /// The lower-cased words of `text`: runs of letters and digits.
    static func words(_ text: String) -> [Substring] {
        text.lowercased().split { !($0.isLetter || $0.isNumber) }
    }

    static func collect(_ value: Value, into words: inout [Substring]) {
        switch value {
        case .text(let s): words += Self.words(s)
        case .json(let json): collect(json, into: &words)
        default: break
        }
    }

    static func collect(_ json: JSONValue, into words: inout [Substring]) {
        switch json {
        case .string(let s): words += Self.words(s)
        case .array(let items): for item in items { collect(item, into: &words) }
        case .object(let members): for (_, member) in members { collect(member, into: &words) }
        default: break
        }
    }

    /// Whether `a` becomes `b` by one insertion, deletion or substitution (never when equal).
    static func oneEditApart(_ a: Substring, _ b: Substring) -> Bool {
        let x = Array(a), y = Array(b)
        guard abs(x.count - y.count) <= 1, x != y else { return false }
        var i = 0, j = 0, edits = 0
        while i < x.count, j < y.count {
            if x[i] == y[j] { i += 1; j += 1; continue }
            edits += 1
            if edits > 1 { return false }
            if x.count > y.count { i += 1 } else if x.count < y.count { j += 1 } else { i += 1; j += 1 }
        }
        return edits + (x.count - i) + (y.count - j) <= 1
    }
}
