import RedAI
import RedCore
import Testing

@Suite struct AskPartsTests {
    @Test func tokensSplitLiteralsFromKeywords() {
        let t = AskTokens(question: "What is the status of order ORD-2041 for customer 1234567, and the Orders' total?")
        #expect(t.literals == ["ORD-2041", "1234567"])
        #expect(t.keywords == ["status", "order", "customer", "orders", "total"])
    }

    @Test func aQuestionOfStopWordsHasNoTokens() {
        #expect(AskTokens(question: "what is the, and of?").isEmpty)
    }

    @Test func citationsAreParsedWithSpansAndChecked() {
        let answer = "Alice [^1] and Bob [^3]. Escaped \\[^2] and ```code [^9]``` and bad [^0] and [^x]"
        let (citations, validation) = AskCitationParser.parse(answer, sourceCount: 2)
        #expect(citations.map(\.marker) == [1, 3])
        #expect(citations[0].span == 6..<10)
        #expect(validation.warnings.map(\.kind) == ["out_of_range", "malformed", "malformed"])
    }

    @Test func urnsPercentEncodeAndVectorHitsCarryTheirScore() {
        #expect(AskSource(kind: .row, collection: "my orders", id: "7").urn == "reddb:my%20orders/7")
        #expect(AskSource(kind: .vectorHit, collection: "docs", id: "a/b#c", score: 0.5).urn == "reddb:docs/a%2Fb%23c#0.5")
        #expect(AskSource(kind: .vectorHit, collection: "d", id: "1", score: 0.1234567).urn == "reddb:d/1#0.123457")
        #expect(AskSource(kind: .vectorHit, collection: "d", id: "1", score: -1e30).urn.hasPrefix("reddb:d/1#"))  // no trap on huge scores
    }

    @Test func reciprocalRankFusionAddsRanksAndBreaksTiesById() {
        let a = AskSource(kind: .row, collection: "t", id: "1")
        let b = AskSource(kind: .textHit, collection: "t", id: "2")
        let c = AskSource(kind: .vectorHit, collection: "t", id: "3")
        let fused = AskSource.fuse([[a], [b, a], [c]], limit: 10)
        // a: 1/61 + 1/62; b and c: 1/61 each, tie broken by "t/2" < "t/3".
        #expect(fused.map(\.id) == ["1", "2", "3"])
        #expect(fused[0].kind == .row)  // its first bucket decides
        #expect(AskSource.fuse([[a, b, c]], limit: 2).count == 2)
    }

    @Test func providersResolveTokensAliasesAndUrls() throws {
        #expect(try AIProvider.named("OpenAI").token == "openai")
        #expect(try AIProvider.named("hf").token == "huggingface")
        #expect(try AIProvider.named("http://localhost:8080/v1/").defaultBaseURL == "http://localhost:8080/v1")
        #expect(throws: RedError.self) { try AIProvider.named("nonesuch") }
    }

    @Test func aMissingKeyNamesTheVariableToSet() async throws {
        let settings = AISettings(environment: [:])
        await #expect(throws: RedError(.invalidArgument, "missing openai API key. Set REDDB_OPENAI_API_KEY or provide credential alias")) {
            _ = try await settings.apiKey(try AIProvider.named("openai"), alias: nil)
        }
        let aliased = AISettings(environment: ["REDDB_OPENAI_API_KEY_PROD_EU": "k"])
        #expect(try await aliased.apiKey(try AIProvider.named("openai"), alias: "prod-eu") == "k")
        #expect(try await settings.apiKey(try AIProvider.named("ollama"), alias: nil) == "")
    }
}
