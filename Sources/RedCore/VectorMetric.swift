
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
        Self.comparing(a, b) { distance($0, $1, count: a.count) }
    }

    /// The distance between `a` and a vector stored as `count` little-endian f32s at `bytes`
    /// (a record in the page cache), read where it lies.
    public func distance(_ a: [Float], littleEndianFloats bytes: UnsafeRawPointer, count: Int) -> Double {
        Self.comparing(a, littleEndianFloats: bytes, count: count) { distance($0, $1, count: count) }
    }

    /// `body` given both vectors' native-order floats (what `sums` reads).
    static func comparing(_ a: [Float], _ b: [Float], _ body: (UnsafeRawPointer?, UnsafeRawPointer?) -> Double) -> Double {
        precondition(a.count == b.count, "vectors compared must have equal dimensions")
        return a.withUnsafeBytes { a in b.withUnsafeBytes { b in body(a.baseAddress, b.baseAddress) } }
    }

    /// `body` given `a`'s floats and the `count` little-endian floats at `bytes`, in native
    /// order: read where they lie on a little-endian host, converted on a big-endian one.
    static func comparing(_ a: [Float], littleEndianFloats bytes: UnsafeRawPointer, count: Int,
                          _ body: (UnsafeRawPointer?, UnsafeRawPointer?) -> Double) -> Double {
        precondition(a.count == count, "vectors compared must have equal dimensions")
        #if _endian(little)
        return a.withUnsafeBytes { a in body(a.baseAddress, bytes) }
        #else
        let b = (0..<count).map { Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        return comparing(a, b, body)
        #endif
    }

    /// Products are summed in single precision over eight lanes (SIMD), as pgvector does,
    /// and the lanes are added in double precision. Integers and short vectors stay exact;
    /// a long vector's distance may differ from a double-precision sum in its seventh digit.
    private func distance(_ a: UnsafeRawPointer?, _ b: UnsafeRawPointer?, count: Int) -> Double {
        guard count > 0, let a, let b else { return self == .cosine ? 1 : 0 }
        switch self {
        case .l2:
            return Self.sums(a, b, count).squaredDistance.squareRoot()
        case .innerProduct:
            return -Self.sums(a, b, count).dot
        case .cosine:
            let s = Self.sums(a, b, count)
            let norms = (s.normA * s.normB).squareRoot()
            guard norms > 0 else { return 1 }
            return 1 - min(1, max(-1, s.dot / norms))
        }
    }

    /// a·b, a·a, b·b and |a−b|² of two arrays of `count` native-order floats, in one pass
    /// (inlined into each metric, which drops the sums it does not use).
    @inline(__always)
    static func sums(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int)
        -> (dot: Double, normA: Double, normB: Double, squaredDistance: Double) {
        var dot = SIMD8<Float>(), normA = SIMD8<Float>(), normB = SIMD8<Float>(), squared = SIMD8<Float>()
        let lanes = count / 8 * 8
        var i = 0
        while i < lanes {
            let x = a.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            let y = b.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            // Plain `+` and `*`: SIMD's `addProduct` is a per-lane loop, not one instruction.
            dot += x * y
            normA += x * x
            normB += y * y
            let d = x - y
            squared += d * d
            i += 8
        }
        func total(_ v: SIMD8<Float>) -> Double {
            Double(v[0]) + Double(v[1]) + Double(v[2]) + Double(v[3]) + Double(v[4]) + Double(v[5]) + Double(v[6]) + Double(v[7])
        }
        var result = (dot: total(dot), normA: total(normA), normB: total(normB), squaredDistance: total(squared))
        // Components near Float's limit overflow a single-precision product or sum: start again
        // in double precision, where finite floats cannot overflow.
        if !(result.dot.isFinite && result.normA.isFinite && result.normB.isFinite && result.squaredDistance.isFinite) {
            result = (0, 0, 0, 0)
            i = 0
        }
        while i < count {
            let x = Double(a.loadUnaligned(fromByteOffset: 4 * i, as: Float.self))
            let y = Double(b.loadUnaligned(fromByteOffset: 4 * i, as: Float.self))
            result.dot += x * y
            result.normA += x * x
            result.normB += y * y
            result.squaredDistance += (x - y) * (x - y)
            i += 1
        }
        return result
    }

    /// The ranking score of a distance under this metric (higher is more similar).
    public func score(distance: Double) -> Double {
        self == .cosine ? 1 - distance : 0 - distance  // 0 − 0 is +0: an exact match scores 0, not −0
    }

    /// Whether a hit passes `THRESHOLD t`: L2 keeps distances up to `t`, the others scores from `t`.
    public func passes(threshold: Double, distance: Double) -> Bool {
        self == .l2 ? distance <= threshold : score(distance: distance) >= threshold
    }
}
