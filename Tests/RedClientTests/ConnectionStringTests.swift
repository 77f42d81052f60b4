import RedClient
import RedCore
import Testing

/// The connection-string grammar (spec: protocols §7.1) and its error kinds.
struct ConnectionStringTests {
    @Test func schemesHostsPortsAndDefaults() throws {
        let red = try ConnectionString("red://db.example:6000?token=abc&timeout_ms=500")
        #expect(red.transport == .redwire && red.host == "db.example" && red.port == 6000)
        #expect(red.token == "abc" && red.query["timeout_ms"] == "500")
        #expect(try ConnectionString("RED://localhost").port == 5050)
        #expect(try ConnectionString("grpc://localhost").port == 5050)
        #expect(try ConnectionString("http://localhost").port == 80)
        #expect(try ConnectionString("red://[::1]:7000").host == "::1")
        #expect(try ConnectionString("red://[::1]").port == 5050)
        #expect(try ConnectionString("memory://").transport == .memory)
        #expect(try ConnectionString("memory:").transport == .memory)
        let file = try ConnectionString("file:///var/lib/red/data.rdb")
        #expect(file.transport == .file && file.path == "/var/lib/red/data.rdb")
        let creds = try ConnectionString("grpc://ada:p%40ss@h:1")
        #expect(creds.user == "ada" && creds.password == "p@ss" && creds.host == "h" && creds.port == 1)
        // ?proto= (the JS driver's extension) picks the transport for the same address.
        let viaGRPC = try ConnectionString("red://h:7000?proto=GRPC")
        #expect(viaGRPC.transport == .grpc && viaGRPC.host == "h" && viaGRPC.port == 7000)
        #expect(try ConnectionString("red://h?proto=http").port == 8080)
        #expect(try ConnectionString("red://h?proto=http").transport == .http)
        #expect(try ConnectionString("red://h:5050?proto=http").port == 5050)
        #expect(try ConnectionString("red://h?proto=red").transport == .redwire)
    }

    @Test func tlsSchemesAndTheirSettings() throws {
        let reds = try ConnectionString("reds://db.example?ca=/etc/red/ca.pem&servername=red.internal")
        #expect(reds.transport == .redwire && reds.port == 5050)
        #expect(reds.tls?.caPath == "/etc/red/ca.pem" && reds.tls?.serverName == "red.internal" && reds.tls?.verifyServer == true)
        let grpcs = try ConnectionString("grpcs://h:7000?cert=/c.pem&key=/k.pem")
        #expect(grpcs.transport == .grpc && grpcs.port == 7000)
        #expect(grpcs.tls?.certificatePath == "/c.pem" && grpcs.tls?.keyPath == "/k.pem")
        let https = try ConnectionString("https://h?rejectUnauthorized=false")
        #expect(https.transport == .http && https.port == 443 && https.tls?.verifyServer == false)
        #expect(try ConnectionString("red://h?tls=true").tls != nil)
        #expect(try ConnectionString("red://h?tls=false").tls == nil)
        #expect(try ConnectionString("red://h").tls == nil)
        #expect(try ConnectionString("http://h").tls == nil)
        let viaProto = try ConnectionString("red://h?proto=grpcs")
        #expect(viaProto.transport == .grpc && viaProto.tls != nil)
        let httpsProto = try ConnectionString("red://h?proto=https")
        #expect(httpsProto.transport == .http && httpsProto.port == 8443 && httpsProto.tls != nil)
        #expect(try ConnectionString("red://h?proto=reds").tls != nil)
    }

    @Test func unixSockets() throws {
        let unix = try ConnectionString("red+unix:///run/red/red.sock?token=t")
        #expect(unix.transport == .redwire && unix.path == "/run/red/red.sock" && unix.token == "t" && unix.tls == nil)
        let login = try ConnectionString("red+unix:///run/my%20red.sock?user=ada&password=p%40ss")
        #expect(login.path == "/run/my red.sock" && login.user == "ada" && login.password == "p@ss")
        for bad in ["red+unix://relative.sock", "red+unix:///s.sock?ca=/x.pem", "red+unix:///s.sock?tls=true",
                    "red+unix:///" + String(repeating: "a", count: 120)] {
            #expect(throws: RedError.self, "\(bad)") { _ = try ConnectionString(bad) }
        }
    }

