import Foundation
import RedCore
import RedStorage

/// The machine a benchmark ran on, printed with its figures: ratios only mean something
/// next to the disk's fsync rate and the core count they were measured with.
public struct MachineInfo: Sendable, Codable {
    public var cores: Int
    public var memoryGiB: Double
    public var cpu: String
    public var kernel: String
    /// Sequential 128-byte write + fdatasync per second in the benchmark's directory.
    public var fsyncPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case cores, cpu, kernel
        case memoryGiB = "memory_gib"
        case fsyncPerSecond = "fsync_per_sec"
    }

    /// `{"cores","cpu","fsync_per_sec","kernel"}`, as the benchmarks' JSON reports carry it.
    var json: JSONValue {
        .object([("cores", .integer(Int64(cores))), ("cpu", .string(cpu)), ("fsync_per_sec", .float(fsyncPerSecond)), ("kernel", .string(kernel))])
    }

    static func current(fsyncProbeDirectory: String, seconds: Double) throws -> MachineInfo {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" } ?? "unknown"
        let probe = fsyncProbeDirectory + "/fsync-probe.bin"
        defer { try? FileManager.default.removeItem(atPath: probe) }
        return MachineInfo(
            cores: ProcessInfo.processInfo.activeProcessorCount,
            memoryGiB: Double(ProcessInfo.processInfo.physicalMemory) / Double(1 << 30),
            cpu: model, kernel: release,
            fsyncPerSecond: try FsyncProbe.rate(path: probe, seconds: seconds))
    }
}

/// The disk's limit for durable commits: the rate of small appends each followed by an
/// fdatasync, into a preallocated file (the WAL zero-fills ahead the same way).
public enum FsyncProbe {
    public static func rate(path: String, seconds: Double) throws -> Double {
        let file = try PosixFileSystem().openFile(path, create: true)
        defer { try? file.close() }
        let preallocated = 64 << 20
        try file.write([UInt8](repeating: 0, count: preallocated), at: 0)
        try file.sync()
        let record = [UInt8](repeating: 0xAB, count: 128)
        var offset: UInt64 = 0
        var count = 0
        let clock = ContinuousClock()
        let start = clock.now
        let limit = Duration.milliseconds(Int64(seconds * 1000))
        while clock.now - start < limit && offset + 128 <= UInt64(preallocated) {
            try file.write(record, at: offset)
            try file.sync()
            offset += 128
            count += 1
        }
        let elapsed = clock.now - start
        return Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}
