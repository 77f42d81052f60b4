/// Which surface a connection on the router port speaks, decided from its first bytes
/// (ARCHITECTURE: "Surfaces and default ports").
///
/// | first bytes | surface |
/// |---|---|
/// | `0xFE` (RedWire magic) | RedWire |
/// | `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` (HTTP/2 preface) | gRPC |
/// | an HTTP/1.x method and a space (`GET `, `POST ` …) | HTTP |
/// | `u32` length then the protocol 3.0 code, SSLRequest, GSSENCRequest or CancelRequest | PostgreSQL |
/// | `0x16 0x03` (a TLS handshake record: ClientHello) | TLS, when the router terminates it (`--router-tls on`); then the decrypted bytes are sniffed again |
///
/// Anything else is refused. The decision needs at most `maxBytes` bytes; a prefix that
/// could still become a known protocol asks for more.
enum ProtocolSniffer {
    enum Surface: String, Sendable, Equatable {
        case redwire, grpc, http, postgres, tls
    }

    enum Decision: Equatable {
        case surface(Surface)
        case needMore
        case unknown
    }

    static let maxBytes = 24
    static let http2Preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    static let httpMethods = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "CONNECT"].map { Array($0.utf8) + [0x20] }
    /// PostgreSQL's startup codes: protocol 3.0, SSLRequest, GSSENCRequest, CancelRequest.
    static let postgresCodes: Set<UInt32> = [196_608, 80_877_103, 80_877_104, 80_877_102]

    static func decide(_ bytes: some Collection<UInt8>) -> Decision {
        let prefix = Array(bytes.prefix(maxBytes))
        guard let first = prefix.first else { return .needMore }
        if first == 0xFE { return .surface(.redwire) }
        if first == 0x16 {
            guard prefix.count >= 2 else { return .needMore }
            return prefix[1] == 0x03 ? .surface(.tls) : .unknown
        }
        if first == 0x00 {
            guard prefix.count >= 8 else { return .needMore }
            let length = prefix[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let code = prefix[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            return (8...10_000).contains(length) && postgresCodes.contains(code) ? .surface(.postgres) : .unknown
        }
        if let decision = match(prefix, http2Preface, as: .grpc) { return decision }
        var stillPossible = false
        for method in httpMethods {
            switch match(prefix, method, as: .http) {
            case .surface(let s)?: return .surface(s)
            case .needMore?: stillPossible = true
            default: break
            }
        }
        return stillPossible ? .needMore : .unknown
    }

    /// `.surface` when `bytes` starts with `pattern`, `.needMore` when it is a proper prefix of it, nil otherwise.
    private static func match(_ bytes: [UInt8], _ pattern: [UInt8], as surface: Surface) -> Decision? {
        let n = min(bytes.count, pattern.count)
        guard bytes[0..<n].elementsEqual(pattern[0..<n]) else { return nil }
        return n == pattern.count ? .surface(surface) : .needMore
    }
}
