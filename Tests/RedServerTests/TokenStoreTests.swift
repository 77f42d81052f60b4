import GRPCCore
import RedCore
import Synchronization
import Testing
@testable import RedServer

/// Bearer tokens (shared by gRPC, HTTP and RedWire) and the RedError → gRPC status mapping.
struct TokenStoreTests {
    final class Clock: Sendable {
        let now = Atomic<Int64>(1_000)
    }

    @Test func loginIssuesTokensThatExpire() throws {
        let clock = Clock()
        let store = TokenStore(users: ["ada": "pw"], lifetimeMilliseconds: 60_000, now: { clock.now.load(ordering: .relaxed) })
        #expect(store.authRequired)
        #expect(throws: RedError.self) { try store.login(username: "ada", password: "wrong") }
        #expect(throws: RedError.self) { try store.login(username: "bob", password: "pw") }
        let issued = try store.login(username: "ada", password: "pw")
        #expect(issued.token.hasPrefix("rdb_") && issued.token.count == 68)
        #expect(issued.expiresAtUnixMilliseconds == 61_000)
        #expect(try store.authenticate(token: issued.token).username == "ada")
        #expect(try store.login(username: "ada", password: "pw").token != issued.token)
        #expect(throws: RedError.self) { try store.authenticate(token: nil) }
        #expect(throws: RedError.self) { try store.authenticate(token: "rdb_unknown") }
        clock.now.store(61_000, ordering: .relaxed)
        #expect(store.resolve(issued.token) == nil)
    }

    @Test func withoutUsersEveryoneIsAnonymousAndLoginIsRefused() throws {
        let store = TokenStore(users: [:])
        #expect(try store.authenticate(token: nil) == .anonymous)
        #expect(try store.authenticate(token: "anything") == .anonymous)
        let error = #expect(throws: RedError.self) { try store.login(username: "a", password: "b") }
        #expect(error?.code == .featureNotSupported)
    }

    @Test func constantTimeComparison() {
        #expect(TokenStore.constantTimeEqual("abc", "abc"))
        #expect(!TokenStore.constantTimeEqual("abc", "abd"))
        #expect(!TokenStore.constantTimeEqual("abc", "abcd"))
        #expect(!TokenStore.constantTimeEqual("", "a"))
    }

    @Test func errorCodesMapToSpecificStatuses() {
        let expected: [(RedError.Code, RPCError.Code)] = [
            (.syntaxError, .invalidArgument), (.undefinedCollection, .notFound), (.uniqueViolation, .alreadyExists),
            (.serializationFailure, .aborted), (.featureNotSupported, .unimplemented), (.limitExceeded, .resourceExhausted),
            (.invalidPassword, .unauthenticated), (.invalidAuthorization, .permissionDenied), (.closed, .unavailable),
            (.queryCanceled, .cancelled), (.dataCorrupted, .dataLoss), (.ioError, .internalError), (.readOnlyTransaction, .failedPrecondition),
            (.numericOutOfRange, .outOfRange),
        ]
        for (code, status) in expected { #expect(GRPCStatusMapping.status(for: code) == status, "\(code)") }
        let rpc = GRPCStatusMapping.rpcError(RedError(.uniqueViolation, "duplicate key"))
        #expect(rpc.message == "duplicate key")
        #expect(rpc.metadata[stringValues: "reddb-sqlstate"].first { _ in true } == "23505")
    }
}
