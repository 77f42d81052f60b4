import RedCore
@testable import RedServer
import Testing

/// DECLARE/FETCH/MOVE/CLOSE parsing and a cursor's motion over its rows (end to end against
/// PostgreSQL's answers: PythonClientTests.sqlCursorsBehaveAsInPostgreSQL).
@Suite struct PGSQLCursorTests {
    @Test func declarationsParse() throws {
        let plain = try #require(try PGSQLCursorDeclaration.parse("DECLARE c CURSOR FOR SELECT 1;"))
        #expect(plain == PGSQLCursorDeclaration(name: "c", scroll: nil, hold: false, query: "SELECT 1"))
        let full = try #require(try PGSQLCursorDeclaration.parse(#"declare "Big" insensitive no scroll cursor with hold for values (1)"#))
        #expect(full == PGSQLCursorDeclaration(name: "Big", scroll: false, hold: true, query: "values (1)"))
        #expect(try PGSQLCursorDeclaration.parse("DECLARE c SCROLL CURSOR WITHOUT HOLD FOR WITH x AS (SELECT 1) SELECT * FROM x")?.scroll == true)
        for bad in ["DECLARE c FOR SELECT 1", "DECLARE c CURSOR SELECT 1", "DECLARE c CURSOR WITH SELECT 1", "DECLARE c CURSOR FOR DELETE FROM t",
                    "DECLARE c NO CURSOR FOR SELECT 1", "DECLARE c CURSOR FOR"] {
            #expect((try? PGSQLCursorDeclaration.parse(bad)) == nil, "\(bad)")
        }
        #expect { try PGSQLCursorDeclaration.parse("DECLARE c BINARY CURSOR FOR SELECT 1") } throws: { ($0 as? RedError)?.sqlState == "0A000" }
        guard case .declareCursor? = try PGWireCommand.recognize("DECLARE c CURSOR FOR SELECT 1") else { Issue.record("DECLARE"); return }
        guard case .closeCursor(nil)? = try PGWireCommand.recognize("CLOSE ALL") else { Issue.record("CLOSE ALL"); return }
        guard case .closeCursor("c")? = try PGWireCommand.recognize("close C;") else { Issue.record("CLOSE"); return }
    }

    @Test func motionsParse() throws {
        let cases: [(String, PGCursorDirection, String)] = [
            ("FETCH c", .forward(1), "c"), ("FETCH NEXT FROM c", .forward(1), "c"), ("FETCH 5 c", .forward(5), "c"),
            ("FETCH -2 IN c", .backward(2), "c"), ("FETCH 0 FROM c", .relative(0), "c"), ("FETCH PRIOR FROM c", .backward(1), "c"),
            ("FETCH FIRST c", .absolute(1), "c"), ("FETCH LAST c", .absolute(-1), "c"), ("FETCH ABSOLUTE -3 FROM c", .absolute(-3), "c"),
            ("FETCH RELATIVE +2 FROM c", .relative(2), "c"), ("FETCH ALL FROM c", .forward(nil), "c"), ("FETCH FORWARD c", .forward(1), "c"),
            ("FETCH FORWARD ALL FROM c", .forward(nil), "c"), ("FETCH FORWARD -3 FROM c", .backward(3), "c"), ("FETCH BACKWARD ALL IN c", .backward(nil), "c"),
            ("FETCH BACKWARD -1 FROM c", .forward(1), "c"), (#"FETCH 2 FROM "Mixed""#, .forward(2), "Mixed"),
        ]
        for (sql, direction, name) in cases {
            #expect(try PGSQLCursorMotion.parse(sql) == PGSQLCursorMotion(direction: direction, name: name, move: false), "\(sql)")
        }
        #expect(try PGSQLCursorMotion.parse("MOVE 3 IN c")?.move == true)
        for bad in ["FETCH", "FETCH ABSOLUTE FROM c", "FETCH 2 FROM c d", "FETCH RELATIVE x FROM c"] {
            #expect(throws: RedError.self, "\(bad)") { try PGSQLCursorMotion.parse(bad) }
        }
    }

    /// Ten rows, 1…10; each step's expected rows as PostgreSQL returns them.
    @Test func aCursorMovesOverItsRowsAsPostgreSQLDoes() throws {
        var cursor = PGSQLCursor(columns: [], rows: (1...10).map { [.integer($0)] }, scroll: true, hold: false, block: 1, commitsWhenDeclared: 0)
        func fetch(_ direction: PGCursorDirection) throws -> [Int64] {
            try cursor.fetch(direction, name: "c").map { if case .integer(let i) = $0[0] { return i }; return -1 }
        }
        #expect(try fetch(.forward(3)) == [1, 2, 3])
        #expect(try fetch(.backward(2)) == [2, 1])
        #expect(try fetch(.backward(1)) == [])
        #expect(try fetch(.relative(0)) == [])
        #expect(try fetch(.absolute(-1)) == [10])
        #expect(try fetch(.forward(1)) == [])
        #expect(try fetch(.forward(1)) == [])
        #expect(try fetch(.backward(1)) == [10])
        #expect(try fetch(.relative(-9)) == [1])
        #expect(try fetch(.relative(-1)) == [])
        #expect(try fetch(.absolute(-11)) == [])
        #expect(try fetch(.forward(nil)).count == 10)
        #expect(try fetch(.absolute(11)) == [])
        #expect(try fetch(.backward(nil)).count == 10)
        #expect(try fetch(.forward(Int.max)).count == 10)
        #expect(try fetch(.relative(Int.min + 1)) == [])
        #expect(try fetch(.relative(Int.max)) == [])
        #expect(try fetch(.backward(Int.max)).count == 10)

        var forwardOnly = PGSQLCursor(columns: [], rows: [[.integer(1)], [.integer(2)]], scroll: false, hold: false, block: 1, commitsWhenDeclared: 0)
        #expect(try forwardOnly.fetch(.absolute(2), name: "n").count == 1)
        #expect { try forwardOnly.fetch(.absolute(1), name: "n") } throws: { ($0 as? RedError)?.sqlState == "55000" }
        #expect { try forwardOnly.fetch(.backward(1), name: "n") } throws: { ($0 as? RedError)?.sqlState == "55000" }
        #expect(try forwardOnly.fetch(.forward(1), name: "n").isEmpty)
    }

    @Test func cursorsCloseWithTheirBlockUnlessHeldThroughACommit() {
        var cursors = PGSQLCursors()
        cursors["plain"] = PGSQLCursor(columns: [], rows: [], hold: false, block: 3, commitsWhenDeclared: 1)
        cursors["held"] = PGSQLCursor(columns: [], rows: [], hold: true, block: 3, commitsWhenDeclared: 1)
        cursors.blockMayHaveEnded(inBlock: true, startedBlocks: 3, committedBlocks: 1)
        #expect(cursors.open.count == 2)
        cursors.blockMayHaveEnded(inBlock: false, startedBlocks: 3, committedBlocks: 2)  // block 3 committed
        #expect(cursors["plain"] == nil)
        #expect(cursors["held"]?.block == nil)
        cursors.blockMayHaveEnded(inBlock: true, startedBlocks: 4, committedBlocks: 2)
        #expect(cursors["held"] != nil)

        cursors["rolled"] = PGSQLCursor(columns: [], rows: [], hold: true, block: 4, commitsWhenDeclared: 2)
        cursors.blockMayHaveEnded(inBlock: false, startedBlocks: 4, committedBlocks: 2)  // block 4 rolled back
        #expect(cursors["rolled"] == nil)
        #expect(cursors["held"] != nil)
    }
}
