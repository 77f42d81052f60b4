import NIOCore

/// Runs a task on a channel's event loop thread.
///
/// Why: a task on Swift's cooperative pool that reads a channel receives each frame from
/// the event loop and hands each reply back to it, two thread crossings that on a small
/// machine cost tens of microseconds each. A task that prefers this executor reads and
/// writes on the loop's own thread. Only short, non-blocking work may run this way (a
/// RedWire connection's frame reader, which answers Ping and Cancel itself): anything long
/// would hold up every connection on the loop, and the frames behind it.
final class EventLoopTaskExecutor: TaskExecutor, Sendable {
    let loop: any EventLoop

    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
