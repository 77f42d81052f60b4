import Foundation
import RedCore
import RedQuery
import RedProto

/// The gRPC surface's one encoder/decoder for `Value` (spec: protocols §3.4–3.5).
///
/// Record values in `result_json` use the same JSON encoding as the HTTP API (`Value.jsonValue`):
/// upstream writes every type but null, booleans, numbers, text, timestamps and blobs as
/// `null` (`QUIRK`), which loses JSON, UUID, date and decimal values; we keep them, so a row
/// reads the same over gRPC as over HTTP.
enum GRPCValues {
    static let streamChunkRows = 1_000
    static let streamChunkBytes = 1 << 20

    /// QueryRequest.params → Value.
    static func value(_ param: Reddb_V1_QueryValue) throws -> Value {
        switch param.kind {
        case nil, .nullValue: return .null
        case .boolValue(let b): return .boolean(b)
        case .intValue(let i): return .integer(i)
        case .floatValue(let d): return .float(d)
        case .textValue(let s): return .text(s)
        case .bytesValue(let data): return .blob(Array(data))
        case .vectorValue(let v): return .vector(v.values)
        case .jsonValue(let text):
            do { return .json(try JSONValue.parse(text)) } catch let error as RedError {
                throw RedError(.invalidParameters, "json param parse error: \(error.message)")
            }
        case .timestampValue(let seconds):
            let (us, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
            guard !overflow, CalendarMath.timestampRange.contains(us) else { throw RedError(.invalidParameters, "timestamp param out of range: \(seconds)") }
            return .timestamp(us)
        case .uuidValue(let data):
            guard data.count == 16 else { throw RedError(.invalidParameters, "uuid param must be 16 bytes, got \(data.count)") }
            return .uuid(UUIDBits(bigEndianBytes: data)!)
        }
    }

    /// ExecutePrepared.bind_json (one JSON literal each) → Value: null, bool, integral number →
    /// integer, other number → float, string → text, arrays and objects → their JSON text as text.
    static func boundValue(_ literal: String) throws -> Value {
        let json: JSONValue
        do { json = try JSONValue.parse(literal) } catch let error as RedError {
            throw RedError(.invalidParameters, "prepared bind failed: \(error.message)")
        }
        switch json {
        case .array, .object: return .text(json.text)
        default: return Value(json: json)
        }
    }

    /// QueryRequest.entity_types / capabilities, normalised: results of this server are all
    /// `table` records, so a filter that names only other kinds returns no records.
    struct EntityFilter {
        var allowsTables: Bool
        var filtered: Bool
        static let all = EntityFilter(allowsTables: true, filtered: false)

        init(allowsTables: Bool, filtered: Bool) {
            self.allowsTables = allowsTables
            self.filtered = filtered
        }

        init(_ names: [String]) {
            let kinds = names.map { $0.lowercased().trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !kinds.isEmpty, !kinds.contains(where: { ["all", "any", "*"].contains($0) }) else {
                self.init(allowsTables: true, filtered: false)
                return
            }
            self.init(allowsTables: kinds.contains { ["table", "row", "rows", "structured", "document", "documents", "kv"].contains($0) },
                      filtered: true)
        }
    }

    /// QueryReply for a result: `result_json` is `{"columns","record_count","selection","records"}`
    /// in that order, plus `affected_rows` and `message` when the statement has them.
    static func queryReply(_ result: QueryResult, filter: EntityFilter) -> Reddb_V1_QueryReply {
        let records = filter.allowsTables ? result.rows.map { record(columns: result.columns, row: $0) } : []
        var members: [(String, JSONValue)] = [
            ("columns", .array(result.columns.map { .string($0.name) })),
            ("record_count", .integer(Int64(records.count))),
            ("selection", .object([("scope", .string(filter.filtered ? "filtered" : "any"))])),
            ("records", .array(records)),
        ]
        if result.rowsAffected > 0 { members.append(("affected_rows", .integer(Int64(result.rowsAffected)))) }
        if let message = result.message { members.append(("message", .string(message))) }
        var reply = Reddb_V1_QueryReply()
        reply.ok = true
        reply.mode = "sql"
        reply.statement = result.statementType
        reply.engine = result.engine
        reply.columns = result.columns.map(\.name)
        reply.recordCount = UInt64(records.count)
        reply.resultJson = JSONValue.object(members).text
        return reply
    }

    /// One row as `{column: value}`, exactly as HTTP encodes it.
    static func record(columns: [ResultColumn], row: [Value]) -> JSONValue {
        QueryResult.record(columns: columns, row: row)
    }

    /// A cheap upper-bound guess of a row's JSON size, to cut stream chunks near 1 MiB.
    static func estimatedSize(_ row: [Value]) -> Int {
        row.reduce(2) { total, value in
            switch value {
            case .text(let s): return total + s.utf8.count + 8
            case .blob(let b): return total + b.count * 2 + 8
            case .json(let j): return total + j.text.utf8.count + 8
            case .vector(let v): return total + v.count * 12 + 8
            default: return total + 24
            }
        }
    }
}
