import Synchronization
import RedAI
import RedCore
import RedQuery

struct WeakDatabase: Sendable {
    weak var database: Database?
    init(_ database: Database?) { self.database = database }
}

/// Reads one `red_config` key for AI settings (text as is, other JSON as its text; nil when the
/// key or the collection is absent). Holds the database weakly: the database owns it.
final class ConfigReaderBox: Sendable {
    let database = Mutex(WeakDatabase(nil))

    func read(_ key: String) async throws -> String? {
        guard let database = database.withLock({ $0.database }) else { return nil }
        let session = database.session()
        guard try await session.collections().contains(where: { $0.name == "red_config" }) else { return nil }
        let result = try await session.execute("SELECT value FROM red_config WHERE key = $1", parameters: [.text(key)])
        guard let value = result.rows.first?.first, !value.isNull else { return nil }
        switch value {
        case .json(.string(let s)), .text(let s): return s
        case .json(let json): return json.text
        default: return value.displayText
        }
    }
}

extension Session {
    /// Runs a statement, first embedding the texts it searches by (see `EmbeddingsNeeded`):
    /// planning names the texts it lacks, they are embedded, and the statement runs again.
    func executeEmbedding<T>(_ run: ([EmbeddingKey: [Float]]) throws -> T) async throws -> T {
        var embeddings: [EmbeddingKey: [Float]] = [:]
        var rounds = 0
        while true {
            do {
                return try run(embeddings)
            } catch let needed as EmbeddingsNeeded {
                rounds += 1
                guard rounds <= 2 else { throw RedError(.internalError, "a statement kept asking for new embeddings") }
                try await embed(needed.keys, into: &embeddings)
            }
        }
    }

    func embed(_ keys: [EmbeddingKey], into embeddings: inout [EmbeddingKey: [Float]]) async throws {
        for (_, group) in Dictionary(grouping: keys, by: { [$0.provider ?? "", $0.model ?? ""] }) {
            let provider = group[0].provider, model = group[0].model
            let texts = Array(Set(group.map(\.text)))
            let result = try await database.ai.embed(.init(texts: texts, provider: provider, model: model))
            for (text, vector) in zip(texts, result.vectors) { embeddings[EmbeddingKey(text: text, provider: provider, model: model)] = vector }
        }
    }
}
