import Testing
import RedCore
@testable import RedQuery

@Suite struct ParserTests {
    @Test func parsesSelectWithJoinAndGroupBy() throws {
        let statements = try Parser.parseScript("SELECT a, count(*) FROM t JOIN u ON t.id = u.tid WHERE x > 1 GROUP BY a HAVING count(*) > 2 ORDER BY 2 DESC LIMIT 5;")
        #expect(statements.count == 1)
    }
}
