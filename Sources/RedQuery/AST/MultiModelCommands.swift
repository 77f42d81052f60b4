import RedCore

// RedDB's own commands beyond SQL: key-value, graph patterns and traversals, vector, text
// and hybrid search, ASK and context search (the syntax tree, `AST.swift`).

public enum KVCommand: Sendable, Equatable {
    case put(collection: String, key: String, value: Expr, ttlMilliseconds: Int64?, ifNotExists: Bool)
    case get(collection: String, key: String)
    case delete(collection: String, key: String)
}

/// `(a:label {prop: v})-[r:label*1..3]->(b)…`: nodes, and the edges between consecutive ones.
public struct GraphPattern: Sendable, Equatable {
    public struct Node: Sendable, Equatable {
        public var alias: String
        /// Matched against the node's type, case-insensitively; nil: any.
        public var label: String?
        /// Property equalities `{name: value}`.
        public var properties: [Property]
    }

    public struct Property: Sendable, Equatable {
        public var name: String
        public var value: Value
    }

    public struct Edge: Sendable, Equatable {
        public var alias: String
        public var label: String?
        public var direction: GraphDirection
        /// Hops: exactly one by default; `*` is 1…`GraphPattern.maxHops`, `*n` exactly n, `*n..m`.
        public var minHops: Int
        public var maxHops: Int
    }

    /// Longest variable-length edge a pattern may ask for.
    public static let maxHops = 16
    /// Most nodes one pattern may have.
    public static let maxNodes = 32

    public var nodes: [Node]
    /// `edges[i]` joins `nodes[i]` and `nodes[i + 1]`.
    public var edges: [Edge]
}

/// A text ranking and a vector ranking of one collection's items, fused.
public struct HybridSearch: Sendable, Equatable {
    public var collection: String
    public var vector: Expr?
    public var text: Expr?
    /// nil: 10.
    public var limit: Expr?

    public init(collection: String, vector: Expr?, text: Expr?, limit: Expr?) {
        self.collection = collection
        self.vector = vector
        self.text = text
        self.limit = limit
    }
}

/// A ranked full-text search over the text of collections' items.
public struct TextSearch: Sendable, Equatable {
    public var query: Expr
    /// Empty: every collection.
    public var collections: [String]
    /// nil: 10.
    public var limit: Expr?
    /// Terms also match words one edit away (terms of four or more letters).
    public var fuzzy: Bool

    public init(query: Expr, collections: [String], limit: Expr?, fuzzy: Bool) {
        self.query = query
        self.collections = collections
        self.limit = limit
        self.fuzzy = fuzzy
    }
}

/// A graph command over the nodes and edges of graph collections.
public struct GraphCommand: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case neighborhood
        case traverse(depthFirst: Bool)
        case shortestPath(target: Expr, algorithm: GraphPathAlgorithm)
        /// `degree`, `closeness`, `betweenness`, `eigenvector` or `pagerank`.
        case centrality(algorithm: String)
        /// `label_propagation`.
        case community(algorithm: String, maxIterations: Int)
        /// `connected`/`weak` or `strong`.
        case components(strong: Bool)
        case cycles(maxLength: Int)
        case clustering
        case topologicalSort
        /// Whole-graph figures, or with a node reference that node's fields.
        case properties(node: Expr?)
        /// PageRank whose random jumps all land on one node: closeness to it.
        case personalizedPageRank(source: Expr)
        /// Kleinberg's hubs and authorities.
        case hits
    }

    public var kind: Kind
    /// The graph collection; nil: every graph collection.
    public var collection: String?
    /// `PROJECTION name` in place of the collection: that graph projection's view of its source.
    public var projection: String?
    /// The start node: its id, or a label unique in the graph (text or a parameter).
    public var source: Expr
    public var direction: GraphDirection = .outgoing
    /// nil: the command's default (NEIGHBORHOOD 3, TRAVERSE 5).
    public var depth: Expr?
    /// Only edges with one of these labels; nil: every edge.
    public var edgeLabels: [String]?
    /// Analytics: `ORDER BY metric [ASC|DESC]` (the metric already checked) and `LIMIT n`.
    public var orderDescending: Bool?
    /// The ORDER BY metric where a command has several (HITS: `authority`/`score` or `hub`).
    public var orderMetric: String?
    public var limit: Expr?

    public init(kind: Kind, collection: String?, source: Expr) {
        self.kind = kind
        self.collection = collection
        self.source = source
    }
}

