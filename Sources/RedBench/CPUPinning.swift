import Foundation
import Glibc
import RedCore

/// Pins the calling thread to a set of CPUs, so that `red bench surfaces` can place the servers
/// and its blocking-socket probes on chosen cores (`--server-cpus`, `--client-cpus`).
///
/// Why: on a small VM where an idle vCPU halts, a loopback round trip between two processes took
/// 6.5 µs when both ran on one vCPU and 73–75 µs when each ran on its own (a C echo pair pinned
/// with taskset; the second wakes a halted vCPU for every message). Left to the scheduler, a run
/// of the latency probes landed on either side at random, so one run's RedWire figure was 19 µs
/// and the next one's 65 µs with no code changed. Pinned, each placement is measured on purpose
/// and the echo peer beside it shows that placement's floor.
///
/// A child inherits the affinity of the thread that spawns it, so a server is placed by pinning
/// the spawning thread around the spawn (`whileSpawning`); PostgreSQL's postmaster passes it on
/// to every backend. Linux only: glibc's `sched_setaffinity` is looked up by name because its
/// module map hides the GNU-only declaration.
public enum CPUPinning {
    /// glibc's `cpu_set_t`: 1,024 CPUs.
    static let maskBytes = 128

    /// "0", "0,1", "0-3" or a mix, as taskset's `-c` takes them.
    public static func parse(_ list: String) throws -> [Int] {
        let online = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        func checked(_ cpu: Int) throws -> Int {
            guard cpu >= 0, cpu < min(online, maskBytes * 8) else {
                throw RedError(.invalidArgument, "CPU \(cpu) does not exist (this machine has CPUs 0–\(online - 1))")
            }
            return cpu
        }
        var cpus: [Int] = []
        for part in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
            switch bounds.count {
            case 1 where bounds[0] != nil: cpus.append(try checked(bounds[0]!))
            case 2 where bounds[0] != nil && bounds[1] != nil && bounds[0]! <= bounds[1]!:
                cpus += Array(try checked(bounds[0]!)...(try checked(bounds[1]!)))  // both ends checked before the range is made
            default: throw RedError(.invalidArgument, "'\(part)' is not a CPU number or range (write e.g. 0 or 0,1 or 0-3)")
            }
        }
        guard !cpus.isEmpty else { throw RedError(.invalidArgument, "no CPU named in '\(list)'") }
        return cpus
    }

    /// The calling thread's CPUs as a mask.
    static func callingThreadMask() throws -> [UInt8] {
        typealias GetAffinity = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
        var mask = [UInt8](repeating: 0, count: maskBytes)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_getaffinity"),
              mask.withUnsafeMutableBytes({ unsafeBitCast(symbol, to: GetAffinity.self)(0, $0.count, $0.baseAddress!) }) == 0 else {
            throw RedError(.ioError, "sched_getaffinity: \(String(cString: strerror(errno)))")
        }
        return mask
    }

    static func setCallingThread(mask: [UInt8]) throws {
        typealias SetAffinity = @convention(c) (pid_t, Int, UnsafeRawPointer) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_setaffinity"),
              mask.withUnsafeBytes({ unsafeBitCast(symbol, to: SetAffinity.self)(0, $0.count, $0.baseAddress!) }) == 0 else {
            throw RedError(.ioError, "sched_setaffinity: \(String(cString: strerror(errno)))")
        }
    }

    static func mask(_ cpus: [Int]) -> [UInt8] {
        var mask = [UInt8](repeating: 0, count: maskBytes)
        for cpu in cpus { mask[cpu / 8] |= 1 << UInt8(cpu % 8) }
        return mask
    }

    /// Pins the calling thread to `cpus` for good (a probe's own thread).
    static func pinCallingThread(to cpus: [Int]) throws {
        try setCallingThread(mask: mask(cpus))
    }

    /// Runs `spawn` with the calling thread pinned to `cpus` (nil: as it is), then restores the
    /// thread's CPUs: the children it starts keep `cpus`. `spawn` must not suspend.
    static func whileSpawning<T>(on cpus: [Int]?, _ spawn: () throws -> T) throws -> T {
        guard let cpus else { return try spawn() }
        let saved = try callingThreadMask()
        try setCallingThread(mask: mask(cpus))
        defer { try? setCallingThread(mask: saved) }
        return try spawn()
    }
}
