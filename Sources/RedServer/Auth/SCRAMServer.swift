import Crypto
import Foundation
import RedCore

/// The server side of SCRAM-SHA-256 (RFC 5802 with RFC 7677's hash), as
/// PostgreSQL runs it inside SASL authentication messages.
///
/// Exchange:
/// 1. client-first `n,,n=<ignored>,r=<client nonce>` (channel binding is not
///    offered, so only the `n` and `y` GS2 flags are accepted);
/// 2. server-first `r=<client nonce><server nonce>,s=<base64 salt>,i=<iterations>`;
/// 3. client-final `c=<base64 GS2 header>,r=<nonce>,p=<base64 ClientProof>`;
///    the proof is checked against StoredKey = H(HMAC(SaltedPassword, "Client Key"));
/// 4. server-final `v=<base64 ServerSignature>` proves the server knew the password too.
///
/// The password itself never crosses the wire. An unknown user runs the same
/// exchange against a random secret, so the reply timing and messages do not
/// reveal which user names exist. PostgreSQL also ignores the SCRAM user name
/// (the startup packet's user is authoritative); so do we.
struct SCRAMServer {
    static let mechanism = "SCRAM-SHA-256"
    static let iterations = 4_096
    /// Longest SCRAM message accepted (nonces and proofs are a few dozen bytes).
    static let maxMessageBytes = 4_096

    private let saltedPassword: [UInt8]
    private let salt: [UInt8]
    private let iterations: Int
    private let fixedServerNonce: String?
    private var clientFirstBare = ""
    private var serverFirst = ""
    private var nonce = ""

    /// `salt`, `serverNonce` and `iterations` are fixed only by tests (RFC 7677's worked example).
    init(password: String?, salt: [UInt8]? = nil, serverNonce: String? = nil, iterations: Int = SCRAMServer.iterations) {
        let salt = salt ?? (0..<16).map { _ in UInt8.random(in: 0...255) }
        self.salt = salt
        self.iterations = iterations
        self.fixedServerNonce = serverNonce
        let secret = password ?? UUID().uuidString + UUID().uuidString
        saltedPassword = Self.pbkdf2(password: Array(secret.utf8), salt: salt, iterations: iterations)
    }

    /// Handles client-first; returns server-first.
    mutating func receiveClientFirst(_ message: String) throws -> String {
        guard message.utf8.count <= Self.maxMessageBytes else { throw RedError(.protocolViolation, "SCRAM message too long") }
        let parts = message.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw RedError(.protocolViolation, "malformed SCRAM client-first-message") }
        switch parts[0] {
        case "n", "y": break
        default: throw RedError(.protocolViolation, "SCRAM channel binding is not supported (no TLS)")
        }
        clientFirstBare = String(parts[2])
        guard let clientNonce = Self.attribute("r", in: clientFirstBare), !clientNonce.isEmpty else {
            throw RedError(.protocolViolation, "SCRAM client-first-message has no nonce")
        }
        let serverNonce = fixedServerNonce ?? Data((0..<18).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        nonce = clientNonce + serverNonce
        serverFirst = "r=\(nonce),s=\(Data(salt).base64EncodedString()),i=\(iterations)"
        return serverFirst
    }

    /// Handles client-final; returns server-final, or nil when the proof is wrong.
    func receiveClientFinal(_ message: String) throws -> String? {
        guard message.utf8.count <= Self.maxMessageBytes else { throw RedError(.protocolViolation, "SCRAM message too long") }
        guard let proofRange = message.range(of: ",p=") else { throw RedError(.protocolViolation, "SCRAM client-final-message has no proof") }
        let withoutProof = String(message[..<proofRange.lowerBound])
        guard Self.attribute("r", in: withoutProof) == nonce,
              let proof = Data(base64Encoded: String(message[proofRange.upperBound...])), proof.count == SHA256.byteCount else {
            return nil
        }
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        let clientKey = Self.hmac(saltedPassword, Array("Client Key".utf8))
        let storedKey = Array(SHA256.hash(data: clientKey))
        let clientSignature = Self.hmac(storedKey, authMessage)
        let recoveredClientKey = zip(proof, clientSignature).map { $0 ^ $1 }
        guard Self.constantTimeEqual(Array(SHA256.hash(data: recoveredClientKey)), storedKey) else { return nil }
        let serverKey = Self.hmac(saltedPassword, Array("Server Key".utf8))
        return "v=" + Data(Self.hmac(serverKey, authMessage)).base64EncodedString()
    }

    static func attribute(_ name: Character, in message: String) -> String? {
        for part in message.split(separator: ",") where part.first == name && part.dropFirst().first == "=" {
            return String(part.dropFirst(2))
        }
        return nil
    }

    static func hmac(_ key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// PBKDF2-HMAC-SHA256 with one output block (32 bytes), which is all SCRAM-SHA-256 needs.
    static func pbkdf2(password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        let key = SymmetricKey(data: password)
        var u = Array(HMAC<SHA256>.authenticationCode(for: salt + [0, 0, 0, 1], using: key))
        var result = u
        for _ in 1..<iterations {
            u = Array(HMAC<SHA256>.authenticationCode(for: u, using: key))
            for i in result.indices { result[i] ^= u[i] }
        }
        return result
    }

    /// Compares without an early exit, so timing does not reveal how much matched.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<min(a.count, b.count) { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
