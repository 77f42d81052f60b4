import Crypto
import Foundation
import RedCore

/// What the server keeps of a password: the SCRAM-SHA-256 verifier of RFC 5802/7677
/// (salt, iteration count, StoredKey, ServerKey), never the password itself.
///
/// Stored as PostgreSQL stores it in `pg_authid.rolpassword`:
/// `SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>`.
/// The verifier answers both kinds of login: a SCRAM exchange (PG-wire SASL, RedWire
/// `scram-sha-256`) proves knowledge of the password against StoredKey without sending it,
/// and a plain password (HTTP and gRPC login, PG cleartext) is checked by deriving StoredKey
/// from it again. Upstream keeps an Argon2id hash beside the verifier; this one value
/// serves both purposes, as PostgreSQL's does, and swift-crypto has no Argon2.
struct SCRAMVerifier: Sendable, Equatable {
    /// The iteration count of new verifiers (the spec's 16,384); the least accepted is 4,096.
    static let defaultIterations = 16_384
    static let minimumIterations = 4_096
    /// Passwords are bounded so that hashing one is bounded too.
    static let maxPasswordBytes = 1_024

    let salt: [UInt8]
    let iterations: Int
    let storedKey: [UInt8]
    let serverKey: [UInt8]

    init(salt: [UInt8], iterations: Int, storedKey: [UInt8], serverKey: [UInt8]) {
        self.salt = salt
        self.iterations = iterations
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// Derives the verifier of `password` with a fresh random 16-byte salt (or `salt`, for tests).
    init(password: String, iterations: Int = SCRAMVerifier.defaultIterations, salt: [UInt8]? = nil) {
        let salt = salt ?? Self.randomBytes(16)
        let salted = Self.pbkdf2(password: Array(password.utf8), salt: salt, iterations: iterations)
        self.init(salt: salt, iterations: iterations,
                  storedKey: Array(SHA256.hash(data: Self.hmac(salted, Array("Client Key".utf8)))),
                  serverKey: Self.hmac(salted, Array("Server Key".utf8)))
    }

    /// A verifier no password matches, for unknown users: the exchange runs to the end and
    /// fails there, so neither the messages nor their timing reveal which names exist.
    static func unmatchable(iterations: Int = SCRAMVerifier.defaultIterations) -> SCRAMVerifier {
        SCRAMVerifier(salt: randomBytes(16), iterations: iterations, storedKey: randomBytes(32), serverKey: randomBytes(32))
    }

    /// Checks a plain password in constant time for a given verifier.
    func matches(password: String) -> Bool {
        guard password.utf8.count <= Self.maxPasswordBytes else { return false }
        let candidate = SCRAMVerifier(password: password, iterations: iterations, salt: salt)
        return Self.constantTimeEqual(candidate.storedKey, storedKey)
    }

    /// Rejects passwords that cannot be stored: empty or longer than `maxPasswordBytes`.
    static func validate(password: String) throws {
        guard !password.isEmpty else { throw RedError(.invalidArgument, "the password must not be empty") }
        guard password.utf8.count <= maxPasswordBytes else {
            throw RedError(.invalidArgument, "the password is longer than \(maxPasswordBytes) bytes")
        }
    }

    var encoded: String {
        "SCRAM-SHA-256$\(iterations):\(Data(salt).base64EncodedString())$\(Data(storedKey).base64EncodedString()):\(Data(serverKey).base64EncodedString())"
    }

    init(encoded text: String) throws {
        let parts = text.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "SCRAM-SHA-256" else { throw RedError(.dataCorrupted, "a stored SCRAM verifier does not decode") }
        let head = parts[1].split(separator: ":"), keys = parts[2].split(separator: ":")
        guard head.count == 2, keys.count == 2, let iterations = Int(head[0]), iterations >= 1,
              let salt = Data(base64Encoded: String(head[1])), let stored = Data(base64Encoded: String(keys[0])),
              let server = Data(base64Encoded: String(keys[1])), stored.count == 32, server.count == 32 else {
            throw RedError(.dataCorrupted, "a stored SCRAM verifier does not decode")
        }
        self.init(salt: Array(salt), iterations: iterations, storedKey: Array(stored), serverKey: Array(server))
    }

    // MARK: Primitives

    static func hmac(_ key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// PBKDF2-HMAC-SHA256 with one output block (32 bytes), which is all SCRAM-SHA-256 needs.
    static func pbkdf2(password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        let key = SymmetricKey(data: password)
        var u = Array(HMAC<SHA256>.authenticationCode(for: salt + [0, 0, 0, 1], using: key))
        var result = u
        for _ in 1..<max(1, iterations) {
            u = Array(HMAC<SHA256>.authenticationCode(for: u, using: key))
            for i in result.indices { result[i] ^= u[i] }
        }
        return result
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// Compares without an early exit, so timing does not reveal how much matched.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<min(a.count, b.count) { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
