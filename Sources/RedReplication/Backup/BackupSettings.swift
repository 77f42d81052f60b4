import Foundation
import RedCore

/// The backup backend and layout from the environment (spec ops §7.1, code-normative names):
/// - `RED_BACKEND` (legacy `REDDB_REMOTE_BACKEND`): `none` (default), `fs`|`local`, `s3`|`minio`|`r2`,
///   `http`.
/// - fs: `RED_FS_PATH`.
/// - s3: `RED_S3_ENDPOINT`, `RED_S3_BUCKET`, `RED_S3_ACCESS_KEY`, `RED_S3_SECRET_KEY` (each also as
///   `…_FILE`, a file holding it), `RED_S3_REGION` (us-east-1), `RED_S3_KEY_PREFIX` or
///   `RED_S3_PREFIX`, `RED_S3_PATH_STYLE` (true); legacy `REDDB_S3_*` names too.
/// - http (`HTTPBackend`): `RED_HTTP_BACKEND_URL`, `RED_HTTP_BACKEND_PREFIX`,
///   `RED_HTTP_BACKEND_AUTH_HEADER` (or `…_FILE`), `RED_HTTP_CONDITIONAL_WRITES` (also
///   `RED_HTTP_BACKEND_CONDITIONAL_WRITES`); legacy `REDDB_HTTP_BACKEND_*` names too.
/// - `RED_REMOTE_KEY` (`clusters/dev/data.rdb`): its parent is the namespace of every blob.
/// - Ours: `RED_WAL_ARCHIVE_INTERVAL_MS` (1000; the documented `wal_archive_interval`, which
///   upstream never built: it archives only at backup time) and `RED_WAL_ARCHIVE_MAX_RETAINED_BYTES`
///   (4 GiB: how much WAL a primary keeps for an unreachable backend before it gives up on the
///   chain and takes a new snapshot once the backend is back), `RED_BACKUP_HEAD_REFRESH_MS` (60000:
///   how often archiving rewrites head.json at most) and `RED_BACKUP_KEEP_SNAPSHOTS` (0: all).
public struct BackupSettings: Sendable {
    public var backend: any BackupBackend
    public var layout: BackupLayout
    /// `RED_REMOTE_KEY`: names the database in the backend (its layout's namespace, its lease).
    public var remoteKey = "clusters/dev/data.rdb"
    public var archiveIntervalMilliseconds: Int = 1_000
    /// How often WAL archiving rewrites `manifests/head.json` at most; a backup and a clean
    /// shutdown (`BackupService.finish`) always write it. The head is a hint: a start-up
    /// adopts the segments archived past it, and restores list the segments, so a head up to
    /// this much behind costs nothing but a few reads at start-up. Rewriting it with every
    /// segment made archiving three PUTs a second (segment, its manifest, the head) instead
    /// of two. 0: with every segment.
    public var headRefreshMilliseconds: Int = 60_000
    public var maxRetainedBytes: UInt64 = 4 << 30
    /// Largest WAL segment (payload bytes; a single larger commit still makes one segment).
    public var segmentMaxBytes: Int = 16 << 20
    /// Snapshots kept after each backup (`RED_BACKUP_KEEP_SNAPSHOTS`); older ones and the WAL
    /// only they need are deleted. 0 (the default, as upstream): keep everything.
    public var keepSnapshots = 0

    public init(backend: any BackupBackend, layout: BackupLayout = BackupLayout()) {
        self.backend = backend
        self.layout = layout
    }

