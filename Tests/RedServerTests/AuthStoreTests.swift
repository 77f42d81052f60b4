import Foundation
import GRPCCore
import RedCore
import RedDB
import Synchronization
import Testing
@testable import RedServer

/// The auth store (users, API keys, sessions, bootstrap), session access by role, and the
/// RedError → gRPC status mapping.
struct AuthStoreTests {
    final class Clock: Sendable {
        let now = Atomic<Int64>(1_000)
    }

    static let iterations = SCRAMVerifier.minimumIterations

    static func store(_ database: Database, users: [String: String] = [:], clock: Clock? = nil) throws -> AuthStore {
        if let clock {
            return try AuthStore(database: database, configuredUsers: users, iterations: iterations,
                                 sessionLifetimeMilliseconds: 60_000, now: { clock.now.load(ordering: .relaxed) })
        }
        return try AuthStore(database: database, configuredUsers: users, iterations: iterations)
    }

    static func admin(_ store: AuthStore, _ name: String = "root") throws -> AuthIdentity {
        try #require(store.identity(of: name))
    }

    /// One user logging in again and again ends its own oldest sessions instead of filling the
    /// server-wide limit (which locked every user out of logging in).
    @Test func aUsersLoginsPastItsLimitEndItsOldestSessions() async throws {
        let clock = Clock()
        let store = try AuthStore(database: try await Database.inMemory(), configuredUsers: ["ada": "pw", "bob": "pw"],
                                  iterations: Self.iterations, sessionLifetimeMilliseconds: 60_000, maxSessionsPerUser: 3,
                                  now: { clock.now.load(ordering: .relaxed) })
        let bob = try await store.login(username: "bob", password: "pw")
        var tokens: [String] = []
        for _ in 0..<5 {
            tokens.append(try await store.login(username: "ada", password: "pw").token)
            clock.now.add(1, ordering: .relaxed)
        }
        #expect(tokens.map { store.resolve($0) != nil } == [false, false, true, true, true])
        #expect(store.resolve(bob.token) != nil, "another user's session is untouched")
    }

    @Test func configuredUsersLogInWithSessionsThatExpire() async throws {
        let clock = Clock()
        let store = try Self.store(try await Database.inMemory(), users: ["ada": "pw"], clock: clock)
        #expect(store.authRequired)
        await #expect(throws: RedError.self) { try await store.login(username: "ada", password: "wrong") }
        await #expect(throws: RedError.self) { try await store.login(username: "bob", password: "pw") }
        let issued = try await store.login(username: "ada", password: "pw")
        #expect(issued.token.hasPrefix("rs_") && issued.token.count == 67)
        #expect(issued.expiresAtUnixMilliseconds == 61_000)
        #expect(try store.authenticate(token: issued.token) == AuthIdentity(username: "ada", role: .admin, authenticated: true))
        #expect(try await store.login(username: "ada", password: "pw").token != issued.token)
        #expect(throws: RedError.self) { try store.authenticate(token: nil) }
        #expect(throws: RedError.self) { try store.authenticate(token: "rs_unknown") }
        clock.now.store(61_000, ordering: .relaxed)
        #expect(store.resolve(issued.token) == nil)
    }

    @Test func withoutUsersEveryoneIsAnonymousButNoAdmin() async throws {
        let store = try Self.store(try await Database.inMemory())
        #expect(try store.authenticate(token: nil) == .anonymous)
        #expect(try store.authenticate(token: "anything") == .anonymous)
        #expect(AuthIdentity.anonymous.sessionAccess == .readWrite)
        let login = await #expect(throws: RedError.self) { try await store.login(username: "a", password: "b") }
        #expect(login?.code == .featureNotSupported)
        let create = await #expect(throws: RedError.self) { try await store.createUser("x", password: "y", role: .read, by: .anonymous) }
        #expect(create?.code == .insufficientPrivilege)
    }

    /// On a replica every session only reads data, but whether its role could write still
    /// decides what a replica allows writers (CHECKPOINT).
    @Test func aReplicasSessionsRememberWhetherTheirRoleOnlyReads() {
        let reader = AuthIdentity(username: "ana", role: .read, authenticated: true)
        let writer = AuthIdentity(username: "bo", role: .write, authenticated: true)
        #expect(RequestCaller.access(standbyReason: nil, identity: reader) == .readOnly(principal: "user \"ana\" (role read)"))
        #expect(RequestCaller.access(standbyReason: nil, identity: writer) == .readWrite)
        #expect(RequestCaller.access(standbyReason: "r", identity: writer) == .standby(reason: "r"))
        #expect(RequestCaller.access(standbyReason: "r", identity: reader) == .standby(reason: "r", readOnlyPrincipal: "user \"ana\" (role read)"))
        #expect(RequestCaller.access(standbyReason: "r", identity: nil) == .standby(reason: "r", readOnlyPrincipal: "an unauthenticated request"))
    }

