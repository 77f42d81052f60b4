import ArgumentParser
import Foundation
import RedDB

/// `red query`: run SQL against a database file, one shot or from stdin.
struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Run RQL statements against a database file and print the results.",
        discussion: """
            With SQL as an argument, runs it (several statements may be separated by ';') and prints
            the last result. Without, reads statements from standard input, one or more per line,
            and prints every result. Exits non-zero on the first error.
            """)

    @Option(name: .long, help: "Database file (created if missing).")
    var path = "data.rdb"

    @Flag(name: .long, help: "Print the JSON document HTTP POST /query returns (errors too).")
    var json = false

    @Argument(help: "The statements to run; omit to read them from standard input.")
    var sql: String?

    func run() async throws {
        let db = try await Database.open(path: path)
        let session = db.session()
        var failed = false
        do {
            if let sql {
                let results = try await session.executeAll(sql)
                if let last = results.last { print(render(last, sql)) }
            } else {
                var buffer = ""
                while let line = readLine(strippingNewline: false) {
                    buffer += line
                    guard Self.endsStatement(buffer) else { continue }
                    for result in try await session.executeAll(buffer) { print(render(result, buffer)) }
                    buffer = ""
                }
                if !buffer.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    for result in try await session.executeAll(buffer) { print(render(result, buffer)) }
                }
            }
        } catch let error as RedError {
            failed = true
            if json { print(error.json.text) } else { FileHandle.standardError.write(Data("ERROR: \(error.code.sqlState) \(error.message)\n\(error.detail.map { "DETAIL: \($0)\n" } ?? "")".utf8)) }
        }
        try await db.close()
        if failed { throw ExitCode(1) }
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

    func render(_ result: QueryResult, _ query: String) -> String {
        if json { return result.json(query: query.trimmingCharacters(in: .whitespacesAndNewlines)).text }
        if result.columns.isEmpty { return result.message.map { "\(result.commandTag)  -- \($0)" } ?? result.commandTag }
        return TableRenderer.render(result)
    }
}

/// psql-style aligned table output.
enum TableRenderer {
    static func render(_ result: QueryResult) -> String {
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
