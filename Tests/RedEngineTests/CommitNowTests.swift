import Foundation
import Testing
import RedCore
import RedStorage
@testable import RedEngine

/// `Transaction.commitNow`: a commit made by a caller that must not wait (an event loop).
@Suite struct CommitNowTests {
    /// Another commit applying a large batch, a vacuum step or a checkpoint may hold the tree's
    /// lock for milliseconds, and every connection on the caller's event loop would wait with
    /// it. The inline commit declines instead (nil), with the transaction still open and
    /// unchanged, and the caller commits it the usual way.
    @Test func anInlineCommitDeclinesWhileTheTreeIsHeld() async throws {
        let engine = try await EngineHarness().open()
        let c = try await engine.transaction { try $0.createCollection("c") }
        let tx = try engine.begin()
        try tx.put(c, bytes("k"), bytes("v"))
        let held = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let holder = Thread {
            engine.store.write { _ in
                held.signal()
                _ = release.wait(timeout: .now() + 5)  // a commit that blocked would end the hold here
            }
        }
        holder.start()
        held.wait()
        let declined = try tx.commitNow()
        release.signal()
        #expect(declined == nil)
        try await tx.commit()
        #expect(text(try engine.begin().get(c, bytes("k"))) == "v")
        try await engine.close()
    }
}
