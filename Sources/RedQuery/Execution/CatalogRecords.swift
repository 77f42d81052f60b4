import RedCore
import RedEngine

/// A named record kept as JSON in the engine's catalog storage (graph projections, analytics
/// jobs): a definition and a state, stored and listed together.
public protocol CatalogRecord: Sendable {
    /// What the record is called in errors ("graph projection").
    static var kindName: String { get }
    /// The catalog key prefix its records live under (`graph_projection/`).
    static var keyPrefix: String { get }
    var name: String { get }
    var definitionJSON: JSONValue { get }
    var stateJSON: JSONValue { get }
    init(json: JSONValue) throws
}

extension CatalogRecord {
    /// Definition and state in one object, keys sorted: what is stored and listed whole.
    public var json: JSONValue {
        guard case .object(let definition) = definitionJSON, case .object(let state) = stateJSON else { return .null }
        var merged = definition
        for member in state where !merged.contains(where: { $0.0 == member.0 }) { merged.append(member) }
        return .object(merged.sorted { $0.0 < $1.0 })
    }
}

/// Reads and writes `Record`s in a transaction's catalog storage under `Record.keyPrefix`.
public enum CatalogRecords<Record: CatalogRecord> {
    static var prefix: [UInt8] { Array(Record.keyPrefix.utf8) }
    static func key(_ name: String) -> [UInt8] { prefix + Array(name.utf8) }

    public static func get(_ name: String, _ tx: Transaction) throws -> Record? {
        guard let bytes = try tx.catalogGet(key(name)) else { return nil }
        return try Record(json: try JSONValue.parse(utf8: bytes))
    }

    /// The record called `name`, or 42704 (undefined_object).
    public static func require(_ name: String, _ tx: Transaction) throws -> Record {
        guard let record = try get(name, tx) else { throw RedError(.undefinedObject, "\(Record.kindName) \"\(name)\" does not exist") }
        return record
    }

    public static func put(_ record: Record, _ tx: Transaction) throws { try tx.catalogPut(key(record.name), record.json.utf8) }

    /// Every record, by name.
    public static func all(_ tx: Transaction) throws -> [Record] {
        let cursor = try tx.catalogScan(.prefix(prefix))
        var out: [Record] = []
        while let (_, value) = try cursor.next() { out.append(try Record(json: try JSONValue.parse(utf8: value))) }
        return out
    }
}

public typealias GraphProjectionCatalog = CatalogRecords<GraphProjection>
public typealias AnalyticsJobCatalog = CatalogRecords<AnalyticsJob>
