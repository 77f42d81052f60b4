import Foundation
import RedCore

/// pgvector's functions and operators over `vector` values, so the SQL that applications and
/// libraries (LangChain's PGVector, LlamaIndex, pgvector-python) write for PostgreSQL with
/// pgvector runs here unchanged:
///
/// | operator | function | value |
/// |---|---|---|
/// | `a <-> b` | `l2_distance(a, b)` | Euclidean distance |
/// | `a <=> b` | `cosine_distance(a, b)` | 1 − cosine similarity (NaN with a zero vector) |
/// | `a <#> b` | — | the negative inner product, −(a · b) |
/// | `a <+> b` | `l1_distance(a, b)` | taxicab distance |
/// |  | `inner_product(a, b)` | a · b |
///
/// and `vector_dims(v)`, `vector_norm(v)`, `l2_normalize(v)`. Arguments are vectors, or text in
/// pgvector's form (`'[1,2,3]'`) or JSON arrays, as a literal or parameter from a client.
/// Vectors of different dimensions are 22000 "different vector dimensions 3 and 2", as in
/// pgvector. Sums run in double precision over the single-precision components.
enum VectorFunctions {
    /// The function each distance operator calls.
    static let operatorFunctions: [String: String] = [
        "<->": "l2_distance", "<=>": "cosine_distance", "<#>": "__vector_negative_inner_product", "<+>": "l1_distance",
    ]

    static let resultTypes: [String: DataType] = [
        "l2_distance": .float, "cosine_distance": .float, "__vector_negative_inner_product": .float, "l1_distance": .float,
        "inner_product": .float, "vector_norm": .float, "vector_dims": .integer, "l2_normalize": .vector,
    ]

    static var functions: [ScalarFunction] {
        [
            // The operators' functions are `PgVectorDistance`'s, which the nearest-first scan
            // (`VectorOrderScan`) ranks by too.
            pair("l2_distance") { a, b in PgVectorDistance.l2.distance(a, b) },
            pair("cosine_distance") { a, b in PgVectorDistance.cosine.distance(a, b) },
            pair("inner_product") { a, b in -PgVectorDistance.negativeInnerProduct.distance(a, b) },
            pair("__vector_negative_inner_product") { a, b in PgVectorDistance.negativeInnerProduct.distance(a, b) },
            pair("l1_distance") { a, b in PgVectorDistance.l1.distance(a, b) },
            ScalarFunction(name: "vector_dims", arity: 1...1, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
                .integer(Int64(try vector(a[0], "vector_dims").count))
            },
            ScalarFunction(name: "vector_norm", arity: 1...1, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
                .float(norm(try vector(a[0], "vector_norm")))
            },
            ScalarFunction(name: "l2_normalize", arity: 1...1, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
                let v = try vector(a[0], "l2_normalize")
                let length = norm(v)
                guard length > 0 else { return .vector(v) }  // a zero vector stays as it is, as in pgvector
                return .vector(v.map { Float(Double($0) / length) })
            },
        ]
    }

    /// The Euclidean length: the square root of v · v.
    private static func norm(_ v: [Float]) -> Double { (-VectorMetric.innerProduct.distance(v, v)).squareRoot() }

    /// A function of two vectors of the same dimensions, returning a double.
    private static func pair(_ name: String, _ body: @escaping @Sendable ([Float], [Float]) -> Double) -> ScalarFunction {
        ScalarFunction(name: name, arity: 2...2, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
            let x = try vector(a[0], name), y = try vector(a[1], name)
            guard x.count == y.count else {
                throw RedError(.invalidArgument, "different vector dimensions \(x.count) and \(y.count)", condition: "22000")
            }
            return .float(body(x, y))
        }
    }

    /// A vector argument: a vector, or text/JSON giving one; anything else is 42883.
    static func vector(_ value: Value, _ function: String) throws -> [Float] {
        switch value {
        case .vector(let v): return v
        case .text, .json:
            guard case .vector(let v) = try DataType.vector.coerce(value) else { break }
            guard v.allSatisfy(\.isFinite) else { throw RedError(.invalidArgument, "infinite value not allowed in vector", condition: "22000") }
            return v
        default: break
        }
        throw RedError(.undefinedFunction, "function \(function)(\(value.kindName)) does not exist")
    }
}
