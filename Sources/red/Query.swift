import ArgumentParser
import Foundation
import RedClient
import RedDB

/// `red query`: run SQL against a database file or a server, one shot or from stdin.
struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Run RQL statements against a database file or a server and print the results.",
        discussion: """
            With SQL as an argument, runs it (several statements may be separated by ';') and prints
            the last result. Without, reads statements from standard input, one or more per line,
            and prints every result. Exits non-zero on the first error.
            --url reaches a server (red://host:5050, grpc://host:5555, http://host:5055) or a file
            (file:///path, memory://); --json prints the same document whatever the transport.
            """)

    @Option(name: .long, help: "Database file (created if missing), when --url is not given.")
    var path = "data.rdb"

    @Option(name: .long, help: "Connection string: red://, grpc://, http://, file:// or memory://.")
    var url: String?

    @Flag(name: .long, help: "Print the JSON document HTTP POST /query returns (errors too).")
    var json = false

    @Argument(help: "The statements to run; omit to read them from standard input.")
    var sql: String?

    func run() async throws {
        let db = try await RedClient.connect(url ?? Self.fileURL(path))
        var failed = false
        do {
            if let sql {
                var last: (QueryResult, String)?
                for statement in StatementSplitter.split(sql) { last = (try await db.query(statement), statement) }
                if let (result, text) = last { print(render(result, text)) }
            } else {
                var buffer = ""
                while let line = readLine(strippingNewline: false) {
                    buffer += line
                    guard StatementSplitter.endsStatement(buffer) else { continue }
                    for statement in StatementSplitter.split(buffer) { print(render(try await db.query(statement), statement)) }
                    buffer = ""
                }
                for statement in StatementSplitter.split(buffer) { print(render(try await db.query(statement), statement)) }
            }
        } catch let error as RedError {
            failed = true
            if json { print(error.json.text) } else { FileHandle.standardError.write(Data(Self.errorText(error).utf8)) }
        }
        try await db.close()
        if failed { throw ExitCode(1) }
    }

    static func fileURL(_ path: String) -> String {
        "file://" + (path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path)
    }

    static func errorText(_ error: RedError) -> String {
        "ERROR: \(error.sqlState) \(error.message)\n\(error.detail.map { "DETAIL: \($0)\n" } ?? "")"
    }

    func render(_ result: QueryResult, _ query: String) -> String {
        if json { return result.json(query: query.trimmingCharacters(in: .whitespacesAndNewlines)).text }
        return TableRenderer.render(result)
    }
}

/// Splits a script into statements at `;` outside quotes and `--` comments.
enum StatementSplitter {
    static func split(_ text: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var inSingle = false, inDouble = false, inComment = false
        for c in text {
            if inComment {
                if c == "\n" { inComment = false }
                current.append(c)
                continue
            }
            if c == "-", !inSingle, !inDouble, current.last == "-" { inComment = true }
            if c == "'" && !inDouble { inSingle.toggle() } else if c == "\"" && !inSingle { inDouble.toggle() }
            if c == ";" && !inSingle && !inDouble {
                statements.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        statements.append(current)
        return statements.filter { !isBlank($0) }
    }

    /// True when nothing but whitespace and comments remains.
    static func isBlank(_ text: String) -> Bool {
        text.split(separator: "\n").allSatisfy { line in
            let t = line.trimmingCharacters(in: .whitespaces)
            return t.isEmpty || t.hasPrefix("--")
        }
    }

    /// True when the buffered text ends with a `;` outside quotes and comments.
    static func endsStatement(_ text: String) -> Bool {
        var inSingle = false, inDouble = false, last: Character = " "
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if !inSingle && !inDouble && c == "-" && text[text.index(after: i)...].first == "-" {
                while i < text.endIndex, text[i] != "\n" { i = text.index(after: i) }
                continue
            }
            if c == "'" && !inDouble { inSingle.toggle() } else if c == "\"" && !inSingle { inDouble.toggle() }
            if !c.isWhitespace { last = c }
            i = text.index(after: i)
        }
        return !inSingle && !inDouble && last == ";"
    }
}

/// psql-style aligned table output.
enum TableRenderer {
    static func render(_ result: QueryResult) -> String {
        if result.columns.isEmpty {
            return result.message.map { "\(result.commandTag)  -- \($0)" } ?? result.commandTag
        }
        let header = result.columns.map(\.name)
        let cells = result.rows.map { $0.map { $0.isNull ? "" : $0.displayText } }
        var widths = header.map(\.count)
        for row in cells { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ values: [String]) -> String {
            values.enumerated().map { i, v in " " + v + String(repeating: " ", count: widths[i] - v.count) + " " }.joined(separator: "|")
        }
        var out = [line(header), widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "+")]
        out += cells.map(line)
        out.append("(\(result.rows.count) row\(result.rows.count == 1 ? "" : "s"))")
        return out.joined(separator: "\n")
    }
}
