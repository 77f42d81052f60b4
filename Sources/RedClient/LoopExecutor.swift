import NIOCore
import NIOPosix

/// Runs a task's jobs on an event loop of `group` (the current one when already on one of its
/// loops), so that grpc-swift's call machinery stays on the loops instead of crossing to
/// Swift's cooperative pool at every await. `GRPCTransport` gives its HTTP/2 transport this
/// same group, so the loop a call's task runs on is the loop its channel lives on.
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
