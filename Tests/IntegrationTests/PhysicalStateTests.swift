import Foundation
import GRPCCore
import RedCore
import RedProto
import Testing

/// The database file's physical state over HTTP (`/physical/…`, `/roots`) and gRPC (`NativeHeader` …):
/// the same JSON, describing this server's own file and WAL.
@Suite struct PhysicalStateTests {
    @Test func headerRecoveryFilesRootsRegistryAndCatalog() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        var r = try await HTTPClientTests.call(server, "POST", "/query", body: """
            CREATE TABLE t (id INT PRIMARY KEY, v INT); CREATE INDEX t_v ON t (v); CREATE VIEW tv AS SELECT id FROM t;
            INSERT INTO t SELECT g, g FROM generate_series(1, 100) AS g
            """)
        #expect(r.status == 200, "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/physical/header")
        #expect(r.json["magic"] == .string("REDDBSW1") && r.json["format_version"] == .integer(2) && r.json["header_slots"] == .integer(2), "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/physical/recovery")
        guard case .integer(let durable)? = r.json["durable_lsn"], case .integer(let from)? = r.json["replay_from_lsn"],
              case .integer(let replay)? = r.json["replay_bytes"] else { Issue.record("\(r.body)"); return }
        #expect(durable > 0 && replay == durable - from && r.json["sync_mode"] == .string("full"), "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/physical/metadata")
        #expect(r.json["path"] == .string(server.path) && r.json["wal_directory"] == .string(server.path + "-wal"), "\(r.body)")
        if case .integer(let bytes)? = r.json["file_bytes"], case .integer(let pages)? = r.json["page_count"], case .integer(let size)? = r.json["page_size"] {
            #expect(bytes == pages * size && pages > 2)
        } else {
            Issue.record("\(r.body)")
        }
        r = try await HTTPClientTests.call(server, "GET", "/roots")
        #expect(r.body.contains(#""kind":"collection","name":"t""#) && r.body.contains(#""kind":"index""#), "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/physical/registry")
        #expect(r.json["by_model"]?["table"] == .integer(1) && r.json["indexes"] == .integer(2), "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/physical/catalog")
        #expect(r.json["by_kind"]?["view"] == .integer(1), "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/physical/state")
        #expect(r.json["header"]?["magic"] == .string("REDDBSW1") && r.json["recovery"]?["durable_lsn"] != nil && r.json["metadata"]?["path"] != nil, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/physical/repair")
        #expect(r.json["message"].map { "\($0)".contains("B+tree verified") && "\($0)".contains("0 of 2 indexes rebuilt") } == true, "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/physical/authority")
        #expect(r.json["accepts_writes"] == .bool(true) && r.json["role"] == .string("standalone") && r.json["writer_lease"] == .string("not_required"), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/physical/header/repair")
        #expect(r.status == 200 && r.json["message"].map { "\($0)".contains("header slots rewritten") } == true, "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/physical/header/repair-policy")
        #expect(r.body.contains(#""slot":0,"valid":true"#) && r.body.contains(#""slot":1,"valid":true"#), "\(r.body)")

        r = try await HTTPClientTests.call(server, "POST", "/query", body: "CREATE VECTOR docs DIM 3 METRIC l2; INSERT INTO docs VECTOR (dense) VALUES ([1,0,0]), ([0,1,0])")
        #expect(r.status == 200, "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/physical/vectors")
        #expect(r.body.contains(#"{"collection":"docs","dimension":3,"kind":"exact_scan","metric":"l2"}"#), "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/physical/vectors/docs")
        #expect(r.body.contains(#""vectors":2"#), "\(r.body)")
        #expect(try await HTTPClientTests.call(server, "GET", "/physical/vectors/t").status == 404)

