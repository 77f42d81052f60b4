import Foundation
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
/// (read it inside a transaction, which runs on the primary, when it must). With no replica
/// in the set, reads go to the primary.
///
/// The set: the replicas the connection string names stay in it; with `?discover=replicas`,
/// `refresh` keeps the rest in step with the primary's topology (upstream's client refreshes
/// every 30 s): replicas it lists healthy join, the others leave and are closed. A replica
/// that could not be reached is tried again at the next refresh.
final class ClusterTransport: ClientTransport {
    struct Member {
        let address: ConnectionString.HostPort
        let transport: any ClientTransport
        /// Named in the connection string: never removed by a refresh.
        let fixed: Bool
    }

    let primary: any ClientTransport
    private let members: Mutex<[Member]>
    private let next = Atomic<Int>(0)
    private let refresher = Mutex<Task<Void, Never>?>(nil)

    init(primary: any ClientTransport, replicas: [Member]) {
        self.primary = primary
        self.members = Mutex(replicas)
    }

    /// The primary's: writes and transactions go there.
    var connectionExecutor: (any TaskExecutor)? { primary.connectionExecutor }

    /// The replicas reads go to now.
    var replicaAddresses: [ConnectionString.HostPort] { members.withLock { $0.map(\.address) } }

    /// The next replica, round robin; the primary when there is none.
    var replica: any ClientTransport {
        members.withLock { members in
            members.isEmpty ? primary : members[next.wrappingAdd(1, ordering: .relaxed).oldValue % members.count].transport
        }
    }

    /// Makes the discovered part of the set `discovered` (the topology's healthy replicas):
    /// opens the new ones (`open`; one that fails stays out until the next refresh) and closes
    /// the ones that left, once out of the set (a read on one meanwhile goes to the primary).
    func refresh(discovered: [ConnectionString.HostPort], open: (ConnectionString.HostPort) async throws -> any ClientTransport) async {
        let known = members.withLock { $0.map(\.address) }
        var opened: [Member] = []
        for address in discovered where !known.contains(address) && !opened.contains(where: { $0.address == address }) {
            if let transport = try? await open(address) { opened.append(Member(address: address, transport: transport, fixed: false)) }
        }
        let left = members.withLock { members -> [Member] in
            let leaving = members.filter { !$0.fixed && !discovered.contains($0.address) }
            members.removeAll { member in !member.fixed && !discovered.contains(member.address) }
            members += opened
            return leaving
        }
        for member in left { try? await member.transport.close() }
    }

    /// Calls `discover` every `interval` and refreshes the set from it, until `close`. A
    /// discovery that fails (the primary is down) leaves the set as it is.
    func startRefreshing(every interval: Duration, discover: @escaping @Sendable () async throws -> [ConnectionString.HostPort],
                         open: @escaping @Sendable (ConnectionString.HostPort) async throws -> any ClientTransport) {
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled, let found = try? await discover() else { continue }
                await self?.refresh(discovered: found, open: open)
            }
        }
        refresher.withLock { $0 = task }
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
        let task = refresher.withLock { task in defer { task = nil }; return task }
        task?.cancel()
        await task?.value
        let replicas = members.withLock { members in defer { members = [] }; return members.map(\.transport) }
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
        guard let first = words.first, !containsSecondStatement(sql), !locksRows(sql) else { return false }
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

    /// Whether `sql` may hold a locking clause (`FOR UPDATE`, `FOR NO KEY UPDATE`, `FOR SHARE`,
    /// `FOR KEY SHARE`): such a SELECT locks rows, which only the primary can. A string
    /// literal that merely contains the words sends a read to the primary, which is harmless.
    static func locksRows(_ sql: String) -> Bool {
        sql.range(of: #"\bFOR\s+(UPDATE|SHARE|NO\s+KEY\s+UPDATE|KEY\s+SHARE)\b"#, options: [.regularExpression, .caseInsensitive]) != nil
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
