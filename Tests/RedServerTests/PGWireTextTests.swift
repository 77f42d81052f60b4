import Foundation
import NIOCore
import RedCore
@testable import RedServer
import Testing

/// Statement splitting, wire-command recognition, COPY parsing and SCRAM.
@Suite struct PGWireTextTests {
    @Test func splitterRespectsQuotesCommentsAndDollarBodies() {
        #expect(PGStatementSplitter.split("SELECT 1; SELECT 2;") == ["SELECT 1", "SELECT 2"])
        #expect(PGStatementSplitter.split("SELECT ';' ; SELECT \"a;b\"") == ["SELECT ';'", "SELECT \"a;b\""])
        #expect(PGStatementSplitter.split("SELECT 'it''s;' -- c;\n; /* a; /* b; */ c; */ SELECT 3") == ["SELECT 'it''s;' -- c;", "/* a; /* b; */ c; */ SELECT 3"])
        #expect(PGStatementSplitter.split("SELECT $$a;b$$; SELECT $1") == ["SELECT $$a;b$$", "SELECT $1"])
        #expect(PGStatementSplitter.split("SELECT E'\\';'; SELECT 2") == ["SELECT E'\\';'", "SELECT 2"])
        #expect(PGStatementSplitter.split("  ;  -- only a comment\n ; ").isEmpty)
    }

    @Test func setShowAndFriendsAreWireCommands() throws {
        guard case .set("application_name", "x", false)? = try PGWireCommand.recognize("SET application_name = 'x'") else { Issue.record("SET ="); return }
        guard case .set("search_path", "public", false)? = try PGWireCommand.recognize("set search_path TO public;") else { Issue.record("SET TO"); return }
        guard case .set("timezone", "UTC", false)? = try PGWireCommand.recognize("SET TIME ZONE 'UTC'") else { Issue.record("SET TIME ZONE"); return }
        guard case .set("datestyle", nil, false)? = try PGWireCommand.recognize("SET SESSION DateStyle TO DEFAULT") else { Issue.record("DEFAULT"); return }
        guard case .set("work_mem", "64MB", true)? = try PGWireCommand.recognize("SET LOCAL work_mem = '64MB'") else { Issue.record("LOCAL"); return }
        guard case .show("transaction_isolation")? = try PGWireCommand.recognize("SHOW TRANSACTION ISOLATION LEVEL") else { Issue.record("SHOW"); return }
        guard case .reset(nil)? = try PGWireCommand.recognize("RESET ALL") else { Issue.record("RESET"); return }
        guard case .setTransaction(nil, .repeatableRead)? = try PGWireCommand.recognize("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE") else { Issue.record("SET TX"); return }
        guard case .setTransaction(true, .readCommitted)? = try PGWireCommand.recognize("SET TRANSACTION ISOLATION LEVEL READ COMMITTED, READ ONLY") else { Issue.record("SET TX 2"); return }
        guard case .setTransaction(nil, .repeatableRead)? = try PGWireCommand.recognize("SET transaction_isolation = 'repeatable read'") else { Issue.record("SET TX 3"); return }
        guard case .set("default_transaction_isolation", "repeatable read", false)? = try PGWireCommand.recognize("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ") else { Issue.record("CHARACTERISTICS"); return }
        #expect(throws: RedError.self) { try PGWireCommand.recognize("SET TRANSACTION ISOLATION LEVEL SOMETIMES") }
        #expect(try PGWireCommand.recognize("SHOW TABLES") == nil)
        #expect(try PGWireCommand.recognize("SET CONFIG a = 1") == nil)
        #expect(try PGWireCommand.recognize("SELECT 1") == nil)
        #expect(throws: RedError.self) { try PGWireCommand.recognize("LISTEN") }
        #expect(PGWireCommand.isTransactionControl("  begin"))
        #expect(!PGWireCommand.isTransactionControl("SELECT 1"))
    }

