import Crypto
import Foundation
import RedCore
import SwiftASN1
import X509

/// The certificate a server presents on its TLS listeners when the operator gives none
/// (spec: protocols §0, "self-signed cert auto-generated next to the data file").
///
/// Files: `<data file>.tls-cert.pem` and `<data file>.tls-key.pem` (mode 0600), an ECDSA
/// P-256 key and a certificate for `localhost`, `127.0.0.1`, `::1` and this machine's host
/// name, valid for 825 days. An existing pair is reused, so clients that pinned it (`ca=` in
/// a connection string, psql's `sslrootcert`) keep working across restarts; a pair that is
/// incomplete, unreadable or expires within 30 days is replaced.
public enum SelfSignedCertificate {
    static let validityDays = 825
    static let renewWithinDays = 30

    /// The paths of the pair next to `dataPath`, made now if needed.
    public static func ensure(nextTo dataPath: String, now: Date = Date()) throws -> TLSIdentity {
        let identity = TLSIdentity(certificatePath: dataPath + ".tls-cert.pem", keyPath: dataPath + ".tls-key.pem")
        if isUsable(identity, now: now) { return identity }
        // Its own CA too: clients pin it as their trust root (BoringSSL, behind NIOSSL, accepts
        // a root only with the CA bit), and it signs nothing else.
        let (certificatePEM, keyPEM) = try make(names: ["localhost", ProcessInfo.processInfo.hostName],
                                                addresses: [[127, 0, 0, 1], [UInt8](repeating: 0, count: 15) + [1]], now: now,
                                                isCertificateAuthority: true, isServer: true)
        try write(keyPEM, to: identity.keyPath, permissions: 0o600)
        try write(certificatePEM, to: identity.certificatePath, permissions: 0o644)
        return identity
    }

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

    /// True when both files exist, parse, and the certificate outlives the renewal window.
    private static func isUsable(_ identity: TLSIdentity, now: Date) -> Bool {
        guard let certificateText = try? String(contentsOfFile: identity.certificatePath, encoding: .utf8),
              let keyText = try? String(contentsOfFile: identity.keyPath, encoding: .utf8),
              let certificate = try? Certificate(pemEncoded: certificateText),
              let key = try? P256.Signing.PrivateKey(pemRepresentation: keyText) else { return false }
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else { return false }
        return certificate.notValidAfter > now.addingTimeInterval(Double(renewWithinDays) * 86_400)
    }

    private static func write(_ text: String, to path: String, permissions: Int) throws {
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: permissions]) else {
            throw RedError(.ioError, "cannot write the self-signed TLS file \(path)")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw RedError(.ioError, "cannot write the self-signed TLS file \(path): \(reason)")
        }
    }
}
