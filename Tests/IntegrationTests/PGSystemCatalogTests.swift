import Foundation
import Logging
import PostgresNIO
import Testing

/// PostgreSQL's system catalogs over PG-wire, as ORMs and tools read them: the introspection
/// queries of Django, SQLAlchemy, Rails and information_schema readers (each checked by hand
/// against PostgreSQL 15 on the same schema), run through PostgresNIO with parameters and
/// binary results; and arrays, which those queries return, travelling as PostgreSQL arrays.
@Suite(.serialized) struct PGSystemCatalogTests {
    static let logger = Logger(label: "pg-catalog-test")

    static let schema = [
        "CREATE TABLE customers (id BIGINT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT DEFAULT 'x', score DOUBLE PRECISION CHECK (score >= 0))",
        "CREATE TABLE orders (id BIGINT PRIMARY KEY, customer BIGINT NOT NULL REFERENCES customers(id) ON DELETE CASCADE, total NUMERIC, placed DATE)",
        "CREATE INDEX orders_placed ON orders (placed, total)",
        "CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100",
    ]

    static func withSchema(_ body: (PostgresConnection) async throws -> Void) async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await PostgresClientTests.withConnection(server) { conn in
            for statement in schema { try await conn.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
            try await body(conn)
        }
    }

    static func rows<each Column: PostgresDecodable>(_ conn: PostgresConnection, _ query: PostgresQuery,
                                                      as: (repeat each Column).Type) async throws -> [(repeat each Column)] {
        var out: [(repeat each Column)] = []
        for try await row in try await conn.query(query, logger: logger).decode((repeat each Column).self) { out.append(row) }
        return out
    }

