
/// How two vectors are compared, and the score a search ranks by.
///
/// A search orders hits by score, highest first. The score is derived from the
/// distance so that "more similar" is always "higher":
/// - cosine: distance `1 − cos(a, b)`, score `1 − distance` (= the cosine, −1…1);
/// - L2: Euclidean distance, score `−distance`;
/// - inner product: distance `−(a · b)`, score `−distance` (= the dot product).
///
/// A zero vector has no direction: its cosine with anything is 0 (distance 1),
/// never NaN, so it sorts after every vector that points anywhere near the query.
public enum VectorMetric: String, Codable, Sendable, CaseIterable {
    case cosine
    case l2
    case innerProduct = "inner_product"

    /// The metric named in SQL or a request: `L2|EUCLIDEAN`, `COSINE|COS`, `INNER_PRODUCT|IP|DOT`.
    public init?(word: String) {
        switch word.lowercased() {
        case "cosine", "cos": self = .cosine
        case "l2", "euclidean": self = .l2
        case "inner_product", "ip", "dot": self = .innerProduct
        default: return nil
        }
    }

    /// The distance between two vectors of equal length.
    public func distance(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count, "vectors compared must have equal dimensions")
        switch self {
        case .l2:
            var sum: Double = 0
            for i in 0..<a.count {
                let d = Double(a[i]) - Double(b[i])
                sum += d * d
            }
            return sum.squareRoot()
        case .innerProduct:
            return -Self.dot(a, b)
        case .cosine:
            let na = Self.dot(a, a).squareRoot(), nb = Self.dot(b, b).squareRoot()
            guard na > 0, nb > 0 else { return 1 }
            return 1 - min(1, max(-1, Self.dot(a, b) / (na * nb)))
        }
    }

    /// The ranking score of a distance under this metric (higher is more similar).
    public func score(distance: Double) -> Double {
        self == .cosine ? 1 - distance : 0 - distance  // 0 − 0 is +0: an exact match scores 0, not −0
    }

    /// Whether a hit passes `THRESHOLD t`: L2 keeps distances up to `t`, the others scores from `t`.
    public func passes(threshold: Double, distance: Double) -> Bool {
        self == .l2 ? distance <= threshold : score(distance: distance) >= threshold
    }

    static func dot(_ a: [Float], _ b: [Float]) -> Double {
        var sum: Double = 0
        for i in 0..<a.count { sum += Double(a[i]) * Double(b[i]) }
        return sum
    }
}
