import Foundation
import Testing
import RedDB

/// FOREIGN KEY constraints under concurrent transactions: snapshot isolation alone would let a
/// child insert and its parent's delete both commit; the guards (`ReadGuards`) make the later
/// committer retry, and nothing else.
@Suite struct ForeignKeyConcurrencyTests: SessionTestSupport {

    func schema(_ db: Database) async throws {
        let s = db.session()
        try await s.execute("CREATE TABLE customers (id INT PRIMARY KEY, name TEXT)")
        try await s.execute("CREATE TABLE orders (id INT PRIMARY KEY, customer INT REFERENCES customers ON DELETE CASCADE)")
        try await s.execute("INSERT INTO customers VALUES (7, 'ada'), (8, 'bob')")
    }

    func orphans(_ db: Database) async throws -> [[Value]] {
        try await db.session().execute("SELECT o.id FROM orders o WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer)").rows
    }

    @Test func aChildInsertAndItsParentsDeleteCannotBothCommit() async throws {
        for childFirst in [true, false] {
            let db = try await Database.inMemory()
            try await schema(db)
            let child = db.session(), parent = db.session()
            try await child.execute("BEGIN")
            try await parent.execute("BEGIN")
            try await child.execute("INSERT INTO orders VALUES (1, 7)")  // its snapshot has customer 7
            try await parent.execute("DELETE FROM customers WHERE id = 7")  // its snapshot has no orders of 7
            let (first, second) = childFirst ? (child, parent) : (parent, child)
            try await first.execute("COMMIT")
            #expect(await code { try await second.execute("COMMIT") } == "40001", "child first: \(childFirst)")
            #expect(try await orphans(db).isEmpty)
        }
    }

    @Test func truncateAndAConcurrentChildInsertCannotBothCommit() async throws {
        let db = try await Database.inMemory()
        try await schema(db)
        let truncater = db.session(), child = db.session()
        try await truncater.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try await truncater.execute("SELECT 1")  // takes the snapshot
        try await child.execute("INSERT INTO orders VALUES (1, 7)")  // commits after that snapshot
        try await truncater.execute("TRUNCATE customers CASCADE")
        #expect(await code { try await truncater.execute("COMMIT") } == "40001")
        #expect(try await orphans(db).isEmpty)
        // READ COMMITTED: the TRUNCATE's own snapshot sees the order, and its cascade empties orders too.
        try await truncater.execute("BEGIN")
        try await truncater.execute("SELECT 1")
        try await child.execute("INSERT INTO orders VALUES (2, 7)")
        try await truncater.execute("TRUNCATE customers CASCADE")
        try await truncater.execute("COMMIT")
        #expect(try await orphans(db).isEmpty)
        #expect(try await child.execute("SELECT count(*) FROM orders").rows == [[.integer(0)]])
    }

