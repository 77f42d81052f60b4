import Foundation

/// CPU time (user + system) a server has used, read from `/proc`: what a load cost the server,
/// apart from how long it took.
///
/// Why: on this VM a load's wall time moves by a third from run to run (wake-ups across vCPUs,
/// the disk), while the CPU a server spends per row moves far less; and with the servers pinned
/// to one core (`--server-cpus 0`) the CPU per row is what decides which one loads faster.
/// PostgreSQL's work is done by its backends, children of the postmaster, so a server's time is
/// that of its process tree: its own threads, the children it has reaped, and its live children.
/// The kernel counts in clock ticks (10 ms), so one 100,000-row load is measured to a few percent;
/// `SurfaceBench` sums every round's.
enum ProcessCPU {
    /// Seconds of CPU used so far by `pid` and its children; nil where `/proc` cannot tell
    /// (not Linux, or the process is gone).
    static func seconds(ofTree pid: Int32) -> Double? {
        #if os(Linux)
        guard let root = stat(of: pid) else { return nil }
        var ticks = root.ownTicks + root.reapedChildrenTicks
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let child = Int32(entry), child != pid, let fields = stat(of: child), fields.parent == pid else { continue }
            ticks += fields.ownTicks + fields.reapedChildrenTicks
        }
        let perSecond = sysconf(Int32(_SC_CLK_TCK))
        return perSecond > 0 ? Double(ticks) / Double(perSecond) : nil
        #else
        return nil
        #endif
    }

    struct Stat: Equatable {
        var parent: Int32
        var ownTicks: Int
        var reapedChildrenTicks: Int
    }

    /// The fields of `/proc/PID/stat` used here. The command name (field 2) is in parentheses
    /// and may hold spaces or parentheses itself, so the fields are counted after its last `)`.
    static func parse(_ line: String) -> Stat? {
        guard let close = line.lastIndex(of: ")") else { return nil }
        let rest = line[line.index(after: close)...].split(separator: " ")
        // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
        guard rest.count > 14, let parent = Int32(rest[1]), let utime = Int(rest[11]), let stime = Int(rest[12]),
              let cutime = Int(rest[13]), let cstime = Int(rest[14]) else { return nil }
        return Stat(parent: parent, ownTicks: utime + stime, reapedChildrenTicks: cutime + cstime)
    }

    private static func stat(of pid: Int32) -> Stat? {
        guard let line = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        return parse(line)
    }
}
