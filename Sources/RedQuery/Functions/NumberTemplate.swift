import Foundation
import RedCore

/// PostgreSQL's numeric template patterns: the `'9,999.99'` of `to_char(number, text)`.
///
/// `9` is a digit position left blank when the digit is a leading zero, `0` one that prints
/// its zero (and every integer position to its right); `.`/`D` is the decimal point and
/// `,`/`G` the group separator (the C locale's: `.` and `,`; `L`, the currency symbol, is a
/// space there). The sign floats: it is printed just before the first digit or the point,
/// after the blank positions, and is a space for a positive number. `S` at the front makes
/// it `+`/`-`; `S` at the end, `MI`, `PL` and `SG` put a sign at their own position (`PL`
/// keeps the floating slot, as in PostgreSQL); `PR` wraps a negative number in `<…>`. `V`
/// multiplies by ten for each digit position after it, `EEEE` prints scientific notation,
/// `RN` Roman numerals (1–3999), `TH`/`th` an ordinal suffix. `FM` drops the padding:
/// leading blanks and the trailing zeros of `9` fraction positions after the last `0`.
///
/// The number is rounded to the template's fraction positions first (half away from zero
/// for integers and numerics; a float rounds as its printed form does), and its sign is the
/// rounded value's. An integer part wider than the template prints every digit position as
/// `#`, as PostgreSQL does. Anything else in the template is copied (double-quoted text
/// without its quotes).
struct NumberTemplate {
    static let maxTemplateBytes = DateTimeTemplate.maxTemplateBytes

    enum Token: Equatable {
        case digit(zero: Bool), point, group, currency
        case leadingSign, trailingSign, minus, plus, signAnywhere, angleBrackets
        case shift, exponent, roman(lower: Bool), ordinal(lower: Bool)
        case literal(String)

        var isDigit: Bool { if case .digit = self { return true }; return false }
    }

    private(set) var tokens: [Token] = []
    private(set) var fillMode = false

    /// The template's shape, read once (a cached template formats every row of a statement).
    private struct Layout {
        var integerPositions = 0, fractionPositions = 0, shiftDigits = 0
        /// The first `0` among the integer positions: zero-padded from there.
        var firstIntegerZero: Int?
        /// The last `0` among the fraction positions: FM keeps zeros up to it.
        var lastFractionZero = -1
        var hasPoint = false, explicitSign = false, angleBrackets = false, leadingSign = false
        var roman: Bool?  // lower-case?
        var exponent = false
    }
    private var layout = Layout()

