#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// How much memory a server's page cache may use when the operator does not say.
///
/// Why not the engine's 64 MiB: that default suits RedDB embedded in an application, which
/// should not claim much. A server owns its machine, and the cache holds pages decoded, so a
/// page outside it costs a read, a checksum and a decode each time: a GROUP BY over a
/// million-row table ran 20 % slower with 64 MiB than with 1 GiB (`red bench duel --scenario
/// aggregate_group`, 473 against 369 ms). Like PostgreSQL's advice for `shared_buffers`, the
/// default is a quarter of the memory, where the memory is the container's limit when one
/// is set (cgroup v2 `memory.max`, v1 `memory.limit_in_bytes`), never less than 64 MiB.
/// The budget is a ceiling: pages take memory only once they are read.
public enum ServerMemory {
    /// The floor, and the embedded default.
    public static let minimumCacheBytes = 64 << 20

    /// A quarter of `physicalBytes`, or of `limitBytes` when that is lower, and at least 64 MiB.
    public static func defaultCacheBytes(physicalBytes: UInt64, limitBytes: UInt64?) -> Int {
        let usable = min(physicalBytes, limitBytes ?? .max)
        let quarter = usable / 4
        return quarter > UInt64(minimumCacheBytes) ? Int(clamping: quarter) : minimumCacheBytes
    }

    /// The default for this machine (and container).
    public static func defaultCacheBytes() -> Int {
        defaultCacheBytes(physicalBytes: physicalBytes(), limitBytes: containerLimitBytes())
    }

    static func physicalBytes() -> UInt64 {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, size > 0 else { return 0 }
        return UInt64(pages) * UInt64(size)
    }

    /// The cgroup memory limit this process runs under, if any.
    static func containerLimitBytes() -> UInt64? {
        for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let text = try? String(contentsOfFile: path, encoding: .utf8), let limit = parseLimit(text) { return limit }
        }
        return nil
    }

    /// A cgroup limit file's value: nil for `max` (v2) or an unset v1 limit (a number near 2⁶³).
    static func parseLimit(_ text: String) -> UInt64? {
        guard let value = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)), value > 0, value < 1 << 60 else { return nil }
        return value
    }
}