    /// nil when `RED_BACKEND` is unset or `none`.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> BackupSettings? {
        func value(_ names: String...) throws -> String? {
            for name in names {
                if let v = env[name], !v.isEmpty { return v }
                if let file = env[name + "_FILE"], !file.isEmpty {
                    guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                        throw RedError(.invalidArgument, "\(name)_FILE names \(file), which cannot be read")
                    }
                    return text.trimmingCharacters(in: .whitespacesAndNewlines)
                }
            }
            return nil
        }
        func required(_ names: String...) throws -> String {
            for name in names { if let v = try value(name) { return v } }
            throw RedError(.invalidArgument, "RED_BACKEND=\(env["RED_BACKEND"] ?? "s3") needs \(names[0]) (or \(names[0])_FILE)")
        }
        let kind = (try value("RED_BACKEND", "REDDB_REMOTE_BACKEND") ?? "none").lowercased()
        let backend: any BackupBackend
        switch kind {
        case "none", "": return nil
        case "fs", "local":
            let root = try required("RED_FS_PATH")
            backend = FileSystemBackend(root: root)
        case "s3", "minio", "r2":
            var s3 = S3Backend.Settings(endpoint: try required("RED_S3_ENDPOINT", "REDDB_S3_ENDPOINT"),
                                        bucket: try required("RED_S3_BUCKET", "REDDB_S3_BUCKET"),
                                        accessKey: try required("RED_S3_ACCESS_KEY", "REDDB_S3_ACCESS_KEY"),
                                        secretKey: try required("RED_S3_SECRET_KEY", "REDDB_S3_SECRET_KEY"))
            if let region = try value("RED_S3_REGION", "REDDB_S3_REGION") { s3.region = region }
            if let prefix = try value("RED_S3_KEY_PREFIX", "RED_S3_PREFIX", "REDDB_S3_KEY_PREFIX") {
                s3.keyPrefix = prefix.hasSuffix("/") ? prefix : prefix + "/"
            }
            if let style = try value("RED_S3_PATH_STYLE", "REDDB_S3_PATH_STYLE") { s3.pathStyle = !["false", "0", "no", "off"].contains(style.lowercased()) }
            backend = try S3Backend(settings: s3)
        case "http":
            var http = HTTPBackend.Settings(baseURL: try required("RED_HTTP_BACKEND_URL", "REDDB_HTTP_BACKEND_URL"))
            if let prefix = try value("RED_HTTP_BACKEND_PREFIX", "REDDB_HTTP_BACKEND_PREFIX") {
                var trimmed = prefix
                while trimmed.hasPrefix("/") { trimmed.removeFirst() }
                http.prefix = trimmed.isEmpty || trimmed.hasSuffix("/") ? trimmed : trimmed + "/"
            }
            http.authorization = try value("RED_HTTP_BACKEND_AUTH_HEADER", "REDDB_HTTP_BACKEND_AUTH_HEADER")
            let conditional = try value("RED_HTTP_CONDITIONAL_WRITES", "RED_HTTP_BACKEND_CONDITIONAL_WRITES", "REDDB_HTTP_BACKEND_CONDITIONAL_WRITES")
            http.conditionalWrites = conditional.map { ["true", "1", "yes", "on"].contains($0.lowercased()) } ?? false
            let plain = try HTTPBackend(settings: http)
            backend = http.conditionalWrites ? ConditionalHTTPBackend(plain) : plain
        case "turso", "d1":
            throw RedError(.featureNotSupported, "RED_BACKEND=\(kind) is not supported; use fs, s3 or http")
        default:
            throw RedError(.invalidArgument, "unknown RED_BACKEND \"\(kind)\": use none, fs, local, s3, minio, r2 or http")
        }
        let remoteKey = try value("RED_REMOTE_KEY") ?? "clusters/dev/data.rdb"
        try BackupLimits.check(remoteKey)
        var settings = BackupSettings(backend: backend, layout: BackupLayout(remoteKey: remoteKey))
        settings.remoteKey = remoteKey
        if let text = try value("RED_WAL_ARCHIVE_INTERVAL_MS") {
            guard let ms = Int(text), (0...3_600_000).contains(ms) else {
                throw RedError(.invalidArgument, "RED_WAL_ARCHIVE_INTERVAL_MS must be 0…3600000 (0: archive only at backups)")
            }
            settings.archiveIntervalMilliseconds = ms
        }
        if let text = try value("RED_BACKUP_HEAD_REFRESH_MS") {
            guard let ms = Int(text), (0...3_600_000).contains(ms) else {
                throw RedError(.invalidArgument, "RED_BACKUP_HEAD_REFRESH_MS must be 0…3600000 (0: rewrite head.json with every segment)")
            }
            settings.headRefreshMilliseconds = ms
        }
        if let text = try value("RED_BACKUP_KEEP_SNAPSHOTS") {
            guard let n = Int(text), (0...100_000).contains(n) else {
                throw RedError(.invalidArgument, "RED_BACKUP_KEEP_SNAPSHOTS must be 0 (keep all) or a number of snapshots")
            }
            settings.keepSnapshots = n
        }
        if let text = try value("RED_WAL_ARCHIVE_MAX_RETAINED_BYTES") {
            guard let bytes = UInt64(text), bytes >= 1 << 20 else {
                throw RedError(.invalidArgument, "RED_WAL_ARCHIVE_MAX_RETAINED_BYTES must be at least 1048576")
            }
            settings.maxRetainedBytes = bytes
        }
        return settings
    }
}
