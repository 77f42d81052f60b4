import Testing
import RedDB

/// `Session.describe` answers a text it described before from the statement cache while no
/// definition has changed since; every kind of definition change must make it describe afresh.
@Suite struct DescriptionCacheTests: SessionTestSupport {
    func columns(_ session: Session, _ sql: String) async throws -> [String]? {
        try await session.describe(sql).columns?.map(\.name)
    }

    @Test func everyKindOfDefinitionChangeIsDescribedAfresh() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("CREATE TABLE t (x INT)")
        #expect(try await columns(b, "SELECT * FROM t") == ["x"])
        #expect(try await columns(b, "SELECT * FROM t") == ["x"], "the second time, from the cache")

        // A schema change (the collection registry), committed by another session.
        try await a.execute("ALTER TABLE t ADD COLUMN y TEXT")
        #expect(try await columns(b, "SELECT * FROM t") == ["x", "y"])

        // A view lives in catalog storage, not the registry: replacing it must still count.
        try await a.execute("CREATE VIEW v AS SELECT x FROM t")
        #expect(try await columns(b, "SELECT * FROM v") == ["x"])
        try await a.execute("CREATE OR REPLACE VIEW v AS SELECT x, y FROM t")
        #expect(try await columns(b, "SELECT * FROM v") == ["x", "y"])
        try await a.execute("DROP VIEW v")
        #expect(await code { _ = try await b.describe("SELECT * FROM v") } == "42P01")

        // Dropped and created again with other columns.
        try await a.execute("DROP TABLE t")
        #expect(await code { _ = try await b.describe("SELECT * FROM t") } == "42P01")
        try await a.execute("CREATE TABLE t (z TEXT)")
        #expect(try await columns(b, "SELECT * FROM t") == ["z"])
        #expect(try await b.describe("SELECT * FROM t WHERE z = $1").parameterTypes == [.text])
    }

    @Test func declaredTypesAndOpenTransactionsAreDescribedAsTheySee() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("CREATE TABLE t (x INT)")

        // The same text with other declared types is another description.
        #expect(try await b.describe("SELECT $1", parameterTypes: [.integer]).parameterTypes == [.integer])
        #expect(try await b.describe("SELECT $1", parameterTypes: [.text]).parameterTypes == [.text])
        #expect(try await b.describe("SELECT $1", parameterTypes: [.integer]).parameterTypes == [.integer])
        #expect(try await b.describe("SELECT $1").parameterTypes == [.any])

        // Uncommitted DDL is seen by its own transaction only, and gone after a rollback.
        #expect(try await columns(b, "SELECT * FROM t") == ["x"])
        try await a.execute("BEGIN; ALTER TABLE t ADD COLUMN w INT")
        #expect(try await columns(a, "SELECT * FROM t") == ["x", "w"])
        #expect(try await columns(b, "SELECT * FROM t") == ["x"])
        try await a.execute("ROLLBACK")
        #expect(try await columns(a, "SELECT * FROM t") == ["x"])

        // A REPEATABLE READ block whose snapshot predates a committed change is described as of
        // its snapshot; a READ COMMITTED one as its next statement will run, on a fresh one.
        try await b.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        _ = try await b.execute("SELECT count(*) FROM t")
        try await a.execute("ALTER TABLE t ADD COLUMN w INT")
        #expect(try await columns(b, "SELECT * FROM t") == ["x"], "b's snapshot predates the ALTER")
        #expect(try await columns(a, "SELECT * FROM t") == ["x", "w"])
        try await b.execute("COMMIT")
        #expect(try await columns(b, "SELECT * FROM t") == ["x", "w"])
        try await b.execute("BEGIN")
        _ = try await b.execute("SELECT count(*) FROM t")
        try await a.execute("ALTER TABLE t ADD COLUMN v INT")
        #expect(try await columns(b, "SELECT * FROM t") == ["x", "w", "v"])
        try await b.execute("COMMIT")
    }
}
