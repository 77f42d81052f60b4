import RedCore
import Testing

/// PostgreSQL's `{…}` array text, read as `array_in` does.
@Suite struct PostgresArrayTextTests {
    func parsed(_ text: String) throws -> String { JSONValue.array(try PostgresArrayText.parse(text)).text }

    @Test func readsElementsQuotesEscapesNullsAndNesting() throws {
        #expect(try parsed("{}") == "[]")
        #expect(try parsed(" { 1 , 2 } ") == #"["1","2"]"#)
        #expect(try parsed(#"{"a b",c,NULL,null,"NULL","x\"y",a\,b}"#) == #"["a b","c",null,null,"NULL","x\"y","a,b"]"#)
        #expect(try parsed("{{1,2},{3,4}}") == #"[["1","2"],["3","4"]]"#)
        #expect(try parsed(#"{"",  x y  ,\ }"#) == #"["","x y"," "]"#)
        #expect(try parsed("{héllo,🙂}") == #"["héllo","🙂"]"#)
        // For an ARRAY column (no recorded element type): unquoted numbers are numbers.
        #expect(try PostgresArrayText.parse(#"{1,-2.5,"3",x,1e3,.}"#, numbers: true)
                == [.integer(1), .float(-2.5), .string("3"), .string("x"), .float(1000), .string(".")])
    }

    @Test func malformedTextIsAnErrorNotATrap() throws {
        for bad in ["", "1,2", "{1,2", "{1,,2}", "{,}", #"{"a}"#, "{a\"b}", "{1}x", "[1:2]={1,2}", "{{{{{{{1}}}}}}}", "{a\\"] {
            #expect(throws: RedError.self, "\(bad)") { try PostgresArrayText.parse(bad) }
        }
        #expect(try PostgresArrayText.parse("{{{{{{1}}}}}}").count == 1)  // six dimensions: PostgreSQL's most
    }

}
