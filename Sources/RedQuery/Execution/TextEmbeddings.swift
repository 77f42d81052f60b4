import RedCore

/// Text a statement searches by (`SEARCH SIMILAR TEXT 'q'`, `VECTOR SEARCH c SIMILAR TO 'q'`)
/// must become a vector first, and that is a call to an AI provider — async, slow, and
/// outside the engine. Execution here is synchronous, so the planner does not call out:
///
/// 1. planning meets a text source whose vector is not in `StatementExecutor.embeddings`
///    and throws `EmbeddingsNeeded` naming every such text — before the statement has
///    written anything (sources are planned before any row is touched);
/// 2. the session embeds them (RedAI) and runs the statement again with the vectors in hand.
///
/// Texts are constants of the statement (literals or `$n`), so a second planning asks for the
/// same ones; a statement that still misses a vector after that fails rather than loop.
public struct EmbeddingKey: Hashable, Sendable {
    public var text: String
    /// `USING provider`; nil: the default provider.
    public var provider: String?
    /// `MODEL 'm'`; nil: the provider's embedding model.
    public var model: String?

    public init(text: String, provider: String?, model: String? = nil) {
        self.text = text
        self.provider = provider
        self.model = model
    }
}

/// Thrown by planning when texts must be embedded before the statement can run.
public struct EmbeddingsNeeded: Error, Sendable {
    public var keys: [EmbeddingKey]
}

extension Planner {
    /// The vector for a text source, from the statement's embeddings; while describing (no
    /// parameter values yet) a placeholder the plan never evaluates.
    func embeddedText(_ expr: Expr, provider: String?) throws -> BoundExpr {
        if context.describing {
            if case .parameter(let n) = expr { noteParameterType(n, .text) }
            return .constant(.null)
        }
        let value = try constant(expr, in: "SIMILAR TO")
        guard case .text(let text) = try DataType.text.coerce(value) else {
            throw RedError(.invalidArgument, "the text to search by must not be NULL")
        }
        guard !text.isBlank else { throw RedError(.invalidArgument, "the text to search by is empty") }
        let key = EmbeddingKey(text: text, provider: provider)
        guard let vector = context.embeddings[key] else { throw EmbeddingsNeeded(keys: [key]) }
        return .constant(.vector(vector))
    }
}
