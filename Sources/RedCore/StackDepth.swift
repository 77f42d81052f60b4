#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How much of the current thread's stack is left: what recursion that a client controls
/// (PL/pgSQL functions calling each other) checks before going deeper, as PostgreSQL's
/// `check_stack_depth` does, so that it ends in an error (54001) instead of a crash.
public enum StackDepth {
    /// What must be left for a statement to go one level deeper: planning and running one
    /// statement of a function body, whose expressions may nest to the parser's limit (about
    /// 1.2 KB of stack a level, 2,500 levels), takes less. On a thread whose whole stack is
    /// smaller than twice this, half of it is kept instead.
    public static let reserveBytes = 4 << 20

    /// Bytes of stack below the caller's frame, and the thread's whole stack; nil when the
    /// platform does not say.
    public static func remainingBytes() -> (left: Int, size: Int)? {
        #if os(Linux)
        guard let getAttributes = threadAttributes else { return nil }
        var attributes = pthread_attr_t()
        guard getAttributes(pthread_self(), &attributes) == 0 else { return nil }
        defer { pthread_attr_destroy(&attributes) }
        var base: UnsafeMutableRawPointer?
        var size = 0
        guard pthread_attr_getstack(&attributes, &base, &size) == 0, let base else { return nil }
        var marker = 0
        let left = withUnsafeMutablePointer(to: &marker) { Int(bitPattern: $0) - Int(bitPattern: base) }
        return (left, size)
        #else
        return nil
        #endif
    }

    #if os(Linux)
    /// glibc's `pthread_getattr_np`, which the Glibc module leaves out (a GNU extension), looked up once.
    private typealias GetAttributes = @convention(c) (pthread_t, UnsafeMutablePointer<pthread_attr_t>) -> Int32
    private static let threadAttributes: GetAttributes? = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "pthread_getattr_np") else { return nil }
        return unsafeBitCast(symbol, to: GetAttributes.self)
    }()
    #endif

    /// Throws 54001 when less than `reserveBytes` of stack is left (half the stack, if smaller).
    public static func check(_ what: @autoclosure () -> String) throws {
        if let (left, size) = remainingBytes(), left < min(reserveBytes, size / 2) {
            throw RedError(.limitExceeded, "stack depth limit exceeded: \(what())", condition: "54001")
        }
    }
}
