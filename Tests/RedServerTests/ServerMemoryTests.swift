import Testing
@testable import RedServer

@Suite struct ServerMemoryTests {
    let gib: UInt64 = 1 << 30

    @Test func aQuarterOfTheMemoryOrOfTheContainersLimit() {
        #expect(ServerMemory.defaultCacheBytes(physicalBytes: 16 * gib, limitBytes: nil) == 4 << 30)
        #expect(ServerMemory.defaultCacheBytes(physicalBytes: 16 * gib, limitBytes: 2 * gib) == 512 << 20)
        #expect(ServerMemory.defaultCacheBytes(physicalBytes: 2 * gib, limitBytes: 16 * gib) == 512 << 20)
    }

    @Test func neverBelowTheEmbeddedDefault() {
        #expect(ServerMemory.defaultCacheBytes(physicalBytes: 128 << 20, limitBytes: nil) == 64 << 20)
        #expect(ServerMemory.defaultCacheBytes(physicalBytes: 0, limitBytes: nil) == 64 << 20)  // sysconf failed
        #expect(ServerMemory.defaultCacheBytes(physicalBytes: 16 * gib, limitBytes: 100 << 20) == 64 << 20)
    }

    @Test func cgroupLimitFiles() {
        #expect(ServerMemory.parseLimit("max\n") == nil)  // v2, no limit
        #expect(ServerMemory.parseLimit("9223372036854771712\n") == nil)  // v1, no limit
        #expect(ServerMemory.parseLimit("1073741824\n") == 1 << 30)
        #expect(ServerMemory.parseLimit("") == nil)
        #expect(ServerMemory.parseLimit("0") == nil)
    }
}
