#if canImport(Glibc)
import Glibc
#endif

/// glibc malloc settings for a long-running database process.
///
/// Why: a bulk load's commit allocates a few large buffers per batch (the WAL record, the
/// write set's arena chunks) and frees them when the batch is durable. With glibc's defaults
/// a freed block above the heap's top is given back to the kernel at once (trim threshold
/// 128 KiB) and a large one is mapped and unmapped per use, so the next batch faults in and
/// zeroes the same memory again: in a profile of `red bench surfaces` page faults took
/// about 7 % of the server's CPU. Keeping up to 128 MiB of freed memory, growing the heap
/// 16 MiB at a time and serving blocks below 32 MiB from the heap made RedWire bulk inserts
/// 4–20 % faster (three alternated runs of 100,000 rows).
///
/// The cost is memory: after a large load the process keeps up to 128 MiB it no longer
/// uses (PostgreSQL keeps its buffers the same way). An operator who sets `GLIBC_TUNABLES`
/// for malloc decides instead, and nothing here overrides it.
enum MemoryTuning {
    static func applyForServer(environment: [String: String]) {
        #if canImport(Glibc)
        if environment["GLIBC_TUNABLES"]?.contains("malloc") == true { return }
        // malloc.h is not part of the Glibc module: look `mallopt` up (and skip if absent).
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
        let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
        _ = mallopt(-1, 128 << 20)  // M_TRIM_THRESHOLD
        _ = mallopt(-2, 16 << 20)   // M_TOP_PAD
        _ = mallopt(-3, 32 << 20)   // M_MMAP_THRESHOLD
        #endif
    }
}
