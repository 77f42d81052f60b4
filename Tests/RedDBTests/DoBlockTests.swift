import Testing
import RedCore
import RedDB

/// What corpus `do_blocks.test` cannot see: the notices and hints a DO reports, how it ends
/// (statement timeout, cancel, nesting limit), who may run what inside one, and that its
/// variables stay its own.
@Suite struct DoBlockTests: SessionTestSupport {
    @Test func raiseReportsNoticesWarningsAndFormattedValues() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        let result = try await s.execute("""
            DO $$
            DECLARE
              flag boolean := true;
              missing text;
            BEGIN
              RAISE NOTICE '100%% sure: % and % and %', 42, flag, missing;
              RAISE WARNING 'careful';
              RAISE INFO 'info goes to the client too';
              RAISE DEBUG 'debug does not';
              FOR i IN 1..2 LOOP RAISE NOTICE 'pass %', i; END LOOP;
            END $$
            """)
        #expect(result.commandTag == "DO")
        #expect(result.notices == ["100% sure: 42 and t and <NULL>", "info goes to the client too", "pass 1", "pass 2"])
        #expect(result.warnings == ["careful"])
    }

    @Test func raiseCarriesDetailHintAndCode() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        do {
            try await s.execute("DO $$ BEGIN RAISE EXCEPTION 'order % is late', 7 USING DETAIL = 'due yesterday', HINT = 'call them', ERRCODE = 'P0042'; END $$")
            Issue.record("RAISE EXCEPTION did not fail")
        } catch let error as RedError {
            #expect(error.message == "order 7 is late")
            #expect(error.detail == "due yesterday")
            #expect(error.hint == "call them")
            #expect(error.sqlState == "P0042")
            #expect(error.code == .raisedException)
        }
        await #expect(sqlState { try await s.execute("DO $$ BEGIN RAISE NOTICE '% %', 1; END $$") } == "42601")  // too few arguments
        await #expect(sqlState { try await s.execute("DO $$ BEGIN RAISE NOTICE '%', 1, 2; END $$") } == "42601")  // too many
    }

    /// What a statement raised before it failed comes with its error, in order (PostgreSQL sends
    /// each notice as it is raised, so psql shows them above the error): a DO's own RAISE, a
    /// function's it called, and those of a handled error, which the block then reports.
    @Test func noticesRaisedBeforeAnErrorAreNotLost() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE FUNCTION loud(n int) RETURNS int LANGUAGE plpgsql AS $$
            BEGIN RAISE NOTICE 'loud %', n; RAISE WARNING 'careful %', n; RETURN 10 / n; END $$
            """)
        do {
            try await s.execute("DO $$ BEGIN RAISE NOTICE 'before'; PERFORM loud(1); PERFORM loud(0); END $$")
            Issue.record("division by zero did not fail")
        } catch let error as RedError {
            #expect(error.sqlState == "22012")
            #expect(error.notices == ["before", "loud 1", "loud 0"])
            #expect(error.warnings == ["careful 1", "careful 0"])
        }
        do {
            try await s.execute("SELECT loud(2) + loud(0)")
            Issue.record("division by zero did not fail")
        } catch let error as RedError {
            #expect(error.notices == ["loud 2", "loud 0"])
        }
        let handled = try await s.execute("""
            DO $$ BEGIN
              BEGIN PERFORM loud(0); EXCEPTION WHEN division_by_zero THEN RAISE NOTICE 'handled'; END;
            END $$
            """)
        #expect(handled.notices == ["loud 0", "handled"])
        #expect(handled.warnings == ["careful 0"])
        do {  // a handler that raises the error again reports what came before it once
            try await s.execute("DO $$ BEGIN BEGIN PERFORM loud(0); EXCEPTION WHEN others THEN RAISE; END; END $$")
            Issue.record("RAISE; did not fail")
        } catch let error as RedError {
            #expect(error.notices == ["loud 0"])
            #expect(error.warnings == ["careful 0"])
        }
        let fine = try await s.execute("SELECT loud(5)")  // a statement that succeeds still carries its own
        #expect(fine.notices == ["loud 5"])
    }

    /// Notices are kept to a bound; the rest are counted, not kept.
    @Test func noticesAreBounded() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        let result = try await s.execute("DO $$ BEGIN FOR i IN 1..10005 LOOP RAISE NOTICE '%', i; END LOOP; END $$")
        #expect(result.notices.count == 10_001)
        #expect(result.notices.last == "5 more notices were dropped")
    }

    /// An endless loop that runs no statement still ends at the statement timeout, and the
    /// session is usable afterwards.
    @Test func anEndlessLoopEndsAtTheStatementTimeout() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        s.statementTimeoutMilliseconds = 100
        await #expect(sqlState { try await s.execute("DO $$ BEGIN LOOP END LOOP; END $$") } == "57014")
        await #expect(sqlState { try await s.execute("DO $$ DECLARE i int := 0; BEGIN LOOP i := i + 1; END LOOP; END $$") } == "57014")
        s.statementTimeoutMilliseconds = 0
        #expect(try await rows(s, "SELECT 1") == [[.integer(1)]])
        #expect(!s.inTransaction)
    }

    /// A cancel is not an error OTHERS catches.
    @Test func othersDoesNotCatchACancel() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        s.statementTimeoutMilliseconds = 100
        await #expect(sqlState { try await s.execute("DO $$ BEGIN BEGIN PERFORM pg_sleep(5); EXCEPTION WHEN OTHERS THEN NULL; END; END $$") } == "57014")
        s.statementTimeoutMilliseconds = 0
        try await s.execute("CREATE TABLE caught (code text)")
        try await s.execute("DO $$ BEGIN BEGIN ASSERT false; EXCEPTION WHEN OTHERS THEN INSERT INTO caught VALUES ('others'); WHEN assert_failure THEN INSERT INTO caught VALUES ('assert'); END; END $$")
        #expect(try await rows(s, "SELECT code FROM caught") == [[.text("assert")]])
    }

    /// A read-only session may run a DO that only reads; its writes are refused as a
    /// statement's would be.
    @Test func aReadOnlySessionRunsReadsOnly() async throws {
        let db = try await Database.inMemory()
        let admin = db.session()
        try await admin.execute("CREATE TABLE ro_t (a int); INSERT INTO ro_t VALUES (1), (2)")
        let reader = db.session()
        reader.access = .readOnly(principal: "user \"ro\"")
        let result = try await reader.execute("DO $$ DECLARE n bigint; BEGIN SELECT count(*) INTO n FROM ro_t; RAISE NOTICE 'n=%', n; END $$")
        #expect(result.notices == ["n=2"])
        let refused = await sqlState { try await reader.execute("DO $$ BEGIN INSERT INTO ro_t VALUES (3); END $$") }
        #expect(refused == "25006" || refused == "42501", "\(refused ?? "no error")")
        #expect(try await rows(admin, "SELECT count(*) FROM ro_t") == [[.integer(2)]])
    }

    /// A DO inside a transaction block that fails, by an error of its own (RAISE) or of a
    /// statement, aborts the block: COMMIT then rolls it all back.
    @Test func aFailedDoAbortsTheTransactionBlock() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE kept (a int)")
        for failing in ["RAISE EXCEPTION 'stop'", "INSERT INTO nosuch VALUES (1)", "ASSERT false", "DECLARE x int; BEGIN SELECT 1 INTO STRICT x WHERE false; END"] {
            try await s.execute("BEGIN")
            try await s.execute("INSERT INTO kept VALUES (1)")
            await #expect(sqlState { try await s.execute("DO $$ BEGIN INSERT INTO kept VALUES (2); \(failing); END $$") } != nil)
            #expect(s.transactionFailed, "\(failing)")
            try await s.execute("COMMIT")
        }
        #expect(try await rows(s, "SELECT count(*) FROM kept") == [[.integer(0)]])
    }

    /// Hostile names and DDL: an empty quoted name is a syntax error, not a crash; DDL a block
    /// runs never reads its variables (a CHECK naming one refers to a column, and fails).
    @Test func emptyNamesAndDDLDoNotReachVariables() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        for body in [#"BEGIN "" := 1; END"#, #"DECLARE x int; BEGIN SELECT 1 INTO ""; END"#, #"BEGIN GET DIAGNOSTICS "" = ROW_COUNT; END"#] {
            await #expect(sqlState { try await s.execute("DO $$ \(body) $$") } == "42601", "\(body)")
        }
        await #expect(sqlState { try await s.execute("DO $$ DECLARE lim int := 5; BEGIN CREATE TABLE c (a int CHECK (a > lim)); END $$") } == "42703")
        await #expect(sqlState { try await s.execute("DO $$ DECLARE x int := 5; BEGIN CREATE VIEW v AS SELECT x; END $$") } == "42703")
    }

    /// EXECUTE sees its USING parameters, not the block's variables; a DO run by EXECUTE
    /// has variables of its own; and DO blocks nest only so deep.
    @Test func dynamicSQLAndNestedBlocksKeepTheirOwnNames() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE nest (v text)")
        await #expect(sqlState { try await s.execute("DO $$ DECLARE hidden int := 1; BEGIN EXECUTE 'SELECT hidden'; END $$") } == "42703")
        try await s.execute("""
            DO $$
            DECLARE v text := 'outer';
            BEGIN
              EXECUTE 'DO $in$ DECLARE v text := ''inner''; BEGIN INSERT INTO nest VALUES (v); END $in$';
              INSERT INTO nest VALUES (v);
            END $$
            """)
        #expect(try await rows(s, "SELECT v FROM nest ORDER BY v") == [[.text("inner")], [.text("outer")]])
        await #expect(sqlState { try await s.execute("DO $$ BEGIN EXECUTE 'DO $a$ BEGIN EXECUTE ''DO $b$ BEGIN EXECUTE ''''SELECT 1''''; END $b$''; END $a$'; END $$") } == nil)
        // A DO that runs itself again and again stops at the nesting limit, with nothing kept.
        try await s.execute("CREATE TABLE depth (n int)")
        try await s.execute("CREATE TABLE program (body text); INSERT INTO program VALUES ('BEGIN INSERT INTO depth VALUES (1); EXECUTE (SELECT format(''DO %L'', body) FROM program); END')")
        await #expect(sqlState { try await s.execute("DO $$ BEGIN EXECUTE (SELECT format('DO %L', body) FROM program); END $$") } == "54000")
        #expect(try await rows(s, "SELECT count(*) FROM depth") == [[.integer(0)]])
    }

    /// A SQL function's body cannot see the block's variables (as it cannot see its caller's
    /// columns); its own parameters and tables resolve as usual.
    @Test func sqlFunctionBodiesDoNotSeeBlockVariables() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        // A body reading a column that is renamed afterwards: the name then resolves to nothing.
        try await s.execute("CREATE TABLE holder (secret int); INSERT INTO holder VALUES (1)")
        try await s.execute("CREATE FUNCTION reads_secret() RETURNS int LANGUAGE sql AS 'SELECT secret FROM holder'")
        try await s.execute("ALTER TABLE holder RENAME COLUMN secret TO other")
        try await s.execute("CREATE FUNCTION plus_one(x int) RETURNS int LANGUAGE sql AS 'SELECT x + 1'")
        await #expect(sqlState { try await s.execute("DO $$ DECLARE secret int := 5; r int; BEGIN r := reads_secret(); END $$") } == "42703")
        let result = try await s.execute("DO $$ DECLARE x int := 41; BEGIN RAISE NOTICE '%', plus_one(x); END $$")
        #expect(result.notices == ["42"])
    }

    /// An EXCEPTION block's savepoint undoes its writes and its DDL, and the handler's own
    /// work stays; the transaction block around the DO goes on.
    @Test func aHandledErrorUndoesTheBlockInsideATransaction() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE acct (id int PRIMARY KEY, balance int CHECK (balance >= 0))")
        try await s.execute("BEGIN")
        try await s.execute("INSERT INTO acct VALUES (1, 10)")
        let result = try await s.execute("""
            DO $$
            BEGIN
              UPDATE acct SET balance = balance + 5 WHERE id = 1;
              BEGIN
                CREATE TABLE made_inside (a int);
                UPDATE acct SET balance = balance - 100 WHERE id = 1;
              EXCEPTION WHEN check_violation THEN
                RAISE NOTICE 'refused: %', SQLERRM;
              END;
            END $$
            """)
        #expect(result.notices.count == 1)
        #expect(s.inTransaction && !s.transactionFailed)
        #expect(try await rows(s, "SELECT balance FROM acct") == [[.integer(15)]])
        await #expect(sqlState { try await s.execute("SELECT * FROM made_inside") } == "42P01")
        try await s.execute("ROLLBACK")
    }
}
