import NIOCore
import RedCore
import RedDB
import RedQuery

/// `COPY … FROM STDIN` / `COPY … TO STDOUT` in PostgreSQL's text and CSV formats.
///
/// Grammar accepted (PostgreSQL's, both option styles):
/// `COPY table [(col, …)] FROM STDIN [[WITH] (FORMAT csv|text, HEADER [bool], DELIMITER 'c', NULL 's', QUOTE 'c', ESCAPE 'c',
/// FORCE_NOT_NULL (col, …), FORCE_NULL (col, …), ENCODING 'UTF8')]`, and for CSV output `FORCE_QUOTE (col, …) | *`,
/// `COPY {table [(col, …)] | (query)} TO STDOUT [[WITH] …]`, and the legacy
/// `WITH CSV HEADER DELIMITER AS 'c' NULL AS 's'`. Files and programs are refused
/// (the server never touches the client's file system). `FORMAT binary` uses `PGBinaryCopy`.
///
/// COPY FROM runs in one transaction (the open one, or its own): either every
/// row lands or none does. Rows are inserted in batches through the session,
/// so values are validated and coerced exactly as INSERT would.
struct PGCopyCommand: Equatable {
    enum Direction: Equatable { case fromClient, toClient }
    enum Source: Equatable {
        case table(String, columns: [String]?)
        case query(String)
    }

    var direction: Direction
    var source: Source
    var csv = false
    /// PostgreSQL's binary COPY format (see `PGBinaryCopy`).
    var binary = false
    var delimiter: UInt8 = 0x09
    var null = "\\N"
    var header = false
    var quote: UInt8 = UInt8(ascii: "\"")
    var escape: UInt8 = UInt8(ascii: "\"")
    /// CSV output: columns whose non-NULL values are always quoted (nil: every column).
    var forceQuote: [String]? = []
    /// CSV input: columns where an unquoted NULL string is that text, not NULL …
    var forceNotNull: [String] = []
    /// … and where a quoted one is NULL too.
    var forceNull: [String] = []

    init(parsing sql: String) throws {
        var words = PGWords(sql)
        _ = words.nextWord()  // COPY
        if words.accept("(") {
            source = .query(try Self.balancedText(&words))
        } else {
            guard var table = words.nextWord() else { throw RedError(.syntaxError, "COPY needs a table name or a (query)") }
            // `public.t` stays qualified: it is public's `t` whatever the search path (pg_dump's
            // COPY runs with an empty one); `SchemaCatalog.canonical` reads it.
            if table.lowercased().hasPrefix("public.") { table = "public." + table.dropFirst(7) }
            var columns: [String]?
            if words.accept("(") { columns = try Self.columnList(&words, of: "COPY's column list") }
            source = .table(table, columns: columns)
        }
        switch words.nextWord()?.lowercased() {
        case "from": direction = .fromClient
        case "to": direction = .toClient
        default: throw RedError(.syntaxError, "COPY needs FROM STDIN or TO STDOUT")
        }
        let endpoint = words.nextWord()?.lowercased()
        guard endpoint == (direction == .fromClient ? "stdin" : "stdout") else {
            throw RedError(.featureNotSupported, "COPY \(direction == .fromClient ? "FROM" : "TO") supports only \(direction == .fromClient ? "STDIN" : "STDOUT"); the server does not read or write files or programs")
        }
        if direction == .fromClient, case .query = source { throw RedError(.syntaxError, "COPY FROM takes a table, not a query") }
        try parseOptions(&words)
    }

