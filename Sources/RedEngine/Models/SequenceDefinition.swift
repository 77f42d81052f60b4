import Foundation
import RedCore

/// A sequence's definition: what CREATE SEQUENCE said, or what an identity or serial column
/// implied. Kept in catalog storage and changed only by DDL, inside the DDL's transaction,
/// so a rolled-back CREATE, ALTER … RESTART or TRUNCATE … RESTART IDENTITY leaves the
/// sequence as it was. The values handed out are not here: they live in
/// `SequenceRegistry`, outside any transaction (as PostgreSQL's nextval is).
public struct SequenceDefinition: Codable, Sendable, Equatable {
    /// Chosen at random when the sequence is created: a dropped and re-created sequence of the
    /// same name never picks up the old one's values.
    public var id: UInt64
    /// `smallint`, `integer` or `bigint`: the bounds' defaults and what nextval returns.
    public var typeName: String
    public var increment: Int64
    public var minValue: Int64
    public var maxValue: Int64
    public var start: Int64
    /// Accepted and shown (PostgreSQL's CACHE); every session draws from one shared counter here.
    public var cache: Int64
    public var cycle: Bool
    /// How many RESTARTs have committed. Each restart begins a new run of values, kept apart
    /// from the previous run's: a transaction that restarts and then rolls back leaves the
    /// old run going.
    public var epoch: UInt64
    /// The first value of the current epoch's run (`start` until a RESTART WITH says otherwise).
    public var restartValue: Int64
    /// `OWNED BY table.column`: the column's identity or serial default, dropped with it.
    public var ownerTable: String?
    public var ownerColumn: String?
    /// `COMMENT ON SEQUENCE`'s text.
    public var comment: String?

    public init(id: UInt64, typeName: String, increment: Int64, minValue: Int64, maxValue: Int64, start: Int64, cache: Int64,
                cycle: Bool, epoch: UInt64, restartValue: Int64, ownerTable: String? = nil, ownerColumn: String? = nil) {
        self.id = id
        self.typeName = typeName
        self.increment = increment
        self.minValue = minValue
        self.maxValue = maxValue
        self.start = start
        self.cache = cache
        self.cycle = cycle
        self.epoch = epoch
        self.restartValue = restartValue
        self.ownerTable = ownerTable
        self.ownerColumn = ownerColumn
    }

    /// The value range of a sequence type, or nil for a type sequences cannot have.
    public static func bounds(ofType name: String) -> ClosedRange<Int64>? {
        switch name {
        case "smallint": return Int64(Int16.min)...Int64(Int16.max)
        case "integer": return Int64(Int32.min)...Int64(Int32.max)
        case "bigint": return Int64.min...Int64.max
        default: return nil
        }
    }

    /// Catalog storage key of the sequence called `name`.
    public static func catalogKey(_ name: String) -> [UInt8] { catalogPrefix + Array(name.utf8) }
    public static let catalogPrefix = Array("sequence/".utf8)

    public var isAscending: Bool { increment > 0 }

    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(self)) ?? Data())
    }

    public static func decode(_ bytes: [UInt8], name: String) throws -> SequenceDefinition {
        do { return try JSONDecoder().decode(SequenceDefinition.self, from: Data(bytes)) } catch {
            throw RedError(.dataCorrupted, "the definition of sequence \(name) does not decode: \(error)")
        }
    }

    /// The value the current epoch's run starts at.
    public var firstValue: Int64 { epoch == 0 ? start : restartValue }
}
