import java.math.BigDecimal;
import java.sql.*;
import java.util.*;

/**
 * An application on pgJDBC, as Java programs and tools (Hibernate, Spring, DBeaver) use it:
 * metadata, a prepared INSERT run past pgJDBC's prepareThreshold (so it becomes a named
 * server-side statement) with every common type (pgJDBC sends dates and times as text with
 * a zone, `2020-01-01 +00`), generated keys, a prepared SELECT, a rolled-back transaction, a
 * fetch size (a portal read a few rows at a time), a batch, a unique violation's SQLSTATE, and
 * DatabaseMetaData's tables, columns, primary key and indexes.
 *
 * Usage: java -cp postgresql.jar:. JDBCClient PORT. Prints lines that JDBCClientTests compares
 * with what PostgreSQL 15 gives for the same program. Two known differences are left out of
 * what it prints: ResultSetMetaData's type names (PostgreSQL's name a serial column `serial`,
 * found through the table OID RowDescription carries, which RedDB sends as 0) and jsonb's text
 * spacing (RedDB writes `{"k":1}`, PostgreSQL `{"k": 1}`; both parse the same).
 */
public class JDBCClient {
    static final StringBuilder out = new StringBuilder();

    static void line(Object... parts) {
        out.append(String.join(" | ", Arrays.stream(parts).map(String::valueOf).toArray(String[]::new))).append("\n");
    }

    static String shown(Object value) {
        if (value instanceof byte[] bytes) return Arrays.toString(bytes);
        if (value instanceof java.sql.Array array) {
            try { return Arrays.toString((Object[]) array.getArray()); } catch (SQLException e) { return "array?"; }
        }
        if (value instanceof org.postgresql.util.PGobject object && "jsonb".equals(object.getType())) return object.getValue().replace(" ", "");
        return value == null ? "null" : value.getClass().getSimpleName() + ":" + value;
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/reddb?user=tester";
        try (Connection c = DriverManager.getConnection(url)) {
            DatabaseMetaData md = c.getMetaData();
            line("product", md.getDatabaseProductName(), md.getDatabaseMajorVersion());
            try (Statement s = c.createStatement()) {
                s.execute("DROP TABLE IF EXISTS j_items");
                s.execute("CREATE TABLE j_items (id serial PRIMARY KEY, name varchar(40) NOT NULL, price numeric(10,2), qty int, big bigint,"
                        + " f float8, ok boolean, born date, at timestamptz, ts timestamp, t time, u uuid, b bytea, tags text[], meta jsonb)");
                s.execute("CREATE INDEX j_items_qty ON j_items (qty)");
            }
            String insert = "INSERT INTO j_items (name, price, qty, big, f, ok, born, at, ts, t, u, b, tags, meta) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?::jsonb)";
            try (PreparedStatement p = c.prepareStatement(insert, Statement.RETURN_GENERATED_KEYS)) {
                for (int i = 1; i <= 7; i++) {
                    p.setString(1, "item" + i);
                    p.setBigDecimal(2, new BigDecimal("1.5").multiply(BigDecimal.valueOf(i)));
                    p.setInt(3, i);
                    p.setLong(4, 10000000000L * i);
                    p.setDouble(5, i / 4.0);
                    p.setBoolean(6, i % 2 == 0);
                    p.setDate(7, java.sql.Date.valueOf("2020-01-0" + i));
                    p.setTimestamp(8, java.sql.Timestamp.valueOf("2021-03-04 05:06:0" + i));
                    p.setTimestamp(9, java.sql.Timestamp.valueOf("2021-03-04 05:06:0" + i));
                    p.setTime(10, java.sql.Time.valueOf("10:11:1" + i));
                    p.setObject(11, UUID.fromString("00000000-0000-0000-0000-00000000000" + i));
                    p.setBytes(12, new byte[]{(byte) i, 0});
                    p.setArray(13, c.createArrayOf("text", new String[]{"a" + i, "b"}));
                    p.setString(14, "{\"k\": " + i + "}");
                    p.executeUpdate();
                    try (ResultSet keys = p.getGeneratedKeys()) {
                        keys.next();
                        if (i == 7) line("generated key", keys.getInt(1));
                    }
                }
            }
            try (PreparedStatement p = c.prepareStatement("SELECT * FROM j_items WHERE qty >= ? ORDER BY id")) {
                for (int round = 0; round < 6; round++) {
                    p.setInt(1, 6);
                    try (ResultSet r = p.executeQuery()) {
                        ResultSetMetaData m = r.getMetaData();
                        while (r.next()) {
                            if (round < 5) continue;
                            List<String> columns = new ArrayList<>();
                            for (int i = 1; i <= m.getColumnCount(); i++) columns.add(m.getColumnName(i) + "=" + shown(r.getObject(i)));
                            line(String.join(", ", columns));
                        }
                    }
                }
            }
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.executeUpdate("UPDATE j_items SET qty = qty + 100 WHERE id = 1");
                c.rollback();
                try (ResultSet r = s.executeQuery("SELECT qty FROM j_items WHERE id = 1")) {
                    r.next();
                    line("after rollback", r.getInt(1));
                }
                s.setFetchSize(2);
                int n = 0;
                try (ResultSet r = s.executeQuery("SELECT id FROM j_items ORDER BY id")) {
                    while (r.next()) n++;
                }
                line("fetched with fetch size 2", n);
                c.commit();
            }
            c.setAutoCommit(true);
            try (PreparedStatement p = c.prepareStatement("INSERT INTO j_items (name) VALUES (?)")) {
                for (String n : new String[]{"x", "y", "z"}) {
                    p.setString(1, n);
                    p.addBatch();
                }
                line("batch", Arrays.toString(p.executeBatch()));
            }
            try (Statement s = c.createStatement()) {
                s.executeUpdate("INSERT INTO j_items (id, name) VALUES (1, 'dup')");
            } catch (SQLException e) {
                line("duplicate", e.getSQLState());
            }
            try (ResultSet r = md.getTables(null, "public", "j_%", new String[]{"TABLE"})) {
                while (r.next()) line("table", r.getString("TABLE_NAME"), r.getString("TABLE_TYPE"));
            }
            try (ResultSet r = md.getColumns(null, "public", "j_items", null)) {
                List<String> columns = new ArrayList<>();
                while (r.next()) {
                    columns.add(r.getString("COLUMN_NAME") + ":" + r.getString("TYPE_NAME") + ":" + r.getInt("DATA_TYPE") + ":"
                            + r.getString("IS_NULLABLE") + ":" + r.getString("IS_AUTOINCREMENT"));
                }
                line("columns", String.join(", ", columns));
            }
            try (ResultSet r = md.getPrimaryKeys(null, "public", "j_items")) {
                while (r.next()) line("primary key", r.getString("COLUMN_NAME"), r.getInt("KEY_SEQ"), r.getString("PK_NAME"));
            }
            try (ResultSet r = md.getIndexInfo(null, "public", "j_items", false, false)) {
                while (r.next()) {
                    line("index", r.getString("INDEX_NAME"), r.getString("COLUMN_NAME"), r.getInt("ORDINAL_POSITION"), r.getBoolean("NON_UNIQUE"),
                         r.getString("ASC_OR_DESC"));
                }
            }
        } catch (SQLException e) {
            line("ERROR", e.getSQLState(), e.getMessage());
        }
        System.out.print(out);
    }
}