    /// Cluster strings (§7.1): the primary first, then replicas with the scheme's default port.
    @Test func clusterStringsNameAPrimaryAndItsReplicas() throws {
        let cluster = try ConnectionString("red://ada:pw@p.example:6000,r1.example,[::1]:7000?timeout_ms=5")
        #expect(cluster.host == "p.example" && cluster.port == 6000 && cluster.user == "ada")
        #expect(cluster.replicas == [.init(host: "r1.example", port: 5050), .init(host: "::1", port: 7000)])
        #expect(cluster.routesReadsToReplicas)
        let replica = cluster.at(cluster.replicas[1])
        #expect(replica.host == "::1" && replica.port == 7000 && replica.replicas.isEmpty && replica.user == "ada" && replica.query["timeout_ms"] == "5")
        #expect(try !ConnectionString("grpc://a,b?route=PRIMARY").routesReadsToReplicas)
        #expect(try ConnectionString("grpcs://a:1,b:2").replicas == [.init(host: "b", port: 2)])
        #expect(try !ConnectionString("red://a").routesReadsToReplicas)
    }

    @Test func errorsNameTheirKind() {
        let cases: [(String, String)] = [
            ("", "EMPTY"), ("   ", "EMPTY"), ("localhost", "INVALID_URI"), ("mongodb://x", "UNSUPPORTED_SCHEME"),
            ("postgres://x", "UNSUPPORTED_SCHEME"), ("red://", "INVALID_URI"), ("red://h:0", "INVALID_URI"),
            ("red://h:99999", "INVALID_URI"), ("red://h:x", "INVALID_URI"), ("red://[::1", "INVALID_URI"),
            ("file://", "INVALID_URI"), ("memory://x", "INVALID_URI"), ("smtps://h", "UNSUPPORTED_SCHEME"),
            ("red://a,", "INVALID_URI"), ("red://,b", "INVALID_URI"), ("red://a,b:0", "INVALID_URI"), ("red://a,[::1", "INVALID_URI"),
            ("http://a,b", "INVALID_URI"), ("red://" + (0..<65).map { "h\($0)" }.joined(separator: ","), "LIMIT_EXCEEDED"),
            ("red://h?proto=pg", "UNSUPPORTED_SCHEME"),
            // TLS settings on a plaintext connection would do nothing: refused, as are half a client certificate and bad flags.
            ("red://h?ca=/x.pem", "INVALID_URI"), ("http://h?rejectUnauthorized=false", "INVALID_URI"),
            ("reds://h?cert=/c.pem", "INVALID_URI"), ("reds://h?key=/k.pem", "INVALID_URI"),
            ("reds://h?rejectUnauthorized=maybe", "INVALID_URI"), ("reds://h?tls=false", "INVALID_URI"), ("red://h?tls=perhaps", "INVALID_URI"),
            ("red://h?proto=smtp", "INVALID_URI"), ("red://" + String(repeating: "a", count: 9_000), "LIMIT_EXCEEDED"),
            ("red://h?" + (0..<33).map { "k\($0)=v" }.joined(separator: "&"), "LIMIT_EXCEEDED"),
        ]
        for (text, kind) in cases {
            do {
                _ = try ConnectionString(text)
                Issue.record("\(text) parsed")
            } catch let error as RedError {
                #expect(error.message.hasPrefix(kind + ": "), "\(text): \(error.message)")
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    @Test func advertisedAddressesParse() {
        #expect(ConnectionString.HostPort(advertised: "10.0.0.2:5050") == .init(host: "10.0.0.2", port: 5050))
        #expect(ConnectionString.HostPort(advertised: "red://db-2.internal:6000/x") == .init(host: "db-2.internal", port: 6000))
        #expect(ConnectionString.HostPort(advertised: "[::1]:5050") == .init(host: "::1", port: 5050))
        #expect(ConnectionString.HostPort(advertised: "grpc://user@h:7") == .init(host: "h", port: 7))
        for bad in ["", "host", "host:0", "host:99999", ":5050", "red://host"] { #expect(ConnectionString.HostPort(advertised: bad) == nil, "\(bad)") }
    }
}
