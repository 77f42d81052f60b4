import PostgresNIO

/// The duel's tables, their deterministic data and the prepared statements run on them.
///
/// Every row is a pure function of its id, so both engines hold exactly the same data
/// and every scenario must return the same row counts on both.
enum DuelSchema {
    /// The `typed_insert` schema: BIGINT primary key, UNIQUE email, indexes on age and city.
    static let createUsers = [
        "DROP TABLE IF EXISTS duel_users CASCADE",  // CASCADE: fk_* scenarios leave orders referencing it
        "CREATE TABLE duel_users (id BIGINT PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE, age BIGINT NOT NULL, city TEXT NOT NULL, score BIGINT NOT NULL)",
        "CREATE INDEX duel_users_age ON duel_users (age)",
        "CREATE INDEX duel_users_city ON duel_users (city)",
    ]
    static let userColumns = ["id", "name", "email", "age", "city", "score"]
    static let cities = 10
    static let ages = 100

    static func user(_ id: Int64) -> [DuelValue] {
        [.int(id), .text("user-\(id)"), .text("user-\(id)@example.com"), .int(id % Int64(ages)),
         .text("city-\(id % Int64(cities))"), .int(0)]
    }

    /// The same user as a COPY text line.
    static func userLine(_ id: Int64) -> String {
        "\(id)\tuser-\(id)\tuser-\(id)@example.com\t\(id % Int64(ages))\tcity-\(id % Int64(cities))\t0"
    }

    /// Server-side load of users `lower...upper` (same SQL on both engines; not timed).
    static func loadUsers(_ lower: Int, _ upper: Int) -> String {
        """
        INSERT INTO duel_users (id, name, email, age, city, score) \
        SELECT i, 'user-' || i, 'user-' || i || '@example.com', i % \(ages), 'city-' || (i % \(cities)), 0 \
        FROM generate_series(\(lower), \(upper)) AS i
        """
    }

    static let createOrders = [
        "DROP TABLE IF EXISTS duel_orders",
        "CREATE TABLE duel_orders (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, amount BIGINT NOT NULL)",
        "CREATE INDEX duel_orders_user ON duel_orders (user_id)",
    ]

    /// Order j belongs to user (j mod users) + 1: every user has the same number of orders.
    static func loadOrders(_ lower: Int, _ upper: Int, users: Int) -> String {
        """
        INSERT INTO duel_orders (id, user_id, amount) \
        SELECT j, (j % \(users)) + 1, ((j % 1000) * 37) % 1000 FROM generate_series(\(lower), \(upper)) AS j
        """
    }

    static let groups = 100
    static let createEvents = [
        "DROP TABLE IF EXISTS duel_events",
        "CREATE TABLE duel_events (id BIGINT PRIMARY KEY, grp BIGINT NOT NULL, val BIGINT NOT NULL)",
    ]

    static func loadEvents(_ lower: Int, _ upper: Int) -> String {
        """
        INSERT INTO duel_events (id, grp, val) \
        SELECT i, i % \(groups), ((i % 10000) * 7919) % 10000 FROM generate_series(\(lower), \(upper)) AS i
        """
    }

    static let createPrices = [
        "DROP TABLE IF EXISTS duel_prices",
        "CREATE TABLE duel_prices (id BIGINT PRIMARY KEY, grp BIGINT NOT NULL, price NUMERIC(12,2) NOT NULL)",
    ]

    /// Prices from 0.00 to 9999.99 with cents: a numeric division both engines round to the column's scale.
    static func loadPrices(_ lower: Int, _ upper: Int) -> String {
        """
        INSERT INTO duel_prices (id, grp, price) \
        SELECT i, i % \(groups), (((i % 10000) * 7919) % 1000000) / 100.0 FROM generate_series(\(lower), \(upper)) AS i
        """
    }

    // The loads compute in 32-bit range on purpose: PostgreSQL's generate_series(int, int)
    // yields int4, so `i * 7919` would overflow there at a few hundred thousand rows.

