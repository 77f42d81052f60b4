import Foundation
import RedCore
import Testing
@testable import RedStorage

/// Under `NonBlockingExecution` the storage layer refuses to wait: a page not cached or a
/// tree locked by a writer throws `WouldBlock` instead of reading or blocking.
@Suite struct NonBlockingReadTests {
    @Test func aMissIsRefusedWithoutReadingAndAHitIsServed() throws {
        let h = StoreHarness()
        try h.checkpointed(entries: 2_000)
        let store = try h.open(cacheBytes: 64 << 10)
        let root = store.openedHeader.rootPageID
        let misses = store.cache.statistics.misses
        #expect(throws: WouldBlock(reason: .pageNotCached)) {
            try NonBlockingExecution.$isActive.withValue(true) { _ = try store.cache.node(root, pin: false) }
        }
        #expect(store.cache.statistics.misses == misses)
        let loaded = try store.cache.node(root, pin: false)
        let hit = try NonBlockingExecution.$isActive.withValue(true) { try store.cache.node(root, pin: false) }
        #expect(hit === loaded)
    }

    @Test func aReaderRefusesToWaitForAWriterUnlessAllowedTo() throws {
        let lock = ReadWriteLock()
        let held = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        Thread {
            lock.withWriteLock {
                held.signal()
                release.wait()
            }
            done.signal()
        }.start()
        held.wait()
        #expect(throws: WouldBlock(reason: .treeLocked)) {
            try NonBlockingExecution.$isActive.withValue(true) { try lock.withReadLock { 1 } }
        }
        release.signal()
        #expect(try lock.withReadLock { 2 } == 2, "an ordinary reader waits for the writer")
        done.wait()
        #expect(try NonBlockingExecution.$isActive.withValue(true) { try lock.withReadLock { 3 } } == 3, "a free lock is taken")
    }
}
