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
        let result: QueryResult
        do {
            result = try await database.session().execute("SELECT value FROM red_config WHERE key = $1", parameters: [.text(key)])
        } catch let error as RedError where error.code == .undefinedCollection {
            return nil  // no configuration yet
        }
        guard let value = result.rows.first?.first, !value.isNull else { return nil }
        switch value {
        case .json(.string(let s)), .text(let s): return s
        case .json(let json): return json.text
        default: return value.displayText
        }
    }

    /// An admin AI setting (see `Database.setAISettings`).
    func readProtected(_ key: String) async throws -> String? {
        guard let database = database.withLock({ $0.database }) else { return nil }
        let tx = try database.engine.begin()
        defer { tx.rollback() }
        return try tx.catalogGet(Database.aiSettingKey(key)).map { String(decoding: $0, as: UTF8.self) }
    }
}

extension Database {
    static func aiSettingKey(_ key: String) -> [UInt8] { Array("ai/\(key)".utf8) }

    /// Writes admin AI settings — where provider keys may be sent: base URLs
    /// (`red.config.ai.<p>.<alias>.base_url`) and the custom-URL allow-list (`ai.allowed_urls`,
    /// a JSON array). They live in the engine's catalog storage, which SQL cannot reach, so only
    /// the callers of this method (the server's admin-only `/ai/credentials`) change them. A
    /// nil value deletes the setting. One transaction, durable before it returns.
    public func setAISettings(_ settings: [(key: String, value: String?)]) async throws {
        let tx = try engine.begin()
        do {
            for (key, value) in settings {
                if let value { try tx.catalogPut(Self.aiSettingKey(key), Array(value.utf8)) } else { _ = try tx.catalogDelete(Self.aiSettingKey(key)) }
            }
            _ = try await tx.commit()
        } catch {
            tx.rollback()
            throw error
        }
    }

    /// An admin AI setting's value, nil when unset.
    public func aiSetting(_ key: String) throws -> String? {
        let tx = try engine.begin()
        defer { tx.rollback() }
        return try tx.catalogGet(Self.aiSettingKey(key)).map { String(decoding: $0, as: UTF8.self) }
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
                locks.abandonAttempt()  // the statement runs again: its locks are claimed, not taken twice
                // Planning names the texts it meets one search at a time; each round must bring new ones.
                let missing = needed.keys.filter { embeddings[$0] == nil }
                rounds += 1
                guard !missing.isEmpty, rounds <= Self.maxEmbeddingRounds else {
                    throw RedError(.limitExceeded, "a statement searches by text in more than \(Self.maxEmbeddingRounds) places, or its texts change as it runs")
                }
                try await embed(missing, into: &embeddings)
            }
        }
    }

    /// Most planning rounds a statement's text searches may take.
    static let maxEmbeddingRounds = 16

    /// Embeds the texts, one call per provider and model and per `AIService.maxInputs` texts
    /// (an AUTO EMBED INSERT of many rows); cancelled with the statement.
    func embed(_ keys: [EmbeddingKey], into embeddings: inout [EmbeddingKey: [Float]]) async throws {
        for (_, group) in Dictionary(grouping: keys, by: { [$0.provider ?? "", $0.model ?? ""] }) {
            let provider = group[0].provider, model = group[0].model
            let texts = Array(Set(group.map(\.text)))
            var start = 0
            while start < texts.count {
                let chunk = Array(texts[start..<min(texts.count, start + AIService.maxInputs)])
                start += chunk.count
                let ai = database.ai
                let result = try await whileNotCancelled { try await ai.embed(.init(texts: chunk, provider: provider, model: model)) }
                for (text, vector) in zip(chunk, result.vectors) { embeddings[EmbeddingKey(text: text, provider: provider, model: model)] = vector }
            }
        }
    }

    /// Runs `body` (a call to an AI provider) until it ends or the statement is cancelled — by
    /// a client's cancel request or the statement timeout, which only flip a switch that
    /// provider calls never look at — and then stops it with 57014.
    func whileNotCancelled<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let cancellation = self.cancellation
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                while !Task.isCancelled {
                    if cancellation.isCancelled { throw StatementCancellation.error(cancellation.reason) }
                    try await Task.sleep(for: .milliseconds(50))
                }
                return nil
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let value = next { return value }
            }
            throw StatementCancellation.error(.userRequest)
        }
    }
}
