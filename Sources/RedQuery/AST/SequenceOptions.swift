import RedCore
import RedEngine

/// The options of CREATE / ALTER SEQUENCE and of an identity column's `(…)`, each nil when
/// not given. `minValue`/`maxValue` hold `.some(nil)` for NO MINVALUE / NO MAXVALUE.
public struct SequenceOptions: Sendable, Equatable {
    public var typeName: String?
    public var increment: Int64?
    public var minValue: Int64??
    public var maxValue: Int64??
    public var start: Int64?
    public var cache: Int64?
    public var cycle: Bool?
    /// RESTART (`.some(nil)`) or RESTART WITH n (ALTER only).
    public var restart: Int64??
    /// OWNED BY table.column (`.some(nil)` for OWNED BY NONE).
    public var ownedBy: (table: String, column: String)??
    /// An identity column's `SEQUENCE NAME` (pg_dump writes it): only the name it would get anyway.
    public var sequenceName: String?

    public init() {}

    public static func == (a: SequenceOptions, b: SequenceOptions) -> Bool {
        a.typeName == b.typeName && a.increment == b.increment && a.minValue == b.minValue && a.maxValue == b.maxValue
            && a.start == b.start && a.cache == b.cache && a.cycle == b.cycle && a.restart == b.restart
            && a.ownedBy??.table == b.ownedBy??.table && a.ownedBy??.column == b.ownedBy??.column
            && (a.ownedBy == nil) == (b.ownedBy == nil) && a.sequenceName == b.sequenceName
    }

    /// A new sequence's definition from these options, with PostgreSQL's defaults for the
    /// rest; 22023 for a combination PostgreSQL refuses.
    public func definition(id: UInt64) throws -> SequenceDefinition {
        var definition = SequenceDefinition(id: id, typeName: "bigint", increment: 1, minValue: 1, maxValue: Int64.max, start: 1,
                                            cache: 1, cycle: false, epoch: 0, restartValue: 1)
        try applied(to: &definition, creating: true)
        return definition
    }

    /// Applies the options to `definition` (ALTER SEQUENCE); bounds left unsaid follow a
    /// changed type or direction, as PostgreSQL's do.
    public func applied(to definition: inout SequenceDefinition, creating: Bool) throws {
        if let typeName {
            guard let range = SequenceDefinition.bounds(ofType: typeName) else {
                throw RedError(.invalidArgument, "sequence type must be smallint, integer, or bigint")
            }
            let old = SequenceDefinition.bounds(ofType: definition.typeName) ?? Int64.min...Int64.max
            // Bounds that were the old type's defaults follow the new type.
            if minValue == nil, definition.minValue == old.lowerBound { definition.minValue = range.lowerBound }
            if maxValue == nil, definition.maxValue == old.upperBound { definition.maxValue = range.upperBound }
            definition.typeName = typeName
        }
        let range = SequenceDefinition.bounds(ofType: definition.typeName) ?? Int64.min...Int64.max
        if let increment {
            guard increment != 0 else { throw RedError(.invalidArgument, "INCREMENT must not be zero") }
            definition.increment = increment
        }
        switch minValue {
        case .some(.some(let v)): definition.minValue = v
        case .some(.none): definition.minValue = definition.isAscending ? 1 : range.lowerBound
        case .none: if creating { definition.minValue = definition.isAscending ? 1 : range.lowerBound }
        }
        switch maxValue {
        case .some(.some(let v)): definition.maxValue = v
        case .some(.none): definition.maxValue = definition.isAscending ? range.upperBound : -1
        case .none: if creating { definition.maxValue = definition.isAscending ? range.upperBound : -1 }
        }
        guard range.contains(definition.minValue) else {
            throw RedError(.invalidArgument, "MINVALUE (\(definition.minValue)) is out of range for sequence data type \(definition.typeName)")
        }
        guard range.contains(definition.maxValue) else {
            throw RedError(.invalidArgument, "MAXVALUE (\(definition.maxValue)) is out of range for sequence data type \(definition.typeName)")
        }
        guard definition.minValue < definition.maxValue else {
            throw RedError(.invalidArgument, "MINVALUE (\(definition.minValue)) must be less than MAXVALUE (\(definition.maxValue))")
        }
        if let start { definition.start = start } else if creating { definition.start = definition.isAscending ? definition.minValue : definition.maxValue }
        guard definition.start >= definition.minValue else {
            throw RedError(.invalidArgument, "START value (\(definition.start)) cannot be less than MINVALUE (\(definition.minValue))")
        }
        guard definition.start <= definition.maxValue else {
            throw RedError(.invalidArgument, "START value (\(definition.start)) cannot be greater than MAXVALUE (\(definition.maxValue))")
        }
        if let cache {
            guard cache > 0 else { throw RedError(.invalidArgument, "CACHE (\(cache)) must be greater than zero") }
            definition.cache = cache
        }
        if let cycle { definition.cycle = cycle }
        if let restart {
            let value = restart ?? definition.start
            guard value >= definition.minValue else {
                throw RedError(.invalidArgument, "RESTART value (\(value)) cannot be less than MINVALUE (\(definition.minValue))")
            }
            guard value <= definition.maxValue else {
                throw RedError(.invalidArgument, "RESTART value (\(value)) cannot be greater than MAXVALUE (\(definition.maxValue))")
            }
            // A new run of its own, never the next number: a RESTART rolled back (or a concurrent
            // one that lost) has already handed out values under `epoch + 1`, and a later RESTART
            // landing on that run would continue it instead of starting over.
            var epoch = UInt64.random(in: 1...UInt64.max)
            while epoch == definition.epoch { epoch = UInt64.random(in: 1...UInt64.max) }
            definition.epoch = epoch
            definition.restartValue = value
        }
        if let ownedBy {
            definition.ownerTable = ownedBy?.table
            definition.ownerColumn = ownedBy?.column
        }
    }
}