    private mutating func parseOptions(_ words: inout PGWords) throws {
        var options: [(String, String?)] = []
        _ = words.nextWordIf("with")
        if words.accept("(") {
            repeat {
                guard let name = words.nextWord()?.lowercased() else { throw RedError(.syntaxError, "expected a COPY option name") }
                if ["force_quote", "force_not_null", "force_null"].contains(name) {
                    try parseForced(name, &words)
                    continue
                }
                options.append((name, words.optionValue()))
            } while words.accept(",")
            guard words.accept(")") else { throw RedError(.syntaxError, "expected ) after COPY options") }
        } else {
            while let name = words.nextWord()?.lowercased() {
                switch name {
                case "csv": options.append(("format", "csv"))
                case "binary": options.append(("format", "binary"))
                case "header": options.append(("header", "true"))
                case "delimiter", "null", "quote", "escape":
                    _ = words.nextWordIf("as")
                    options.append((name, words.optionValue()))
                default: throw RedError(.syntaxError, "COPY option \"\(name)\" not recognized")
                }
            }
        }
        var delimiterSet = false, nullSet = false
        for (name, value) in options {
            switch name {
            case "format":
                switch value?.lowercased() {
                case "csv": csv = true
                case "text": csv = false
                case "binary": binary = true
                default: throw RedError(.syntaxError, "COPY format \"\(value ?? "")\" not recognized")
                }
            case "header":
                header = !["false", "off", "0"].contains((value ?? "true").lowercased())
            case "delimiter":
                guard let v = value, v.utf8.count == 1 else { throw RedError(.invalidArgument, "COPY delimiter must be a single one-byte character") }
                delimiter = v.utf8.first!
                delimiterSet = true
            case "null":
                null = value ?? ""
                nullSet = true
            case "freeze":
                break  // a PostgreSQL visibility-map hint; rows are committed normally
            case "encoding":
                guard ["utf8", "utf-8", "unicode"].contains((value ?? "").lowercased()) else {
                    throw RedError(.featureNotSupported, "COPY encoding \"\(value ?? "")\" is not supported: RedDB reads and writes UTF8")
                }
            case "quote", "escape":
                guard let v = value, v.utf8.count == 1 else { throw RedError(.invalidArgument, "COPY \(name) must be a single one-byte character") }
                if name == "quote" { quote = v.utf8.first! } else { escape = v.utf8.first! }
            default:
                throw RedError(.syntaxError, "COPY option \"\(name)\" not recognized")
            }
        }
        if csv {
            if !delimiterSet { delimiter = UInt8(ascii: ",") }
            if !nullSet { null = "" }
        }
        // PostgreSQL's checks and words.
        for (option, used, input) in [("force quote", forceQuote.map { !$0.isEmpty } ?? true, false),
                                      ("force not null", !forceNotNull.isEmpty, true), ("force null", !forceNull.isEmpty, true)] where used {
            guard csv else { throw RedError(.featureNotSupported, "COPY \(option) available only in CSV mode") }
            guard input == (direction == .fromClient) else {
                throw RedError(.featureNotSupported, "COPY \(option) only available using COPY \(input ? "FROM" : "TO")")
            }
        }
    }

    /// `FORCE_… (col, …)`, or `FORCE_QUOTE *`.
    private mutating func parseForced(_ name: String, _ words: inout PGWords) throws {
        var columns: [String]?
        if words.accept("(") {
            columns = try Self.columnList(&words, of: name.uppercased())
        } else if name == "force_quote", words.accept("*") {
            columns = nil
        } else {
            throw RedError(.syntaxError, "\(name.uppercased()) needs a column list in parentheses")
        }
        switch name {
        case "force_quote": forceQuote = columns
        case "force_not_null": forceNotNull = columns ?? []
        default: forceNull = columns ?? []
        }
    }

    /// `col, …)` after an accepted `(`: the names of a column list (`what` names it in errors).
    private static func columnList(_ words: inout PGWords, of what: String) throws -> [String] {
        var list: [String] = []
        repeat {
            guard let column = words.nextWord() else { throw RedError(.syntaxError, "expected a column name in \(what)") }
            list.append(column)
        } while words.accept(",")
        guard words.accept(")") else { throw RedError(.syntaxError, "expected ) after \(what)") }
        return list
    }

    /// Positions among `columns` of the ones `names` lists (a name not among them is 42703).
    static func positions(of names: [String], in columns: [String], option: String) throws -> Set<Int> {
        try Set(names.map { name in
            guard let i = columns.firstIndex(where: { $0.lowercased() == name.lowercased() }) else {
                throw RedError(.undefinedColumn, "\(option) column \"\(name)\" does not exist among the columns COPY reads or writes")
            }
            return i
        })
    }