    @Test func bootstrapRunsOnceAndEverythingSurvivesAReopen() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reddb-auth-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/data.rdb"
        var database = try await Database.open(path: path)
        var store = try Self.store(database)
        #expect(!store.authRequired)
        let reply = try await store.bootstrap(username: "root", password: "s3cret", caller: nil)
        guard case .string(let key)? = reply["api_key"] else { Issue.record("no api_key in \(reply)"); return }
        #expect(key.hasPrefix("rk_") && key.count == 67)
        #expect(reply["role"] == .string("admin"))
        #expect(store.authRequired)
        #expect(store.resolve(key) == AuthIdentity(username: "root", role: .admin, authenticated: true))
        let again = await #expect(throws: RedError.self) { try await store.bootstrap(username: "other", password: "x", caller: nil) }
        #expect(again?.code == .invalidAuthorization)
        _ = try await store.createUser("ana", password: "ana-pw", role: .read, by: try Self.admin(store))
        try await database.close()

        database = try await Database.open(path: path)
        store = try Self.store(database)
        #expect(store.authRequired)
        #expect(store.resolve(key)?.username == "root")
        #expect(try await store.login(username: "ana", password: "ana-pw").identity.role == .read)
        let sealed = await #expect(throws: RedError.self) { try await store.bootstrap(username: "other", password: "x", caller: nil) }
        #expect(sealed?.code == .invalidAuthorization)
        // SQL sees none of it.
        let collections = try await database.session().execute("SHOW TABLES")
        #expect(collections.rows.isEmpty)
        try await database.close()
    }

    @Test func rolesCapKeysAndDeletionRevokesEverything() async throws {
        let store = try Self.store(try await Database.inMemory())
        _ = try await store.bootstrap(username: "root", password: "pw", caller: nil)
        let root = try Self.admin(store)
        _ = try await store.createUser("ana", password: "a", role: .read, by: root)
        _ = try await store.createUser("bo", password: "b", role: .write, by: root)
        let duplicate = await #expect(throws: RedError.self) { try await store.createUser("bo", password: "b", role: .write, by: root) }
        #expect(duplicate?.code == .duplicateObject)
        let bo = try #require(store.identity(of: "bo"))
        let notAdmin = await #expect(throws: RedError.self) { try await store.createUser("cy", password: "c", role: .read, by: bo) }
        #expect(notAdmin?.code == .insufficientPrivilege)
        #expect(throws: RedError.self) { try store.listUsers(by: bo) }

        // A key's role is capped by its owner's; a user may make keys for themselves only.
        let tooHigh = await #expect(throws: RedError.self) { try await store.createAPIKey(for: "ana", name: "k", role: .admin, by: root) }
        #expect(tooHigh?.code == .insufficientPrivilege)
        let forOther = await #expect(throws: RedError.self) { try await store.createAPIKey(for: "ana", name: "k", role: .read, by: bo) }
        #expect(forOther?.code == .insufficientPrivilege)
        let own = try await store.createAPIKey(for: "bo", name: "ci", role: .read, by: bo)
        guard case .string(let boKey)? = own["key"] else { Issue.record("no key"); return }
        #expect(store.resolve(boKey) == AuthIdentity(username: "bo", role: .read, authenticated: true))
        let session = try await store.login(username: "bo", password: "b").token
        #expect(store.resolve(session)?.role == .write)

        let users = try store.listUsers(by: root)
        guard case .array(let list)? = users["users"] else { Issue.record("no users"); return }
        #expect(list.map { $0["username"] } == [.string("ana"), .string("bo"), .string("root")])
        #expect(list[1]["api_key_count"] == .integer(1))

        _ = try await store.deleteUser("bo", by: root)
        #expect(store.resolve(boKey) == nil)
        #expect(store.resolve(session) == nil)
        let gone = await #expect(throws: RedError.self) { try await store.deleteUser("bo", by: root) }
        #expect(gone?.code == .undefinedObject)
        let lastAdmin = await #expect(throws: RedError.self) { try await store.deleteUser("root", by: root) }
        #expect(lastAdmin?.code == .invalidOperation)

        // Revoking: by its owner or an admin; unknown keys are 404s.
        let rootKey = try await store.createAPIKey(for: "root", name: "spare", role: nil, by: root)
        guard case .string(let spare)? = rootKey["key"] else { Issue.record("no key"); return }
        #expect(rootKey["role"] == .string("admin"))
        _ = try await store.revokeAPIKey(spare, by: root)
        #expect(store.resolve(spare) == nil)
        let unknown = await #expect(throws: RedError.self) { try await store.revokeAPIKey(spare, by: root) }
        #expect(unknown?.code == .undefinedObject)
    }

    @Test func changingAPasswordSignsSessionsOut() async throws {
        let store = try Self.store(try await Database.inMemory())
        _ = try await store.bootstrap(username: "root", password: "old-pw", caller: nil)
        let session = try await store.login(username: "root", password: "old-pw").token
        let wrong = await #expect(throws: RedError.self) { try await store.changePassword(username: "root", old: "nope", new: "x") }
        #expect(wrong?.code == .invalidPassword)
        _ = try await store.changePassword(username: "root", old: "old-pw", new: "new-pw")
        #expect(store.resolve(session) == nil)
        await #expect(throws: RedError.self) { try await store.login(username: "root", password: "old-pw") }
        #expect(try await store.login(username: "root", password: "new-pw").identity.username == "root")
    }

    @Test func configuredUsersAreFixedAndBootstrapNeedsOneOfThem() async throws {
        let store = try Self.store(try await Database.inMemory(), users: ["ops": "pw"])
        let ops = try Self.admin(store, "ops")
        let anonymous = await #expect(throws: RedError.self) { try await store.bootstrap(username: "root", password: "x", caller: nil) }
        #expect(anonymous?.code == .insufficientPrivilege)
        _ = try await store.bootstrap(username: "root", password: "x", caller: ops)
        let clash = await #expect(throws: RedError.self) { try await store.createUser("ops", password: "x", role: .read, by: ops) }
        #expect(clash?.code == .duplicateObject)
        let delete = await #expect(throws: RedError.self) { try await store.deleteUser("ops", by: ops) }
        #expect(delete?.code == .invalidOperation)
        let change = await #expect(throws: RedError.self) { try await store.changePassword(username: "ops", old: "pw", new: "y") }
        #expect(change?.code == .invalidOperation)
    }

    @Test func namesAndPasswordsAreChecked() async throws {
        let store = try Self.store(try await Database.inMemory())
        _ = try await store.bootstrap(username: "root", password: "pw", caller: nil)
        let root = try Self.admin(store)
        for (name, password) in [("", "pw"), ("a b", "pw"), ("a,b", "pw"), (String(repeating: "x", count: 64), "pw"), ("anonymous", "pw"),
                                 ("ok", ""), ("ok", String(repeating: "p", count: 1_025))] {
            let error = await #expect(throws: RedError.self) { try await store.createUser(name, password: password, role: .read, by: root) }
            #expect(error?.code == .invalidArgument, "\(name)")
        }
        _ = try await store.createUser("ana.b-c_d@x", password: "pw", role: .read, by: root)
        #expect(throws: RedError.self) { try AuthRole.parse(.string("owner"), default: .read) }
    }

    /// Unknown names get a made-up SCRAM salt that is the same at every attempt, and the
    /// configured iteration count: two attempts cannot tell them from known names.
    @Test func unknownNamesLookLikeKnownOnes() async throws {
        let store = try Self.store(try await Database.inMemory(), users: ["ada": "pw"])
        let known = store.scramVerifier(for: "ada"), unknown = store.scramVerifier(for: "nobody")
        #expect(known.iterations == unknown.iterations && known.salt.count == unknown.salt.count)
        #expect(store.scramVerifier(for: "nobody").salt == unknown.salt)
        #expect(store.scramVerifier(for: "somebody").salt != unknown.salt)
        #expect(!unknown.matches(password: "pw"))
    }

    /// Every change bumps the generation; credentials of open connections are checked against it.
    @Test func credentialsStopHoldingWhenRevoked() async throws {
        let store = try Self.store(try await Database.inMemory())
        #expect(store.isValid(.anonymous))
        let before = store.generation.load(ordering: .relaxed)
        let reply = try await store.bootstrap(username: "root", password: "pw", caller: nil)
        #expect(store.generation.load(ordering: .relaxed) > before)
        #expect(!store.isValid(.anonymous))
        guard case .string(let key)? = reply["api_key"] else { Issue.record("no key"); return }
        let root = try Self.admin(store)
        _ = try await store.createUser("ana", password: "a", role: .read, by: root)
        let session = try await store.login(username: "ana", password: "a").token
        let ana = try #require(store.userCredential("ana"))
        let check = LoginCheck(auth: store, credential: ana, generation: store.generation.load(ordering: .relaxed))
        #expect(store.isValid(ana) && store.isValid(.token(session)) && store.isValid(.token(key)) && check.holds())
        _ = try await store.deleteUser("ana", by: root)
        #expect(!store.isValid(ana) && !store.isValid(.token(session)) && !check.holds())
        // A new user of the same name is someone else: the old login stays revoked.
        _ = try await store.createUser("ana", password: "a", role: .admin, by: root)
        #expect(!store.isValid(ana) && !check.holds())
        _ = try await store.revokeAPIKey(key, by: root)
        #expect(!store.isValid(.token(key)))
    }

    @Test func verifiersRoundTripAndCheckPasswords() throws {
        let verifier = SCRAMVerifier(password: "pencil", iterations: 4_096)
        #expect(verifier.encoded.hasPrefix("SCRAM-SHA-256$4096:"))
        #expect(try SCRAMVerifier(encoded: verifier.encoded) == verifier)
        #expect(verifier.matches(password: "pencil"))
        #expect(!verifier.matches(password: "pencil "))
        #expect(throws: RedError.self) { try SCRAMVerifier(encoded: "md5abc") }
        #expect(SCRAMVerifier.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!SCRAMVerifier.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!SCRAMVerifier.constantTimeEqual([1, 2, 3], [1, 2, 3, 4]))
    }

    /// A read-only session reads, searches and controls transactions, and every write fails
    /// 42501 (aborting an open transaction, as any error does).
    @Test func readOnlySessionsRefuseWrites() async throws {
        let database = try await Database.inMemory()
        _ = try await database.session().execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        _ = try await database.session().execute("INSERT INTO t VALUES (1, 'a')")
        let session = database.session()
        session.access = AuthIdentity(username: "ana", role: .read, authenticated: true).sessionAccess
        #expect(try await session.execute("SELECT v FROM t").rows == [[.text("a")]])
        for sql in ["INSERT INTO t VALUES (2, 'b')", "UPDATE t SET v = 'x'", "DELETE FROM t", "CREATE TABLE u (id INT)",
                    "DROP TABLE t", "KV PUT kv.a = 1", "TRUNCATE t"] {
            let error = await #expect(throws: RedError.self) { try await session.execute(sql) }
            #expect(error?.code == .insufficientPrivilege, "\(sql)")
            #expect(error?.code.sqlState == "42501")
        }
        _ = try await session.execute("BEGIN")
        #expect(try await session.execute("SELECT count(*) FROM t").rows == [[.integer(1)]])
        await #expect(throws: RedError.self) { try await session.execute("INSERT INTO t VALUES (3, 'c')") }
        #expect(session.transactionFailed)
        _ = try await session.execute("ROLLBACK")
        #expect(try await database.session().execute("SELECT count(*) FROM t").rows == [[.integer(1)]])
    }

    @Test func errorCodesMapToSpecificStatuses() {
        let expected: [(RedError.Code, RPCError.Code)] = [
            (.syntaxError, .invalidArgument), (.undefinedCollection, .notFound), (.uniqueViolation, .alreadyExists),
            (.serializationFailure, .aborted), (.featureNotSupported, .unimplemented), (.limitExceeded, .resourceExhausted),
            (.invalidPassword, .unauthenticated), (.invalidAuthorization, .permissionDenied), (.insufficientPrivilege, .permissionDenied),
            (.closed, .unavailable), (.queryCanceled, .cancelled), (.dataCorrupted, .dataLoss), (.ioError, .internalError),
            (.readOnlyTransaction, .failedPrecondition), (.numericOutOfRange, .outOfRange),
        ]
        for (code, status) in expected { #expect(GRPCStatusMapping.status(for: code) == status, "\(code)") }
        let rpc = GRPCStatusMapping.rpcError(RedError(.uniqueViolation, "duplicate key"))
        #expect(rpc.message == "duplicate key")
        #expect(rpc.metadata[stringValues: "reddb-sqlstate"].first { _ in true } == "23505")
    }
}
