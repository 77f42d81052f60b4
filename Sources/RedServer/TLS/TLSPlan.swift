import NIOSSL
import RedCore

/// The TLS material of the listeners a configuration asks for, loaded and checked once.
///
/// Each surface presents its own certificate if given, else the server-wide one, else the
/// self-signed pair next to the database file (made only when some surface needs it).
struct TLSPlan {
    var redwire: NIOSSLContext?
    var http: TLSConfiguration?
    var grpc: TLSIdentity?
    var postgres: NIOSSLContext?
    var router: NIOSSLContext?

    init(configuration c: ServerConfiguration, dataPath: String) throws {
        var selfSigned: TLSIdentity?
        func identity(_ surface: TLSSurface) throws -> TLSIdentity {
            let settings = c.surfaceTLS[surface]
            let chosen: TLSIdentity
            if let own = settings?.certificate ?? c.tlsCertificate {
                chosen = own
            } else {
                if selfSigned == nil { selfSigned = try SelfSignedCertificate.ensure(nextTo: dataPath) }
                chosen = selfSigned!
            }
            return chosen.requiringClients(signedBy: settings?.clientCAPath ?? chosen.clientCAPath)
        }
        if c.usesTLS(.redwire) { redwire = try identity(.redwire).serverContext(alpn: ["redwire/1"]) }
        if c.usesTLS(.http) { http = try identity(.http).serverConfiguration(alpn: ["http/1.1"]) }
        if c.usesTLS(.grpc) {
            let grpcIdentity = try identity(.grpc)
            _ = try grpcIdentity.serverContext()  // the transport reads the files itself; fail here, with their names
            grpc = grpcIdentity
        }
        // libpq 17 sends ALPN "postgresql" and, for direct TLS, requires the server to pick it.
        if c.usesTLS(.postgres) { postgres = try identity(.postgres).serverContext(alpn: ["postgresql"]) }
        if c.usesTLS(.router) {
            let routerIdentity = try identity(.router)
            // The router decrypts for every surface: where one of them admits only clients with a
            // certificate, the router must check them too, or it would be a way around that.
            // (Only surfaces that take TLS themselves; the same CA file, or the router would admit other certificates.)
            for surface in TLSSurface.allCases where surface != .router && c.usesTLS(surface) {
                guard let ca = c.surfaceTLS[surface]?.clientCAPath ?? c.tlsCertificate?.clientCAPath, ca != routerIdentity.clientCAPath else { continue }
                throw RedError(.invalidArgument, "--router-tls on would let clients reach \(surface.rawValue) without a certificate from its CA \(ca): "
                               + "give the router the same client CA (--router-tls-client-ca \(ca)) or turn router TLS off")
            }
            router = try routerIdentity.serverContext(alpn: ["http/1.1", "h2", "redwire/1", "postgresql"])
        }
    }
}
