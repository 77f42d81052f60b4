import ArgumentParser
import Foundation
import RedClient
import RedDB

/// `red shell URL`: an interactive, psql-like session on RedClient.
///
/// Statements end with `;` and may span lines. Meta-commands start with `\`: `\d` lists
/// collections, `\d NAME` describes one (`SHOW COLUMNS FROM`), `\timing` toggles timing,
/// `\json` switches between aligned tables and the JSON envelope, `\s` prints the history,
/// `\conninfo`, `\?` and `\q`. Every line typed is appended to `~/.red_history` (override with
/// `RED_HISTORY`); arrow-key editing is left to the terminal (`rlwrap red shell …` adds it).
struct ShellCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell",
        abstract: "Interactive SQL shell over red://, grpc://, http://, file:// or memory://.")

    @Argument(help: "Connection string (default red://127.0.0.1:5050).")
    var url = "red://127.0.0.1:5050"

    @Flag(name: .long, help: "Start with JSON output instead of tables.")
    var json = false

    static let help = """
        \\d            list collections
        \\d NAME       describe a collection
        \\timing       toggle statement timing
        \\json         toggle JSON output
        \\s            show the history
        \\conninfo     show the connection
        \\q            quit
        """

    func run() async throws {
        let db: RedClient
        do {
            db = try await RedClient.connect(url)
        } catch let error as RedError {
            FileHandle.standardError.write(Data("red shell: \(error.message)\n".utf8))
            throw ExitCode(2)
        }
        var state = State(json: json)
        let interactive = isatty(STDIN_FILENO) != 0
        if interactive { print("red \(RedDB.version) — \(url)\nType \\? for help, \\q to quit.") }
        var buffer = ""
        while true {
            if interactive {
                print(buffer.isEmpty ? "red=> " : "red-> ", terminator: "")
                fflush(nil)  // flushes stdout (referencing the global is not concurrency-safe)
            }
            guard let line = readLine(strippingNewline: true) else { break }
            state.remember(line)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if buffer.isEmpty, trimmed.hasPrefix("\\") {
                if try await meta(trimmed, db: db, state: &state) { break }
                continue
            }
            buffer += line + "\n"
            guard StatementSplitter.endsStatement(buffer) else { continue }
            for statement in StatementSplitter.split(buffer) { await run(statement, db: db, state: state) }
            buffer = ""
        }
        for statement in StatementSplitter.split(buffer) { await run(statement, db: db, state: state) }
        try await db.close()
    }

    struct State {
        var json: Bool
        var timing = false
        var history: [String] = []
        let historyFile = ProcessInfo.processInfo.environment["RED_HISTORY"]
            ?? (ProcessInfo.processInfo.environment["HOME"].map { $0 + "/.red_history" } ?? ".red_history")

        mutating func remember(_ line: String) {
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { return }
            history.append(line)
            if let handle = FileHandle(forWritingAtPath: historyFile) ?? {
                FileManager.default.createFile(atPath: historyFile, contents: nil)
                return FileHandle(forWritingAtPath: historyFile)
            }() {
                handle.seekToEndOfFile()
                handle.write(Data((line + "\n").utf8))
                try? handle.close()
            }
        }
    }

    /// Runs a meta-command; true when the shell should quit.
    func meta(_ command: String, db: RedClient, state: inout State) async throws -> Bool {
        let parts = command.split(separator: " ", maxSplits: 1).map(String.init)
        switch parts[0] {
        case "\\q": return true
        case "\\?": print(Self.help)
        case "\\timing":
            state.timing.toggle()
            print("Timing is \(state.timing ? "on" : "off").")
        case "\\json":
            state.json.toggle()
            print("Output is \(state.json ? "JSON" : "tables").")
        case "\\s": print(state.history.joined(separator: "\n"))
        case "\\conninfo": print("Connected to \(url) (\(db.connectionString.transport.rawValue)).")
        case "\\d":
            if parts.count == 2 {
                await run("SHOW COLUMNS FROM \(Session.identifier(parts[1].trimmingCharacters(in: .whitespaces)))", db: db, state: state)
            } else {
                await run("SHOW TABLES", db: db, state: state)
            }
        default: print("invalid command \(parts[0]); try \\?")
        }
        return false
    }

    func run(_ statement: String, db: RedClient, state: State) async {
        let started = ContinuousClock.now
        do {
            let result = try await db.query(statement)
            print(state.json ? result.json(query: statement.trimmingCharacters(in: .whitespacesAndNewlines)).text : TableRenderer.render(result))
        } catch let error as RedError {
            if state.json { print(error.json.text) } else { FileHandle.standardError.write(Data(QueryCommand.errorText(error).utf8)) }
        } catch {
            FileHandle.standardError.write(Data("ERROR: \(error)\n".utf8))
        }
        if state.timing {
            let elapsed = ContinuousClock.now - started
            print(String(format: "Time: %.3f ms", Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000))
        }
    }
}
