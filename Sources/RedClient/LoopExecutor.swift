import NIOCore
import NIOPosix

/// Runs a task's jobs on an event loop of `group` (the current one when already on one of its
/// loops), so that grpc-swift's connection machinery (`GRPCClient.runConnections`) stays on
/// the loops instead of crossing to Swift's cooperative pool at every await. `GRPCTransport`
/// gives its HTTP/2 transport this same group. Calls themselves run on the caller's executor:
/// a reply is decoded where the call runs, and a large one must not hold up a loop the
/// application may share (measured: running calls here too gained at most a few percent).
/// (The server has the same executor, `EventLoopGroupTaskExecutor`, in RedServer.)
final class ClientLoopExecutor: TaskExecutor, Sendable {
    static let shared = ClientLoopExecutor(MultiThreadedEventLoopGroup.singleton)
    let group: any EventLoopGroup

    init(_ group: any EventLoopGroup) { self.group = group }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        group.any().execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