    /// Triggers in pg_trigger (its `tgtype` bits, as PostgreSQL 15 sets them), pg_get_triggerdef
    /// and information_schema.triggers (a row per event, `action_order` within each), as
    /// PostgreSQL 15 lists the same triggers.
    @Test func triggersAreListedInTheCatalogs() async throws {
        try await Self.withSchema { conn in
            for statement in [
                "CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
                "CREATE TRIGGER b_keep BEFORE INSERT OR UPDATE OF total ON orders FOR EACH ROW WHEN (NEW.total > 0) EXECUTE FUNCTION keep('x', 2)",
                "CREATE TRIGGER a_keep BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION keep()",
                "CREATE TRIGGER s_keep AFTER DELETE ON orders EXECUTE FUNCTION keep()",
                "ALTER TABLE orders DISABLE TRIGGER s_keep",
            ] { try await conn.query(PostgresQuery(unsafeSQL: statement), logger: Self.logger) }
            let triggers = try await Self.rows(conn, """
                SELECT t.tgname, t.tgtype, t.tgenabled, t.tgnargs, p.proname, pg_get_triggerdef(t.oid)
                FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid WHERE t.tgrelid = 'orders'::regclass ORDER BY 1
                """, as: (String, Int, String, Int, String, String).self)
            #expect(triggers.map(\.0) == ["a_keep", "b_keep", "s_keep"])
            #expect(triggers.map(\.1) == [7, 23, 8])
            #expect(triggers.map(\.2) == ["O", "O", "D"])
            #expect(triggers.map(\.3) == [0, 2, 0])
            #expect(triggers.map(\.4) == ["keep", "keep", "keep"])
            #expect(triggers.count == 3 && triggers[1].5 == "CREATE TRIGGER b_keep BEFORE INSERT OR UPDATE OF total ON public.orders FOR EACH ROW WHEN (NEW.total > 0) EXECUTE FUNCTION public.keep('x', '2')")
            let listed = try await Self.rows(conn, """
                SELECT trigger_name, event_manipulation, action_order, action_condition, action_statement, action_orientation, action_timing
                FROM information_schema.triggers WHERE event_object_table = 'orders' ORDER BY 1, 2
                """, as: (String, String, Int, String?, String, String, String).self)
            #expect(listed.map { "\($0.0) \($0.1) \($0.2) \($0.5) \($0.6)" } == [
                "a_keep INSERT 1 ROW BEFORE", "b_keep INSERT 2 ROW BEFORE", "b_keep UPDATE 1 ROW BEFORE", "s_keep DELETE 1 STATEMENT AFTER"])
            #expect(listed.count == 4 && listed[1].3 == "(NEW.total > 0)" && listed[1].4 == "EXECUTE FUNCTION keep('x', '2')")
            let has = try await Self.rows(conn, "SELECT relname, relhastriggers FROM pg_class WHERE relname IN ('customers', 'orders') ORDER BY 1",
                                          as: (String, Bool).self)
            #expect(has.map(\.1) == [true, true])  // customers is referenced by a foreign key: PostgreSQL's RI triggers
        }
    }

    @Test func djangoIntrospectionReadsConstraintsAndIndexes() async throws {
        try await Self.withSchema { conn in
            // Django's get_constraints, constraints part (unnest … WITH ORDINALITY, ARRAY(subquery), conkey[1]).
            var constraints: [String: ([String], String, String?)] = [:]
            let table = "orders"
            let query: PostgresQuery = """
                SELECT c.conname, array(SELECT attname FROM unnest(c.conkey) WITH ORDINALITY cols(colid, arridx)
                    JOIN pg_attribute AS ca ON cols.colid = ca.attnum WHERE ca.attrelid = c.conrelid ORDER BY cols.arridx),
                  c.contype, (SELECT fkc.relname || '.' || fka.attname FROM pg_attribute AS fka JOIN pg_class AS fkc ON fka.attrelid = fkc.oid
                    WHERE fka.attrelid = c.confrelid AND fka.attnum = c.confkey[1]), cl.reloptions
                FROM pg_constraint AS c JOIN pg_class AS cl ON c.conrelid = cl.oid
                WHERE cl.relname = \(table) AND pg_catalog.pg_table_is_visible(cl.oid)
                """
            for try await (name, columns, type, reference, _) in try await conn.query(query, logger: Self.logger)
                .decode((String, [String], String, String?, [String]?).self) {
                constraints[name] = (columns, type, reference)
            }
            #expect(Set(constraints.keys) == ["orders_pkey", "orders_customer_fkey"])
            #expect(constraints["orders_pkey"]?.0 == ["id"] && constraints["orders_pkey"]?.1 == "p")
            #expect(constraints["orders_customer_fkey"]?.0 == ["customer"] && constraints["orders_customer_fkey"]?.2 == "customers.id")

            // Django's get_constraints, index part (unnest of two arrays WITH ORDINALITY, `&`, array_agg ORDER BY).
            let indexes: PostgresQuery = """
                SELECT indexname, array_agg(attname ORDER BY arridx), indisunique, indisprimary, array_agg(ordering ORDER BY arridx), amname
                FROM (SELECT c2.relname AS indexname, idx.*, attr.attname, am.amname,
                        CASE am.amname WHEN 'btree' THEN CASE (option & 1) WHEN 1 THEN 'DESC' ELSE 'ASC' END END AS ordering
                      FROM (SELECT * FROM pg_index i, unnest(i.indkey, i.indoption) WITH ORDINALITY koi(key, option, arridx)) idx
                      LEFT JOIN pg_class c ON idx.indrelid = c.oid LEFT JOIN pg_class c2 ON idx.indexrelid = c2.oid
                      LEFT JOIN pg_am am ON c2.relam = am.oid LEFT JOIN pg_attribute attr ON attr.attrelid = c.oid AND attr.attnum = idx.key
                      WHERE c.relname = \(table) AND pg_catalog.pg_table_is_visible(c.oid)) s2
                GROUP BY indexname, indisunique, indisprimary, amname ORDER BY indexname
                """
            let found = try await Self.rows(conn, indexes, as: (String, [String], Bool, Bool, [String], String).self)
            #expect(found.map(\.0) == ["orders_customer_fkey_index", "orders_pkey", "orders_placed"])
            #expect(found.map(\.1) == [["customer"], ["id"], ["placed", "total"]])
            #expect(found.map(\.3) == [false, true, false])
            #expect(found.map(\.4) == [["ASC"], ["ASC"], ["ASC", "ASC"]])
            #expect(found.allSatisfy { $0.5 == "btree" })

            // Django's get_table_list: tables and views, with their kind.
            let tables = try await Self.rows(conn, """
                SELECT c.relname, CASE WHEN c.relispartition THEN 'p' WHEN c.relkind IN ('m', 'v') THEN 'v' ELSE 't' END
                FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('f', 'm', 'p', 'r', 'v') AND n.nspname NOT IN ('pg_catalog', 'pg_toast')
                  AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 1
                """, as: (String, String).self)
            #expect(tables.map(\.0) == ["big_orders", "customers", "orders"])
            #expect(tables.map(\.1) == ["v", "t", "t"])
        }
    }

    @Test func railsAndSQLAlchemyStyleQueriesResolveRegclassAndQualifiedNames() async throws {
        try await Self.withSchema { conn in
            // Rails' column_definitions: 'name'::regclass, format_type, pg_get_expr over pg_attrdef.
            let columns = try await Self.rows(conn, """
                SELECT a.attname, format_type(a.atttypid, a.atttypmod), pg_get_expr(d.adbin, d.adrelid), a.attnotnull
                FROM pg_attribute a LEFT JOIN pg_attrdef d ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                WHERE a.attrelid = '"customers"'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
                """, as: (String, String, String?, Bool).self)
            #expect(columns.map(\.0) == ["id", "email", "name", "score"])
            #expect(columns.map(\.1) == ["bigint", "text", "text", "double precision"])
            #expect(columns.map(\.2) == [nil, nil, "'x'", nil])
            #expect(columns.map(\.3) == [true, true, false, false])

            // Rails' foreign_keys: oid::regclass::text prints the name, current_schemas(false).
            let keys = try await Self.rows(conn, """
                SELECT t2.oid::regclass::text, a1.attname, a2.attname, c.conname, c.confupdtype, c.confdeltype
                FROM pg_constraint c JOIN pg_class t1 ON c.conrelid = t1.oid JOIN pg_class t2 ON c.confrelid = t2.oid
                JOIN pg_attribute a1 ON a1.attnum = c.conkey[1] AND a1.attrelid = t1.oid
                JOIN pg_attribute a2 ON a2.attnum = c.confkey[1] AND a2.attrelid = t2.oid
                JOIN pg_namespace t3 ON c.connamespace = t3.oid
                WHERE c.contype = 'f' AND t1.relname = 'orders' AND t3.nspname = ANY (current_schemas(false)) ORDER BY c.conname
                """, as: (String, String, String, String, String, String).self)
            #expect(keys.count == 1)
            #expect(keys.first.map { [$0.0, $0.1, $0.2, $0.3, $0.4, $0.5] } == ["customers", "customer", "id", "orders_customer_fkey", "a", "c"])

            // SQLAlchemy writes schema.table.column; a primary key through ANY(indkey).
            let names = try await Self.rows(conn, """
                SELECT pg_catalog.pg_class.relname FROM pg_catalog.pg_class
                JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace
                WHERE pg_catalog.pg_class.relkind = ANY (ARRAY['r', 'p']) AND pg_catalog.pg_namespace.nspname != 'pg_catalog' ORDER BY 1
                """, as: String.self)
            #expect(names == ["customers", "orders"])
            let primary = try await Self.rows(conn, """
                SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                WHERE i.indrelid = 'orders'::regclass AND i.indisprimary
                """, as: String.self)
            #expect(primary == ["id"])
            // A relation that does not exist is 42P01, as in PostgreSQL.
            await #expect { try await Self.rows(conn, "SELECT 'nothing'::regclass", as: Int.self) } throws: { PostgresClientTests.sqlState($0) == "42P01" }
            // psycopg's TypeInfo.fetch (SQLAlchemy's first connect asks for hstore, which is absent).
            let info = try await Self.rows(conn, """
                SELECT typname, oid, typarray, oid::regtype::text FROM pg_type t WHERE t.oid = to_regtype(\("int8")) ORDER BY t.oid
                """, as: (String, Int, Int, String).self)
            #expect(info.map(\.0) == ["int8"] && info.map(\.1) == [20] && info.map(\.2) == [1016] && info.map(\.3) == ["bigint"])
            #expect(try await Self.rows(conn, "SELECT oid FROM pg_type WHERE oid = to_regtype('hstore')", as: Int.self).isEmpty)
        }
    }

    @Test func informationSchemaListsTablesColumnsAndKeys() async throws {
        try await Self.withSchema { conn in
            let tables = try await Self.rows(conn, "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
                                             as: (String, String).self)
            #expect(tables.map(\.0) == ["big_orders", "customers", "orders"])
            #expect(tables.map(\.1) == ["VIEW", "BASE TABLE", "BASE TABLE"])
            let columns = try await Self.rows(conn, """
                SELECT column_name, data_type, is_nullable, udt_name FROM information_schema.columns
                WHERE table_name = 'orders' AND table_catalog = current_database() AND table_schema = current_schema() ORDER BY ordinal_position
                """, as: (String, String, String, String).self)
            #expect(columns.map(\.0) == ["id", "customer", "total", "placed"])
            #expect(columns.map(\.1) == ["bigint", "bigint", "numeric", "date"])
            #expect(columns.map(\.2) == ["NO", "NO", "YES", "YES"])
            #expect(columns.map(\.3) == ["int8", "int8", "numeric", "date"])
            let foreignKeys = try await Self.rows(conn, """
                SELECT tc.constraint_name, kcu.column_name, ccu.table_name, ccu.column_name, rc.update_rule, rc.delete_rule
                FROM information_schema.table_constraints AS tc
                JOIN information_schema.key_column_usage AS kcu ON tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema
                JOIN information_schema.constraint_column_usage AS ccu ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema
                JOIN information_schema.referential_constraints rc ON rc.constraint_name = tc.constraint_name
                WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_name = 'orders'
                """, as: (String, String, String, String, String, String).self)
            #expect(foreignKeys.count == 1)
            #expect(foreignKeys.first.map { [$0.0, $0.1, $0.2, $0.3, $0.4, $0.5] } == ["orders_customer_fkey", "customer", "customers", "id", "NO ACTION", "CASCADE"])
            let keyColumns = try await Self.rows(conn, """
                SELECT table_name, column_name FROM information_schema.key_column_usage WHERE table_name IN ('customers', 'orders') ORDER BY 1, 2
                """, as: (String, String).self)
            #expect(keyColumns.map { "\($0.0).\($0.1)" } == ["customers.email", "customers.id", "orders.customer", "orders.id"])
        }
    }

    /// Arrays whose element type the plan knows are PostgreSQL arrays on the wire, in binary
    /// (PostgresNIO) and text (the simple protocol): clients get lists, not JSON text.
    @Test func arraysTravelAsPostgreSQLArrays() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await PostgresClientTests.withConnection(server) { conn in
            try await conn.query("CREATE TABLE a (id INT PRIMARY KEY, tags TEXT[], nums INT[])", logger: Self.logger)
            try await conn.query("INSERT INTO a VALUES (1, '{x,\"y z\"}', ARRAY[1,2]), (2, '{}', '{3}')", logger: Self.logger)
            let rows = try await Self.rows(conn, "SELECT tags, nums FROM a ORDER BY id", as: ([String], [Int]).self)
            #expect(rows.map(\.0) == [["x", "y z"], []])
            #expect(rows.map(\.1) == [[1, 2], [3]])
            let built = try await Self.rows(conn, "SELECT ARRAY[1, 2], string_to_array('a,b', ','), ARRAY(SELECT id FROM a ORDER BY id DESC), '{4,5}'::int[]",
                                            as: ([Int], [String], [Int], [Int]).self)
            #expect(built.first?.0 == [1, 2] && built.first?.1 == ["a", "b"] && built.first?.2 == [2, 1] && built.first?.3 == [4, 5])
            let aggregated = try await Self.rows(conn, "SELECT array_agg(id ORDER BY id), array_agg(tags[2] ORDER BY id) FILTER (WHERE id = 1) FROM a",
                                                 as: ([Int], [String]).self)
            #expect(aggregated.first?.0 == [1, 2] && aggregated.first?.1 == ["y z"])
            // A T[] column checks its elements' type on write, as PostgreSQL does.
            await #expect { try await PostgresClientTests.run(conn, "INSERT INTO a VALUES (3, NULL, '{1,x}')") } throws: {
                PostgresClientTests.sqlState($0) == "22P02"
            }
        }
        // The text form, quoted where PostgreSQL quotes, through psql.
        guard PsqlTests.psqlPath != nil else { return }
        let out = try PsqlTests.psql(server, ["SELECT tags, nums, ARRAY[NULL, '', 'a\"b'] FROM a WHERE id = 1"])
        #expect(out.stdout.contains(#"{x,"y z"} | {1,2} | {NULL,"","a\"b"}"#), "\(out.stdout)")
    }

    /// psql's list commands are ordinary catalog queries now (name patterns written with
    /// `OPERATOR(pg_catalog.~)` and `COLLATE pg_catalog.default`): views and patterns work.
    /// Names that need quotes are quoted where PostgreSQL writes them back into SQL: index and
    /// constraint definitions and `regclass` output (psql then prints `TABLE ""Line""`, as it does
    /// against PostgreSQL); a cast's column is named after what it casts.
    @Test func definitionsQuoteIdentifiersThatNeedIt() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await PostgresClientTests.withConnection(server) { conn in
            for statement in [#"CREATE TABLE "Order Items" ("Item ID" BIGINT PRIMARY KEY, qty INT)"#, #"CREATE INDEX "Odd Idx" ON "Order Items" (qty)"#,
                              #"CREATE TABLE "Line" (id BIGINT PRIMARY KEY, "Item" BIGINT REFERENCES "Order Items"("Item ID"))"#] {
                try await conn.query(PostgresQuery(unsafeSQL: statement), logger: Self.logger)
            }
            let indexes = try await Self.rows(conn, "SELECT indexdef FROM pg_indexes WHERE tablename = 'Order Items' ORDER BY 1", as: String.self)
            #expect(indexes == [#"CREATE INDEX "Odd Idx" ON public."Order Items" USING btree (qty)"#,
                                #"CREATE UNIQUE INDEX "Order Items_pkey" ON public."Order Items" USING btree ("Item ID")"#], "\(indexes)")
            let fk = try await Self.rows(conn, "SELECT conrelid::regclass, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f'", as: (String, String).self)
            #expect(fk.first?.0 == #""Line""# && fk.first?.1 == #"FOREIGN KEY ("Item") REFERENCES "Order Items"("Item ID")"#, "\(fk)")
            let stream = try await conn.query("SELECT conrelid::regclass FROM pg_constraint WHERE contype = 'f'", logger: Self.logger)
            var names: [String] = []
            for try await row in stream { names = row.map(\.columnName) }
            #expect(names == ["conrelid"], "\(names)")
        }
    }

    @Test func psqlListCommandsRunOverTheCatalogs() throws {
        guard PsqlTests.psqlPath != nil else { return }
        let server = try ServerProcess()
        defer { server.remove() }
        var out = try PsqlTests.psql(server, Self.schema)
        #expect(out.status == 0, "\(out.stderr)")
        out = try PsqlTests.psql(server, [#"\dv"#, #"\dt cust*"#, #"\di orders*"#])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("big_orders | view"), "\(out.stdout)")
        #expect(out.stdout.contains("customers | table") && !out.stdout.contains("orders    | table"), "\(out.stdout)")
        #expect(out.stdout.contains("orders_placed") && !out.stdout.contains("customers_pkey"), "\(out.stdout)")
        // Every other list psql 15 has runs too (most list nothing RedDB has: casts, operators, text search …).
        for command in [#"\d"#, #"\dt+"#, #"\di+"#, #"\dv+"#, #"\ds"#, #"\dm"#, #"\df"#, #"\dT"#, #"\dD"#, #"\dn+"#, #"\du"#, #"\dg"#,
                        #"\dp"#, #"\z"#, #"\dx"#, #"\db"#, #"\dC"#, #"\do"#, #"\dc"#, #"\dO"#, #"\dX"#, #"\dy"#, #"\drds"#,
                        #"\des"#, #"\dew"#, #"\dE"#, #"\dF"#, #"\dFp"#, #"\dFd"#, #"\dFt"#, #"\dA"#, #"\dAc"#, #"\dAf"#, #"\da"#,
                        #"\dRp"#, #"\dP"#, #"\dconfig work*"#, #"\l+"#] {
            out = try PsqlTests.psql(server, [command])
            #expect(out.status == 0 && !out.stderr.contains("ERROR"), "\(command): \(out.stderr)")
        }
    }
}