    @Test func theLeadingKeywordSkipsSpaceAndComments() {
        #expect(PGWireCommand.leadingKeyword("  SET x = 1") == "set")
        #expect(PGWireCommand.leadingKeyword("-- note\n/* block */\tShow all") == "show")
        #expect(PGWireCommand.leadingKeyword("select 1") == "select")
        #expect(PGWireCommand.leadingKeyword("settings_table") == "")
        #expect(PGWireCommand.leadingKeyword("copy2 FROM t") == "")
        #expect(PGWireCommand.leadingKeyword("\"set\" x") == "")
        #expect(PGWireCommand.leadingKeyword("") == "")
        #expect(PGWireCommand.leadingKeyword("/* unterminated") == "unterminated")
    }

    @Test func settingsValidateAndReport() throws {
        var settings = PGSettings()
        #expect(try settings.set("application_name", "psql")! == ("application_name", "psql"))
        #expect(try settings.value("APPLICATION_NAME") == "psql")
        #expect(throws: RedError.self) { try settings.set("client_encoding", "LATIN1") }
        #expect(throws: RedError.self) { try settings.set("server_version", "16") }
        #expect(throws: RedError.self) { try settings.set("no_such_setting", "1") }
        #expect(try settings.set("myapp.tenant", "7") == nil)
        #expect(try settings.value("server_version").hasPrefix("15."))
    }

    @Test func copyCommandsParseBothOptionStyles() throws {
        let a = try PGCopyCommand(parsing: "COPY users (id, name) FROM STDIN WITH (FORMAT csv, HEADER true, DELIMITER ';', NULL 'n/a')")
        #expect(a.direction == .fromClient)
        #expect(a.source == .table("users", columns: ["id", "name"]))
        #expect(a.csv && a.header && a.delimiter == UInt8(ascii: ";") && a.null == "n/a")
        let b = try PGCopyCommand(parsing: "copy public.t to stdout with csv header")
        #expect(b.direction == .toClient && b.csv && b.header && b.delimiter == UInt8(ascii: ",") && b.null == "")
        let c = try PGCopyCommand(parsing: "COPY (SELECT a, ')' FROM t WHERE x = '(') TO STDOUT")
        #expect(c.source == .query("SELECT a, ')' FROM t WHERE x = '('"))
        #expect(!c.csv && c.delimiter == 0x09 && c.null == "\\N")
        #expect(throws: RedError.self) { try PGCopyCommand(parsing: "COPY t FROM '/etc/passwd'") }
        #expect(try PGCopyCommand(parsing: "COPY t FROM STDIN (FORMAT binary)").binary)
        #expect(throws: RedError.self) { try PGCopyCommand(parsing: "COPY (SELECT 1) FROM STDIN") }
    }

    @Test func copyTextRowsSplitAcrossChunks() throws {
        var parser = PGCopyRowParser(try PGCopyCommand(parsing: "COPY t FROM STDIN"))
        try parser.append(ByteBuffer(string: "1\ta\\tb\\\\c\t\\N\n2\t"))
        #expect(try parser.nextRow() == ["1", "a\tb\\c", nil])
        #expect(try parser.nextRow() == nil)
        try parser.append(ByteBuffer(string: "x\\101\t\n\\.\n"))
        #expect(try parser.nextRow() == ["2", "xA", ""])
        #expect(try parser.nextRow() == nil)
        #expect(parser.finished)
    }

