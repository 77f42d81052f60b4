import Crypto
import Foundation
import RedCore
import SwiftASN1
import X509

/// The certificate a server presents on its TLS listeners when the operator gives none
/// (spec: protocols §0, "self-signed cert auto-generated next to the data file").
///
/// Files, next to the data file:
/// - `<data file>.tls-ca.pem`: a CA certificate made for this server alone. Clients pin it
///   (`ca=` in a connection string, psql's `sslrootcert`, curl's `--cacert`). Its key is
///   thrown away once it has signed the server's certificate, so it can vouch for nothing else.
/// - `<data file>.tls-cert.pem` and `<data file>.tls-key.pem` (mode 0600): the server's ECDSA
///   P-256 key and its certificate for `localhost`, `127.0.0.1`, `::1` and this machine's host
///   name, signed by that CA. (A certificate that is its own CA works with OpenSSL and
///   BoringSSL, but rustls-based clients refuse a CA used as a server certificate.)
///
/// Both are valid for 825 days. An existing set is reused, so clients that pinned the CA keep
/// working across restarts; a set that is incomplete, unreadable or expires within 30 days
/// is replaced (clients then pin the new CA).
public enum SelfSignedCertificate {
    static let validityDays = 825
    static let renewWithinDays = 30

    /// The server's certificate and key next to `dataPath` (and the CA that signed it), made now if needed.
    public static func ensure(nextTo dataPath: String, now: Date = Date()) throws -> TLSIdentity {
        let identity = TLSIdentity(certificatePath: dataPath + ".tls-cert.pem", keyPath: dataPath + ".tls-key.pem")
        let caPath = caPath(nextTo: dataPath)
        if isUsable(identity, caPath: caPath, now: now) { return identity }
        let ca = try make(names: [], addresses: [], now: now, commonName: "RedDB server CA (\(ProcessInfo.processInfo.hostName))",
                          isCertificateAuthority: true, isServer: false)
        let server = try make(names: ["localhost", ProcessInfo.processInfo.hostName],
                              addresses: [[127, 0, 0, 1], [UInt8](repeating: 0, count: 15) + [1]], now: now, issuer: ca)
        try write(server.keyPEM, to: identity.keyPath, permissions: 0o600)
        try write(server.certificatePEM, to: identity.certificatePath, permissions: 0o644)
        try write(ca.certificatePEM, to: caPath, permissions: 0o644)
        return identity
    }

    /// The CA file clients pin for the self-signed set of `dataPath`.
    public static func caPath(nextTo dataPath: String) -> String { dataPath + ".tls-ca.pem" }

    /// A self-signed certificate and its key, as PEM, for these DNS names and IP addresses
    /// (4 or 16 bytes each), signed by `issuer` (else by itself). `isServer` adds the server
    /// and client authentication key usages (a pure CA goes without). Also used by tests to
    /// make CAs and client certificates.
    public static func make(names: [String], addresses: [[UInt8]], now: Date = Date(), commonName: String = "RedDB self-signed",
                            issuer: (certificatePEM: String, keyPEM: String)? = nil,
                            isCertificateAuthority: Bool = false, isServer: Bool = true) throws -> (certificatePEM: String, keyPEM: String) {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(commonName) }
        let issuerName: DistinguishedName
        let issuerKey: Certificate.PrivateKey
        if let issuer {
            issuerName = try Certificate(pemEncoded: issuer.certificatePEM).subject
            issuerKey = Certificate.PrivateKey(try P256.Signing.PrivateKey(pemRepresentation: issuer.keyPEM))
        } else {
            issuerName = subject
            issuerKey = Certificate.PrivateKey(key)
        }
        var sans: [GeneralName] = Array(Set(names.filter { !$0.isEmpty })).sorted().map { .dnsName($0) }
        sans += addresses.map { .ipAddress(ASN1OctetString(contentBytes: $0[...])) }
        let extensions = try Certificate.Extensions {
            Critical(isCertificateAuthority ? BasicConstraints.isCertificateAuthority(maxPathLength: nil) : BasicConstraints.notCertificateAuthority)
            Critical(isCertificateAuthority ? KeyUsage(digitalSignature: true, keyCertSign: true) : KeyUsage(digitalSignature: true))
            if isServer { try ExtendedKeyUsage([.serverAuth, .clientAuth]) }
            if !sans.isEmpty { SubjectAlternativeNames(sans) }
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3_600),  // tolerate a client clock a little behind
            notValidAfter: now.addingTimeInterval(Double(validityDays) * 86_400),
            issuer: issuerName,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: issuerKey)
        return (try certificate.serializeAsPEM().pemString + "\n", key.pemRepresentation + "\n")
    }

    /// True when the three files exist and parse, the key is the certificate's, the CA signed
    /// it, and both outlive the renewal window.
    private static func isUsable(_ identity: TLSIdentity, caPath: String, now: Date) -> Bool {
        guard let certificateText = try? String(contentsOfFile: identity.certificatePath, encoding: .utf8),
              let keyText = try? String(contentsOfFile: identity.keyPath, encoding: .utf8),
              let caText = try? String(contentsOfFile: caPath, encoding: .utf8),
              let certificate = try? Certificate(pemEncoded: certificateText),
              let ca = try? Certificate(pemEncoded: caText),
              let key = try? P256.Signing.PrivateKey(pemRepresentation: keyText) else { return false }
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey), certificate.issuer == ca.subject,
              ca.publicKey.isValidSignature(certificate.signature, for: certificate) else { return false }
        let renewal = now.addingTimeInterval(Double(renewWithinDays) * 86_400)
        return certificate.notValidAfter > renewal && ca.notValidAfter > renewal
    }

    /// Writes `text` durably under `path`: created with `permissions` from the start (a key is
    /// never readable by others, not even for a moment), synced, renamed over the old file,
    /// and the directory synced, so a crash leaves the old file or the new one.
    private static func write(_ text: String, to path: String, permissions: Int) throws {
        try DurableFile.replace(path, with: Array(text.utf8), permissions: mode_t(permissions))
    }
}
