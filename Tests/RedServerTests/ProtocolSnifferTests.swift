import Testing
@testable import RedServer

/// The router's first-bytes decision.
struct ProtocolSnifferTests {
    @Test func knownPrefixesPickTheirSurface() {
        let startup: [UInt8] = [0, 0, 0, 41, 0, 3, 0, 0]
        let sslRequest: [UInt8] = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]
        let cancel: [UInt8] = [0, 0, 0, 16, 0x04, 0xD2, 0x16, 0x2E]
        let cases: [([UInt8], ProtocolSniffer.Decision)] = [
            ([0xFE], .surface(.redwire)), ([0xFE, 0x01], .surface(.redwire)),
            (startup, .surface(.postgres)), (sslRequest, .surface(.postgres)), (cancel, .surface(.postgres)),
            (Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8), .surface(.grpc)),
            (Array("GET /health HTTP/1.1\r\n".utf8), .surface(.http)), (Array("POST ".utf8), .surface(.http)),
            (Array("DELETE /x".utf8), .surface(.http)), (Array("OPTIONS *".utf8), .surface(.http)),
            ([0x16, 0x03, 0x01, 0x02, 0x00], .surface(.tls)), ([0x16, 0x03], .surface(.tls)),  // a ClientHello record
        ]
        for (bytes, expected) in cases { #expect(ProtocolSniffer.decide(bytes) == expected, "\(bytes)") }
    }

    @Test func prefixesWaitAndStrangersAreRefused() {
        for partial in ["", "G", "GE", "GET", "PO", "PRI * HTTP/2", "DELE"] {
            #expect(ProtocolSniffer.decide(Array(partial.utf8)) == .needMore, "\(partial)")
        }
        #expect(ProtocolSniffer.decide([0, 0, 0]) == .needMore)
        #expect(ProtocolSniffer.decide([0x16]) == .needMore)
        #expect(ProtocolSniffer.decide([0x16, 0x02]) == .unknown)  // no TLS version 2.x: not a ClientHello
        for stranger in ["get / HTTP/1.1", "GETX", "HELLO", "PRX"] {
            #expect(ProtocolSniffer.decide(Array(stranger.utf8)) == .unknown, "\(stranger)")
        }
        #expect(ProtocolSniffer.decide([0, 0, 0, 8, 1, 2, 3, 4]) == .unknown)       // unknown PostgreSQL code
        #expect(ProtocolSniffer.decide([0, 0xFF, 0, 8, 0, 3, 0, 0]) == .unknown)    // absurd length
    }
}
