import RedCore
import RedEngine

/// `SEARCH CONTEXT 'q' [FIELD f] [COLLECTION c] { LIMIT n | DEPTH d }`: everything the database
/// holds about one value — the items that hold it, in any model, and the graph around the
/// ones that are nodes.
///
/// How an item is found (`discovery`), best first:
/// - `field` (score 1.0, or 0.8 when the field only contains it): with FIELD f, the item's f —
///   a table column, a document or metadata field, a graph item's label or property — equals
///   the value, case-insensitively;
/// - `exact` (1.0): without FIELD, one of the item's strings equals the value;
/// - `token` (0.7): every word of the value is among the item's words;
/// - `scan` (0.5): one of its strings contains the value;
/// - `graph` (0.5 / hops): a node or edge within DEPTH hops (default 1, at most 5) of a
///   matched node, either direction.
/// Results are at most LIMIT (default 25) per kind (`table`, `document`, `kv`, `vector`,
/// `graph_node`, `graph_edge`), by score, then collection, then id. Full scans: no index is
/// consulted yet. Columns `entity_id, collection, score, discovery, kind` (KV items have no id).
struct ContextSearchExecutor {
    let context: ExecutionContext

    static let columns = [ResultColumn(name: "entity_id", type: .integer), ResultColumn(name: "collection", type: .text),
                          ResultColumn(name: "score", type: .float), ResultColumn(name: "discovery", type: .text), ResultColumn(name: "kind", type: .text)]
    static let defaultLimit = 25, defaultDepth: Int64 = 1, maxDepth: Int64 = 5

    struct Hit {
        var collection: String
        var rid: Int64?
        var kind: String
        var score: Double
        var discovery: String
    }

    func run(_ search: ContextSearch) throws -> QueryResult {
        let planner = Planner(context: context)
        let value = try planner.constant(search.query, in: "SEARCH CONTEXT")
        let needle = value.isNull ? "" : value.displayText.lowercased()
        guard !needle.isBlank else { throw RedError(.invalidArgument, "SEARCH CONTEXT needs a value to look for") }
        let limit = try search.limit.map { try VectorSearchNode.count(try planner.constant($0, in: "SEARCH CONTEXT")) } ?? Self.defaultLimit
        var depth = Self.defaultDepth
        if let d = search.depth {
            guard case .integer(let n) = try DataType.integer.coerce(try planner.constant(d, in: "SEARCH CONTEXT")), (0...Self.maxDepth).contains(n) else {
                throw RedError(.invalidArgument, "SEARCH CONTEXT DEPTH must be between 0 and \(Self.maxDepth)")
            }
            depth = n
        }
        let words = Set(TextSearchExecutor.words(needle))
        let store = context.store, tx = context.transaction
        let handles: [TableHandle]
        if let name = search.collection {
            guard let handle = try store.open(tx, name) else { throw RedError(.undefinedCollection, "relation \"\(name)\" does not exist") }
            handles = [handle]
        } else {
            handles = try store.list(tx)
        }
        var hits: [Hit] = []
        var matchedNodes: [String: Set<Int64>] = [:]
        var scanned = 0
        for handle in handles {
            let cursor = try store.scan(tx, handle)
            while let (key, item) = try cursor.nextEntry() {
                guard item.isVisible(at: context.now) else { continue }
                scanned += 1
                if scanned & 1023 == 0 { try context.checkCancelled() }
                let strings = Self.strings(of: item, key: key, handle.schema, field: search.field)
                guard let (score, discovery) = Self.match(strings, needle: needle, words: words, byField: search.field != nil) else { continue }
                let kind = Self.kind(handle.schema.model, item)
                let rid: Int64? = handle.schema.model == .kv ? nil : StoredRow.rid(fromKey: key)
                hits.append(Hit(collection: handle.name, rid: rid, kind: kind, score: score, discovery: discovery))
                if kind == "graph_node", let rid { matchedNodes[handle.name, default: []].insert(rid) }
                try context.checkMaterialized(hits.count, "SEARCH CONTEXT")
            }
        }
        if depth > 0 {
            for (graphName, seeds) in matchedNodes.sorted(by: { $0.key < $1.key }) {
                hits += try expand(graphName, seeds: seeds, depth: Int(depth))
            }
        }
        var perKind: [String: Int] = [:]
        let ordered = hits.sorted {
            if $0.score != $1.score { return $0.score > $1.score }
            if $0.collection != $1.collection { return $0.collection < $1.collection }
            return ($0.rid ?? 0) < ($1.rid ?? 0)
        }.filter { hit in
            perKind[hit.kind, default: 0] += 1
            return perKind[hit.kind]! <= limit
        }
        let rows: [[Value]] = ordered.map { [$0.rid.map { .integer($0) } ?? .null, .text($0.collection), .float($0.score), .text($0.discovery), .text($0.kind)] }
        return QueryResult(columns: Self.columns, rows: rows, statementType: "select", commandTag: "SELECT \(rows.count)")
    }

