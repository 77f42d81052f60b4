import Foundation
import RedCore
import Synchronization

/// ASK's knobs, read from `red_config` at each ASK (upstream's keys):
///
/// | key | default |
/// |---|---|
/// | `ask.max_prompt_tokens` | 32,768 (upstream 8,192; our prompts carry row contents) |
/// | `ask.max_sources_bytes` | 262,144 |
/// | `ask.max_completion_tokens` | 1,024 |
/// | `ask.daily_cost_cap_usd` | none |
/// | `ask.default_temperature` | 0 |
/// | `ask.cache.enabled`, `ask.cache.default_ttl` | off; a TTL such as `'5m'` (or milliseconds) |
/// | `ask.audit.include_answer` | false |
/// | `ask.audit.retention_days` | 90 |
///
/// A value that does not parse is an error naming the key, not a silent default.
public struct AskSettings: Sendable, Equatable {
    public var maxPromptTokens = 32_768
    public var maxSourcesBytes = 262_144
    public var maxCompletionTokens = 1024
    public var dailyCostCapUSD: Double?
    public var defaultTemperature = 0.0
    /// Used when an ASK names no cache clause: `ask.cache.enabled` with `ask.cache.default_ttl`.
    public var defaultCacheTTLMilliseconds: Int64?
    public var includeAnswerInAudit = false
    public var auditRetentionDays = 90

    public init() {}

    public static func load(_ settings: AISettings) async throws -> AskSettings {
        var s = AskSettings()
        func number(_ key: String, _ range: ClosedRange<Double>) async throws -> Double? {
            guard let text = try await settings.configValue(key) else { return nil }
            guard let value = Double(text.trimmingSpaces()), range.contains(value) else {
                throw RedError(.invalidArgument, "config \(key) must be a number in \(range.lowerBound)…\(range.upperBound), not '\(text)'")
            }
            return value
        }
        func flag(_ key: String) async throws -> Bool? {
            guard let text = try await settings.configValue(key) else { return nil }
            switch text.trimmingSpaces().lowercased() {
            case "true", "1", "yes", "on": return true
            case "false", "0", "no", "off": return false
            default: throw RedError(.invalidArgument, "config \(key) must be true or false, not '\(text)'")
            }
        }
        if let v = try await number("ask.max_prompt_tokens", 1...1_000_000) { s.maxPromptTokens = Int(v) }
        if let v = try await number("ask.max_sources_bytes", 1...67_108_864) { s.maxSourcesBytes = Int(v) }
        if let v = try await number("ask.max_completion_tokens", 1...1_000_000) { s.maxCompletionTokens = Int(v) }
        s.dailyCostCapUSD = try await number("ask.daily_cost_cap_usd", 0...1e12)
        if let v = try await number("ask.default_temperature", 0...2) { s.defaultTemperature = v }
        if try await flag("ask.cache.enabled") == true {
            let ttl = try await settings.configValue("ask.cache.default_ttl") ?? "5m"
            s.defaultCacheTTLMilliseconds = try Self.milliseconds(ttl, key: "ask.cache.default_ttl")
        }
        s.includeAnswerInAudit = try await flag("ask.audit.include_answer") ?? false
        if let v = try await number("ask.audit.retention_days", 1...36_500) { s.auditRetentionDays = Int(v) }
        return s
    }

    /// `'5m'`, `'30 s'`, `'1h'`, `'2d'`, or plain milliseconds.
    static func milliseconds(_ text: String, key: String) throws -> Int64 {
        guard let ms = DurationText.milliseconds(text, defaultUnitMilliseconds: 1), ms > 0 else {
            throw RedError(.invalidArgument, "config \(key) must be a duration such as '5m', not '\(text)'")
        }
        return ms
    }
}

/// What ASKs have cost today (UTC), per tenant, in this process: `ask.daily_cost_cap_usd`
/// refuses an ASK whose planned cost would pass the cap. Reset at UTC midnight; not shared
/// between servers (a replica keeps its own).
final class AskCostLedger: Sendable {
    private let state = Mutex<(day: Int64, spent: [String: Double])>((0, [:]))

    static func today() -> Int64 { Int64(Date().timeIntervalSince1970) / 86_400 }

    func spent(_ tenant: String) -> Double {
        state.withLock { s in s.day == Self.today() ? s.spent[tenant] ?? 0 : 0 }
    }

    func add(_ cost: Double, tenant: String) {
        state.withLock { s in
            let day = Self.today()
            if s.day != day { s = (day, [:]) }
            s.spent[tenant, default: 0] += cost
        }
    }
}
