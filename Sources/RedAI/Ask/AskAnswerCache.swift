import Synchronization

/// Answers kept for `CACHE TTL`: keyed by who asked, the question, provider, model,
/// temperature, seed and the sources' fingerprint — so any change to a cited item's content
/// changes the key and the old answer is never served again. At most `capacity` entries; the
/// oldest-inserted goes first.
final class AskAnswerCache: Sendable {
    static let capacity = 1024

    private struct Entry {
        var answer: AskAnswer
        var expiresAt: ContinuousClock.Instant
    }

    private let entries = Mutex<(map: [String: Entry], order: [String])>(([:], []))

    func get(_ key: String) -> AskAnswer? {
        entries.withLock { state in
            guard let entry = state.map[key] else { return nil }
            guard entry.expiresAt > .now else {
                state.map[key] = nil
                state.order.removeAll { $0 == key }
                return nil
            }
            return entry.answer
        }
    }

    func put(_ key: String, _ answer: AskAnswer, ttlMilliseconds: Int64) {
        entries.withLock { state in
            if state.map[key] == nil { state.order.append(key) }
            state.map[key] = Entry(answer: answer, expiresAt: .now + .milliseconds(ttlMilliseconds))
            while state.order.count > Self.capacity {
                state.map[state.order.removeFirst()] = nil
            }
        }
    }
}
