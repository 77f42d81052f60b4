import Foundation
import RedCore
import RedStorage
import Synchronization
import Testing
@testable import RedEngine

func temporaryDirectory(_ name: String) throws -> String {
    let dir = NSTemporaryDirectory() + "reddb-\(name)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func balance(_ n: Int64) -> [UInt8] { withUnsafeBytes(of: n.littleEndian) { Array($0) } }
func balanceValue(_ b: [UInt8]?) -> Int64 { b.map { $0.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) } } ?? 0 }

/// Net change of each account from transfers that committed.
final class Ledger: Sendable {
    let deltas: Mutex<[Int64]>
    init(accounts: Int) { deltas = Mutex([Int64](repeating: 0, count: accounts)) }
    func record(from: Int, to: Int, amount: Int64) {
        deltas.withLock {
            $0[from] -= amount
            $0[to] += amount
        }
    }
}

@Suite struct BankTests {
    @Test func concurrentTransfersPreserveTheTotalAndLoseNoUpdate() async throws {
        let dir = try temporaryDirectory("bank")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = EngineOptions()
        options.cacheBytes = 1 << 20
        let engine = try await StorageEngine.open(path: dir + "/data.rdb", options: options)
        let accounts = 100
        let c = try await engine.transaction { tx in
            let c = try tx.createCollection("accounts")
            for a in 0..<accounts { try tx.put(c, Array("acct\(a)".utf8), balance(1000)) }
            return c
        }
        let applied = Ledger(accounts: accounts)
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var rng = SplitMix64(seed: UInt64(worker) + 1)
                    for _ in 0..<60 {
                        let from = Int(rng.next() % UInt64(accounts))
                        var to = Int(rng.next() % UInt64(accounts))
                        if to == from { to = (to + 1) % accounts }
                        let amount = Int64(rng.next() % 50) + 1
                        do {
                            try await engine.transaction(maxAttempts: 1000) { tx in
                                let a = balanceValue(try tx.get(c, Array("acct\(from)".utf8)))
                                let b = balanceValue(try tx.get(c, Array("acct\(to)".utf8)))
                                try tx.put(c, Array("acct\(from)".utf8), balance(a - amount))
                                try tx.put(c, Array("acct\(to)".utf8), balance(b + amount))
                            }
                            applied.record(from: from, to: to, amount: amount)
                        } catch {
                            Issue.record("transfer failed: \(error)")
                        }
                    }
                }
            }
        }
        try await engine.close()
        let reopened = try await StorageEngine.open(path: dir + "/data.rdb", options: options)
        let tx = try reopened.begin()
        let balances = try tx.scan(c).collect()
        #expect(balances.count == accounts)
        #expect(balances.reduce(Int64(0)) { $0 + balanceValue($1.value) } == Int64(accounts) * 1000)
        let deltas = applied.deltas.withLock { $0 }
        for a in 0..<accounts {
            #expect(balanceValue(try tx.get(c, Array("acct\(a)".utf8))) == 1000 + deltas[a], "account \(a) lost an update")
        }
        tx.rollback()
        try await reopened.close()
    }
}
