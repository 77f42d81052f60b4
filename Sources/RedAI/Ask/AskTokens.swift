/// Stage 1 of ASK: the words of a question that retrieval can use.
///
/// The question is split on every character other than letters, digits, `_` and `-`. A word
/// is a *literal* — an identifier to look for verbatim, like `ORD-2041` or `123456` — when it
/// has 3+ characters of only digits, upper-case letters and `-` with at least one digit and one
/// upper-case letter or dash, or when it is 6+ digits. Any other word, trimmed of punctuation at
/// its edges, is a *keyword* when it has 2+ characters, starts with a letter, holds only letters,
/// digits and `_`, and is not a stop word; keywords are lower-cased. Both lists keep first
/// occurrences in order.
public struct AskTokens: Sendable, Equatable {
    public var literals: [String] = []
    public var keywords: [String] = []

    public var isEmpty: Bool { literals.isEmpty && keywords.isEmpty }

    static let stopWords: Set<String> = [
        "a", "about", "an", "and", "are", "as", "at", "be", "by", "do", "for", "from", "how", "in", "is", "it", "of", "on", "or",
        "que", "qual", "quais", "sobre", "te", "the", "to", "what", "where", "which", "with",
    ]

    public init(question: String) {
        var seenLiterals: Set<String> = [], seenKeywords: Set<String> = []
        let words = question.split { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
        for word in words {
            if Self.isLiteral(word) {
                if seenLiterals.insert(String(word)).inserted { literals.append(String(word)) }
                continue
            }
            let trimmed = word.drop { !($0.isLetter || $0.isNumber || $0 == "_") }.reversed().drop { !($0.isLetter || $0.isNumber || $0 == "_") }.reversed()
            let candidate = String(trimmed).lowercased()
            guard candidate.count >= 2, let first = candidate.first, first.isLetter,
                  candidate.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }),
                  !Self.stopWords.contains(candidate) else { continue }
            if seenKeywords.insert(candidate).inserted { keywords.append(candidate) }
        }
    }

    static func isLiteral(_ word: Substring) -> Bool {
        let allDigits = word.allSatisfy { $0.isASCII && $0.isNumber }
        if word.count >= 6, allDigits { return true }
        guard word.count >= 3, word.allSatisfy({ ($0.isASCII && ($0.isNumber || $0.isUppercase)) || $0 == "-" }) else { return false }
        return word.contains { $0.isNumber } && word.contains { $0.isUppercase || $0 == "-" }
    }
}
