import Foundation
import Testing

/// pgJDBC (`Tests/clients/JDBCClient.java`, compiled here with the system's JDK) against the
/// real server: what it prints must be what it prints against PostgreSQL 15. scripts/install-jdbc
/// installs the driver and a JDK; without them the test is skipped with a notice, unless
/// REDDB_REQUIRE_JDBC=1.
@Suite struct JDBCClientTests {
    static let driver = "/usr/share/java/postgresql.jar"
    static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("clients/JDBCClient.java")

    static func available() async -> Bool {
        if FileManager.default.fileExists(atPath: driver), (try? await ClientProgram.run("javac", ["-version"]).status) == 0 { return true }
        return ClientProgram.missing("pgJDBC (\(driver)) or a JDK", requiredBy: "REDDB_REQUIRE_JDBC", installer: "scripts/install-jdbc",
                                     skipping: "JDBCClientTests")
    }

    /// Every common type through a prepared INSERT that pgJDBC turns into a named server-side
    /// statement (dates and times sent as text with the JVM's zone, Berlin's here), generated
    /// keys, transactions, a fetch size, a batch, SQLSTATEs, and DatabaseMetaData's tables,
    /// columns, primary key and indexes (queries over `information_schema._pg_expandarray` and
    /// `(record).field`).
    @Test func pgJDBCRunsAnApplication() async throws {
        guard await Self.available() else { return }
        let classes = FileManager.default.temporaryDirectory.appendingPathComponent("reddb-jdbc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: classes, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: classes) }
        let compiled = try await ClientProgram.run("javac", ["-cp", Self.driver, "-d", classes.path, Self.source.path])
        try #require(compiled.status == 0, "\(compiled.stderr)")
        let server = try ServerProcess()
        defer { server.remove() }
        // In a zone other than the server's: pgJDBC sends timestamps as text with the JVM's offset
        // (`2021-03-04 05:06:01+01`), which a `timestamp` column keeps as written, as PostgreSQL does.
        let client = try await ClientProgram.run("java", ["-Duser.timezone=Europe/Berlin", "-cp", "\(Self.driver):\(classes.path)", "JDBCClient", String(server.pgPort)])
        #expect(client.status == 0, "\(client.stderr)")
        let expected = """
        product | PostgreSQL | 15
        generated key | 7
        id=Integer:6, name=String:item6, price=BigDecimal:9.00, qty=Integer:6, big=Long:60000000000, f=Double:1.5, ok=Boolean:true, born=Date:2020-01-06, at=Timestamp:2021-03-04 05:06:06.0, ts=Timestamp:2021-03-04 05:06:06.0, t=Time:10:11:16, u=UUID:00000000-0000-0000-0000-000000000006, b=[6, 0], tags=[a6, b], meta={"k":6}
        id=Integer:7, name=String:item7, price=BigDecimal:10.50, qty=Integer:7, big=Long:70000000000, f=Double:1.75, ok=Boolean:false, born=Date:2020-01-07, at=Timestamp:2021-03-04 05:06:07.0, ts=Timestamp:2021-03-04 05:06:07.0, t=Time:10:11:17, u=UUID:00000000-0000-0000-0000-000000000007, b=[7, 0], tags=[a7, b], meta={"k":7}
        after rollback | 1
        fetched with fetch size 2 | 7
        batch | [1, 1, 1]
        duplicate | 23505
        table | j_items | TABLE
        columns | id:serial:4:NO:YES, name:varchar:12:NO:NO, price:numeric:2:YES:NO, qty:int4:4:YES:NO, big:int8:-5:YES:NO, f:float8:8:YES:NO, ok:bool:-7:YES:NO, born:date:91:YES:NO, at:timestamptz:93:YES:NO, ts:timestamp:93:YES:NO, t:time:92:YES:NO, u:uuid:1111:YES:NO, b:bytea:-2:YES:NO, tags:_text:2003:YES:NO, meta:jsonb:1111:YES:NO
        primary key | id | 1 | j_items_pkey
        index | j_items_pkey | id | 1 | false | A
        index | j_items_qty | qty | 1 | true | A
        """
        #expect(client.stdout == expected + "\n", "\(client.stdout)")
    }
}