    /// The text up to the `)` that closes an already-consumed `(`, quotes respected.
    private static func balancedText(_ words: inout PGWords) throws -> String {
        var depth = 1
        var text = ""
        var quote: Character?
        while words.index < words.scalars.count {
            let c = words.scalars[words.index]
            words.index += 1
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "'" || c == "\"" {
                quote = c
            } else if c == "(" {
                depth += 1
            } else if c == ")" {
                depth -= 1
                if depth == 0 { return text }
            }
            text.append(c)
        }
        throw RedError(.syntaxError, "unbalanced parentheses in COPY (query)")
    }
}

extension PGWords {
    mutating func nextWordIf(_ word: String) -> Bool {
        let saved = index
        if nextWord()?.lowercased() == word { return true }
        index = saved
        return false
    }

    /// An option value: a quoted string, or a bare word; nil when the option has none.
    mutating func optionValue() -> String? {
        skipSpaces()
        guard index < scalars.count else { return nil }
        if scalars[index] == "'" || (scalars[index] == "E" && index + 1 < scalars.count && scalars[index + 1] == "'") {
            let escaped = scalars[index] == "E"
            index += escaped ? 2 : 1
            var value = ""
            while index < scalars.count {
                let c = scalars[index]
                index += 1
                if c == "'" {
                    if index < scalars.count, scalars[index] == "'" { value.append("'"); index += 1; continue }
                    break
                }
                if escaped, c == "\\", index < scalars.count {
                    let n = scalars[index]
                    index += 1
                    value.append(n == "t" ? "\t" : n == "n" ? "\n" : n == "r" ? "\r" : n)
                    continue
                }
                value.append(c)
            }
            return value
        }
        if scalars[index] == "," || scalars[index] == ")" { return nil }
        return nextWord()
    }
}

/// Splits COPY data into rows as CopyData chunks arrive (rows may span chunks).
struct PGCopyRowParser {
    let copy: PGCopyCommand
    /// Unparsed bytes from `position` on (see `PGCopyTextScanner` for the text format).
    var buffer: [UInt8] = []
    var position = 0
    var finished = false
    /// Where an unfinished row's scan stopped, so the next chunk resumes it rather than
    /// scanning the row again from its start (chunks of a byte each made a long row quadratic):
    /// for text, how far there is surely no newline; for CSV, the scanner's whole state.
    var scannedWithoutNewline = 0
    var csvResume: (i: Int, fields: [String?], field: [UInt8], quoted: Bool, inQuotes: Bool)?
    /// `copy.null` as bytes, compared with each raw text field.
    let nullBytes: [UInt8]
    /// The target columns' types, when known: a text field that is plainly an integer or a
    /// decimal number for an integer or float column is converted as it is read.
    var columnTypes: [DataType] = []

    init(_ copy: PGCopyCommand) {
        self.copy = copy
        nullBytes = Array(copy.null.utf8)
    }

    /// The caller takes every complete row before appending more, so what is left here is
    /// part of one row: past `maxCopyRowBytes` that is an error, whether the row is long or
    /// a CSV quote was never closed. Data after the end marker is dropped, not kept.
    mutating func append(_ bytes: ByteBuffer) throws {
        if position > 0 {
            buffer.removeFirst(position)
            scannedWithoutNewline = max(0, scannedWithoutNewline - position)
            csvResume?.i -= position
            position = 0
        }
        guard !finished else { return }
        guard buffer.count <= PGLimits.maxCopyRowBytes else {
            throw RedError(.limitExceeded, "COPY row longer than \(PGLimits.maxCopyRowBytes) bytes")
        }
        buffer.append(contentsOf: bytes.readableBytesView)
    }

    /// The next complete row (nil = NULL field), or nil when more data is needed or the end
    /// marker `\.` was read. `atEnd` treats a final line without a newline as complete.
    mutating func nextRow(atEnd: Bool = false) throws -> [String?]? {
        guard !finished, position < buffer.count else { return nil }
        return copy.csv ? try nextCSVRow(atEnd: atEnd) : try nextTextRow(atEnd: atEnd)
    }

    private mutating func nextTextRow(atEnd: Bool) throws -> [String?]? {
        var fields: [String?] = []
        guard scanTextLine(atEnd: atEnd, { field, _ in fields.append(field.map { String(decoding: $0, as: UTF8.self) }) }) else { return nil }
        return fields
    }

