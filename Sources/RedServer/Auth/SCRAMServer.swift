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
/// The password itself never crosses the wire, and the server holds only its verifier
/// (`SCRAMVerifier`). An unknown user runs the same exchange against a random verifier,
/// so the reply timing and messages do not reveal which user names exist. PostgreSQL also ignores the SCRAM user name
/// (the startup packet's user is authoritative); so do we.
struct SCRAMServer {
    static let mechanism = "SCRAM-SHA-256"
    /// Longest SCRAM message accepted (nonces and proofs are a few dozen bytes).
    static let maxMessageBytes = 4_096

    private let verifier: SCRAMVerifier
    private let fixedServerNonce: String?
    private var clientFirstBare = ""
    private var serverFirst = ""
    private var nonce = ""

    /// `verifier` is the user's, or nil for an unknown user (the exchange then fails at the
    /// proof). `serverNonce` is fixed only by tests (RFC 7677's worked example).
    init(verifier: SCRAMVerifier?, serverNonce: String? = nil) {
        self.verifier = verifier ?? .unmatchable()
        self.fixedServerNonce = serverNonce
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
        let serverNonce = fixedServerNonce ?? Data(SCRAMVerifier.randomBytes(18)).base64EncodedString()
        nonce = clientNonce + serverNonce
        serverFirst = "r=\(nonce),s=\(Data(verifier.salt).base64EncodedString()),i=\(verifier.iterations)"
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
        let clientSignature = SCRAMVerifier.hmac(verifier.storedKey, authMessage)
        let recoveredClientKey = zip(proof, clientSignature).map { $0 ^ $1 }
        guard SCRAMVerifier.constantTimeEqual(Array(SHA256.hash(data: recoveredClientKey)), verifier.storedKey) else { return nil }
        return "v=" + Data(SCRAMVerifier.hmac(verifier.serverKey, authMessage)).base64EncodedString()
    }

    static func attribute(_ name: Character, in message: String) -> String? {
        for part in message.split(separator: ",") where part.first == name && part.dropFirst().first == "=" {
            return String(part.dropFirst(2))
        }
        return nil
    }
}