public enum GraphDirection: String, Sendable, Equatable { case outgoing, incoming, both }

public enum GraphPathAlgorithm: String, Sendable, Equatable { case bfs, dijkstra, bellmanFord = "bellman_ford" }


/// A nearest-neighbour search over one vector collection (`VECTOR SEARCH` and `SEARCH SIMILAR`).
public struct VectorSearch: Sendable, Equatable {
    /// What the stored vectors are compared with.
    public enum Source: Sendable, Equatable {
        /// An expression yielding a vector: `[0.1, 0.2]`, `$1`, `(SELECT dense FROM …)`.
        case value(Expr)
        /// The stored vector `id` of `collection`: `(docs, 42)` or `docs(42)`.
        case reference(collection: String, id: Expr)
        /// Text to embed first (`SIMILAR TO 'query'`, `SEARCH SIMILAR TEXT 'q'`).
        case text(Expr)
    }

    public var collection: String
    public var source: Source
    /// Over each candidate's `entity_id, score, distance, content, dimension` and metadata fields.
    public var filter: Expr?
    /// nil: the collection's declared metric.
    public var metric: VectorMetric?
    /// `THRESHOLD t` (L2: distance ≤ t, others: score ≥ t); `SEARCH SIMILAR`'s `MIN_SCORE`.
    public var threshold: Expr?
    /// nil: 10.
    public var limit: Expr?
    public var includeVectors = false
    /// `SEARCH SIMILAR`: only `entity_id, score`, and MIN_SCORE is a score bound whatever the metric.
    public var scoresOnly = false
    /// `USING provider`: who embeds a text source (nil: the default provider).
    public var embeddingProvider: String?

    public init(collection: String, source: Source) {
        self.collection = collection
        self.source = source
    }
}

/// `ASK 'question' …` (see ParserAsk.swift). Numbers are literals or parameters.
public struct AskStatement: Sendable, Equatable {
    public enum Cache: Sendable, Equatable {
        /// `CACHE TTL 'd'`: answers may be reused for this long.
        case ttlMilliseconds(Int64)
        /// `NOCACHE`.
        case bypass
    }

    /// Most providers in one `USING` ladder.
    public static let maxProviders = 8

    public var question: Expr
    /// `USING`: tried in order while they fail with retryable errors; empty: the default provider.
    public var providers: [String] = []
    public var model: String?
    public var depth: Expr?
    public var limit: Expr?
    public var minScore: Expr?
    /// `COLLECTION c`: retrieval looks only there.
    public var collection: String?
    public var temperature: Expr?
    public var seed: Expr?
    public var strict = true
    public var stream = false
    public var cache: Cache?
    /// `EXPLAIN ASK`: retrieval and plan only, no provider call.
    public var explain = false

    public init(question: Expr) { self.question = question }
}

/// `SEARCH CONTEXT 'q' [FIELD f] [COLLECTION c] { LIMIT n | DEPTH d }`: every item holding the
/// value, and the graph around the ones that are nodes (see ContextSearchExecutor.swift).
public struct ContextSearch: Sendable, Equatable {
    public var query: Expr
    public var field: String?
    public var collection: String?
    /// Per kind of item; nil: 25.
    public var limit: Expr?
    /// Graph hops from matched nodes; nil: 1.
    public var depth: Expr?
    public init(query: Expr) { self.query = query }
}
