import Foundation
import RedCore

/// The topology blob HelloAck carries (base64) and gRPC's `TopologyReply.topology_bytes`
/// (spec protocols §1.5): `u8 tag = 0x01`, `u32 body_len`, then `u64 epoch`, the primary's
/// address and region, and the replicas. Strings are `u32 len` + UTF-8; all little-endian.
public struct Topology: Sendable, Equatable {
    public struct Replica: Sendable, Equatable {
        public var address: String
        public var region: String
        public var healthy: Bool
        public var lagMilliseconds: UInt32
        public var lastAppliedLSN: UInt64
        public init(address: String, region: String, healthy: Bool, lagMilliseconds: UInt32, lastAppliedLSN: UInt64) {
            self.address = address; self.region = region; self.healthy = healthy
            self.lagMilliseconds = lagMilliseconds; self.lastAppliedLSN = lastAppliedLSN
        }
    }

    public var epoch: UInt64
    public var primaryAddress: String
    public var primaryRegion: String
    public var replicas: [Replica]

    public init(epoch: UInt64 = 0, primaryAddress: String = "", primaryRegion: String = "local", replicas: [Replica] = []) {
        self.epoch = epoch; self.primaryAddress = primaryAddress; self.primaryRegion = primaryRegion; self.replicas = replicas
    }

    /// A standalone server's topology (what an unauthenticated HelloAck shows).
    public static let standalone = Topology()

    public func encoded() -> [UInt8] {
        var body = ByteWriter()
        body.u64(epoch)
        body.text32(primaryAddress)
        body.text32(primaryRegion)
        body.u32(UInt32(replicas.count))
        for replica in replicas {
            body.text32(replica.address)
            body.text32(replica.region)
            body.u8(replica.healthy ? 1 : 0)
            body.u32(replica.lagMilliseconds)
            body.u64(replica.lastAppliedLSN)
        }
        var writer = ByteWriter(capacity: 5 + body.bytes.count)
        writer.u8(0x01)
        writer.u32(UInt32(body.bytes.count))
        writer.append(body.bytes)
        return writer.bytes
    }

    public var base64: String { Data(encoded()).base64EncodedString() }

    /// Reads the first blob tagged 0x01, skipping blobs with unknown (newer) tags by length.
    public static func decode(_ bytes: [UInt8]) throws -> Topology {
        var reader = WireReader(bytes)
        while true {
            let tag = try reader.u8("topology tag")
            let length = Int(try reader.u32("topology body_len"))
            let body = try reader.bytes(length, "topology body")
            guard tag == 0x01 else { continue }
            var b = WireReader(body)
            var topology = Topology(epoch: try b.u64("epoch"), primaryAddress: try b.text32("primary.addr"),
                                    primaryRegion: try b.text32("primary.region"))
            let count = Int(try b.u32("replica_count"))
            guard count <= b.remaining / 25 else { throw RedError(.protocolViolation, "truncated replicas") }
            for _ in 0..<count {
                topology.replicas.append(Replica(address: try b.text32("replica.addr"), region: try b.text32("replica.region"),
                                                 healthy: try b.u8("healthy") != 0, lagMilliseconds: try b.u32("lag_ms"),
                                                 lastAppliedLSN: try b.u64("last_applied_lsn")))
            }
            return topology
        }
    }
}
