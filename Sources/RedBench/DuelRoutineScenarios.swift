/// Scenarios that weigh PL/pgSQL: triggers fired for every row a statement writes, and a
/// function called for every row a query reads. Rows are written 1,000 per statement, so the
/// figures are the routines' cost rather than the commits'.
extension DuelScenarios {
    static let routineRowsPerStatement = 1_000

    /// The table both trigger scenarios insert into.
    static let createItems = "CREATE TABLE duel_items (id BIGINT PRIMARY KEY, note TEXT NOT NULL, touched INTEGER, touched_at TIMESTAMPTZ)"

    static let createTouchedItems = [
        "DROP TABLE IF EXISTS duel_items",
        createItems,
        """
        CREATE OR REPLACE FUNCTION duel_touch() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.touched := coalesce(NEW.touched, 0) + 1;
            NEW.touched_at := now();
            RETURN NEW;
        END $$
        """,
        "CREATE TRIGGER duel_items_touch BEFORE INSERT ON duel_items FOR EACH ROW EXECUTE FUNCTION duel_touch()",
    ]

    static let createAuditedItems = [
        "DROP TABLE IF EXISTS duel_items",
        "DROP TABLE IF EXISTS duel_audit",
        createItems,
        "CREATE TABLE duel_audit (op TEXT NOT NULL, item_id BIGINT NOT NULL, at TIMESTAMPTZ NOT NULL)",
        """
        CREATE OR REPLACE FUNCTION duel_audit_item() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO duel_audit VALUES (TG_OP, NEW.id, now());
            RETURN NULL;
        END $$
        """,
        "CREATE TRIGGER duel_items_audit AFTER INSERT ON duel_items FOR EACH ROW EXECUTE FUNCTION duel_audit_item()",
    ]

    static let triggerBeforeRow = DuelScenario(
        name: "trigger_before_row", unit: "rows",
        summary: "INSERT … SELECT of \(routineRowsPerStatement) rows per statement into a table whose BEFORE ROW PL/pgSQL trigger sets two columns",
        prepareRound: { c, _ in for sql in createTouchedItems { try await c.run(sql) } },
        run: { c, _, sizes in
            let sample = try await insertItems(c, sizes)
            // Every row went through the trigger once.
            let touched = try await c.integers("SELECT CAST(coalesce(sum(touched), 0) AS BIGINT), count(touched_at) FROM duel_items")
            guard touched == [Int64(sample.rows), Int64(sample.rows)] else {
                throw DuelError.checkFailed(c.engine, "trigger_before_row: touched \(touched) for \(sample.rows) rows")
            }
            return sample
        })

    static let triggerAfterRow = DuelScenario(
        name: "trigger_after_row", unit: "rows",
        summary: "INSERT … SELECT of \(routineRowsPerStatement) rows per statement into a table whose AFTER ROW PL/pgSQL trigger inserts an audit row",
        prepareRound: { c, _ in for sql in createAuditedItems { try await c.run(sql) } },
        run: { c, _, sizes in
            let sample = try await insertItems(c, sizes)
            let audited = try await count(c, "duel_audit")
            guard audited == sample.rows else {
                throw DuelError.checkFailed(c.engine, "trigger_after_row: \(audited) audit rows for \(sample.rows) rows")
            }
            return sample
        })

    static let plpgsqlCall = DuelScenario(
        name: "plpgsql_call", unit: "calls",
        summary: "SELECT sum(f(g)) over generate_series, \(routineRowsPerStatement) calls per statement of a PL/pgSQL function with a variable, an IF and two RETURNs",
        prepareOnce: { c, _ in
            try await c.run("""
                CREATE OR REPLACE FUNCTION duel_score(x integer) RETURNS integer LANGUAGE plpgsql AS $$
                DECLARE
                    y integer := x * 2;
                BEGIN
                    IF y % 3 = 0 THEN
                        RETURN y + 1;
                    END IF;
                    RETURN y;
                END $$
                """)
        },
        run: { c, _, sizes in
            let statements = max(1, sizes.items / routineRowsPerStatement)
            var timer = StatementTimer(expected: statements)
            var rows = 0
            for k in 0..<statements {
                let first = Int64(k * routineRowsPerStatement + 1)
                rows += try await timer.time { try await c.rows(ScoreSeries(first: first, count: routineRowsPerStatement)) }
            }
            let sample = timer.sample(operations: statements * routineRowsPerStatement, rows: rows)
            // The function's values, checked once untimed against what it should compute.
            let calls = Int64(statements * routineRowsPerStatement)
            var expected: Int64 = 0
            for x in 1...calls {
                let y = x * 2
                expected += y % 3 == 0 ? y + 1 : y
            }
            let total = try await c.integers("SELECT CAST(sum(duel_score(CAST(g AS INTEGER))) AS BIGINT) FROM generate_series(1, \(calls)) g")
            guard total == [expected] else { throw DuelError.checkFailed(c.engine, "plpgsql_call: sum \(total), expected \(expected)") }
            return sample
        })

    /// Inserts `sizes.items` rows (at least one statement's worth) into duel_items, 1,000 per
    /// statement; the sample's row figure is the table's size afterwards.
    private static func insertItems(_ c: DuelConnection, _ sizes: DuelSizes) async throws -> DuelSample {
        let statements = max(1, sizes.items / routineRowsPerStatement)
        var timer = StatementTimer(expected: statements)
        for k in 0..<statements {
            let first = Int64(k * routineRowsPerStatement + 1)
            try await timer.time { try await c.perform(InsertItemSeries(first: first, count: routineRowsPerStatement)) }
        }
        var sample = timer.sample(operations: statements * routineRowsPerStatement, rows: 0)
        sample.rows = try await count(c, "duel_items")
        return sample
    }
}

struct InsertItemSeries: DuelCommand {
    static let sql = "INSERT INTO duel_items (id, note) SELECT g, 'item ' || g FROM generate_series(CAST($1 AS BIGINT), CAST($2 AS BIGINT)) g"
    let values: [DuelValue]
    init(first: Int64, count: Int) { values = [.int(first), .int(first + Int64(count) - 1)] }
}

struct ScoreSeries: DuelQuery {
    static let sql = "SELECT CAST(sum(duel_score(CAST(g AS INTEGER))) AS BIGINT) FROM generate_series(CAST($1 AS BIGINT), CAST($2 AS BIGINT)) g"
    let values: [DuelValue]
    init(first: Int64, count: Int) { values = [.int(first), .int(first + Int64(count) - 1)] }
}