        try await GRPCServerTests.withClient(server) { db, _ in
            #expect(try await db.nativeVectorArtifacts(Reddb_V1_Empty()).payload.contains(#""collection":"docs""#))
            #expect(try await db.inspectNativeVectorArtifacts(Reddb_V1_Empty()).payload.contains(#""vectors":2"#))
            #expect(try await db.inspectNativeVectorArtifact(.with { $0.collection = "docs" }).payload.contains(#""bytes":"#))
            #expect(try await db.warmupNativeVectorArtifacts(Reddb_V1_Empty()).payload.contains(#""vectors":2"#))
            #expect(try await db.warmupNativeVectorArtifact(.with { $0.collection = "docs" }).payload.contains(#""vectors":2"#))
            let missing = await GRPCServerTests.code { _ = try await db.inspectNativeVectorArtifact(.with { $0.collection = "nope" }) }
            #expect(missing?.0 == .notFound)
            #expect(try await db.nativeHeaderRepairPolicy(Reddb_V1_Empty()).payload.contains(#""policy""#))
            #expect(try await db.nativePhysicalState(Reddb_V1_Empty()).payload.contains(#""recovery""#))
            #expect(try await db.repairNativePhysicalState(Reddb_V1_Empty()).message.contains("indexes rebuilt"))
            #expect(try await db.physicalAuthority(Reddb_V1_Empty()).payload.contains(#""accepts_writes":true"#))
            #expect(try await db.repairNativeHeader(Reddb_V1_Empty()).message.hasPrefix("header slots rewritten"))
            let header = try JSONValue.parse(try await db.nativeHeader(Reddb_V1_Empty()).payload)
            #expect(header["magic"] == .string("REDDBSW1"))
            let recovery = try JSONValue.parse(try await db.nativeRecoverySummary(Reddb_V1_Empty()).payload)
            #expect(recovery["checkpoint_lsn"] != nil && recovery["wal_segments"] != nil)
            #expect(try JSONValue.parse(try await db.physicalMetadata(Reddb_V1_Empty()).payload)["format"] == .string("reddb-swift"))
            let roots = try await db.roots(Reddb_V1_Empty()).payload
            #expect(roots == (try await db.nativeCollectionRoots(Reddb_V1_Empty()).payload))
            #expect(try JSONValue.parse(try await db.nativeRegistrySummary(Reddb_V1_Empty()).payload)["collections"] == .integer(2))
            #expect(try JSONValue.parse(try await db.nativeCatalogSummary(Reddb_V1_Empty()).payload)["entries"] != nil)
        }
    }

    /// Upstream's last six rpcs, with this engine's meanings: the change feed since a snapshot
    /// and counted, the metadata state, a rebuild, the deployment profiles checked against the
    /// server, and the whole database in one reply (which unpacks to a database that opens).
    @Test func manifestMetadataStateRebuildProfilesAndTheUnarySnapshot() async throws {
        @Sendable func element(_ value: JSONValue?, _ i: Int) -> JSONValue? {
            guard case .array(let items)? = value, i < items.count else { return nil }
            return items[i]
        }
        @Sendable func operations(_ value: JSONValue?) -> [String] {
            guard case .array(let items)? = value else { return [] }
            return items.compactMap { if case .string(let op)? = $0["operation"] { return op } else { return nil } }
        }
        let server = try ServerProcess()
        defer { server.remove() }
        var r = try await HTTPClientTests.call(server, "POST", "/query", body: "CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1), (2, 2)")
        #expect(r.status == 200, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/snapshot")
        guard case .string(let name)? = r.json["name"], let snapshot = UInt64(name.dropFirst("snapshot-".count)) else { Issue.record("\(r.body)"); return }
        try await Task.sleep(for: .milliseconds(5))
        r = try await HTTPClientTests.call(server, "POST", "/query", body: "UPDATE t SET v = 20 WHERE id = 2; DELETE FROM t WHERE id = 1; INSERT INTO t VALUES (3, 3)")
        #expect(r.status == 200, "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/manifest?collection=t&since_snapshot=\(snapshot)")
        #expect(operations(r.json["events"]) == ["update", "delete", "insert"], "only what came after the snapshot: \(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/manifest?kind=remove")
        #expect(r.body.contains(#""operation":"delete""#) && !r.body.contains(#""operation":"insert""#), "\(r.body)")
        #expect(try await HTTPClientTests.call(server, "GET", "/manifest?kind=merge").status == 400)
        r = try await HTTPClientTests.call(server, "GET", "/physical/manifest")
        #expect(r.json["events"] == .integer(5) && r.json["by_operation"]?["insert"] == .integer(3), "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/physical/metadata-state")
        #expect(r.json["snapshots"] == .integer(1) && r.json["registry"]?["collections"] == .integer(1), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/physical/rebuild")
        #expect(r.json["message"].map { "\($0)".contains("header slots rewritten") && "\($0)".contains("indexes rebuilt") } == true, "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/deployment/profiles?profile=production")
        #expect(element(r.json["profiles"], 0)?["meets"] == .bool(false) && r.body.contains("RED_BACKEND"), "a bare server is not production: \(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/deployment/profiles?profile=simple")
        #expect(element(r.json["profiles"], 0)?["meets"] == .bool(true), "\(r.body)")
        #expect(try await HTTPClientTests.call(server, "GET", "/deployment/profiles?profile=huge").status == 400)

        try await GRPCServerTests.withClient(server) { db, _ in
            let manifest = try JSONValue.parse(try await db.manifest(.with { $0.collection = "t"; $0.kind = "insert"; $0.sinceSnapshot = snapshot }).payload)
            #expect(operations(manifest["events"]) == ["insert"], "\(manifest.text)")
            #expect(try JSONValue.parse(try await db.nativeManifestSummary(Reddb_V1_Empty()).payload)["events"] == .integer(5))
            #expect(try await db.nativeMetadataStateSummary(Reddb_V1_Empty()).payload.contains(#""snapshots":1"#))
            #expect(try await db.rebuildPhysicalMetadata(Reddb_V1_Empty()).message.contains("B+tree verified"))
            let profiles = try JSONValue.parse(try await db.deploymentProfiles(.with { $0.profile = "" }).payload)
            #expect(element(profiles["profiles"], 3)?["name"] == .string("cloud"))
            let unknown = await GRPCServerTests.code { _ = try await db.deploymentProfiles(.with { $0.profile = "huge" }) }
            #expect(unknown?.0 == .invalidArgument)

            let copy = try JSONValue.parse(try await db.replicationSnapshot(Reddb_V1_Empty()).payload)
            guard case .string(let hex)? = copy["snapshot_hex"], case .string(let sha)? = copy["sha256"] else { Issue.record("\(copy.text.prefix(300))"); return }
            #expect(hex.hasPrefix(Array("RDBSNAP1".utf8).map { String(format: "%02x", $0) }.joined()) && sha.count == 64)
        }
    }

    /// The readiness gates and the serverless lifecycle: all open on a standalone server, where
    /// reclaim checkpoints and empties the cache and warmup fills it again; a replica is not
    /// write-ready and refuses the lifecycle.
    @Test func readinessGatesAndTheServerlessLifecycle() async throws {
        let server = try ServerProcess(arguments: ["--role", "primary"])
        defer { server.remove() }
        var r = try await HTTPClientTests.call(server, "POST", "/query", body: "CREATE TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(1, 5000) AS g")
        #expect(r.status == 200, "\(r.body)")
        for gate in ["query", "write", "repair"] {
            r = try await HTTPClientTests.call(server, "GET", "/ready/\(gate)")
            #expect(r.status == 200 && r.json["kind"] == .string(gate) && r.json["ready"] == .bool(true), "\(r.body)")
            r = try await HTTPClientTests.call(server, "GET", "/ready/serverless/\(gate)")
            #expect(r.status == 200, "\(r.body)")
        }
        r = try await HTTPClientTests.call(server, "GET", "/ready/serverless")
        #expect(r.status == 200 && r.json["ready"] == .bool(true) && r.json["write"]?["ready"] == .bool(true), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/serverless/reclaim")
        guard case .integer(let released)? = r.json["released_nodes"], case .integer(let resident)? = r.json["resident_bytes"],
              case .integer(let checkpoint)? = r.json["checkpoint_lsn"] else { Issue.record("\(r.body)"); return }
        #expect(released > 0 && checkpoint > 0, "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/physical/recovery")
        #expect(r.json["replay_bytes"] == .integer(0) || r.json["checkpoint_lsn"] == .integer(checkpoint), "after reclaim little is left to replay: \(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/serverless/attach")
        #expect(r.json["attached"] == .bool(true) && r.json["lease"] == .string("not_required"), "\(r.body)")
        try await GRPCServerTests.withClient(server) { db, _ in
            let warmed = try JSONValue.parse(try await db.serverlessWarmup(.with { $0.payloadJson = "{}" }).payload)
            guard case .integer(let after)? = warmed["resident_bytes"], case .integer(let entries)? = warmed["entries"] else { Issue.record("\(warmed.text)"); return }
            #expect(after > resident && entries >= 5000 && warmed["complete"] == .bool(true), "\(warmed.text)")
            #expect(try JSONValue.parse(try await db.serverlessAttach(.with { $0.payloadJson = "{}" }).payload)["attached"] == .bool(true))
            #expect(try JSONValue.parse(try await db.serverlessReclaim(.with { $0.payloadJson = "{}" }).payload)["ok"] == .bool(true))
        }
        #expect(try await HTTPClientTests.call(server, "POST", "/query", body: "SELECT count(*) AS n FROM t").body.contains(#""n":5000"#))

        let replica = try ServerProcess(arguments: ["--role", "replica", "--primary-addr", "127.0.0.1:\(server.grpcPort)"])
        defer { replica.remove() }
        r = try await HTTPClientTests.call(replica, "GET", "/ready/write")
        #expect(r.status == 503 && r.json["reason"].map { "\($0)".contains("replica") } == true, "\(r.body)")
        r = try await HTTPClientTests.call(replica, "GET", "/ready/serverless")
        #expect(r.status == 503 && r.json["query"]?["ready"] == .bool(true), "\(r.body)")
        r = try await HTTPClientTests.call(replica, "POST", "/serverless/reclaim")
        #expect(r.status == 403, "\(r.body)")
        r = try await HTTPClientTests.call(replica, "GET", "/physical/authority")
        #expect(r.json["accepts_writes"] == .bool(false) && r.json["role"] == .string("replica") && r.json["primary_addr"] != nil, "\(r.body)")
        #expect(try await HTTPClientTests.call(replica, "POST", "/physical/repair").status == 403)
    }
}
