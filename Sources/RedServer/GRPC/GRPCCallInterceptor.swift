import GRPCCore

/// Where every gRPC call's work runs, and what stops it.
///
/// The server's own call machinery runs on the event loops (`GRPCListener`,
/// `EventLoopGroupTaskExecutor`), which is what makes a small call cheap. Everything past that
/// machinery must not run there: decoding the request (a `BulkInsertBinary` message may be 256
/// MiB), the handler with its statement, and encoding the reply. So each call's handler runs as
/// a child task on the shared pool, and so does its response producer.
///
/// gRPC does not cancel a handler's task when the client goes away or the deadline passes: it
/// signals the RPC's cancellation handle. A second child task waits on that handle and, when
/// it fires, cancels the handler, whose statement then stops at its next cancellation check
/// (57014) instead of running on for nobody.
struct GRPCCallInterceptor: ServerInterceptor {
    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>, context: GRPCCore.ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, GRPCCore.ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        // The child task ends before `cancellable` returns, so `next` does not outlive this call.
        var response = try await withoutActuallyEscaping(next) { next in
            try await Self.cancellable(context) { try await next(request, context) }
        }
        if case .success(var contents) = response.accepted {
            let produce = contents.producer
            contents.producer = { writer in try await Self.cancellable(context) { try await produce(writer) } }
            response.accepted = .success(contents)
        }
        return response
    }

    /// Runs `body` on the shared pool, cancelled if the RPC is.
    static func cancellable<T: Sendable>(_ context: GRPCCore.ServerContext, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask(executorPreference: globalConcurrentExecutor) { try await body() }
            group.addTask {
                try await context.cancellation.cancelled
                return nil  // the RPC was cancelled: the handler is cancelled below
            }
            defer { group.cancelAll() }
            while let outcome = try await group.next() {
                if let value = outcome { return value }
                group.cancelAll()
            }
            throw CancellationError()
        }
    }
}