    init(_ template: String) throws {
        guard template.utf8.count <= Self.maxTemplateBytes else {
            throw RedError(.limitExceeded, "a number template is limited to \(Self.maxTemplateBytes) bytes")
        }
        let s = Array(template.unicodeScalars)
        var i = 0
        var seenDigit = false
        func at(_ word: String) -> Bool {
            let w = Array(word.unicodeScalars)
            return i + w.count <= s.count && s[i..<(i + w.count)].elementsEqual(w)
        }
        while i < s.count {
            let token: Token, length: Int
            if at("FM") || at("fm") { fillMode = true; i += 2; continue }
            else if s[i] == "9" { token = .digit(zero: false); length = 1 }
            else if s[i] == "0" { token = .digit(zero: true); length = 1 }
            else if s[i] == "." || s[i] == "D" || s[i] == "d" { token = .point; length = 1 }
            else if s[i] == "," || s[i] == "G" || s[i] == "g" { token = .group; length = 1 }
            else if s[i] == "L" || s[i] == "l" { token = .currency; length = 1 }
            else if at("EEEE") || at("eeee") { token = .exponent; length = 4 }
            else if at("MI") || at("mi") { token = .minus; length = 2 }
            else if at("PL") || at("pl") { token = .plus; length = 2 }
            else if at("SG") || at("sg") { token = .signAnywhere; length = 2 }
            else if at("PR") || at("pr") { token = .angleBrackets; length = 2 }
            else if at("RN") || at("rn") { token = .roman(lower: s[i] == "r"); length = 2 }
            else if at("TH") || at("th") { token = .ordinal(lower: s[i] == "t"); length = 2 }
            else if s[i] == "S" || s[i] == "s" { token = seenDigit ? .trailingSign : .leadingSign; length = 1 }
            else if s[i] == "V" || s[i] == "v" { token = .shift; length = 1 }
            else if s[i] == "\"" {
                var text = String.UnicodeScalarView()
                var j = i + 1
                while j < s.count, s[j] != "\"" {
                    if s[j] == "\\", j + 1 < s.count { j += 1 }
                    text.append(s[j])
                    j += 1
                }
                tokens.append(.literal(String(text)))
                i = min(j + 1, s.count)
                continue
            } else { token = .literal(String(s[i])); length = 1 }
            if case .digit = token { seenDigit = true }
            tokens.append(token)
            i += length
        }
        if tokens.filter({ $0 == .point }).count > 1 { throw RedError(.syntaxError, "multiple decimal points in a number template") }
        if tokens.contains(.exponent),
           tokens.contains(where: { if case .digit = $0 { return false }; return $0 != .point && $0 != .exponent }) || fillMode {
            throw RedError(.syntaxError, "\"EEEE\" is incompatible with other formats: it may only be used together with digit and decimal point patterns")
        }
        let integerDigits = tokens.prefix { $0 != .point }.filter(\.isDigit)
        let fractionDigits = tokens.drop { $0 != .point }.filter(\.isDigit)
        layout.integerPositions = integerDigits.count
        layout.fractionPositions = fractionDigits.count
        layout.firstIntegerZero = integerDigits.firstIndex(of: .digit(zero: true))
        layout.lastFractionZero = fractionDigits.lastIndex(of: .digit(zero: true)) ?? -1
        layout.hasPoint = tokens.contains(.point)
        layout.angleBrackets = tokens.contains(.angleBrackets)
        layout.leadingSign = tokens.contains(.leadingSign)
        layout.shiftDigits = tokens.drop { $0 != .shift }.filter(\.isDigit).count  // 0 without V
        layout.explicitSign = tokens.contains { [.leadingSign, .trailingSign, .minus, .signAnywhere, .angleBrackets].contains($0) }
        layout.exponent = tokens.contains(.exponent)
        for case .roman(let lower) in tokens { layout.roman = lower; break }
    }

    /// The value to format, as exact decimal digits where it has them.
    enum Number {
        case exact(negative: Bool, digits: String, scale: Int)  // integer and numeric
        case float(Double)
    }

    static func number(of v: Value) throws -> Number {
        switch v {
        case .integer(let i): return .exact(negative: i < 0, digits: String(i.magnitude), scale: 0)
        case .decimal(let d): return .exact(negative: d.isNegative, digits: String(d.magnitude), scale: d.scale)
        case .float(let d): return .float(d)
        case .text(let t):
            if let i = Int64(t.trimmingSpaces()) { return .exact(negative: i < 0, digits: String(i.magnitude), scale: 0) }
            if let d = Double(t.trimmingSpaces()) { return .float(d) }
        default: break
        }
        throw RedError(.undefinedFunction, "function to_char(\(v.kindName), text) does not exist")
    }

