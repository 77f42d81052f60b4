import Foundation
import GRPCCore
import PostgresNIO
import RedClient
import RedCore
import RedProto
import Testing

/// The persisted auth store through the real `red server`: bootstrap, users with roles, API
/// keys and password changes over HTTP and gRPC; the same users signing in over PG-wire
/// (SCRAM), RedWire (SCRAM and bearer) and RedClient on every transport; `read` users
/// refused writes everywhere; and all of it surviving a restart.
@Suite(.serialized) struct AuthSurfaceTests {
    static func field(_ reply: HTTPClientTests.Reply, _ name: String) throws -> String {
        guard case .string(let value)? = reply.json[name] else { throw RedError(.internalError, "no \(name) in \(reply.body)") }
        return value
    }

    @Test func bootstrapUsersAndRolesHoldOnEverySurfaceAndSurviveARestart() async throws {
        var server = try ServerProcess()
        defer { server.remove() }
        // Before bootstrap: anonymous, and user management is refused (anonymous is no admin).
        var r = try await HTTPClientTests.call(server, "POST", "/query", body: "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        #expect(r.status == 200, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/auth/users", body: #"{"username":"x","password":"y"}"#)
        #expect(r.status == 403, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/auth/bootstrap", body: #"{"username":"root","password":"root-pw"}"#)
        #expect(r.status == 200 && r.json["role"] == .string("admin"), "\(r.body)")
        let rootKey = try Self.field(r, "api_key")
        r = try await HTTPClientTests.call(server, "POST", "/auth/bootstrap", body: #"{"username":"again","password":"x"}"#)
        #expect(r.status == 403 && r.body.contains("sealed"), "\(r.body)")

        // Now every request needs a token.
        r = try await HTTPClientTests.call(server, "POST", "/query", body: "SELECT 1")
        #expect(r.status == 401, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/auth/users", body: #"{"username":"ana","password":"ana-pw","role":"read"}"#, token: rootKey)
        #expect(r.status == 201 && r.json["role"] == .string("read"), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/auth/users", body: #"{"username":"wes","password":"wes-pw","role":"write"}"#, token: rootKey)
        #expect(r.status == 201, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/auth/users", body: #"{"username":"wes","password":"x"}"#, token: rootKey)
        #expect(r.status == 409, "\(r.body)")

        // HTTP: a read user reads, is refused writes (403, 42501) and user management.
        r = try await HTTPClientTests.call(server, "POST", "/auth/login", body: #"{"username":"ana","password":"ana-pw"}"#)
        let anaToken = try Self.field(r, "token")
        #expect(anaToken.hasPrefix("rs_"))
        r = try await HTTPClientTests.call(server, "POST", "/query", body: "SELECT count(*) AS n FROM t", token: anaToken)
        #expect(r.status == 200, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/query", body: "INSERT INTO t VALUES (1, 'a')", token: anaToken)
        #expect(r.status == 403 && r.json["sqlstate"] == .string("42501"), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/collections/t/rows", body: #"{"id":1,"v":"a"}"#, token: anaToken)
        #expect(r.status == 403, "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/auth/users", token: anaToken)
        #expect(r.status == 403, "\(r.body)")
        // The structure check holds every commit while it runs: not for a read user.
        r = try await HTTPClientTests.call(server, "GET", "/catalog/consistency", token: anaToken)
        #expect(r.status == 200, "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/catalog/consistency?structure=true", token: anaToken)
        #expect(r.status == 403 && r.body.contains("write role"), "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/catalog/consistency?structure=true", token: rootKey)
        #expect(r.status == 200 && r.json["btree"]?["ok"] == .bool(true), "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/auth/whoami", token: anaToken)
        #expect(r.json["role"] == .string("read") && r.json["authenticated"] == .bool(true), "\(r.body)")

        // gRPC: the same users and roles.
        let wesKey = try await GRPCServerTests.withClient(server) { db, _ in
            let login = try await db.authLogin(.with { $0.payloadJson = #"{"username":"ana","password":"ana-pw"}"# })
            guard case .string(let token)? = try JSONValue.parse(login.payload)["token"] else { throw RedError(.internalError, "no token") }
            let ana: Metadata = ["authorization": "Bearer \(token)"]
            _ = try await db.query(GRPCServerTests.query("SELECT * FROM t"), metadata: ana)
            let write = await GRPCServerTests.code { _ = try await db.query(GRPCServerTests.query("INSERT INTO t VALUES (2, 'b')"), metadata: ana) }
            #expect(write?.0 == .permissionDenied)
            let create = await GRPCServerTests.code {
                _ = try await db.authCreateUser(.with { $0.payloadJson = #"{"username":"z","password":"z"}"# }, metadata: ana)
            }
            #expect(create?.0 == .permissionDenied)
            let root: Metadata = ["authorization": "Bearer \(rootKey)"]
            let users = try JSONValue.parse(try await db.authListUsers(Reddb_V1_Empty(), metadata: root).payload)
            guard case .array(let list)? = users["users"] else { throw RedError(.internalError, "no users") }
            #expect(list.map { $0["username"] } == [.string("ana"), .string("root"), .string("wes")])
            let key = try JSONValue.parse(try await db.authCreateApiKey(.with { $0.payloadJson = #"{"username":"wes","name":"ci"}"# }, metadata: root).payload)
            guard case .string(let wesKey)? = key["key"] else { throw RedError(.internalError, "no key") }
            let tooHigh = await GRPCServerTests.code {
                _ = try await db.authCreateApiKey(.with { $0.payloadJson = #"{"username":"ana","role":"write"}"# }, metadata: root)
            }
            #expect(tooHigh?.0 == .permissionDenied)
            _ = try await db.authCreateUser(.with { $0.payloadJson = #"{"username":"tmp","password":"tmp-pw"}"# }, metadata: root)
            _ = try await db.authDeleteUser(.with { $0.payloadJson = #"{"username":"tmp"}"# }, metadata: root)
            let gone = await GRPCServerTests.code { _ = try await db.authDeleteUser(.with { $0.payloadJson = #"{"username":"tmp"}"# }, metadata: root) }
            #expect(gone?.0 == .notFound)
            return wesKey
        }

        // RedClient on every transport: password logins and API keys, with their roles.
        for url in RedClientTests.urls(server, userinfo: "ana:ana-pw@") {
            let db = try await RedClient.connect(url)
            #expect(try await db.query("SELECT count(*) FROM t").rows.count == 1, "\(url)")
            let refused = await RedClientTests.code { _ = try await db.execute("INSERT INTO t VALUES (9, 'x')") }
            #expect(refused == .insufficientPrivilege, "\(url)")
            try await db.close()
        }
        for (i, url) in RedClientTests.urls(server).enumerated() {
            let db = try await RedClient.connect(url + "?token=\(wesKey)")
            #expect(try await db.execute("INSERT INTO t VALUES ($1, 'w')", [.integer(Int64(10 + i))]) == 1, "\(url)")
            try await db.close()
        }
        // RedWire refuses an anonymous handshake once there are users.
        let anonymous = await RedClientTests.code { _ = try await RedClient.connect("red://127.0.0.1:\(server.wirePort)") }
        #expect(anonymous != nil)

        // PG-wire: SCRAM against the stored verifier; the role holds.
        try await PostgresClientTests.withConnection(server, user: "ana", password: "ana-pw") { conn in
            let rows = try await PostgresClientTests.run(conn, "SELECT * FROM t")
            #expect(rows == 3)
            do {
                try await PostgresClientTests.run(conn, "DELETE FROM t")
                Issue.record("a read user deleted rows")
            } catch {
                #expect(PostgresClientTests.sqlState(error) == "42501")
            }
        }
        await #expect(throws: (any Error).self) { try await PostgresClientTests.withConnection(server, user: "ana", password: "wrong") { _ in } }

        // A password change signs sessions out; everything survives a restart.
        r = try await HTTPClientTests.call(server, "POST", "/auth/change-password",
                                           body: #"{"username":"ana","old_password":"ana-pw","new_password":"ana-pw2"}"#)
        #expect(r.status == 200, "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/auth/whoami", token: anaToken)
        #expect(r.status == 401, "\(r.body)")
        #expect(server.stop() == 0)
        server = try ServerProcess(path: server.path)
        r = try await HTTPClientTests.call(server, "POST", "/query", body: "SELECT count(*) AS n FROM t", token: rootKey)
        #expect(r.status == 200 && r.body.contains("\"n\":3"), "\(r.body)")
        try await PostgresClientTests.withConnection(server, user: "ana", password: "ana-pw2") { conn in
            let rows = try await PostgresClientTests.run(conn, "SELECT * FROM t")
            #expect(rows == 3)
        }
        let wes = try await RedClient.connect("red://wes:wes-pw@127.0.0.1:\(server.wirePort)")
        #expect(try await wes.execute("INSERT INTO t VALUES (20, 'after')") == 1)
        try await wes.close()
        r = try await HTTPClientTests.call(server, "DELETE", "/auth/api-keys/\(wesKey)", token: rootKey)
        #expect(r.status == 200, "\(r.body)")
        let revokedClient = try await RedClient.connect("http://127.0.0.1:\(server.httpPort)?token=\(wesKey)")
        let revoked = await RedClientTests.code { _ = try await revokedClient.query("SELECT 1") }
        #expect(revoked == .invalidPassword)
        try await revokedClient.close()
    }

    /// Open PG-wire and RedWire connections end when their login stops holding: the user is
    /// deleted, or (for anonymous ones) the first admin is bootstrapped.
    @Test func openConnectionsEndWhenTheirLoginIsRevoked() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let anonymous = try await RedClient.connect("red://127.0.0.1:\(server.wirePort)")
        #expect(try await anonymous.query("SELECT 1").rows.count == 1)
        let anonymousPG = try await PostgresClientTests.connect(server)
        var r = try await HTTPClientTests.call(server, "POST", "/auth/bootstrap", body: #"{"username":"root","password":"root-pw"}"#)
        let key = try Self.field(r, "api_key")
        let afterBootstrap = await RedClientTests.code { _ = try await anonymous.query("SELECT 1") }
        #expect(afterBootstrap == .invalidAuthorization)
        await #expect(throws: (any Error).self) { try await PostgresClientTests.run(anonymousPG, "SELECT 1") }
        try? await anonymous.close()
        try? await anonymousPG.close()

        r = try await HTTPClientTests.call(server, "POST", "/auth/users", body: #"{"username":"tmp","password":"tmp-pw","role":"write"}"#, token: key)
        #expect(r.status == 201, "\(r.body)")
        let wire = try await RedClient.connect("red://tmp:tmp-pw@127.0.0.1:\(server.wirePort)")
        let pg = try await PostgresClientTests.connect(server, user: "tmp", password: "tmp-pw")
        #expect(try await wire.query("SELECT 1").rows.count == 1)
        #expect(try await PostgresClientTests.run(pg, "SELECT 1") == 1)
        r = try await HTTPClientTests.call(server, "DELETE", "/auth/users/tmp", token: key)
        #expect(r.status == 200, "\(r.body)")
        let deleted = await RedClientTests.code { _ = try await wire.query("SELECT 1") }
        #expect(deleted == .invalidAuthorization)
        await #expect(throws: (any Error).self) { try await PostgresClientTests.run(pg, "SELECT 1") }
        try? await wire.close()
        try? await pg.close()
    }

    @Test func environmentBootstrapsTheFirstAdminOnce() async throws {
        var server = try ServerProcess(environment: ["REDDB_USERNAME": "boot", "REDDB_PASSWORD": "boot-pw"])
        defer { server.remove() }
        var r = try await HTTPClientTests.call(server, "POST", "/query", body: "SELECT 1")
        #expect(r.status == 401, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/auth/login", body: #"{"username":"boot","password":"boot-pw"}"#)
        #expect(r.status == 200 && r.json["role"] == .string("admin"), "\(r.body)")
        #expect(server.stop() == 0)
        // A second start with other values changes nothing: bootstrap is sealed.
        server = try ServerProcess(path: server.path, environment: ["REDDB_USERNAME": "other", "REDDB_PASSWORD": "other-pw"])
        r = try await HTTPClientTests.call(server, "POST", "/auth/login", body: #"{"username":"other","password":"other-pw"}"#)
        #expect(r.status == 401, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/auth/login", body: #"{"username":"boot","password":"boot-pw"}"#)
        #expect(r.status == 200, "\(r.body)")
    }
}