    /// Rows fed a byte at a time come out exactly as when fed whole: a row's scan resumes
    /// where the last chunk left it (rescanning from the row's start made long rows sent in
    /// small chunks quadratic), and `\.` split over chunks still ends the data.
    @Test(arguments: ["COPY t FROM STDIN", "COPY t FROM STDIN WITH (FORMAT csv)", "COPY t FROM STDIN WITH (FORMAT csv, ESCAPE '\\')"])
    func copyRowsFedByteByByteMatchRowsFedWhole(_ command: String) throws {
        let data = "1\t\"a,b\"\tx\\y\n\"multi\nline \"\"quoted\"\"\",2,\\N\n" + String(repeating: "long", count: 300)
            + ",\"\",end\r\nlast,row\n\\.\nignored after the marker\n"
        func rows(chunk: Int) throws -> [[String?]] {
            var parser = PGCopyRowParser(try PGCopyCommand(parsing: command))
            var out: [[String?]] = []
            var bytes = Array(data.utf8)[...]
            while !bytes.isEmpty {
                try parser.append(ByteBuffer(bytes: bytes.prefix(chunk)))
                bytes = bytes.dropFirst(chunk)
                while let row = try parser.nextRow() { out.append(row) }
            }
            while let row = try parser.nextRow(atEnd: true) { out.append(row) }
            #expect(parser.finished)
            return out
        }
        let whole = try rows(chunk: data.utf8.count)
        #expect(whole.count >= 3)
        for chunk in [1, 2, 3, 7] { #expect(try rows(chunk: chunk) == whole, "chunks of \(chunk)") }
    }

    @Test func copyTextEscapesDelimitersAndNullMarkers() throws {
        var parser = PGCopyRowParser(try PGCopyCommand(parsing: "COPY t FROM STDIN"))
        // An escaped tab is data; `\\N` is the text \N, not NULL; a lone trailing backslash stays; é passes through.
        try parser.append(ByteBuffer(string: "a\\\tb\t\\\\N\tend\\\n\\N\té\\101x\n"))
        #expect(try parser.nextRow(atEnd: true) == ["a\tb", "\\N", "end\\"])
        #expect(try parser.nextRow(atEnd: true) == [nil, "éAx"])
        var custom = PGCopyRowParser(try PGCopyCommand(parsing: "COPY t FROM STDIN WITH (NULL 'n/a')"))
        try custom.append(ByteBuffer(string: "n/a\t\\N\tn/ab\n"))
        #expect(try custom.nextRow() == [nil, "N", "n/ab"])
    }

    /// With the columns' types known, plainly written integers and decimals are converted as
    /// they are read; everything else stays text for the insert's coercion, and either way the
    /// stored value is what that coercion makes of the text.
    @Test func copyTextValuesAreTypedAsTheColumnsCoercionWould() throws {
        var parser = PGCopyRowParser(try PGCopyCommand(parsing: "COPY t FROM STDIN"))
        parser.columnTypes = [.integer, .float, .text, .integer, .integer, .float, .integer, .integer, .text]
        try parser.append(ByteBuffer(string: "12\t-3.5\ta\\tb\t\\N\t007\t1e3\t+4\t 5\t\r\n"))
        #expect(try parser.nextValues(atEnd: false) == [.integer(12), .float(-3.5), .text("a\tb"), .null, .integer(7), .text("1e3"),
                                                        .text("+4"), .text(" 5"), .text("")])
        #expect(try parser.nextValues(atEnd: true) == nil)
        let numbers = ["0", "-0", "123456789012345678", "-123456789012345678", "1234567890123456789", "3.25", "-0.0", "1.", ".5",
                       "00012.500", "-", "", "1-2", "9.", "12a"]
        for text in numbers {
            for type in [DataType.integer, .float] {
                let read = Array(text.utf8).withUnsafeBufferPointer { PGCopyRowParser.value($0, as: type) }
                #expect((try? type.coerce(read)) == (try? type.coerce(.text(text))), "\(text) as \(type)")
            }
        }
    }

    @Test func copyCSVQuotesAndEmbeddedNewlines() throws {
        var parser = PGCopyRowParser(try PGCopyCommand(parsing: "COPY t FROM STDIN CSV"))
        try parser.append(ByteBuffer(string: "1,\"a,\"\"b\"\"\nc\",,\"\"\r\n2,\"open"))
        #expect(try parser.nextRow() == ["1", "a,\"b\"\nc", nil, ""])
        #expect(try parser.nextRow() == nil)
        try parser.append(ByteBuffer(string: "\",z"))
        #expect(try parser.nextRow() == nil)
        #expect(try parser.nextRow(atEnd: true) == ["2", "open", "z"])
        var broken = PGCopyRowParser(try PGCopyCommand(parsing: "COPY t FROM STDIN CSV"))
        try broken.append(ByteBuffer(string: "1,\"never closed"))
        #expect(throws: RedError.self) { try broken.nextRow(atEnd: true) }
    }

    @Test func copyEncodingEscapesAndQuotes() throws {
        let text = try PGCopyCommand(parsing: "COPY t TO STDOUT")
        let row: [Value] = [.integer(1), .text("a\tb\nc\\"), .null, .boolean(true)]
        let types: [PGType] = [.int8, .text, .text, .bool]
        #expect(String(decoding: PGCopyRowParser.encode(row, types: types, copy: text), as: UTF8.self) == "1\ta\\tb\\nc\\\\\t\\N\tt\n")
        let csv = try PGCopyCommand(parsing: "COPY t TO STDOUT CSV")
        #expect(String(decoding: PGCopyRowParser.encode([.text("x,\"y\""), .text(""), .null], types: [.text, .text, .text], copy: csv), as: UTF8.self)
                == "\"x,\"\"y\"\"\",\"\",\n")
    }

    /// RFC 7677 section 3: user "user", password "pencil".
    @Test func scramMatchesRFC7677Example() throws {
        let verifier = SCRAMVerifier(password: "pencil", iterations: 4096, salt: Array(Data(base64Encoded: "W22ZaJ0SNY7soEsUEjb6gQ==")!))
        var server = SCRAMServer(verifier: verifier, serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
        let serverFirst = try server.receiveClientFirst("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
        #expect(serverFirst == "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
        let final = try server.receiveClientFinal(
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
        #expect(final == "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        // A wrong proof, or a nonce that is not the server's, is refused.
        #expect(try server.receiveClientFinal(
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=") == nil)
        #expect(try server.receiveClientFinal("c=biws,r=other,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=") == nil)
        #expect(throws: RedError.self) { var s = SCRAMServer(verifier: nil); _ = try s.receiveClientFirst("p=tls-server-end-point,,n=u,r=abc") }
    }

    /// RFC 7914 section 11: PBKDF2-HMAC-SHA256, P = "passwd", S = "salt", c = 1 (first 32 bytes).
    @Test func pbkdf2MatchesRFC7914Vector() {
        let key = SCRAMVerifier.pbkdf2(password: Array("passwd".utf8), salt: Array("salt".utf8), iterations: 1)
        #expect(key.map { String(format: "%02x", $0) }.joined() == "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc")
    }
}

/// Binary COPY: what COPY TO writes, COPY FROM reads back, even when CopyData splits tuples anywhere.
@Suite struct PGBinaryCopyTests {
    @Test func binaryCopyRoundTripsInSmallChunks() throws {
        let columnTypes: [DataType] = [.integer, .text, .float, .boolean, .decimal, .timestamp, .uuid, .json]
        let rows: [[Value]] = [
            [.integer(1), .text("Ada"), .float(2.5), .boolean(true), .decimal(Numeric(unchecked: 125, scale: 1)), .timestamp(1_700_000_000_123_456), .uuid(42),
             .json(try JSONValue.parse(#"{"a":[1,2]}"#))],
            [.integer(-7), .null, .null, .boolean(false), .decimal(Numeric(unchecked: -1, scale: 4)), .null, .null, .null],
        ]
        var stream = PGBinaryCopyParser.header()
        for row in rows {
            var tuple = try PGBinaryCopyParser.encode(row, types: columnTypes.map { PGType($0) })
            stream.writeBuffer(&tuple)
        }
        stream.writeInteger(Int16(-1))
        var parser = PGBinaryCopyParser(columnTypes: columnTypes)
        var decoded: [[Value]] = []
        while stream.readableBytes > 0 {
            try parser.append(stream.readSlice(length: min(3, stream.readableBytes))!)
            while let row = try parser.nextValues(atEnd: false) { decoded.append(row) }
        }
        #expect(try parser.nextValues(atEnd: true) == nil)
        #expect(decoded == rows)
    }

    /// COPY reads every row into one reused array: a shorter row after a longer one, or a CSV
    /// row after either, holds only its own values.
    @Test func copyParsersRefillOneRowArray() throws {
        var text = PGCopyRowParser(try PGCopyCommand(parsing: "COPY t FROM STDIN"))
        text.columnTypes = [.integer, .text, .text]
        try text.append(ByteBuffer(string: "1\ta\tb\n2\n3\tc"))
        var row: [Value] = []
        #expect(try text.nextValues(atEnd: false, into: &row) && row == [.integer(1), .text("a"), .text("b")])
        #expect(try text.nextValues(atEnd: false, into: &row) && row == [.integer(2)])
        #expect(try !text.nextValues(atEnd: false, into: &row))  // "3\tc" waits for its line's end
        #expect(try text.nextValues(atEnd: true, into: &row) && row == [.integer(3), .text("c")])
        var csv = PGCopyRowParser(try PGCopyCommand(parsing: "COPY t FROM STDIN WITH (FORMAT csv)"))
        try csv.append(ByteBuffer(string: "x,y,z\n,q\n"))
        #expect(try csv.nextValues(atEnd: false, into: &row) && row == [.text("x"), .text("y"), .text("z")])
        #expect(try csv.nextValues(atEnd: false, into: &row) && row == [.null, .text("q")])
        let types: [DataType] = [.integer, .text]
        var stream = PGBinaryCopyParser.header()
        for values in [[Value.integer(7), .text("seven")], [.null, .null]] {
            var tuple = try PGBinaryCopyParser.encode(values, types: types.map { PGType($0) })
            stream.writeBuffer(&tuple)
        }
        var binary = PGBinaryCopyParser(columnTypes: types)
        try binary.append(stream)
        #expect(try binary.nextValues(atEnd: false, into: &row) && row == [.integer(7), .text("seven")])
        #expect(try binary.nextValues(atEnd: false, into: &row) && row == [.null, .null])
        #expect(try !binary.nextValues(atEnd: false, into: &row))
    }

    @Test func binaryCopyRejectsBadInput() throws {
        var parser = PGBinaryCopyParser(columnTypes: [.integer])
        try parser.append(ByteBuffer(string: "NOTPGCOPY-at-all-bytes"))
        #expect(throws: RedError.self) { try parser.nextValues(atEnd: false) }
        var wrongCount = PGBinaryCopyParser(columnTypes: [.integer])
        var bytes = PGBinaryCopyParser.header()
        bytes.writeInteger(Int16(2))
        try wrongCount.append(bytes)
        #expect(throws: RedError.self) { try wrongCount.nextValues(atEnd: false) }
        var truncated = PGBinaryCopyParser(columnTypes: [.integer])
        var partial = PGBinaryCopyParser.header()
        partial.writeInteger(Int16(1))
        partial.writeInteger(Int32(8))
        partial.writeInteger(Int16(0))
        try truncated.append(partial)
        #expect(try truncated.nextValues(atEnd: false) == nil)
        #expect(throws: RedError.self) { try truncated.nextValues(atEnd: true) }
    }

    @Test func timeAndIntervalParameters() throws {
        var time = ByteBuffer()
        time.writeInteger(Int64(45_296_500_000))  // 12:34:56.5
        // TIME keeps microseconds, as PostgreSQL's does.
        #expect(try PGValueCodec.decodeParameter(time, format: .binary, declared: 1083, inferred: .any) == .text("12:34:56.5"))
        var interval = ByteBuffer()
        interval.writeInteger(Int64(5_000_000)); interval.writeInteger(Int32(1)); interval.writeInteger(Int32(0))
        let decoded = try PGValueCodec.decodeParameter(interval, format: .binary, declared: 1186, inferred: .any)
        #expect(decoded.isIdentical(to: .interval(Interval(days: 1, microseconds: 5_000_000))))
        // Months stay months (they used to be refused when intervals were milliseconds).
        var months = ByteBuffer()
        months.writeInteger(Int64(0)); months.writeInteger(Int32(0)); months.writeInteger(Int32(1))
        let month = try PGValueCodec.decodeParameter(months, format: .binary, declared: 1186, inferred: .any)
        #expect(month.isIdentical(to: .interval(Interval(months: 1))))
        // Three fields out, the same three back.
        var out = ByteBuffer()
        try PGValueCodec.write(.interval(Interval(months: -14, days: 3, microseconds: -1)), as: .interval, format: .binary, into: &out)
        #expect(out.readInteger(as: Int32.self) == 16)
        #expect(out.readInteger(as: Int64.self) == -1)
        #expect(out.readInteger(as: Int32.self) == 3)
        #expect(out.readInteger(as: Int32.self) == -14)
        #expect(PGValueCodec.text(.interval(Interval(months: -14, days: 3, microseconds: -1)), as: .interval) == "-1 years -2 mons +3 days -00:00:00.000001")
    }
}
