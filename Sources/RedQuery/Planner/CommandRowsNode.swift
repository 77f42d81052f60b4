import RedCore

/// A command's result as a FROM item: `(SEARCH TEXT …) AS s`, `(GRAPH TRAVERSE …) AS t`,
/// so its rows can be joined, filtered, ordered and projected like a table's.
///
/// The command runs once per execution of the node, when it opens, in the statement's
/// transaction (its snapshot, parameters and limits). Its columns are the command's fixed
/// ones (`TextSearchExecutor.columns`, `GraphExecutor.columns(for:)`), so the planner binds
/// against them before anything runs.
final class CommandRowsNode: PlanNode, @unchecked Sendable {
    let statement: Statement
    let columns: [ScopeColumn]

    init(_ statement: Statement, qualifier: String?) throws {
        self.statement = statement
        let result: [ResultColumn]
        switch statement {
        case .textSearch: result = TextSearchExecutor.columns
        case .hybridSearch: result = HybridSearchExecutor.columns
        case .graph(let command): result = GraphExecutor.columns(for: command)
        default: throw RedError(.syntaxError, "only SEARCH TEXT, SEARCH HYBRID and GRAPH commands can be FROM items here")
        }
        columns = result.map { ScopeColumn(qualifier: qualifier, name: $0.name, type: $0.type) }
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        switch statement {
        case .textSearch(let search): return ArrayIterator(try TextSearchExecutor(context: context).run(search).rows)
        case .graph(let command): return ArrayIterator(try GraphExecutor(context: context).run(command).rows)
        case .hybridSearch(let search): return ArrayIterator(try HybridSearchExecutor(context: context).run(search).rows)
        default: return ArrayIterator([])
        }
    }

    func explain(_ depth: Int) -> [String] {
        switch statement {
        case .textSearch: return [line(depth, "Text Search (full scan, BM25)")]
        case .hybridSearch: return [line(depth, "Hybrid Search (vector and text rankings, reciprocal rank fusion)")]
        default: return [line(depth, "Graph Command")]
        }
    }
}
