import RedCore

/// What a replica asks of its primary (spec: replication-mcp-ai-ops §1.4): commit records
/// after an LSN, acknowledgements, and a snapshot to start from. Served over gRPC
/// (`GRPCReplicationSource`); `ReplicationPrimary` answers the same calls in process, which
/// is how the apply logic is tested without a network.
public protocol ReplicationSource: Sendable {
    func pull(_ request: PullRequest) async throws -> PulledRecords
    func ack(replicaID: String, appliedLSN: UInt64, durableLSN: UInt64) async throws
    /// Streams a snapshot for `replicaID`: `receive` gets every chunk in order, the first
    /// naming the primary, the last with `done`.
    func snapshot(replicaID: String, _ receive: @Sendable (SnapshotChunk) async throws -> Void) async throws
}

public struct PullRequest: Sendable, Equatable {
    public var sinceLSN: UInt64
    /// Continues a record returned in parts: bytes of its payload already received.
    public var offset: Int
    public var maxCount: Int
    public var maxBytes: Int
    public var replicaID: String?
    /// Ours: with nothing new, how long the primary may wait for a commit before answering
    /// (a long poll), so a caught-up replica sees a commit within milliseconds.
    public var waitMilliseconds: Int
    /// Ours: the primary this replica copied; another primary answers no records.
    public var primaryID: String?
    /// Ours: where clients reach this replica (`--advertise-addr`), for the primary's topology.
    public var advertiseAddress: String?
    public var region: String?

    /// Longest advertised address or region accepted.
    public static let maxAdvertisedBytes = 255

    public static let defaultMaxCount = 1_000
    public static let maxWaitMilliseconds = 10_000
    /// Payload bytes per reply: hex doubles it, and the reply must stay a modest gRPC message.
    public static let defaultMaxBytes = 4 << 20

    public init(sinceLSN: UInt64, offset: Int = 0, maxCount: Int = PullRequest.defaultMaxCount,
                maxBytes: Int = PullRequest.defaultMaxBytes, replicaID: String? = nil, waitMilliseconds: Int = 0, primaryID: String? = nil) {
        self.sinceLSN = sinceLSN
        self.primaryID = primaryID
        self.waitMilliseconds = waitMilliseconds
        self.offset = offset
        self.maxCount = maxCount
        self.maxBytes = maxBytes
        self.replicaID = replicaID
    }

    /// `{"since_lsn","offset"?,"max_count"?,"max_bytes"?,"replica_id"?,"wait_ms"?}`, bounded.
    public init(json: JSONValue) throws {
        func integer(_ name: String, default fallback: Int64, range: ClosedRange<Int64>) throws -> Int64 {
            switch json[name] {
            case nil, .null?: return fallback
            case .integer(let n)? where range.contains(n): return n
            default: throw RedError(.invalidArgument, "\(name) must be an integer in \(range.lowerBound)…\(range.upperBound)")
            }
        }
        guard case .object = json else { throw RedError(.invalidArgument, "PullWalRecords needs a JSON object") }
        sinceLSN = UInt64(try integer("since_lsn", default: 0, range: 0...Int64.max))
        offset = Int(try integer("offset", default: 0, range: 0...Int64(Limits.maxTransactionBytes)))
        maxCount = Int(try integer("max_count", default: Int64(Self.defaultMaxCount), range: 1...100_000))
        maxBytes = Int(try integer("max_bytes", default: Int64(Self.defaultMaxBytes), range: 1...(64 << 20)))
        waitMilliseconds = Int(try integer("wait_ms", default: 0, range: 0...Int64(Self.maxWaitMilliseconds)))
        switch json["primary_id"] {
        case nil, .null?: primaryID = nil
        case .string(let id)? where id.utf8.count <= 128: primaryID = id
        default: throw RedError(.invalidArgument, "primary_id must be a string of at most 128 bytes")
        }
        switch json["replica_id"] {
        case nil, .null?: replicaID = nil
        case .string(let id)? where !id.isEmpty && id.utf8.count <= 128: replicaID = id
        default: throw RedError(.invalidArgument, "replica_id must be a string of 1 to 128 bytes")
        }
        for (field, name) in [("advertise_addr", "advertise_addr"), ("region", "region")] {
            switch json[field] {
            case nil, .null?: break
            case .string(let s)? where s.utf8.count <= Self.maxAdvertisedBytes:
                if field == "region" { region = s } else { advertiseAddress = s }
            default: throw RedError(.invalidArgument, "\(name) must be a string of at most \(Self.maxAdvertisedBytes) bytes")
            }
        }
    }

