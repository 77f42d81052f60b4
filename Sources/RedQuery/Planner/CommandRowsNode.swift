import RedCore

/// A command's result as a FROM item: `(SEARCH TEXT …) AS s`, `(SEARCH HYBRID …) AS h`,
/// `(GRAPH TRAVERSE …) AS t`, so its rows can be joined, filtered, ordered and projected like
/// a table's. It is also where those commands run as statements of their own (`run`).
///
/// The command runs once per execution of the node, when it opens, in the statement's
/// transaction (its snapshot, parameters and limits). Its columns are the command's fixed
/// ones, so the planner (and PostgreSQL's Describe) binds against them before anything runs.
final class CommandRowsNode: PlanNode, @unchecked Sendable {
    let statement: Statement
    let columns: [ScopeColumn]

    init(_ statement: Statement, qualifier: String?) throws {
        guard let result = Self.columns(of: statement) else {
            throw RedError(.syntaxError, "only SEARCH TEXT, SEARCH HYBRID and GRAPH commands can be FROM items here")
        }
        self.statement = statement
        columns = result.map { ScopeColumn(qualifier: qualifier, name: $0.name, type: $0.type) }
    }

    /// The columns of a command this node runs; nil for any other statement.
    static func columns(of statement: Statement) -> [ResultColumn]? {
        switch statement {
        case .textSearch: return TextSearchExecutor.columns
        case .contextSearch: return ContextSearchExecutor.columns
        case .hybridSearch: return HybridSearchExecutor.columns
        case .graph(let command): return GraphExecutor.columns(for: command)
        default: return nil
        }
    }

    /// Runs a command this node runs (`columns(of:)` is not nil for it).
    static func run(_ statement: Statement, _ context: ExecutionContext) throws -> QueryResult {
        switch statement {
        case .textSearch(let search): return try TextSearchExecutor(context: context).run(search)
        case .contextSearch(let search): return try ContextSearchExecutor(context: context).run(search)
        case .hybridSearch(let search): return try HybridSearchExecutor(context: context).run(search)
        case .graph(let command): return try GraphExecutor(context: context).run(command)
        default: throw RedError(.internalError, "not a search or graph command")
        }
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        ArrayIterator(try Self.run(statement, context).rows)
    }

    func explain(_ depth: Int) -> [String] {
        switch statement {
        case .textSearch: return [line(depth, "Text Search (full scan, BM25)")]
        case .contextSearch: return [line(depth, "Context Search (full scan, graph expansion)")]
        case .hybridSearch: return [line(depth, "Hybrid Search (vector and text rankings, reciprocal rank fusion)")]
        default: return [line(depth, "Graph Command")]
        }
    }
}
