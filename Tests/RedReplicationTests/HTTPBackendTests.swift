import Foundation
import RedCore
@testable import RedReplication
import Testing

/// `RED_BACKEND=http`: upstream's generic blob-service contract, against `FakeBlobService`.
@Suite struct HTTPBackendTests {
    @Test func backupArchiveAndRestoreOverAnHTTPService() async throws {
        let service = FakeBlobService()
        try await service.start()
        defer { service.stop() }
        let directory = try BackupTests.Directory()
        let settings = try #require(try BackupSettings.fromEnvironment(try service.environment(tokenFile: directory.path + "/token")))
        #expect(settings.backend.description == "http:http://127.0.0.1:\(service.port)/store/team-b/")
        service.failNextRequests.withLock { $0 = 2 }  // retried
        try await BackupTests().backupAndRestore(backend: settings.backend, in: directory)
        #expect(service.failNextRequests.withLock { $0 } == 0)
        #expect(service.unauthorized.withLock { $0 } == 0, "every request carried the header")
        #expect(service.keys.allSatisfy { $0.hasPrefix("team-b/clusters/dev/") } && service.keys.count >= 7, "\(service.keys)")
        #expect(service.keys.contains("team-b/clusters/dev/manifests/head.json"))
    }

    @Test func theWriterLeaseNeedsConditionalWrites() async throws {
        let service = FakeBlobService()
        try await service.start()
        defer { service.stop() }
        let directory = try BackupTests.Directory()
        var env = try service.environment(tokenFile: directory.path + "/token")
        let conditional = try #require(try BackupSettings.fromEnvironment(env)).backend
        try await LeaseTests.race(try #require(conditional as? ConditionalHTTPBackend))
        env["RED_HTTP_CONDITIONAL_WRITES"] = nil
        let plain = try #require(try BackupSettings.fromEnvironment(env)).backend
        #expect(!(plain is any ConditionalBackend), "without the operator's word, no compare-and-swap")
    }

    @Test func settingsAreChecked() throws {
        #expect { _ = try BackupSettings.fromEnvironment(["RED_BACKEND": "http"]) } throws: { error in
            (error as? RedError)?.message.contains("RED_HTTP_BACKEND_URL") == true
        }
        #expect(throws: RedError.self) { _ = try BackupSettings.fromEnvironment(["RED_BACKEND": "http", "RED_HTTP_BACKEND_URL": "ftp://host/x"]) }
        #expect(throws: RedError.self) { _ = try BackupSettings.fromEnvironment(["RED_BACKEND": "http", "RED_HTTP_BACKEND_URL": "http://host/x?a=b"]) }
        #expect(throws: RedError.self) {
            _ = try BackupSettings.fromEnvironment(["RED_BACKEND": "http", "RED_HTTP_BACKEND_URL": "http://host", "RED_HTTP_BACKEND_PREFIX": "a/../b"])
        }
        let settings = try #require(try BackupSettings.fromEnvironment(["RED_BACKEND": "http", "RED_HTTP_BACKEND_URL": "https://blobs.example/v1///",
                                                                        "RED_HTTP_BACKEND_PREFIX": "/prod", "RED_HTTP_BACKEND_AUTH_HEADER": "Basic eDp5"]))
        let http = try #require(settings.backend as? HTTPBackend)
        #expect(http.settings.baseURL == "https://blobs.example/v1" && http.settings.prefix == "prod/" && http.settings.authorization == "Basic eDp5")
        #expect(try http.url("clusters/dev/a b.json") == "https://blobs.example/v1/prod/clusters/dev/a%20b.json")
        let withCredentials = try HTTPBackend(settings: .init(baseURL: "https://u:secret@blobs.example/v1"))
        #expect(withCredentials.description == "http:https://blobs.example/v1/", "no secret in logs or /backup/status")
    }

    /// A wrong token and a service without listings fail with errors that say so; upstream
    /// would read the missing listing as "no segments" and restore less than was archived.
    @Test func refusalsAreClearErrors() async throws {
        let service = FakeBlobService(conditional: false, listing: false)
        try await service.start()
        defer { service.stop() }
        var settings = HTTPBackend.Settings(baseURL: "http://127.0.0.1:\(service.port)/store")
        settings.authorization = FakeBlobService.authorization
        let backend = try HTTPBackend(settings: settings)
        try await backend.put("a/b.json", bytes: [1, 2, 3])
        #expect(try await backend.get("a/b.json") == [1, 2, 3])
        #expect(try await backend.get("a/none.json") == nil)
        try await backend.delete("a/none.json")  // already gone: fine
        await #expect { _ = try await backend.list(prefix: "a/") } throws: { error in
            (error as? RedError)?.message.contains("one per line") == true
        }
        settings.authorization = "Bearer wrong"
        await #expect { _ = try await HTTPBackend(settings: settings).get("a/b.json") } throws: { error in
            (error as? RedError)?.message.contains("HTTP 401") == true
        }
    }
}
