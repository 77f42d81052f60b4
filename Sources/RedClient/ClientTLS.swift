import Foundation
import NIOSSL
import RedCore

extension ConnectionString {
    /// TLS for `reds://`, `grpcs://` and `https://` (or `?tls=true` / `proto=reds|grpcs|https`),
    /// from the connection string's query keys (the JS driver's names, spec §7.2):
    ///
    /// | key | meaning |
    /// |---|---|
    /// | `ca` | PEM file of the CA(s) to trust instead of the system's (for a server's self-signed certificate, its `data.rdb.tls-ca.pem`) |
    /// | `cert`, `key` | PEM client certificate and key, for servers that require mutual TLS |
    /// | `servername` | the name to send (SNI) and verify instead of the host (`reds://` and `grpcs://`) |
    /// | `rejectUnauthorized=false` | do not verify the server's certificate (development only: anyone in between can read the traffic) |
    public struct TLS: Sendable, Equatable {
        public var caPath: String?
        public var certificatePath: String?
        public var keyPath: String?
        public var serverName: String?
        /// Verify the server's certificate chain and name (the default).
        public var verifyServer = true

        public init() {}

        /// The keys a connection string may carry only when it asks for TLS.
        static let keys = ["ca", "cert", "key", "servername", "rejectUnauthorized", "reject_unauthorized"]

        init(query: [String: String]) throws {
            caPath = query["ca"].flatMap { $0.isEmpty ? nil : $0 }
            certificatePath = query["cert"].flatMap { $0.isEmpty ? nil : $0 }
            keyPath = query["key"].flatMap { $0.isEmpty ? nil : $0 }
            serverName = query["servername"].flatMap { $0.isEmpty ? nil : $0 }
            if let reject = query["rejectUnauthorized"] ?? query["reject_unauthorized"] {
                switch reject.lowercased() {
                case "false", "0", "no", "off": verifyServer = false
                case "true", "1", "yes", "on", "": verifyServer = true
                default: throw ConnectionString.error("INVALID_URI", "rejectUnauthorized must be true or false, got \"\(reject)\"")
                }
            }
            if (certificatePath == nil) != (keyPath == nil) {
                throw ConnectionString.error("INVALID_URI", "a client certificate needs both cert= and key=")
            }
        }

        /// The NIOSSL client configuration: TLS 1.2 or later, offering `alpn`.
        func configuration(alpn: [String] = []) throws -> TLSConfiguration {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            configuration.applicationProtocols = alpn
            if !verifyServer { configuration.certificateVerification = .none }
            if let caPath {
                configuration.trustRoots = .certificates(try Self.certificates(caPath, "CA"))
            }
            if let certificatePath, let keyPath {
                configuration.certificateChain = try Self.certificates(certificatePath, "client certificate").map { .certificate($0) }
                do {
                    configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem))
                } catch {
                    throw RedError(.invalidArgument, "cannot read the TLS client key \(keyPath): \(error)")
                }
            }
            return configuration
        }

        /// A failure's text, with a hint when the cause is the server's certificate (BoringSSL's
        /// own words name neither the certificate nor the fix).
        static func explain(_ error: any Error) -> String {
            let text = "\(error)"
            if text.contains("CERTIFICATE_VERIFY_FAILED") {
                return "TLS: the server's certificate could not be verified (trust its CA with ca=/path/to/ca.pem, "
                    + "for a server's self-signed certificate the data file's .tls-ca.pem): \(text)"
            }
            if text.contains("TLSV1_ALERT_CERTIFICATE_REQUIRED") || text.contains("SSLV3_ALERT_HANDSHAKE_FAILURE") {
                return "TLS: the server refused the handshake; it may require a client certificate (cert= and key=): \(text)"
            }
            return text
        }

        /// The name sent in SNI and checked against the certificate; IP literals send none.
        func serverHostname(for host: String) -> String? {
            if let serverName { return serverName }
            let isAddress = host.contains(":") || host.split(separator: ".").allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
            return isAddress ? nil : host
        }

        private static func certificates(_ path: String, _ what: String) throws -> [NIOSSLCertificate] {
            let loaded: [NIOSSLCertificate]
            do {
                loaded = try NIOSSLCertificate.fromPEMFile(path)
            } catch {
                throw RedError(.invalidArgument, "cannot read the TLS \(what) \(path): \(error)")
            }
            guard !loaded.isEmpty else { throw RedError(.invalidArgument, "the TLS \(what) file \(path) holds no PEM certificate") }
            return loaded
        }
    }
}
