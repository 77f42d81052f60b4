import ArgumentParser
import Foundation
import RedCore
import RedDB
import RedServer

/// `red bootstrap`: creates the first admin of a database file that no server has open (the
/// offline twin of `POST /auth/bootstrap`), and prints the reply with the admin's API key,
/// which is shown only this once. Like every bootstrap it runs once per database.
struct BootstrapCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bootstrap",
        abstract: "Create the first admin user (and an API key) in a database file; once only.",
        discussion: """
            Example: printf '%s' "$ADMIN_PASSWORD" | red bootstrap -d data.rdb -u admin --password-stdin
            From then on every server on that file requires authentication.
            """)

    @Option(name: [.customShort("d"), .long], help: "Database file (not open in a server).")
    var path = "data.rdb"

    @Option(name: [.customShort("u"), .long], help: "The admin's user name (default: $REDDB_USERNAME).")
    var username: String?

    @Flag(help: "Read the password from standard input (one line).")
    var passwordStdin = false

    @Option(help: "The password on the command line (visible to other processes: for development only).")
    var password: String?

    func run() async throws {
        guard let username = username ?? ProcessInfo.processInfo.environment["REDDB_USERNAME"], !username.isEmpty else {
            throw ValidationError("give --username (or set REDDB_USERNAME)")
        }
        let secret: String
        switch (passwordStdin, password) {
        case (true, nil): secret = readLine(strippingNewline: true) ?? ""
        case (false, let given?): secret = given
        case (true, _?): throw ValidationError("give --password or --password-stdin, not both")
        case (false, nil): throw ValidationError("give --password-stdin (or --password for development)")
        }
        do {
            let database = try await Database.open(path: path)
            do {
                let reply = try await OfflineBootstrap.run(database: database, username: username, password: secret)
                try await database.close()
                print(reply.text)
            } catch {
                try? await database.close()
                throw error
            }
        } catch let error as RedError {
            FileHandle.standardError.write(Data("red bootstrap: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
    }
}
