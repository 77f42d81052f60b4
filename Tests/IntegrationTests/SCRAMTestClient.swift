import Crypto
import Foundation

/// The client side of SCRAM-SHA-256 (RFC 5802/7677), for tests of surfaces that speak it
/// without a third-party client (RedWire).
struct SCRAMTestClient {
    let user: String
    let password: String
    private let clientNonce = Data((0..<18).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    private var clientFirstBare = ""

    init(user: String, password: String) { self.user = user; self.password = password }

    mutating func first() -> String {
        clientFirstBare = "n=\(user),r=\(clientNonce)"
        return "n,," + clientFirstBare
    }

    func final(serverFirst: String) throws -> String {
        var fields: [Character: String] = [:]
        for part in serverFirst.split(separator: ",") where part.count >= 2 {
            fields[part.first!] = String(part.dropFirst(2))
        }
        guard let nonce = fields["r"], let saltText = fields["s"], let salt = Data(base64Encoded: saltText),
              let iterations = Int(fields["i"] ?? "") else { throw POSIXError(.EPROTO) }
        let salted = Self.pbkdf2(Array(password.utf8), salt: Array(salt), iterations: iterations)
        let clientKey = Self.hmac(salted, Array("Client Key".utf8))
        let storedKey = Array(SHA256.hash(data: clientKey))
        let withoutProof = "c=biws,r=\(nonce)"
        let signature = Self.hmac(storedKey, Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8))
        let proof = zip(clientKey, signature).map { $0 ^ $1 }
        return withoutProof + ",p=" + Data(proof).base64EncodedString()
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
