import Foundation
import RedCore

/// Statement parameters given as JSON (ADR 0015), as HTTP's `/query` and MCP's `reddb_query`
/// take them: null, bool, integral numbers → int64, other numbers → float, strings → text,
/// number arrays → vector, other arrays/objects → JSON, and the single-key envelopes
/// `$bytes` (base64), `$ts` (epoch ms or text), `$uuid`, `$float` (NaN/±Infinity).
public enum JSONParameter {
    public static func value(_ j: JSONValue) throws -> Value {
        switch j {
        case .null, .bool, .integer, .float, .string: return Value(json: j)
        case .decimal(let n): return .float(n.doubleValue)  // "other numbers → float", as the ADR has it
        case .array(let items):
            let numbers: [Float]? = items.isEmpty ? nil : items.reduce(into: [Float]()) { out, item in
                switch item {
                case .integer(let i): out.append(Float(i))
                case .float(let d): out.append(Float(d))
                case .decimal(let n): out.append(Float(n.doubleValue))
                default: break
                }
            }
            if let numbers, numbers.count == items.count { return .vector(numbers) }
            return .json(j)
        case .object(let members):
            guard members.count == 1, let (key, inner) = members.first else { return .json(j) }
            switch (key, inner) {
            case ("$bytes", .string(let b64)):
                guard let data = Data(base64Encoded: b64) else { throw RedError(.invalidParameters, "$bytes must be base64") }
                return .blob(Array(data))
            case ("$ts", .integer(let ms)): return .timestamp(try CalendarMath.checkedTimestamp(milliseconds: ms))
            case ("$ts", .string(let text)): return try DataType.timestamp.coerce(.text(text))
            case ("$uuid", .string(let text)): return try DataType.uuid.coerce(.text(text))
            case ("$float", .string(let text)):
                switch text {
                case "NaN": return .float(.nan)
                case "Infinity": return .float(.infinity)
                case "-Infinity": return .float(-.infinity)
                default: throw RedError(.invalidParameters, "$float must be NaN, Infinity or -Infinity")
                }
            default: return .json(j)
            }
        }
    }
}
