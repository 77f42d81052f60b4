import Testing
@testable import RedQuery

/// RENAME COLUMN rewrites a CHECK constraint's text: column references only.
@Suite struct CheckRenameTests {
    @Test func onlyColumnReferencesAreRenamed() throws {
        #expect(try CheckConstraints.renaming("price > 0", column: "price", to: "cost") == #""cost" > 0"#)
        #expect(try CheckConstraints.renaming("PRICE > 0 AND t.price < 10", column: "price", to: "cost") == #""cost" > 0 AND t."cost" < 10"#)
        #expect(try CheckConstraints.renaming("\"price\" <> 'price' -- price\n", column: "price", to: "cost") == "\"cost\" <> 'price' -- price\n")
        #expect(try CheckConstraints.renaming("length(length) > 1", column: "length", to: "size") == #"length("size") > 1"#)
        #expect(try CheckConstraints.renaming("price.x = 1", column: "price", to: "cost") == "price.x = 1", "a qualifier is a table name")
        #expect(try CheckConstraints.renaming("\"Odd\"\"Name\" > 0", column: "Odd\"Name", to: "we\"ird") == #""we""ird" > 0"#)
        #expect(try CheckConstraints.renaming("other > 0", column: "price", to: "cost") == "other > 0")
    }
}
