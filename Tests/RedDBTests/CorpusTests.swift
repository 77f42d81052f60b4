import Foundation
import Testing
import RedDB

/// Every `.test` file of the corpus, run under `swift test`.
@Suite struct CorpusTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")

    static var files: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".test") }.sorted()
    }

    @Test func corpusIsPresent() {
        #expect(Self.files.count >= 20)
    }

    @Test(arguments: CorpusTests.files)
    func corpusFile(_ name: String) async throws {
        let failures = try await SQLLogicTestRunner.run(file: Self.directory.appendingPathComponent(name))
        for failure in failures { Issue.record("\(failure)") }
    }
}
