import RedCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// zstd, the codec of RedWire's COMPRESSED flag (spec protocols §1.2), from the system's
/// `libzstd` loaded at run time.
///
/// Why at run time: building against libzstd would need its development headers on every
/// machine that builds `red`; loading the shared library (`libzstd.so.1`, present wherever
/// zstd is installed) needs nothing at build time. Where it is missing, `isAvailable` is
/// false and the server neither offers nor accepts compression (COMPRESSED frames then
/// close the connection, as before). Only zstd's stable, simple API is used: one-shot
/// compression, and streaming decompression (frames from streaming encoders carry no
/// content size) with an output cap, so a small bomb cannot expand past `maxBytes`.
public enum Zstd {
    private struct Library: @unchecked Sendable {
        // @unchecked: C function pointers resolved once, immutable, callable from any thread.
        let compressBound: @convention(c) (Int) -> Int
        let compress: @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeRawPointer?, Int, Int32) -> Int
        let isError: @convention(c) (Int) -> UInt32
        let errorName: @convention(c) (Int) -> UnsafePointer<CChar>?
        let createDStream: @convention(c) () -> OpaquePointer?
        let freeDStream: @convention(c) (OpaquePointer?) -> Int
        let decompressStream: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>) -> Int

        static func load() -> Library? {
            guard let handle = dlopen("libzstd.so.1", RTLD_NOW) ?? dlopen("libzstd.so", RTLD_NOW) ?? dlopen("libzstd.1.dylib", RTLD_NOW) else {
                return nil
            }
            func symbol<T>(_ name: String, as type: T.Type) -> T? {
                dlsym(handle, name).map { unsafeBitCast($0, to: type) }
            }
            guard let compressBound = symbol("ZSTD_compressBound", as: (@convention(c) (Int) -> Int).self),
                  let compress = symbol("ZSTD_compress", as: (@convention(c) (UnsafeMutableRawPointer?, Int, UnsafeRawPointer?, Int, Int32) -> Int).self),
                  let isError = symbol("ZSTD_isError", as: (@convention(c) (Int) -> UInt32).self),
                  let errorName = symbol("ZSTD_getErrorName", as: (@convention(c) (Int) -> UnsafePointer<CChar>?).self),
                  let createDStream = symbol("ZSTD_createDStream", as: (@convention(c) () -> OpaquePointer?).self),
                  let freeDStream = symbol("ZSTD_freeDStream", as: (@convention(c) (OpaquePointer?) -> Int).self),
                  let decompressStream = symbol("ZSTD_decompressStream",
                                                as: (@convention(c) (OpaquePointer?, UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>) -> Int).self)
            else { return nil }
            return Library(compressBound: compressBound, compress: compress, isError: isError, errorName: errorName,
                           createDStream: createDStream, freeDStream: freeDStream, decompressStream: decompressStream)
        }
    }

    private static let library = Library.load()

    /// True when libzstd could be loaded.
    public static var isAvailable: Bool { library != nil }

    /// `bytes` compressed at `level` (1 = fastest), or nil when zstd is unavailable or fails.
    public static func compress(_ bytes: [UInt8], level: Int32 = 1) -> [UInt8]? {
        guard let zstd = library else { return nil }
        let bound = zstd.compressBound(bytes.count)
        guard zstd.isError(bound) == 0 else { return nil }
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { out in
            bytes.withUnsafeBytes { input in zstd.compress(out.baseAddress, out.count, input.baseAddress, input.count, level) }
        }
        guard zstd.isError(written) == 0 else { return nil }
        output.removeSubrange(written...)
        return output
    }

    /// The content of one or more zstd frames. Throws when zstd is unavailable, the input is
    /// not valid zstd, it ends mid-frame, or the output would exceed `maxBytes`.
    public static func decompress(_ bytes: [UInt8], maxBytes: Int) throws -> [UInt8] {
        guard let zstd = library else { throw RedError(.unsupportedFormat, "zstd is not available on this machine (libzstd.so.1)") }
        guard let stream = zstd.createDStream() else { throw RedError(.internalError, "zstd: cannot allocate a decompression stream") }
        defer { _ = zstd.freeDStream(stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        return try bytes.withUnsafeBytes { input in
            // ZSTD_inBuffer and ZSTD_outBuffer are three machine words: pointer, size, position.
            var source = [Int(bitPattern: input.baseAddress), input.count, 0]
            var lastHint = 1
            // Until every input byte is consumed and the last frame is complete (hint 0).
            while source[2] < source[1] || lastHint != 0 {
                let (hint, produced) = chunk.withUnsafeMutableBytes { out -> (Int, Int) in
                    var target = [Int(bitPattern: out.baseAddress), out.count, 0]
                    let hint = target.withUnsafeMutableBufferPointer { t in
                        source.withUnsafeMutableBufferPointer { s in zstd.decompressStream(stream, t.baseAddress!, s.baseAddress!) }
                    }
                    return (hint, target[2])
                }
                if zstd.isError(hint) != 0 {
                    let name = zstd.errorName(hint).map { String(cString: $0) } ?? "error"
                    throw RedError(.protocolViolation, "zstd: \(name)")
                }
                guard output.count + produced <= maxBytes else {
                    throw RedError(.limitExceeded, "zstd: decompressed payload exceeds \(maxBytes) bytes")
                }
                output.append(contentsOf: chunk[0..<produced])
                lastHint = hint
                if produced == 0, source[2] >= source[1], hint != 0 {
                    throw RedError(.protocolViolation, "zstd: input ends in the middle of a frame")
                }
            }
            return output
        }
    }
}