    /// `to_number(text, template)`: the digits of `input` as a numeric. Group separators,
    /// currency and other text are skipped; the point counts only when the template has one
    /// (else the number ends there); fraction digits beyond the template's are dropped, as
    /// PostgreSQL drops them; a `-`, or `<…>`/`(…)` around the number, makes it negative, and
    /// `V` divides by ten per digit position after it.
    func parse(_ input: String) throws -> Numeric {
        var whole = "", fraction = "", negative = false, afterPoint = false
        for ch in input {
            if ch.isASCII, ch.isNumber {
                if afterPoint { fraction.append(ch) } else { whole.append(ch) }
            } else if ch == "." {
                guard layout.hasPoint, !afterPoint else { break }
                afterPoint = true
            } else if ch == "-" || ch == "<" || ch == "(" {
                negative = true
            }
        }
        guard !whole.isEmpty || !fraction.isEmpty else {
            throw RedError(.invalidTextRepresentation, "invalid input syntax for type numeric: \" \"")
        }
        let kept = String(fraction.prefix(layout.fractionPositions + layout.shiftDigits))
        var text = (negative ? "-" : "") + (whole.isEmpty ? "0" : whole) + (kept.isEmpty ? "" : "." + kept)
        if layout.shiftDigits > 0 {  // `V`: the written number is the value × 10^n
            var digits = (whole.isEmpty ? "0" : whole) + kept
            let point = digits.count - kept.count - layout.shiftDigits
            digits = point > 0 ? String(digits.prefix(point)) + "." + digits.dropFirst(point)
                : "0." + String(repeating: "0", count: -point) + digits
            text = (negative ? "-" : "") + digits
        }
        guard let n = try Numeric.parse(text) else {
            throw RedError(.invalidTextRepresentation, "invalid input syntax for type numeric: \"\(input)\"")
        }
        return n
    }

    func format(_ number: Number) -> String {
        let integerPositions = layout.integerPositions, fractionPositions = layout.fractionPositions
        if let lower = layout.roman { return romanNumeral(number, lower: lower) }
        if layout.exponent { return scientific(number, fractionDigits: fractionPositions) }
        // V: each digit position after it multiplies by ten and counts as an integer position.
        var (negative, integerDigits, fractionDigits) = Self.rounded(number, fractionDigits: fractionPositions, shift: layout.shiftDigits)
        if integerDigits.allSatisfy({ $0 == "0" }) { integerDigits = "" }
        if integerDigits.isEmpty, fractionDigits.allSatisfy({ $0 == "0" }) { negative = false }  // -0.0001 rounds to 0
        if fillMode, layout.hasPoint {
            // FM: fraction zeros after the last `0` position go.
            while fractionDigits.count > layout.lastFractionZero + 1, fractionDigits.last == "0" { fractionDigits.removeLast() }
        }
        // A zero integer part prints as "0" only with no point, or in FM when nothing else would print.
        if integerDigits.isEmpty, !layout.hasPoint || (fillMode && fractionDigits.isEmpty) { integerDigits = "0" }
        let overflow = integerDigits.count > integerPositions
        let explicitSign = layout.explicitSign, firstZero = layout.firstIntegerZero
        var out = ""
        var integerIndex = 0, fractionIndex = 0, afterPoint = false, started = false
        let integerChars = Array(integerDigits), fractionChars = Array(fractionDigits)
        func floatingSign() {
            guard !started else { return }
            started = true
            if layout.angleBrackets { out += negative ? "<" : fillMode ? "" : " " }
            else if layout.leadingSign { out += negative ? "-" : "+" }
            else if !explicitSign { out += negative ? "-" : fillMode ? "" : " " }
        }
        for token in tokens {
            switch token {
            case .digit:
                if afterPoint {
                    guard fractionIndex < fractionPositions else { continue }
                    defer { fractionIndex += 1 }
                    if overflow { out += "#"; continue }
                    if fractionIndex < fractionChars.count { out.append(fractionChars[fractionIndex]) }
                    continue
                }
                defer { integerIndex += 1 }
                if overflow { floatingSign(); out += "#"; continue }
                let blankPositions = integerPositions - integerChars.count
                if integerIndex < blankPositions {
                    if let firstZero, integerIndex >= firstZero { floatingSign(); out += "0" } else if !fillMode { out += " " }
                } else {
                    floatingSign()
                    out.append(integerChars[integerIndex - blankPositions])
                }
            case .point:
                floatingSign()
                afterPoint = true
                if !(fillMode && fractionPositions == 0) { out += "." }  // FM drops a point with no places after it
            case .group:
                if started || overflow { out += "," } else if !fillMode { out += " " }
            case .currency: out += " "
            case .leadingSign: break
            case .trailingSign: out += negative ? "-" : "+"
            case .minus: out += negative ? "-" : fillMode ? "" : " "
            case .plus: out += negative ? "" : "+"; if negative, !fillMode { out += " " }
            case .signAnywhere: out += negative ? "-" : "+"
            case .angleBrackets: out += negative ? ">" : fillMode ? "" : " "
            case .ordinal(let lower):
                guard !negative, !overflow else { continue }
                out += DateTimeTemplate.ordinalSuffix(Int(integerDigits.suffix(2)) ?? 0, lower ? .lower : .upper)
            case .shift, .exponent, .roman: break
            case .literal(let text): out += text
            }
        }
        if !started { floatingSign() }
        return out
    }

