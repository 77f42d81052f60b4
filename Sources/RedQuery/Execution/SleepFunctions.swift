#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RedCore

/// `pg_sleep(seconds)` and `pg_sleep_for(interval)`: the statement waits, as PostgreSQL's
/// backend does, and a cancel or the statement timeout ends the wait within
/// `sliceMilliseconds` (57014).
///
/// Statements run synchronously, so the wait blocks the thread the statement runs on, as a
/// long scan holds it; on an event loop (`NonBlockingExecution`) the statement declines at
/// once and runs on the pool instead. A zero, negative or NaN duration returns at once.
enum SleepFunctions {
    static var functions: [ScalarFunction] {
        [
            ScalarFunction(name: "pg_sleep", arity: 1...1, acceptsNull: false, isDeterministicWithinStatement: false) { a, c in
                guard let seconds = a[0].doubleValue else { throw RedError(.datatypeMismatch, "pg_sleep expects a number of seconds, got \(a[0].kindName)") }
                try sleep(seconds: seconds, c)
                return .null  // void
            },
            ScalarFunction(name: "pg_sleep_for", arity: 1...1, acceptsNull: false, isDeterministicWithinStatement: false) { a, c in
                let interval: Interval
                switch a[0] {
                case .interval(let i): interval = i
                case .text(let s): interval = try Interval.parse(s)
                default: throw RedError(.datatypeMismatch, "pg_sleep_for expects an interval, got \(a[0].kindName)")
                }
                let days = Double(interval.months) * Double(Interval.daysPerMonth) + Double(interval.days)
                try sleep(seconds: days * 86_400 + Double(interval.microseconds) / 1_000_000, c)
                return .null
            },
        ]
    }

    /// Longest single nap: how soon a cancel or timeout is noticed.
    static let sliceMilliseconds = 10

    static func sleep(seconds: Double, _ context: ExecutionContext) throws {
        guard seconds > 0 else { return }
        try context.checkCancelled()  // and declines on an event loop
        let deadline = ContinuousClock.now + .seconds(min(seconds, 1e9))  // past any timeout anyone sets
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return }
            let nap = min(left, .milliseconds(sliceMilliseconds))
            usleep(UInt32(nap.components.attoseconds / 1_000_000_000_000 + nap.components.seconds * 1_000_000))
            try context.checkCancelled()
        }
    }
}
