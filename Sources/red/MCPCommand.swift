import ArgumentParser
import Logging
import RedDB
import RedMCP
#if canImport(Glibc)
import Glibc
#endif

/// `red mcp [--path FILE]`: RedDB's tools for an AI agent, over the Model Context Protocol on
/// standard input and output (JSON lines, or `Content-Length` frames). The agent's host starts
/// it as a subprocess; it serves until its input ends. Logs go to standard error only, since
/// standard output carries the protocol.
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve RedDB's tools to an AI agent over the Model Context Protocol (stdio).")

    @Option(name: [.customShort("d"), .long], help: "Database file (created if missing); without it, an in-memory database.")
    var path: String = ""

    @Flag(help: "Only read: list the reading tools alone, and refuse writes through reddb_query (42501).")
    var readOnly = false

    @Option(help: "Largest message accepted from the client, in bytes.")
    var maxMessageBytes: Int = 16 << 20

    func validate() throws {
        guard maxMessageBytes >= 1024 else { throw ValidationError("--max-message-bytes must be at least 1024") }
    }

    func run() async throws {
        // A client that goes away mid-answer must not kill us with SIGPIPE: the write fails instead.
        signal(SIGPIPE, SIG_IGN)
        let logger = Logger(label: "reddb.mcp") { StreamLogHandler.standardError(label: $0) }
        let database = path.isEmpty ? try await Database.inMemory() : try await Database.open(path: path)
        logger.info("red mcp: serving \(path.isEmpty ? "an in-memory database" : path) on stdio")
        let transport = MCPStdioTransport(maxMessageBytes: maxMessageBytes, logger: logger)
        do {
            try await RedMCPServer(database: database, readOnly: readOnly).run(transport: transport)
        } catch {
            try? await database.close()
            throw error
        }
        try await database.close()
    }
}