    public var json: JSONValue {
        var members: [(String, JSONValue)] = [("since_lsn", .integer(Int64(sinceLSN))), ("offset", .integer(Int64(offset))),
                                              ("max_count", .integer(Int64(maxCount))), ("max_bytes", .integer(Int64(maxBytes)))]
        if let replicaID { members.append(("replica_id", .string(replicaID))) }
        if waitMilliseconds > 0 { members.append(("wait_ms", .integer(Int64(waitMilliseconds)))) }
        if let primaryID { members.append(("primary_id", .string(primaryID))) }
        if let advertiseAddress { members.append(("advertise_addr", .string(advertiseAddress))) }
        if let region { members.append(("region", .string(region))) }
        return .object(members)
    }
}

/// One commit record, or a part of one, named by the LSN its record ends at.
public struct PulledRecord: Sendable, Equatable {
    public var lsn: UInt64
    public var data: [UInt8]
    /// Parts only: where `data` starts in the payload, the payload's length and its CRC32.
    public var offset: Int
    public var total: Int
    public var crc: UInt32?

    public init(lsn: UInt64, data: [UInt8], offset: Int = 0, total: Int? = nil, crc: UInt32? = nil) {
        self.lsn = lsn
        self.data = data
        self.offset = offset
        self.total = total ?? data.count
        self.crc = crc
    }

    public var isWhole: Bool { offset == 0 && data.count == total }
}

public struct PulledRecords: Sendable, Equatable {
    public var records: [PulledRecord]
    /// The primary's readable log end.
    public var currentLSN: UInt64
    /// The oldest LSN it can still serve: a replica behind it has a gap.
    public var oldestLSN: UInt64
    /// The primary's id (ours): a replica follows only the primary it copied.
    public var primaryID: String?

    public init(records: [PulledRecord], currentLSN: UInt64, oldestLSN: UInt64, primaryID: String? = nil) {
        self.records = records
        self.currentLSN = currentLSN
        self.oldestLSN = oldestLSN
        self.primaryID = primaryID
    }

    /// `{"records":[{"lsn","data"(hex),"offset"?,"total"?,"crc"?}],"current_lsn","oldest_available_lsn","primary_id"?}`.
    public var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("records", .array(records.map { record in
                var members: [(String, JSONValue)] = [("lsn", .integer(Int64(record.lsn))), ("data", .string(Hex.encode(record.data)))]
                if !record.isWhole {
                    members += [("offset", .integer(Int64(record.offset))), ("total", .integer(Int64(record.total))),
                                ("crc", .integer(Int64(record.crc ?? 0)))]
                }
                return .object(members)
            })),
            ("current_lsn", .integer(Int64(currentLSN))), ("oldest_available_lsn", .integer(Int64(oldestLSN))),
        ]
        if let primaryID { members.append(("primary_id", .string(primaryID))) }
        return .object(members)
    }

    public init(json: JSONValue) throws {
        func number(_ value: JSONValue?, _ what: String) throws -> Int64 {
            guard case .integer(let n)? = value, n >= 0 else { throw RedError(.protocolViolation, "PullWalRecords reply: bad \(what)") }
            return n
        }
        guard case .array(let items)? = json["records"] else { throw RedError(.protocolViolation, "PullWalRecords reply has no records") }
        records = try items.map { item in
            guard case .string(let hex)? = item["data"], let data = Hex.decode(hex) else {
                throw RedError(.protocolViolation, "PullWalRecords reply: a record's data is not hex")
            }
            let lsn = UInt64(try number(item["lsn"], "lsn"))
            guard item["total"] != nil else { return PulledRecord(lsn: lsn, data: data) }
            return PulledRecord(lsn: lsn, data: data, offset: Int(try number(item["offset"], "offset")), total: Int(try number(item["total"], "total")),
                                crc: UInt32(truncatingIfNeeded: try number(item["crc"], "crc")))
        }
        currentLSN = UInt64(try number(json["current_lsn"], "current_lsn"))
        oldestLSN = UInt64(try number(json["oldest_available_lsn"], "oldest_available_lsn"))
        if case .string(let id)? = json["primary_id"] { primaryID = id }
    }
}

/// Hex text, as the spec's replication payloads carry bytes.
public enum Hex {
    static let digits = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8](repeating: 0, count: bytes.count * 2)
        for (i, b) in bytes.enumerated() {
            out[2 * i] = digits[Int(b >> 4)]
            out[2 * i + 1] = digits[Int(b & 15)]
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let high = nibble(utf8[i]), let low = nibble(utf8[i + 1]) else { return nil }
            out.append(high << 4 | low)
            i += 2
        }
        return out
    }
}
