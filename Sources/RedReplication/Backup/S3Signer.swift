import Crypto
import Foundation

/// AWS Signature Version 4 for S3 requests (header form): the canonical request, the string to
/// sign and the derived signing key, as AWS documents them. `S3SignerTests` checks it against
/// AWS's published "GET Object" example.
struct S3Signer: Sendable {
    let accessKey: String
    let secretKey: String
    let region: String
    let service = "s3"

    static let emptyPayloadHash = hex(SHA256.hash(data: [UInt8]()))
    static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// The `Authorization` header for a request whose `headers` (host, x-amz-date and
    /// x-amz-content-sha256 among them) are all signed. `path` is already URI-encoded.
    func authorization(method: String, path: String, query: [(String, String)], headers: [(String, String)],
                       payloadHash: String, amzDate: String) -> String {
        let day = String(amzDate.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let canonicalHeaders: [(name: String, value: String)] = headers
            .map { (name: $0.0.lowercased(), value: $0.1.trimmingCharacters(in: .whitespaces)) }
            .sorted { $0.name < $1.name }
        let signedHeaders = canonicalHeaders.map(\.name).joined(separator: ";")
        let encodedQuery: [(key: String, value: String)] = query.map { (key: Self.encode($0.0, keepSlash: false), value: Self.encode($0.1, keepSlash: false)) }
        let sortedQuery = encodedQuery.sorted { $0.key == $1.key ? $0.value < $1.value : $0.key < $1.key }
        let canonicalQuery = sortedQuery.map { $0.key + "=" + $0.value }.joined(separator: "&")
        let headerLines: String = canonicalHeaders.map { $0.name + ":" + $0.value + "\n" }.joined()
        let canonicalRequest = [method, path, canonicalQuery, headerLines, signedHeaders, payloadHash].joined(separator: "\n")
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Self.hex(SHA256.hash(data: Array(canonicalRequest.utf8)))].joined(separator: "\n")
        var key = SymmetricKey(data: Array("AWS4\(secretKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
        return "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope),SignedHeaders=\(signedHeaders),Signature=\(signature)"
    }

    /// `20130524T000000Z` for `date`, in UTC.
    static func amzDate(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    /// RFC 3986 percent-encoding of everything but the unreserved characters (and `/` in paths).
    /// SigV4 encodes paths and query values as RFC 3986 does.
    static func encode(_ text: String, keepSlash: Bool) -> String { BlobHTTPClient.encode(text, keepSlash: keepSlash) }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
