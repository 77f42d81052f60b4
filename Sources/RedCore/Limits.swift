/// Limits shared by every layer, each declared once with its unit in the name.
public enum Limits {
    /// Largest key a collection accepts (after the engine's collection prefix is added it must
    /// still fit three to a B+tree page).
    public static let maxKeyBytes = 1024
    /// Largest value a single record may hold; larger values are stored in overflow pages.
    public static let maxValueBytes = 256 << 20
    /// Largest total size of one transaction's writes (keys plus values), which is also the
    /// bound on one WAL record.
    public static let maxTransactionBytes = 1 << 30
    /// Most components a stored or searched vector may have (pgvector's limit is 16,000).
    public static let maxVectorDimensions = 16_384
}
