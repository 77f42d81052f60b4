import ArgumentParser

/// `red replica`: `red server --role replica`, as upstream names it (spec ops §6.1). Every
/// `red server` option works here too.
struct ReplicaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replica",
        abstract: "Serve a read-only replica of a primary (red server --role replica).",
        discussion: """
            Example: red replica -d replica.rdb --primary-addr grpc://reader:secret@primary.example:5050 --bind 0.0.0.0:5050
            A new replica copies the primary before it serves; then it follows the primary's log.
            """)

    @Argument(parsing: .captureForPassthrough, help: "Options of red server (--primary-addr, -d, --bind, …).")
    var options: [String] = []

    func run() async throws {
        guard !options.contains(where: { $0 == "--role" || $0 == "-r" || $0.hasPrefix("--role=") }) else {
            throw ValidationError("red replica is always --role replica")
        }
        let server = try ServerCommand.parse(["--role", "replica"] + options)
        try await server.run()
    }
}
