import RedCore
import RedEngine

/// `SEARCH HYBRID [SIMILAR v] [TEXT 'q'] COLLECTION c [LIMIT n]`: a vector ranking (the
/// collection's metric) and a text ranking (BM25, `SEARCH TEXT`) of the same collection's
/// items, fused by reciprocal rank: an item scores Σ 1 ÷ (60 + its rank) over the rankings
/// it appears in, so agreeing rankings reinforce each other and no score scale dominates.
/// Each ranking contributes its best `max(100, 10 × LIMIT)` items (at most 10,000). With
/// only one of SIMILAR and TEXT, that ranking alone is fused. Columns `entity_id, score`.
struct HybridSearchExecutor {
    let context: ExecutionContext

    /// Reciprocal rank fusion's constant (the value its authors and upstream use).
    static let fusionConstant = 60.0
    static let columns = [ResultColumn(name: "entity_id", type: .integer), ResultColumn(name: "score", type: .float)]

    func run(_ search: HybridSearch) throws -> QueryResult {
        let planner = Planner(context: context)
        let limit = try search.limit.map { try VectorSearchNode.count(try planner.constant($0, in: "SEARCH HYBRID")) } ?? 10
        let depth = min(VectorSearchNode.maxResults, max(100, 10 * limit))
        var rankings: [[Int64]] = []
        if let vector = search.vector {
            var vectorSearch = VectorSearch(collection: search.collection, source: .value(vector))
            vectorSearch.limit = .literal(.integer(Int64(depth)))
            vectorSearch.scoresOnly = true
            let plan = try planner.planVectorSearch(vectorSearch, qualifier: nil, outer: nil)
            let rows = try StatementExecutor.collect(plan, context).rows
            rankings.append(rows.compactMap { if case .integer(let id) = $0[0] { return id } else { return nil } })
        }
        if let text = search.text {
            let textSearch = TextSearch(query: text, collections: [search.collection], limit: .literal(.integer(Int64(depth))), fuzzy: false)
            let rows = try TextSearchExecutor(context: context).run(textSearch).rows
            rankings.append(rows.compactMap { if case .integer(let id) = $0[0] { return id } else { return nil } })
        }
        var fused: [Int64: Double] = [:]
        for ranking in rankings {
            for (rank, id) in ranking.enumerated() { fused[id, default: 0] += 1 / (Self.fusionConstant + Double(rank + 1)) }
        }
        let best = fused.sorted { a, b in a.value != b.value ? a.value > b.value : a.key < b.key }.prefix(limit)
        let rows: [[Value]] = best.map { [.integer($0.key), .float($0.value)] }
        return QueryResult(columns: Self.columns, rows: rows, statementType: "select", commandTag: "SELECT \(rows.count)")
    }
}
