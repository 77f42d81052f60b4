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

/// Runs a task's jobs on an event loop of `group`: the loop the job is enqueued from when that
/// is one of the group's (so a task that stays on loops never changes threads), else the next.
///
/// Why: grpc-swift 2 runs each connection and each call as tasks that read and write NIO
/// channels. On Swift's cooperative pool every such await crosses between a pool thread and
/// the channel's loop; a unary call made about 17 thread switches in the server, most of its
/// round trip on a small machine. Serving gRPC under this executor keeps that machinery on the
/// loops. Each call's decoding, handler and reply still run on the shared pool
/// (`GRPCCallInterceptor`), so a long query or a large message never holds up a loop.
final class EventLoopGroupTaskExecutor: TaskExecutor, Sendable {
    let group: any EventLoopGroup

    init(_ group: any EventLoopGroup) { self.group = group }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        group.any().execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
