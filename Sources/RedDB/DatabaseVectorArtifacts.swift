import RedCore
import RedEngine

/// What serves a vector collection's searches (gRPC `NativeVectorArtifacts`,
/// `InspectNativeVectorArtifact(s)`, `WarmupNativeVectorArtifact(s)`). Upstream persists HNSW
/// and IVF blobs; here every search is an exact scan of the collection's stored vectors, so
/// a collection's "artifact" is that data itself: its dimension and metric, and — when
/// inspected, which reads it all — how many vectors it holds and their bytes. Warming reads
/// it into the page cache, so the first searches after a start or an idle spell do not wait
/// for the disk.
public struct VectorArtifact: Sendable {
    public var collection: String
    /// Always `exact_scan`: no approximate index is kept.
    public var kind = "exact_scan"
    public var dimension: Int?
    public var metric: String
    /// Counted by an inspection or a warmup; nil in a plain listing.
    public var vectors: Int?
    public var bytes: Int?
}

extension Database {
    /// Every vector collection (or the one called `name`, 42P01 if it is not one); with
    /// `reading`, each is read through (counted, and so in the cache as far as it fits).
    public func vectorArtifacts(named name: String? = nil, reading: Bool) throws -> [VectorArtifact] {
        let tx = try engine.begin()
        defer { tx.rollback() }
        var handles = try store.list(tx).filter { $0.schema.model == .vector }
        if let name {
            handles = handles.filter { $0.name == name }
            guard !handles.isEmpty else { throw RedError(.undefinedCollection, "vector collection \"\(name)\" does not exist") }
        }
        return try handles.map { handle in
            var artifact = VectorArtifact(collection: handle.name, dimension: handle.schema.vector?.dimension,
                                          metric: (handle.schema.vector?.metric ?? .cosine).rawValue)
            if reading {
                let cursor = try store.scan(tx, handle)
                var count = 0, bytes = 0
                while let (key, value) = try cursor.nextRaw() {
                    count += 1
                    bytes += key.count + value.count
                }
                artifact.vectors = count
                artifact.bytes = bytes
            }
            return artifact
        }
    }
}