    /// The number rounded to `fractionDigits` places after multiplying by 10^`shift`:
    /// sign, integer digits (no leading zeros) and exactly `fractionDigits` fraction digits.
    static func rounded(_ number: Number, fractionDigits: Int, shift: Int) -> (Bool, String, String) {
        switch number {
        case .float(let d):
            guard d.isFinite else { return (false, String(repeating: "9", count: 400), "") }  // prints as overflow
            let scaled = d * Foundation.pow(10, Double(shift))
            let text = String(format: "%.\(min(fractionDigits, 60))f", abs(scaled))
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            var fraction = parts.count > 1 ? String(parts[1]) : ""
            fraction += String(repeating: "0", count: max(0, fractionDigits - fraction.count))
            return (scaled < 0, String(parts[0].drop { $0 == "0" }), fraction)
        case .exact(let negative, let digits, let scale):
            // Move the point `shift` places right, then round half away from zero.
            var all = Array(digits), pointAt = all.count - scale + shift
            if pointAt > all.count { all += Array(repeating: "0", count: pointAt - all.count) }
            if pointAt < 0 { all = Array(repeating: "0", count: -pointAt) + all; pointAt = 0 }
            var integer = Array(all[..<pointAt]), fraction = Array(all[pointAt...])
            if fraction.count > fractionDigits {
                let roundUp = fraction[fractionDigits] >= "5"
                fraction = Array(fraction[..<fractionDigits])
                if roundUp {
                    var carry = true
                    for i in fraction.indices.reversed() where carry {
                        if fraction[i] == "9" { fraction[i] = "0" } else { fraction[i] = Character(String(fraction[i].wholeNumberValue! + 1)); carry = false }
                    }
                    for i in integer.indices.reversed() where carry {
                        if integer[i] == "9" { integer[i] = "0" } else { integer[i] = Character(String(integer[i].wholeNumberValue! + 1)); carry = false }
                    }
                    if carry { integer.insert("1", at: 0) }
                }
            }
            fraction += Array(repeating: "0", count: max(0, fractionDigits - fraction.count))
            return (negative, String(integer.drop { $0 == "0" }), String(fraction))
        }
    }

    private func scientific(_ number: Number, fractionDigits: Int) -> String {
        let d: Double
        switch number {
        case .float(let f): d = f
        case .exact(let negative, let digits, let scale): d = (Double(digits) ?? 0) / Foundation.pow(10, Double(scale)) * (negative ? -1 : 1)
        }
        guard d.isFinite else { return " " + String(repeating: "#", count: fractionDigits + 1) + (fractionDigits > 0 ? "." : "") + "####" }
        let text = String(format: "%.\(min(fractionDigits, 60))e", abs(d))
        return (d < 0 ? "-" : " ") + text
    }

    private func romanNumeral(_ number: Number, lower: Bool) -> String {
        let (negative, integer, _) = Self.rounded(number, fractionDigits: 0, shift: 0)
        guard !negative, let value = Int(integer), (1...3999).contains(value) else { return String(repeating: "#", count: 15) }
        var rest = value, text = ""
        for (amount, numeral) in [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
                                  (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")] {
            while rest >= amount { text += numeral; rest -= amount }
        }
        if lower { text = text.lowercased() }
        return fillMode ? text : String(repeating: " ", count: 15 - text.count) + text
    }
}
