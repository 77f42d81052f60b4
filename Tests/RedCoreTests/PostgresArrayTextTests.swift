import RedCore
import Testing

/// PostgreSQL's `{…}` array text, read and written as `array_in` / `array_out` do.
@Suite struct PostgresArrayTextTests {
    func parsed(_ text: String) throws -> String { JSONValue.array(try PostgresArrayText.parse(text)).text }

    @Test func readsElementsQuotesEscapesNullsAndNesting() throws {
        #expect(try parsed("{}") == "[]")
        #expect(try parsed(" { 1 , 2 } ") == #"["1","2"]"#)
        #expect(try parsed(#"{"a b",c,NULL,null,"NULL","x\"y",a\,b}"#) == #"["a b","c",null,null,"NULL","x\"y","a,b"]"#)
        #expect(try parsed("{{1,2},{3,4}}") == #"[["1","2"],["3","4"]]"#)
        #expect(try parsed(#"{"",  x y  ,\ }"#) == #"["","x y"," "]"#)
        #expect(try parsed("{héllo,🙂}") == #"["héllo","🙂"]"#)
    }

    @Test func malformedTextIsAnErrorNotATrap() throws {
        for bad in ["", "1,2", "{1,2", "{1,,2}", "{,}", #"{"a}"#, "{a\"b}", "{1}x", "[1:2]={1,2}", "{{{{{{{1}}}}}}}", "{a\\"] {
            #expect(throws: RedError.self, "\(bad)") { try PostgresArrayText.parse(bad) }
        }
        #expect(try PostgresArrayText.parse("{{{{{{1}}}}}}").count == 1)  // six dimensions: PostgreSQL's most
    }

    @Test func writesWhatPostgreSQLPrints() throws {
        #expect(PostgresArrayText.format([]) == "{}")
        #expect(PostgresArrayText.format([.integer(1), .float(2.5), .bool(true), .null]) == "{1,2.5,t,NULL}")
        #expect(PostgresArrayText.format([.string("a b"), .string(""), .string("NULL"), .string(#"x"\"#), .string("plain")])
                == #"{"a b","","NULL","x\"\\",plain}"#)
        #expect(PostgresArrayText.format([.array([.integer(1)]), .array([.integer(2)])]) == "{{1},{2}}")
        // Whatever it writes reads back to the same strings.
        let strings: [JSONValue] = [.string("a,b"), .string("{x}"), .string(" lead"), .string("back\\slash")]
        #expect(try PostgresArrayText.parse(PostgresArrayText.format(strings)) == strings)
    }
}
