import Foundation
import RedCore
import Testing
@testable import RedStorage

@Suite struct PosixFileSystemTests {
    func temporaryPath() throws -> String {
        let dir = NSTemporaryDirectory() + "reddb-posix-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func readsWritesTruncatesAndSyncs() throws {
        let dir = try temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fs = PosixFileSystem()
        let file = try fs.openFile(dir + "/f", create: true)
        try file.write([1, 2, 3, 4], at: 4096)
        try file.sync()
        #expect(try file.size() == 4100)
        #expect(try file.readUpTo(10, at: 4096) == [1, 2, 3, 4])
        try file.truncate(to: 4098)
        #expect(try file.readUpTo(10, at: 4096) == [1, 2])
        #expect(throws: RedError.self) { _ = try file.readExactly(10, at: 4096) }
        try fs.syncDirectory(dir)
        #expect(try fs.listDirectory(dir) == ["f"])
        try fs.removeFile(dir + "/f")
        #expect(!fs.fileExists(dir + "/f"))
    }

    @Test func aSecondOpenOfALockedDatabaseGetsAClearError() throws {
        let dir = try temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/data.rdb"
        let first = try PagedStore.open(path: path, fileSystem: PosixFileSystem(), cacheBytes: 1 << 20, mayInitialize: true)
        let error = #expect(throws: RedError.self) {
            _ = try PagedStore.open(path: path, fileSystem: PosixFileSystem(), cacheBytes: 1 << 20, mayInitialize: true)
        }
        #expect(error?.code == .databaseLocked)
        #expect(error?.message.contains("locked by another process") == true)
        try first.close()
        _ = try PagedStore.open(path: path, fileSystem: PosixFileSystem(), cacheBytes: 1 << 20, mayInitialize: true)
    }

    @Test func missingFilesAreIOErrors() {
        let error = #expect(throws: RedError.self) { _ = try PosixFileSystem().openFile("/nonexistent/dir/x", create: true) }
        #expect(error?.code == .ioError)
        #expect(error?.message.contains("/nonexistent/dir/x") == true)
    }
}
