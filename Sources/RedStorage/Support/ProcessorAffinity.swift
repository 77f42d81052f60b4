#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The CPUs this process may run on. Swift's cooperative thread pool is as wide as this
/// count (libdispatch reads the affinity mask on Linux), so on a process pinned to one CPU
/// (`taskset -c 0`, a container's cpuset) every task shares a single thread.
public enum ProcessorAffinity {
    public static let cpuCount: Int = {
        #if os(Linux)
        // Glibc's module map hides the GNU-only `sched_getaffinity`; it is looked up instead.
        typealias GetAffinity = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
        var mask = [UInt8](repeating: 0, count: 128)  // 1,024 CPUs, glibc's cpu_set_t
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_getaffinity"),
           mask.withUnsafeMutableBytes({ unsafeBitCast(symbol, to: GetAffinity.self)(0, $0.count, $0.baseAddress!) }) == 0 {
            return max(1, mask.reduce(0) { $0 + $1.nonzeroBitCount })
        }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #endif
    }()
}
