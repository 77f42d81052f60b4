import RedCore
import RedEngine

/// Vector items as rows: what `INSERT INTO c VECTOR (…)` and UPDATE write.
///
/// A vector item stores its vector in column 0, its optional `content` text in
/// column 1 and its optional `metadata` JSON object in column 2. Every vector
/// written is checked here, so a search never meets a malformed one: non-empty,
/// at most `Limits.maxVectorDimensions` components, all finite, and as long as
/// the collection's declared `DIM`.
extension CollectionSchema {
    /// A vector collection created by its first `INSERT … VECTOR`: any dimension, cosine.
    static let implicitVectorCollection: CollectionSchema = {
        var schema = CollectionSchema(model: .vector)
        schema.vector = VectorSettings(dimension: nil, metric: .cosine)
        return schema
    }()
}

extension DMLExecutor {
    static let vectorColumnsHint = "vector inserts take the columns dense (or embedding), content and metadata"

    /// The stored column of a vector field name.
    static func vectorField(_ name: String) throws -> String {
        switch name.lowercased() {
        case "dense", "embedding": return "dense"
        case "content": return "content"
        case "metadata": return "metadata"
        default: throw RedError(.undefinedColumn, "column \"\(name)\" does not exist: \(vectorColumnsHint)")
        }
    }

    func vectorRow(_ columnNames: [String]?, _ source: [Value?], _ handle: TableHandle, expiresAt: Int64?) throws -> StoredRow {
        guard let columnNames else { throw RedError(.syntaxError, "\(Self.vectorColumnsHint); name them: INSERT INTO \(handle.name) VECTOR (dense, …)") }
        guard columnNames.count == source.count else {
            throw RedError(.syntaxError, "INSERT has \(columnNames.count) column\(columnNames.count == 1 ? "" : "s") but \(source.count) value\(source.count == 1 ? "" : "s")")
        }
        var row = StoredRow(rid: 0, values: [:], expiresAt: expiresAt, createdAt: context.now, updatedAt: context.now)
        var seen = Set<String>()
        for (name, value) in zip(columnNames, source) {
            let field = try Self.vectorField(name)
            guard seen.insert(field).inserted else { throw RedError(.syntaxError, "column \"\(field)\" specified more than once") }
            try setVectorField(field, to: value ?? .null, in: &row, handle)
        }
        guard row.values[0] != nil else { throw RedError(.notNullViolation, "a vector item needs dense (or embedding): its vector") }
        row.rid = try store.nextRowID(tx, handle)
        return row
    }

    /// Validates `value` for the vector field `field` and stores it in `row`.
    func setVectorField(_ field: String, to value: Value, in row: inout StoredRow, _ handle: TableHandle) throws {
        switch field {
        case "dense":
            guard !value.isNull else { throw RedError(.notNullViolation, "a vector item's dense vector cannot be null") }
            let vector = try Self.checkedVector(value, collection: handle.name, dimension: handle.schema.vector?.dimension)
            row.values[0] = .vector(vector)
        case "content":
            row.values[1] = value.isNull ? nil : .text(try DataType.text.coerce(value).displayText)
        default:
            switch value {
            case .null: row.values[2] = nil
            case .json(.object): row.values[2] = value
            case .text(let s):
                guard let parsed = try? JSONValue.parse(s), case .object = parsed else {
                    throw RedError(.invalidTextRepresentation, "vector metadata must be a JSON object")
                }
                row.values[2] = .json(parsed)
            default: throw RedError(.invalidTextRepresentation, "vector metadata must be a JSON object, got \(value.kindName)")
            }
        }
    }

    /// `value` as a vector fit to store or search with: numbers only, finite, 1…max components,
    /// and `dimension` of them when the collection declares one.
    static func checkedVector(_ value: Value, collection: String, dimension: Int?) throws -> [Float] {
        let vector: [Float]
        switch value {
        case .vector(let v): vector = v
        case .json, .text:
            guard case .vector(let v) = try DataType.vector.coerce(value) else { throw notAVector(value) }
            vector = v
        default: throw notAVector(value)
        }
        guard !vector.isEmpty else { throw RedError(.invalidArgument, "a vector needs at least one component") }
        guard vector.count <= Limits.maxVectorDimensions else {
            throw RedError(.limitExceeded, "a vector may have at most \(Limits.maxVectorDimensions) components, got \(vector.count)")
        }
        guard vector.allSatisfy(\.isFinite) else { throw RedError(.invalidArgument, "vector components must be finite numbers") }
        if let dimension, vector.count != dimension {
            throw RedError(.invalidArgument, "vector dimension mismatch for collection '\(collection)': expected \(dimension), got \(vector.count)")
        }
        return vector
    }

    static func notAVector(_ value: Value) -> RedError {
        RedError(.invalidTextRepresentation, "expected a vector (an array of numbers), got \(value.kindName)")
    }
}
