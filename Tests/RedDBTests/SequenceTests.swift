import Foundation
import Testing
import RedDB

/// Sequences shared by sessions: values are unique across concurrent sessions, survive a
/// reopen, stay out of read-only sessions, and currval is each session's own.
@Suite struct SequenceTests {
    func integer(_ result: QueryResult) -> Int64? {
        if case .integer(let v) = result.rows.first?.first { return v }
        return nil
    }

    @Test func concurrentSessionsNeverGetTheSameValue() async throws {
        let db = try await Database.inMemory()
        try await db.session().execute("CREATE SEQUENCE c; CREATE TABLE t (id INT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, session INT)")
        let values = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for worker in 0..<8 {
                group.addTask {
                    let s = db.session()
                    var taken: [Int64] = []
                    for i in 0..<300 {
                        if i % 3 == 0 {
                            try await s.execute("INSERT INTO t (session) VALUES (\(worker))")
                        } else if let v = self.integer(try await s.execute("SELECT nextval('c')")) {
                            taken.append(v)
                        }
                    }
                    return taken
                }
            }
            var all: [Int64] = []
            for try await part in group { all += part }
            return all
        }
        // No rollbacks and no restarts: the values are exactly 1…n, each once.
        #expect(values.sorted() == Array(1...Int64(values.count)))
        let ids = try await db.session().execute("SELECT id FROM t ORDER BY id").rows.compactMap { row -> Int64? in
            if case .integer(let v) = row[0] { return v } else { return nil }
        }
        #expect(ids == Array(1...Int64(8 * 100)))
    }

    @Test func valuesContinuePastWhatWasHandedOutAfterReopen() async throws {
        try await withTemporaryDatabasePath("seq") { path in
            var last: Int64 = 0
            do {
                let db = try await Database.open(path: path)
                let s = db.session()
                try await s.execute("CREATE SEQUENCE s START 50; CREATE TABLE t (id SERIAL PRIMARY KEY, v TEXT)")
                for _ in 0..<70 { last = integer(try await s.execute("SELECT nextval('s')")) ?? 0 }
                try await s.execute("INSERT INTO t (v) VALUES ('a'), ('b'), ('c')")
                try await s.execute("DELETE FROM t WHERE v = 'c'")
                try await db.close()
            }
            #expect(last == 119)
            let db = try await Database.open(path: path)
            let s = db.session()
            let next = integer(try await s.execute("SELECT nextval('s')")) ?? 0
            #expect(next > last)
            // The deleted row's id is not handed out again (PostgreSQL's sequences never go back).
            try await s.execute("INSERT INTO t (v) VALUES ('d')")
            #expect(try await s.execute("SELECT id FROM t WHERE v = 'd'").rows.first?.first.flatMap { if case .integer(let v) = $0 { v } else { nil } } ?? 0 > 3)
            try await db.close()
        }
    }

    @Test func readOnlySessionsAndTransactionsCannotTakeValues() async throws {
        let db = try await Database.inMemory()
        let writer = db.session()
        try await writer.execute("CREATE SEQUENCE s")
        let reader = db.session()
        reader.access = .readOnly(principal: "user \"ro\"")
        #expect(await sqlState { try await reader.execute("SELECT nextval('s')") } == "25006")
        #expect(await sqlState { try await reader.execute("SELECT setval('s', 5)") } == "25006")
        try await writer.execute("BEGIN READ ONLY")
        #expect(await sqlState { try await writer.execute("SELECT nextval('s')") } == "25006")
        try await writer.execute("ROLLBACK")
        #expect(integer(try await writer.execute("SELECT nextval('s')")) == 1)
    }

    @Test func currvalIsEachSessionsOwn() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("CREATE SEQUENCE s")
        #expect(integer(try await a.execute("SELECT nextval('s')")) == 1)
        #expect(await sqlState { try await b.execute("SELECT currval('s')") } == "55000")
        #expect(integer(try await b.execute("SELECT nextval('s')")) == 2)
        #expect(integer(try await a.execute("SELECT currval('s')")) == 1)
        #expect(integer(try await b.execute("SELECT lastval()")) == 2)
    }
}
