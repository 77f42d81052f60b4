import Crypto
import Foundation

import RedCore

/// The client side of SCRAM-SHA-256 (RFC 5802/7677, no channel binding), as RedWire's
/// handshake uses it: `first()`, then `final(serverFirst:)`, then `verify(serverFinal:)` to
/// check that the server knew the password too.
public struct SCRAMClient: Sendable {
    public let user: String
    let password: String
    private let clientNonce: String
    private var clientFirstBare = ""
    private var expectedServerSignature: [UInt8] = []

    public init(user: String, password: String) {
        self.user = user
        self.password = password
        var generator = SystemRandomNumberGenerator()
        clientNonce = Data((0..<18).map { _ in UInt8.random(in: 0...255, using: &generator) }).base64EncodedString()
    }

    /// client-first-message: `n,,n=<user>,r=<nonce>` (`=` and `,` in the name escaped).
    public mutating func first() -> String {
        let escaped = user.replacingOccurrences(of: "=", with: "=3D").replacingOccurrences(of: ",", with: "=2C")
        clientFirstBare = "n=\(escaped),r=\(clientNonce)"
        return "n,," + clientFirstBare
    }

    /// client-final-message for the server-first-message; throws when the server's nonce does
    /// not extend ours or a field is missing.
    public mutating func final(serverFirst: String) throws -> String {
        var fields: [Character: String] = [:]
        for part in serverFirst.split(separator: ",") where part.count >= 2 {
            fields[part.first!] = String(part.dropFirst(2))
        }
        guard let nonce = fields["r"], let saltText = fields["s"], let salt = Data(base64Encoded: saltText),
              let iterations = Int(fields["i"] ?? ""), (1...1_000_000).contains(iterations), nonce.hasPrefix(clientNonce) else {
            throw RedError(.protocolViolation, "malformed SCRAM server-first message")
        }
        let salted = Self.pbkdf2(Array(password.utf8), salt: Array(salt), iterations: iterations)
        let clientKey = Self.hmac(salted, Array("Client Key".utf8))
        let storedKey = Array(SHA256.hash(data: clientKey))
        let withoutProof = "c=biws,r=\(nonce)"
        let signature = Self.hmac(storedKey, Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8))
        let proof = zip(clientKey, signature).map { $0 ^ $1 }
        let serverKey = Self.hmac(salted, Array("Server Key".utf8))
        expectedServerSignature = Self.hmac(serverKey, Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8))
        return withoutProof + ",p=" + Data(proof).base64EncodedString()
    }

    /// True when `signature` (the base64 `v` of server-final) proves the server knew the password.
    public func verify(serverSignature signature: String) -> Bool {
        guard let bytes = Data(base64Encoded: signature) else { return false }
        return !expectedServerSignature.isEmpty && Array(bytes) == expectedServerSignature
    }

    static func hmac(_ key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    static func pbkdf2(_ password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        var block = hmac(password, salt + [0, 0, 0, 1])
        var result = block
        for _ in 1..<iterations {
            block = hmac(password, block)
            for i in result.indices { result[i] ^= block[i] }
        }
        return result
    }
}