    /// Splits a server-side load into statements of at most `chunk` rows.
    static func chunked(_ total: Int, chunk: Int = 50_000, _ make: (Int, Int) -> String) -> [String] {
        stride(from: 1, through: total, by: chunk).map { make($0, min(total, $0 + chunk - 1)) }
    }
}

// MARK: - Prepared statements

struct InsertUser: DuelCommand {
    static let sql = "INSERT INTO duel_users (id, name, email, age, city, score) VALUES ($1, $2, $3, $4, $5, $6)"
    let values: [DuelValue]
    init(id: Int64) { values = DuelSchema.user(id) }
}

/// One multi-row INSERT of `rowsPerStatement` users.
struct InsertUserBatch: DuelCommand {
    static let rowsPerStatement = 100
    static let sql = "INSERT INTO duel_users (id, name, email, age, city, score) VALUES "
        + (0..<rowsPerStatement).map { row in
            "(" + (1...6).map { "$\(row * 6 + $0)" }.joined(separator: ", ") + ")"
        }.joined(separator: ", ")
    let values: [DuelValue]
    init(firstID: Int64) { values = (firstID..<firstID + Int64(Self.rowsPerStatement)).flatMap(DuelSchema.user) }
}

struct SelectUserByID: DuelQuery {
    static let sql = "SELECT id, name, email, age, city, score FROM duel_users WHERE id = $1"
    let values: [DuelValue]
    init(id: Int64) { values = [.int(id)] }
}

struct SelectUsersByAge: DuelQuery {
    static let sql = "SELECT id, name, age FROM duel_users WHERE age BETWEEN $1 AND $2"
    let values: [DuelValue]
    init(from: Int64, to: Int64) { values = [.int(from), .int(to)] }
}

struct UpdateScoreByID: DuelCommand {
    static let sql = "UPDATE duel_users SET score = score + 1 WHERE id = $1"
    let values: [DuelValue]
    init(id: Int64) { values = [.int(id)] }
}

struct UpdateScoreByCity: DuelCommand {
    static let sql = "UPDATE duel_users SET score = score + 1 WHERE city = $1"
    let values: [DuelValue]
    init(city: Int) { values = [.text("city-\(city)")] }
}

struct GroupEvents: DuelQuery {
    static let sql = "SELECT grp, count(*), sum(val), avg(val) FROM duel_events GROUP BY grp"
    let values: [DuelValue] = []
}

/// IN over a statement-constant subquery (a hashed semi-join in both engines).
struct SemiJoinEvents: DuelQuery {
    static let sql = "SELECT count(*) FROM duel_events e WHERE e.val IN (SELECT grp * 37 FROM duel_events WHERE id % 1000 = 0)"
    let values: [DuelValue] = []
}

/// A correlated EXISTS on an equality with the enclosing row.
struct ExistsEvents: DuelQuery {
    static let sql = "SELECT count(*) FROM duel_events e WHERE EXISTS (SELECT 1 FROM duel_events f WHERE f.val = e.grp AND f.id % 10 = 0)"
    let values: [DuelValue] = []
}

/// Running totals per group: a window aggregate whose frame grows row by row.
struct RunningTotalEvents: DuelQuery {
    static let sql = "SELECT max(s) FROM (SELECT sum(val) OVER (PARTITION BY grp ORDER BY id) AS s FROM duel_events) x"
    let values: [DuelValue] = []
}

struct GroupPrices: DuelQuery {
    static let sql = "SELECT grp, sum(price), avg(price), max(price) FROM duel_prices GROUP BY grp"
    let values: [DuelValue] = []
}

struct JoinUsersOrders: DuelQuery {
    static let sql = """
        SELECT u.id, u.name, o.id, o.amount FROM duel_users u JOIN duel_orders o ON o.user_id = u.id \
        WHERE u.id BETWEEN $1 AND $2 AND o.amount >= $3
        """
    let values: [DuelValue]
    init(fromUser: Int64, toUser: Int64, minimumAmount: Int64) { values = [.int(fromUser), .int(toUser), .int(minimumAmount)] }
}

struct DeleteUserByID: DuelCommand {
    static let sql = "DELETE FROM duel_users WHERE id = $1"
    let values: [DuelValue]
    init(id: Int64) { values = [.int(id)] }
}
