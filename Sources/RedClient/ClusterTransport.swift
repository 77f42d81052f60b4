import RedCore
import RedDB
import Synchronization

/// A cluster connection string's transport: one connection to the primary and one to each
/// replica (spec: protocols §7.1; replication-mcp-ai-ops §2.1 read routing).
///
/// Reads go to the replicas in turn; everything else, transactions and bulk loads to the
/// primary. A read is one statement that starts with SELECT, VALUES, TABLE, SHOW, EXPLAIN,
/// a search, a graph command, MATCH or KV GET, or a WITH that writes nothing; anything the
/// client is unsure of goes to the primary, which can run everything. A replica that cannot
/// be reached (connection closed, refused, timed out) hands that read to the primary.
/// Replicas lag their primary a little: a read right after a write may not see it yet
/// (read it inside a transaction, which runs on the primary, when it must).
final class ClusterTransport: ClientTransport {
    let primary: any ClientTransport
    let replicas: [any ClientTransport]
    private let next = Atomic<Int>(0)

    init(primary: any ClientTransport, replicas: [any ClientTransport]) {
        self.primary = primary
        self.replicas = replicas
    }

    /// The next replica, round robin.
    var replica: any ClientTransport {
        replicas[next.wrappingAdd(1, ordering: .relaxed).oldValue % replicas.count]
    }

    func execute(_ sql: String, _ parameters: [Value]) async throws -> QueryResult {
        guard Self.isRead(sql) else { return try await primary.execute(sql, parameters) }
        do {
            return try await replica.execute(sql, parameters)
        } catch let error as RedError where Self.unreachable(error) {
            return try await primary.execute(sql, parameters)
        }
    }

    func session() async throws -> any ClientSession { try await primary.session() }

    func bulkInsert(into table: String, columns: [String], rows: [[Value]]) async throws -> Int? {
        try await primary.bulkInsert(into: table, columns: columns, rows: rows)
    }

    func vectorSearch(collection: String, _ request: JSONValue) async throws -> QueryResult? {
        do {
            return try await replica.vectorSearch(collection: collection, request)
        } catch let error as RedError where Self.unreachable(error) {
            return try await primary.vectorSearch(collection: collection, request)
        }
    }

    func graphTraverse(_ request: JSONValue) async throws -> QueryResult? {
        do {
            return try await replica.graphTraverse(request)
        } catch let error as RedError where Self.unreachable(error) {
            return try await primary.graphTraverse(request)
        }
    }

    func close() async throws {
        var first: (any Error)?
        for transport in [primary] + replicas {
            do { try await transport.close() } catch { first = first ?? error }
        }
        if let first { throw first }
    }

    /// Errors that say the replica is not there (rather than that the statement failed).
    static func unreachable(_ error: RedError) -> Bool {
        // Not a timeout: a read too slow on a replica would only be run again on the primary.
        [.closed, .ioError, .tooManyConnections].contains(error.code)
    }

    /// Whether `sql` is one statement that only reads (see the type's comment).
    static func isRead(_ sql: String) -> Bool {
        let words = leadingWords(sql, count: 2)
        guard let first = words.first, !containsSecondStatement(sql) else { return false }
        switch first {
        case "SELECT", "VALUES", "TABLE", "SHOW", "EXPLAIN", "MATCH", "GRAPH": return true
        case "SEARCH": return true
        case "VECTOR": return words.count > 1 && words[1] == "SEARCH"
        case "KV": return words.count > 1 && words[1] == "GET"
        case "WITH":
            let upper = sql.uppercased()
            return !["INSERT", "UPDATE", "DELETE", "MERGE"].contains { upper.contains($0) }
        default: return false
        }
    }

    /// The first words of `sql`, upper-cased, after spaces and `--` / `/* */` comments.
    static func leadingWords(_ sql: String, count: Int) -> [String] {
        var words: [String] = []
        var current = ""
        var index = sql.startIndex
        while index < sql.endIndex, words.count < count {
            let c = sql[index]
            if c == "-", sql[index...].hasPrefix("--") {
                index = sql[index...].firstIndex(of: "\n") ?? sql.endIndex
                continue
            }
            if c == "/", sql[index...].hasPrefix("/*") {
                index = sql[index...].range(of: "*/")?.upperBound ?? sql.endIndex
                continue
            }
            if c.isLetter || c == "_" {
                current.append(c)
            } else {
                if !current.isEmpty { words.append(current.uppercased()) }
                current = ""
                if !c.isWhitespace, c != "(" { break }
            }
            index = sql.index(after: index)
        }
        if !current.isEmpty, words.count < count { words.append(current.uppercased()) }
        return words
    }

    /// A `;` followed by more than space: several statements, which the primary runs.
    static func containsSecondStatement(_ sql: String) -> Bool {
        guard let semicolon = sql.lastIndex(of: ";") else { return false }
        return sql[sql.index(after: semicolon)...].contains { !$0.isWhitespace } || sql[..<semicolon].contains(";")
    }
}
