import RedCore
import RedStorage
import Testing
@testable import RedEngine

/// `Transaction.guardUnchanged`: a commit fails with 40001 when a key (or a key inside a
/// range) it relied on without writing was changed by a commit after its snapshot.
@Suite struct ReadGuardTests {
    @Test func aGuardedKeyChangedByALaterCommitFailsTheCommit() async throws {
        for change in ["update", "delete", "untouched"] {
            let engine = try await EngineHarness().open()
            let c = try await engine.makeCollection("t")
            try await engine.put(c, "parent", "1")
            let reader = try engine.begin()
            #expect(try reader.get(c, bytes("parent")) != nil)
            try reader.guardUnchanged(c, key: bytes("parent"))
            try reader.put(c, bytes("child"), bytes("parent"))
            let writer = try engine.begin()
            switch change {
            case "update": try writer.put(c, bytes("parent"), bytes("2"))
            case "delete": try writer.delete(c, bytes("parent"))
            default: try writer.put(c, bytes("elsewhere"), bytes("x"))
            }
            try await writer.commit()
            if change == "untouched" {
                try await reader.commit()
            } else {
                let error = await #expect(throws: RedError.self) { try await reader.commit() }
                #expect(error?.code == .serializationFailure, "\(change)")
                #expect(try await engine.dump("t")["child"] == nil)
            }
        }
    }

    @Test func aKeyInsertedInsideAGuardedRangeFailsTheCommit() async throws {
        for key in ["k/2", "k/", "k0", "j"] {
            let engine = try await EngineHarness().open()
            let c = try await engine.makeCollection("t")
            try await engine.put(c, "k/1", "old")
            let deleter = try engine.begin()
            try deleter.guardUnchanged(c, keysStartingWith: bytes("k/"))
            try deleter.put(c, bytes("marker"), bytes("x"))
            let inserter = try engine.begin()
            try inserter.put(c, bytes(key), bytes("new"))
            try await inserter.commit()
            if key.hasPrefix("k/") {
                let error = await #expect(throws: RedError.self) { try await deleter.commit() }
                #expect(error?.code == .serializationFailure, "\(key)")
            } else {
                try await deleter.commit()  // outside the prefix: no conflict
            }
        }
    }

    @Test func guardsAloneNeverConflictWithEachOther() async throws {
        let engine = try await EngineHarness().open()
        let c = try await engine.makeCollection("t")
        try await engine.put(c, "parent", "1")
        let a = try engine.begin(), b = try engine.begin()
        for (tx, child) in [(a, "a"), (b, "b")] {
            try tx.guardUnchanged(c, key: bytes("parent"))
            try tx.guardUnchanged(c, keysStartingWith: bytes("p"))
            try tx.put(c, bytes("child-\(child)"), bytes("parent"))
        }
        try await a.commit()
        try await b.commit()
        #expect(try await engine.dump("t").count == 3)
    }
}