    /// A surface first offers each read-only statement to `executeWithoutWaiting`; SET
    /// CONSTRAINTS … IMMEDIATE with thousands of checks waiting gives up there (a few run
    /// there), and must still find its waiting checks when the surface runs it as usual.
    @Test func setConstraintsImmediateKeepsItsChecksWhenTriedWithoutWaiting() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE p (id INT PRIMARY KEY)")
        try await s.execute("CREATE TABLE c (id INT, p INT REFERENCES p DEFERRABLE INITIALLY DEFERRED)")
        try await s.execute("BEGIN")
        try await s.execute("INSERT INTO p VALUES (1)")
        try await s.execute("INSERT INTO c SELECT i, 1 FROM generate_series(1, 5000) AS i")
        try await s.execute("INSERT INTO c VALUES (0, 999)")
        #expect(try s.executeWithoutWaiting("SET CONSTRAINTS ALL IMMEDIATE") == nil)
        #expect(await code { try await s.execute("SET CONSTRAINTS ALL IMMEDIATE") } == "23503")
        try await s.execute("ROLLBACK")
        #expect(try await s.execute("SELECT count(*) FROM c").rows == [[.integer(0)]])
        // A few checks run there, and fail as they would on the usual path.
        try await s.execute("BEGIN")
        try await s.execute("INSERT INTO c VALUES (0, 999)")
        #expect(await code { _ = try s.executeWithoutWaiting("SET CONSTRAINTS ALL IMMEDIATE") } == "23503")
        try await s.execute("ROLLBACK")
    }

    /// A constraint always has an index leading with its columns, so a parent's delete finds
    /// the referencing rows without a scan: made with it, taken over from the table's own
    /// index, and made again when that index goes with a dropped column or constraint.
    @Test func aConstraintAlwaysKeepsAnIndexOverItsColumns() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        func indexes(_ table: String) async throws -> [String] {
            try await s.collections().first { $0.name == table }?.schema.indexes.map(\.name).sorted() ?? []
        }
        try await s.execute("CREATE TABLE p (id INT PRIMARY KEY)")
        try await s.execute("CREATE TABLE c (pid INT, x INT)")
        try await s.execute("CREATE INDEX c_pid_x ON c (pid, x)")
        try await s.execute("ALTER TABLE c ADD CONSTRAINT c_p FOREIGN KEY (pid) REFERENCES p")
        #expect(try await indexes("c") == ["c_pid_x"])  // the table's index serves
        try await s.execute("ALTER TABLE c DROP COLUMN x")
        #expect(try await indexes("c") == ["c_p_index"])
        try await s.execute("ALTER TABLE c ADD CONSTRAINT c_p2 FOREIGN KEY (pid) REFERENCES p")
        try await s.execute("ALTER TABLE c DROP CONSTRAINT c_p")
        #expect(try await indexes("c") == ["c_p2_index"])
        #expect(await code { try await s.execute("DROP INDEX c_p2_index") } == "2BP01")
        try await s.execute("ALTER TABLE c DROP CONSTRAINT c_p2")
        #expect(try await indexes("c").isEmpty)
    }

    @Test func readersOfOneParentDoNotConflict() async throws {
        let db = try await Database.inMemory()
        try await schema(db)
        let a = db.session(), b = db.session(), c = db.session()
        for s in [a, b, c] { try await s.execute("BEGIN") }
        try await a.execute("INSERT INTO orders VALUES (1, 7)")
        try await b.execute("INSERT INTO orders VALUES (2, 7)")
        try await c.execute("UPDATE customers SET name = 'ada l' WHERE id = 7")  // not the key: no conflict
        for s in [a, b, c] { try await s.execute("COMMIT") }
        #expect(try await db.session().execute("SELECT count(*) FROM orders").rows == [[.integer(2)]])
    }

    /// Writers inserting orders and deleting or re-keying customers at random, each retrying
    /// on 40001: whatever interleaving the tasks take, no order is left without its customer.
    @Test func randomConcurrentWritersLeaveNoOrphans() async throws {
        let db = try await Database.inMemory()
        let setup = db.session()
        try await setup.execute("CREATE TABLE customers (id INT PRIMARY KEY)")
        try await setup.execute("CREATE TABLE orders (id INT PRIMARY KEY, customer INT REFERENCES customers ON UPDATE CASCADE)")
        try await setup.execute("INSERT INTO customers SELECT g FROM generate_series(1, 20) g")
        let retries = await withTaskGroup(of: Int.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var generator = SystemRandomNumberGenerator()
                    let s = db.session()
                    var retried = 0
                    for step in 0..<60 {
                        let id = worker * 1_000 + step
                        let customer = Int.random(in: 1...20, using: &generator)
                        let statements: [String]
                        switch Int.random(in: 0..<4, using: &generator) {
                        case 0: statements = ["DELETE FROM customers WHERE id = \(customer)"]
                        case 1: statements = ["INSERT INTO customers VALUES (\(customer)) ON CONFLICT DO NOTHING"]
                        case 2: statements = ["UPDATE customers SET id = \(customer + 100) WHERE id = \(customer)"]
                        default: statements = ["INSERT INTO orders VALUES (\(id), \(customer))", "SELECT 1"]
                        }
                        for _ in 0..<20 {
                            do {
                                try await s.execute("BEGIN")
                                for sql in statements { try await s.execute(sql) }
                                try await s.execute("COMMIT")
                                break
                            } catch let e as RedError {
                                _ = try? await s.execute("ROLLBACK")
                                if e.sqlState == "40001" { retried += 1; continue }
                                break  // 23503 and 23505 are answers, not failures
                            } catch {
                                break
                            }
                        }
                    }
                    return retried
                }
            }
            return await group.reduce(0, +)
        }
        #expect(try await orphans(db).isEmpty, "after \(retries) retries")
    }
}