    /// Nodes and edges within `depth` hops of `seeds` in one graph, each once, seeds left out.
    private func expand(_ graphName: String, seeds: Set<Int64>, depth: Int) throws -> [Hit] {
        let graph = try MaterializedGraph.load(graphName, context)
        var seen = Set<Int>(), seenEdges = Set<Int64>()
        var frontier = graph.nodes.indices.filter { seeds.contains(graph.nodes[$0].rid) }
        seen.formUnion(frontier)
        var hits: [Hit] = []
        for hop in 1...depth {
            var next: [Int] = []
            for n in frontier {
                for edge in graph.neighbors(n, .both, nil) {
                    if seenEdges.insert(edge.rid).inserted {
                        hits.append(Hit(collection: graphName, rid: edge.rid, kind: "graph_edge", score: 0.5 / Double(hop), discovery: "graph"))
                    }
                    if seen.insert(edge.node).inserted {
                        next.append(edge.node)
                        hits.append(Hit(collection: graphName, rid: graph.nodes[edge.node].rid, kind: "graph_node", score: 0.5 / Double(hop), discovery: "graph"))
                    }
                }
            }
            frontier = next
            if frontier.isEmpty { break }
        }
        return hits
    }

    /// The strings an item is matched on: with a field, that field's; else all of them.
    static func strings(of item: StoredRow, key: [UInt8], _ schema: CollectionSchema, field: String?) -> [String] {
        var out: [String] = []
        func add(_ value: Value?) {
            switch value {
            case .text(let s)?: out.append(s)
            case .json(let j)?: addJSON(j)
            case let v? where !v.isNull: out.append(v.displayText)
            default: break
            }
        }
        func addJSON(_ j: JSONValue) {
            switch j {
            case .string(let s): out.append(s)
            case .array(let items): items.forEach(addJSON)
            case .object(let members): members.forEach { addJSON($0.1) }
            case .null: break
            default: out.append(j.text)
            }
        }
        guard let field else {
            if schema.model == .kv { out.append(String(decoding: key, as: UTF8.self)) }
            for column in TextSearchExecutor.textColumns(schema) { add(item.values[column]) }
            return out
        }
        switch schema.model {
        case .table: add(schema.column(named: field).flatMap { item.values[$0.id] })
        case .document: if case .json(let body)? = item.values[0], let v = body[field] { addJSON(v) }
        case .kv: if field == "key" { out.append(String(decoding: key, as: UTF8.self)) } else if field == "value" { add(item.values[0]) }
        case .vector:
            if field == "content" { add(item.values[1]) } else if case .json(let m)? = item.values[2], let v = m[field] { addJSON(v) }
        case .graph:
            if field == "label" { add(item.values[GraphItem.labelColumn]) }
            else if field == "node_type" { add(item.values[GraphItem.nodeTypeColumn]) }
            else if case .json(let p)? = item.values[GraphItem.propertiesColumn], let v = p[field] { addJSON(v) }
        }
        return out
    }

    static func match(_ strings: [String], needle: String, words: Set<Substring>, byField: Bool) -> (Double, String)? {
        let lowered = strings.map { $0.lowercased() }
        if lowered.contains(needle) { return (1.0, byField ? "field" : "exact") }
        if byField { return lowered.contains { $0.contains(needle) } ? (0.8, "field") : nil }
        if !words.isEmpty {
            var itemWords = Set<Substring>()
            for s in lowered { itemWords.formUnion(TextSearchExecutor.words(s)) }
            if words.isSubset(of: itemWords) { return (0.7, "token") }
        }
        return lowered.contains { $0.contains(needle) } ? (0.5, "scan") : nil
    }

    static func kind(_ model: CollectionSchema.Model, _ item: StoredRow) -> String {
        switch model {
        case .table: return "table"
        case .document: return "document"
        case .kv: return "kv"
        case .vector: return "vector"
        case .graph: return item.values[GraphItem.kindColumn] == GraphItem.edgeKind ? "graph_edge" : "graph_node"
        }
    }
}
