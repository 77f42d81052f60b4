import ArgumentParser
import Foundation
import RedDB

/// `red bench query`: the issue-3 query scenarios, timed in-process on a fresh database.
///
/// Loads `--rows` rows into `bench_t(id INT PRIMARY KEY, grp INT, val INT, name TEXT)`
/// with an index on `val`, and two `--join-rows` tables for an equi-join, then
/// times: GROUP BY over a 10-value column, point lookups by primary key, index
/// range scans of 1,000 rows, and the join. `scripts/bench-query-postgres`
/// runs the same SQL on PostgreSQL for the peer figures.
struct BenchQuery: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "GROUP BY, primary-key lookups, index range scans and a hash join over a million rows.")

    @Option(help: "Directory for the database files; removed afterwards.")
    var dir: String = "."

    @Option(help: "Rows in the big table.")
    var rows: Int = 1_000_000

    @Option(help: "Rows in each side of the join.")
    var joinRows: Int = 100_000

    @Option(help: "Point lookups to time.")
    var lookups: Int = 20_000

    @Option(help: "Range scans to time.")
    var ranges: Int = 200

    @Option(help: "Page cache budget in MiB (decoded pages take more memory than their 4 KiB on disk).")
    var cacheMiB: Int = 1024

    @Option(help: "Use this existing database (loaded by an earlier run with --keep) instead of loading a new one.")
    var reuse: String?

    @Flag(help: "Keep the database directory (prints its path) for later --reuse runs.")
    var keep = false

    @Option(help: "Only run these scenarios (comma-separated: load,groupby,lookup,range,join,topn,bulk).")
    var only: String?

    mutating func run() async throws {
        MemoryTuning.applyForServer(environment: ProcessInfo.processInfo.environment)  // as `red server` runs
        #if DEBUG
        print("warning: this is a debug build; run `swift run -c release red bench query` for real figures\n")
        #endif
        let root = reuse ?? (dir as NSString).appendingPathComponent(".red-bench-query-\(getpid())")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try await runRemovingOnInterrupt(scratch: keep || reuse != nil ? nil : root) {
            if keep { print("database kept in \(root)") }
            var options = DatabaseOptions()
            options.engine.cacheBytes = cacheMiB << 20
            let db = try await Database.open(path: root + "/bench.rdb", options: options)
            let session = db.session()
            let scenarios = Set((only ?? (reuse == nil ? "load,groupby,lookup,range,join,topn" : "groupby,lookup,range,join,topn")).split(separator: ",").map(String.init))
            var start = Date()
            if scenarios.contains("load") {
            try await session.execute("CREATE TABLE bench_t (id INT PRIMARY KEY, grp INT, val INT, name TEXT)")
            start = Date()
            let batch = 10_000
            for lower in stride(from: 1, through: rows, by: batch) {
                let upper = min(rows, lower + batch - 1)
                try await session.execute("INSERT INTO bench_t (id, grp, val, name) SELECT i, i % 10, (i * 7919) % \(rows), 'name-' || i FROM generate_series(\(lower), \(upper)) AS i")
            }
            report("load \(rows) rows (batches of \(batch))", Date().timeIntervalSince(start), count: rows, unit: "rows")
            start = Date()
            try await session.execute("CREATE INDEX bench_t_val ON bench_t (val)")
            report("CREATE INDEX on val", Date().timeIntervalSince(start), count: rows, unit: "rows")
            try await session.execute("CREATE TABLE bench_a (id INT, k INT)")
            try await session.execute("CREATE TABLE bench_b (id INT, k INT)")
            try await session.execute("INSERT INTO bench_a (id, k) SELECT i, i FROM generate_series(1, \(joinRows)) AS i")
            try await session.execute("INSERT INTO bench_b (id, k) SELECT i, \(joinRows) + 1 - i FROM generate_series(1, \(joinRows)) AS i")
            start = Date()
            try await db.engine.checkpoint()  // so the write-back of the load does not overlap the timed reads
            report("checkpoint after load", Date().timeIntervalSince(start), count: rows, unit: "rows")
            }

            if scenarios.contains("groupby") {
            for _ in 1...3 {
                start = Date()
                let r = try await session.execute("SELECT grp, count(*), sum(val), avg(val) FROM bench_t GROUP BY grp")
                precondition(r.rows.count == 10)
                report("GROUP BY grp (10 groups)", Date().timeIntervalSince(start), count: rows, unit: "rows")
            }

            }
            if scenarios.contains("lookup") {
            for round in 1...2 {
            start = Date()
            for i in 0..<lookups {
                let id = Int64((i &* 7_919) % rows + 1)
                let r = try await session.execute("SELECT id, grp, val, name FROM bench_t WHERE id = $1", parameters: [.integer(id)])
                precondition(r.rows.count == 1)
            }
            report("point lookup by primary key (\(round == 1 ? "cold" : "warm"))", Date().timeIntervalSince(start), count: lookups, unit: "queries")
            }

            }
            if scenarios.contains("range") {
            for round in 1...2 {
            start = Date()
            var scanned = 0
            for i in 0..<ranges {
                let low = Int64((i &* 104_729) % max(1, rows - 1_000))
                // Counted in a subquery, exactly as scripts/bench-query-postgres does on PostgreSQL.
                let r = try await session.execute("SELECT count(*) FROM (SELECT id, val FROM bench_t WHERE val >= $1 AND val < $2) s",
                                                  parameters: [.integer(low), .integer(low + 1_000)])
                if case .integer(let n) = r.rows[0][0] { scanned += Int(n) }
            }
            report("index range scan, 1,000 rows (\(round == 1 ? "cold" : "warm"))", Date().timeIntervalSince(start), count: ranges, unit: "queries")

            _ = scanned
            }
            }
            if scenarios.contains("join") {
            for _ in 1...3 {
                start = Date()
                let r = try await session.execute("SELECT count(*) FROM bench_a a JOIN bench_b b ON a.k = b.k")
                precondition(r.rows.first?.first == .integer(Int64(joinRows)))
                report("\(joinRows) x \(joinRows) equi-join (count)", Date().timeIntervalSince(start), count: joinRows, unit: "rows")
            }
            }
            if scenarios.contains("topn") {
            // ORDER BY an unindexed column LIMIT 10: the top-N heapsort, then the same query with
            // its LIMIT in a subquery, which the sort cannot read ahead, so it sorts every row.
            for (label, limit) in [("top-N heapsort", "10"), ("full sort", "(SELECT 10)")] {
                for _ in 1...3 {
                    start = Date()
                    let r = try await session.execute("SELECT id, name FROM bench_t ORDER BY name DESC LIMIT \(limit)")
                    precondition(r.rows.count == 10)
                    report("ORDER BY name LIMIT 10 (\(label))", Date().timeIntervalSince(start), count: rows, unit: "rows")
                }
            }
            }
            if scenarios.contains("bulk") {
                try await bulk(session)
            }
            try await db.close()
        }
    }

    /// The surfaces' bulk path without the network: rows already decoded (as RedWire's bulk
    /// stream, gRPC's BulkInsertBinary and PG-wire COPY hand them over) go in through
    /// `Session.insertRows`, 1,000 per statement and 50,000 per transaction, into the table
    /// `red bench surfaces` loads.
    func bulk(_ session: Session) async throws {
        try await session.execute("CREATE TABLE bench_bulk (id BIGINT PRIMARY KEY, name TEXT, score FLOAT)")
        let columns = ["id", "name", "score"]
        let rows = (0..<self.rows).map { i in [Value.integer(Int64(i)), .text("name-\(i)"), .float(Double(i) * 0.5)] }
        let start = Date()
        var committing = 0.0  // the two stages RedWire's bulk stream overlaps, timed apart
        for lower in stride(from: 0, to: rows.count, by: 50_000) {
            try await session.execute("BEGIN")
            for statement in stride(from: lower, to: min(rows.count, lower + 50_000), by: 1_000) {
                try await session.insertRows(into: "bench_bulk", columns: columns, rows: rows[statement..<min(rows.count, statement + 1_000)])
            }
            let commitStart = Date()
            try await session.execute("COMMIT")
            committing += Date().timeIntervalSince(commitStart)
        }
        let total = Date().timeIntervalSince(start)
        report("bulk insertRows \(rows.count) rows (50,000 per commit)", total, count: rows.count, unit: "rows")
        print(String(format: "  of which inserting %.1f ms, committing %.1f ms", (total - committing) * 1000, committing * 1000))
    }

    func report(_ name: String, _ seconds: Double, count: Int, unit: String) {
        let padded = name.count < 44 ? name + String(repeating: " ", count: 44 - name.count) : name
        print(padded + String(format: " %10.1f ms  %12.0f ", seconds * 1000, Double(count) / seconds) + unit + "/s")
    }
}
