/// pgvector's four distance operators, as one definition that both the SQL functions
/// (`l2_distance(a, b)`, `a <-> b`, …) and the nearest-first table scan compute with, so a query
/// ordered by a distance gets the same values, and so the same order, whichever way it runs.
///
/// | operator | value |
/// |---|---|
/// | `<->` | Euclidean distance |
/// | `<=>` | 1 − cosine similarity; NaN when either vector is zero (pgvector's answer) |
/// | `<#>` | −(a · b) |
/// | `<+>` | taxicab distance, summed in double precision |
///
/// L2, cosine and inner product use `VectorMetric`'s sums (single-precision lanes added in
/// double precision, as pgvector does).
public enum PgVectorDistance: String, Sendable, CaseIterable {
    case l2 = "l2_distance"
    case cosine = "cosine_distance"
    case negativeInnerProduct = "__vector_negative_inner_product"
    case l1 = "l1_distance"

    /// The distance between two vectors of equal length.
    public func distance(_ a: [Float], _ b: [Float]) -> Double {
        VectorMetric.comparing(a, b) { distance($0, $1, count: a.count) }
    }

    /// The distance between `a` and a vector stored as `count` little-endian f32s at `bytes`.
    public func distance(_ a: [Float], littleEndianFloats bytes: UnsafeRawPointer, count: Int) -> Double {
        VectorMetric.comparing(a, littleEndianFloats: bytes, count: count) { distance($0, $1, count: count) }
    }

    private func distance(_ a: UnsafeRawPointer?, _ b: UnsafeRawPointer?, count: Int) -> Double {
        guard count > 0, let a, let b else { return self == .cosine ? .nan : 0 }
        switch self {
        case .l2:
            return VectorMetric.sums(a, b, count).squaredDistance.squareRoot()
        case .negativeInnerProduct:
            return -VectorMetric.sums(a, b, count).dot
        case .cosine:
            let s = VectorMetric.sums(a, b, count)
            guard s.normA > 0, s.normB > 0 else { return .nan }
            let norms = (s.normA * s.normB).squareRoot()
            guard norms > 0 else { return 1 }  // as `VectorMetric.cosine`: the product underflowed
            return 1 - min(1, max(-1, s.dot / norms))
        case .l1:
            var sum = 0.0
            for i in 0..<count {
                sum += abs(Double(a.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)) - Double(b.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)))
            }
            return sum
        }
    }
}
