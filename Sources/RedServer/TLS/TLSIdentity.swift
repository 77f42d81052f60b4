import Foundation
import NIOSSL
import RedCore

/// What a TLS listener presents and whom it lets in: a PEM certificate chain and its private
/// key and, for mutual TLS, the PEM file of the CA(s) every client certificate must chain to.
///
/// Paths only: the files are read when the server starts (a missing or malformed file stops
/// it with an error naming the file, before any listener binds), so an operator who rotates
/// a certificate restarts the server.
public struct TLSIdentity: Sendable, Equatable {
    public var certificatePath: String
    public var keyPath: String
    /// Mutual TLS when set: clients must present a certificate signed by one of these CAs.
    public var clientCAPath: String?

    public init(certificatePath: String, keyPath: String, clientCAPath: String? = nil) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.clientCAPath = clientCAPath
    }

    /// The same certificate with (or without) a client CA.
    func requiringClients(signedBy clientCA: String?) -> TLSIdentity {
        var copy = self
        copy.clientCAPath = clientCA
        return copy
    }

    /// A NIOSSL server configuration: TLS 1.2 or 1.3, our certificate and key, and client
    /// certificates verified against `clientCAPath` (no host name check: clients have none)
    /// when set. `alpn` lists the protocols the listener offers, most preferred first.
    func serverConfiguration(alpn: [String] = []) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw RedError(.invalidArgument, "cannot read the TLS certificate \(certificatePath): \(error)")
        }
        guard !chain.isEmpty else { throw RedError(.invalidArgument, "the TLS certificate file \(certificatePath) holds no PEM certificate") }
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw RedError(.invalidArgument, "cannot read the TLS private key \(keyPath): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                                      privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = alpn
        if let clientCAPath {
            let roots: [NIOSSLCertificate]
            do {
                roots = try NIOSSLCertificate.fromPEMFile(clientCAPath)
            } catch {
                throw RedError(.invalidArgument, "cannot read the TLS client CA \(clientCAPath): \(error)")
            }
            guard !roots.isEmpty else { throw RedError(.invalidArgument, "the TLS client CA file \(clientCAPath) holds no PEM certificate") }
            configuration.trustRoots = .certificates(roots)
            configuration.certificateVerification = .noHostnameVerification
        }
        return configuration
    }

    /// A ready NIOSSL context (the certificate and key checked to match).
    func serverContext(alpn: [String] = []) throws -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: try serverConfiguration(alpn: alpn))
        } catch let error as RedError {
            throw error
        } catch {
            throw RedError(.invalidArgument, "cannot use the TLS certificate \(certificatePath) with the key \(keyPath): \(error)")
        }
    }
}

/// PostgreSQL-protocol encryption: how SSLRequest is answered.
public enum PGTLSMode: String, Sendable, CaseIterable {
    /// `N`: clients continue in plaintext (upstream's only behaviour).
    case off
    /// `S` and a TLS handshake; clients that do not ask still connect in plaintext.
    case on
    /// As `on`, and a startup that did not negotiate TLS is refused (SQLSTATE 28000), like a
    /// `hostssl`-only pg_hba.conf.
    case required
}
