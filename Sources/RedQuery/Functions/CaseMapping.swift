/// `upper` and `lower` as PostgreSQL maps case: character by character, each to one
/// character (`upper('straße')` is `STRAßE`, not `STRASSE`), so a value never changes length.
/// A character whose full mapping would expand stays as it is, which is what the simple case
/// mappings PostgreSQL's `towupper`/`towlower` apply do for them.
enum CaseMapping {
    static func upper(_ s: String) -> String { mapped(s, upper: true) }
    static func lower(_ s: String) -> String { mapped(s, upper: false) }

    private static func mapped(_ s: String, upper: Bool) -> String {
        if s.utf8.allSatisfy({ $0 < 0x80 }) { return upper ? s.uppercased() : s.lowercased() }  // ASCII: no lookups
        var out = String.UnicodeScalarView()
        for scalar in s.unicodeScalars {
            let target = (upper ? scalar.properties.uppercaseMapping : scalar.properties.lowercaseMapping).unicodeScalars
            if target.count == 1 { out.append(target.first!) } else { out.append(scalar) }
        }
        return String(out)
    }
}