    private mutating func nextCSVRow(atEnd: Bool) throws -> [String?]? {
        var fields: [String?] = []
        var field: [UInt8] = []
        var quoted = false, inQuotes = false
        var i = position
        if let resume = csvResume {
            (i, fields, field, quoted, inQuotes) = resume
            csvResume = nil
        } else if buffer.count - position >= 2, buffer[position] == UInt8(ascii: "\\"), buffer[position + 1] == UInt8(ascii: "."),
           position + 2 == buffer.count || buffer[position + 2] == 0x0A || buffer[position + 2] == 0x0D {
            // End marker on a line of its own.
            finished = true
            return nil
        }
        func suspend() -> [String?]? {
            // Within a row's first bytes it starts afresh (cheaply): `\.` split over chunks must
            // still be read as the end marker.
            if i - position >= 3 { csvResume = (i, fields, field, quoted, inQuotes) }
            return nil
        }
        func finishField() {
            let text = String(decoding: field, as: UTF8.self)
            fields.append(!quoted && text == copy.null ? nil : text)
            field = []
            quoted = false
        }
        while i < buffer.count {
            let c = buffer[i]
            if inQuotes {
                if c == copy.quote, copy.escape == copy.quote {
                    // A doubled quote is a literal quote; a single one closes the field.
                    if i + 1 < buffer.count {
                        if buffer[i + 1] == copy.quote { field.append(copy.quote); i += 2; continue }
                    } else if !atEnd {
                        return suspend()  // need the next byte to decide
                    }
                    inQuotes = false
                    i += 1
                    continue
                }
                if c == copy.escape, copy.escape != copy.quote {
                    if i + 1 < buffer.count { field.append(buffer[i + 1]); i += 2; continue }
                    if !atEnd { return suspend() }
                }
                if c == copy.quote { inQuotes = false; i += 1; continue }
                field.append(c)
                i += 1
                continue
            }
            if c == copy.quote { inQuotes = true; quoted = true; i += 1; continue }
            if c == copy.delimiter { finishField(); i += 1; continue }
            if c == 0x0A || c == 0x0D {
                if c == 0x0D, i + 1 == buffer.count, !atEnd { return suspend() }  // a \n next belongs to this line's end
                finishField()
                i += 1
                if c == 0x0D, i < buffer.count, buffer[i] == 0x0A { i += 1 }
                position = i
                return fields
            }
            field.append(c)
            i += 1
        }
        guard atEnd else { return suspend() }
        if inQuotes { throw RedError(.invalidTextRepresentation, "unterminated CSV quoted field") }
        finishField()
        position = buffer.count
        return fields
    }

    /// Encodes one row for COPY TO.
    /// `forceQuoted`: positions whose values are quoted whatever they hold (FORCE_QUOTE);
    /// `zone`: the session's, on whose clocks instants are written.
    static func encode(_ row: [Value], types: [PGType], copy: PGCopyCommand, forceQuoted: Set<Int> = [], zone: SessionTimeZone = .utc) -> [UInt8] {
        var line: [UInt8] = []
        for (i, value) in row.enumerated() {
            if i > 0 { line.append(copy.delimiter) }
            if case .null = value {
                line.append(contentsOf: copy.null.utf8)
                continue
            }
            let text = PGValueCodec.text(value, as: types[i], zone: zone)
            if copy.csv {
                let bytes = Array(text.utf8)
                let needsQuotes = bytes.isEmpty || text == copy.null || forceQuoted.contains(i)
                    || bytes.contains { $0 == copy.delimiter || $0 == copy.quote || $0 == 0x0A || $0 == 0x0D }
                if needsQuotes {
                    line.append(copy.quote)
                    for b in bytes {
                        if b == copy.quote || b == copy.escape { line.append(copy.escape) }
                        line.append(b)
                    }
                    line.append(copy.quote)
                } else {
                    line.append(contentsOf: bytes)
                }
            } else {
                for b in text.utf8 {
                    switch b {
                    case UInt8(ascii: "\\"): line.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                    case 0x0A: line.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                    case 0x0D: line.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                    case 0x09 where copy.delimiter == 0x09: line.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                    case copy.delimiter: line.append(UInt8(ascii: "\\")); line.append(b)
                    default: line.append(b)
                    }
                }
            }
        }
        line.append(0x0A)
        return line
    }
}
