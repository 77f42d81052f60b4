import Foundation
import RedDB
import RedQuery

/// Runs a sqllogictest-style `.test` file (format in Tests/RedDBTests/Corpus/README.md)
/// against a fresh in-memory database and returns every mismatch.
struct SQLLogicTestRunner {
    /// 2026-01-01T00:00:00Z: where the corpus clock starts.
    static let corpusEpochMilliseconds: Int64 = 1_767_225_600_000

    struct Failure: CustomStringConvertible {
        let file: String
        let line: Int
        let sql: String
        let detail: String
        var description: String { "\(file):\(line): \(sql)\n    \(detail.replacingOccurrences(of: "\n", with: "\n    "))" }
    }

    enum Record {
        case statement(sql: String, expectError: Bool, code: String?, line: Int)
        case query(sql: String, columns: Int, sort: String, expected: [String], line: Int)
        case advance(milliseconds: Int64, line: Int)
        /// `control timezone Europe/Paris`: the session's time zone from here on (PG-wire's SET TIME ZONE).
        case timeZone(String, line: Int)
        /// `control search_path app,public`: the session's search path from here on (PG-wire's
        /// SET search_path, `$user` already replaced).
        case searchPath([String])
    }

    static func parse(_ text: String) -> [Record] {
        let lines = text.components(separatedBy: "\n")
        var records: [Record] = []
        var i = 0
        func block(until stop: (String) -> Bool) -> [String] {
            var out: [String] = []
            while i < lines.count, !stop(lines[i]) { out.append(lines[i]); i += 1 }
            return out
        }
        while i < lines.count {
            let line = lines[i].trimmingCharacters(in: .whitespaces)
            let start = i + 1
            if line.isEmpty || line.hasPrefix("#") { i += 1; continue }
            let words = line.split(separator: " ").map(String.init)
            i += 1
            switch words[0] {
            case "statement":
                let sql = block { $0.trimmingCharacters(in: .whitespaces).isEmpty }.joined(separator: "\n")
                records.append(.statement(sql: sql, expectError: words.count > 1 && words[1] == "error", code: words.count > 2 ? words[2] : nil, line: start))
            case "query":
                let sql = block { $0 == "----" || $0.trimmingCharacters(in: .whitespaces).isEmpty }.joined(separator: "\n")
                var expected: [String] = []
                if i < lines.count, lines[i] == "----" {
                    i += 1
                    expected = block { $0.isEmpty }
                }
                records.append(.query(sql: sql, columns: words.count > 1 ? words[1].count : 0, sort: words.count > 2 ? words[2] : "nosort",
                                      expected: expected, line: start))
            case "control":
                if words.count == 3, words[1] == "advance", let ms = Int64(words[2]) { records.append(.advance(milliseconds: ms, line: start)) }
                if words.count == 3, words[1] == "timezone" { records.append(.timeZone(words[2], line: start)) }
                if words.count == 3, words[1] == "search_path" { records.append(.searchPath(words[2].split(separator: ",").map(String.init))) }
            default:
                break
            }
        }
        return records
    }

    static func render(_ v: Value) -> String {
        switch v {
        case .text(let s): return s.isEmpty ? "(empty)" : s
        default: return v.displayText
        }
    }

    static func run(file: URL) async throws -> [Failure] {
        let text = try String(contentsOf: file, encoding: .utf8)
        let clock = ManualClock(milliseconds: corpusEpochMilliseconds)
        var options = DatabaseOptions()
        options.aiEnvironment = [:]  // no AI provider: text searches fail the same way on every machine
        options.clock = clock
        let db = try await Database.inMemory(options: options)
        let session = db.session()
        var failures: [Failure] = []
        let name = file.lastPathComponent
        for record in parse(text) {
            switch record {
            case .advance(let ms, _):
                clock.advance(milliseconds: ms)
            case .searchPath(let path):
                session.searchPath = { path }
            case .timeZone(let setting, let line):
                do {
                    let zone = try SessionTimeZone(setting: setting)
                    session.timeZone = { zone }
                } catch {
                    failures.append(Failure(file: name, line: line, sql: "control timezone \(setting)", detail: "\(error)"))
                }
            case .statement(let sql, let expectError, let code, let line):
                do {
                    _ = try await session.execute(sql)
                    if expectError { failures.append(Failure(file: name, line: line, sql: sql, detail: "expected an error\(code.map { " \($0)" } ?? ""), got success")) }
                } catch let error as RedError {
                    if !expectError { failures.append(Failure(file: name, line: line, sql: sql, detail: "unexpected error: \(error)")) }
                    else if let code, code != error.sqlState {
                        failures.append(Failure(file: name, line: line, sql: sql, detail: "expected SQLSTATE \(code), got \(error)"))
                    }
                }
            case .query(let sql, let columns, let sort, let expected, let line):
                do {
                    let result = try await session.execute(sql)
                    var rows = result.rows.map { $0.map(render).joined(separator: "\t") }
                    var want = expected
                    if sort == "rowsort" { rows.sort(); want.sort() }
                    if sort == "valuesort" {
                        rows = rows.flatMap { $0.components(separatedBy: "\t") }.sorted()
                        want = want.flatMap { $0.components(separatedBy: "\t") }.sorted()
                    }
                    if columns > 0, result.columns.count != columns {
                        failures.append(Failure(file: name, line: line, sql: sql, detail: "expected \(columns) columns, got \(result.columns.count)"))
                    } else if rows != want {
                        failures.append(Failure(file: name, line: line, sql: sql,
                                                detail: "expected:\n\(want.joined(separator: "\n"))\ngot:\n\(rows.joined(separator: "\n"))"))
                    }
                } catch {
                    failures.append(Failure(file: name, line: line, sql: sql, detail: "unexpected error: \(error)"))
                }
            }
        }
        try await db.close()
        return failures
    }
}
