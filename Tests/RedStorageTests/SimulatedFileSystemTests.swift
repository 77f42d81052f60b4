import RedCore
import Testing
@testable import RedStorage

@Suite struct SimulatedFileSystemTests {
    @Test func syncedDataSurvivesEveryCrash() throws {
        let fs = SimulatedFileSystem()
        let file = try fs.openFile("/f", create: true)
        try fs.syncDirectory("/")
        try file.write([1, 2, 3], at: 0)
        try file.sync()
        for seed in 0..<50 as Range<UInt64> {
            #expect(fs.crash(seed: seed).contents("/f") == [1, 2, 3])
        }
    }

    @Test func unsyncedWritesAreKeptDroppedOrTornDependingOnTheSeed() throws {
        let fs = SimulatedFileSystem()
        let file = try fs.openFile("/f", create: true)
        try fs.syncDirectory("/")
        try file.write([UInt8](repeating: 1, count: 2048), at: 0)
        try file.sync()
        try file.write([UInt8](repeating: 2, count: 2048), at: 0)
        var outcomes = Set<[UInt8]>()
        for seed in 0..<200 as Range<UInt64> {
            let after = fs.crash(seed: seed).contents("/f")!
            #expect(after.count == 2048)
            outcomes.insert(stride(from: 0, to: 2048, by: 512).map { after[$0] })
        }
        #expect(outcomes.contains([1, 1, 1, 1]))  // dropped
        #expect(outcomes.contains([2, 2, 2, 2]))  // kept
        #expect(outcomes.count > 2)               // torn at sector granularity
        #expect(try fs.crash(seed: 0).openFile("/f", create: false).readUpTo(10, at: 0).count == 10)
    }

    @Test func filesCreatedWithoutADirectorySyncMayVanish() throws {
        let fs = SimulatedFileSystem()
        let file = try fs.openFile("/new", create: true)
        try file.write([9], at: 0)
        try file.sync()
        let survivors = (0..<40 as Range<UInt64>).filter { fs.crash(seed: $0).fileExists("/new") }.count
        #expect(survivors > 0 && survivors < 40)
    }

    @Test func failAfterFreezesTheDiskAndEveryLaterCallThrows() throws {
        let fs = SimulatedFileSystem()
        let file = try fs.openFile("/f", create: true)
        fs.failAfter(operations: 1)
        try file.write([1], at: 0)
        #expect(throws: RedError.self) { try file.write([2], at: 1) }
        #expect(throws: RedError.self) { try file.sync() }
        #expect(fs.isCrashed)
        #expect(fs.contents("/f") == [1])
    }

    @Test func exclusiveLockIsHeldUntilClose() throws {
        let fs = SimulatedFileSystem()
        let a = try fs.openFile("/db", create: true)
        try a.lockExclusive()
        let b = try fs.openFile("/db", create: false)
        #expect(throws: RedError.self) { try b.lockExclusive() }
        try a.close()
        try b.lockExclusive()
    }
}
