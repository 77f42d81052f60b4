import RedCore

/// Reading COPY's text format line by line straight from the parser's buffer.
///
/// Why not byte by byte into arrays: most fields hold no backslash, and for those the field is
/// just a range of the line: compared with the NULL marker in place and turned into a string
/// (or a number) once, where the first version copied every line and built two byte arrays
/// and two strings per field. A field with a backslash is unescaped as PostgreSQL does.
extension PGCopyRowParser {
    /// Calls `visit` with each field of the next complete line (nil: the NULL marker; the bytes
    /// are valid only during the call) and its index, and returns true; false when more data is
    /// needed, or when the line is the end marker `\.` (then `finished`). `atEnd` treats a last
    /// line without a newline as complete.
    mutating func scanTextLine(atEnd: Bool, _ visit: (UnsafeBufferPointer<UInt8>?, Int) -> Void) -> Bool {
        guard !finished, position < buffer.count else { return false }
        let (delimiter, null, start) = (copy.delimiter, nullBytes, position)
        let searchFrom = max(start, scannedWithoutNewline)
        let outcome = buffer.withUnsafeBufferPointer { bytes -> (next: Int, marker: Bool)? in
            var end = searchFrom  // bytes before it were searched already: no newline there
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            if end == bytes.count, !atEnd { return nil }
            var lineEnd = end
            if lineEnd > start, bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            let next = min(end + 1, bytes.count)
            if lineEnd - start == 2, bytes[start] == UInt8(ascii: "\\"), bytes[start + 1] == UInt8(ascii: ".") { return (next, true) }
            var i = start
            var index = 0
            while true {
                let fieldStart = i
                while i < lineEnd, bytes[i] != delimiter, bytes[i] != UInt8(ascii: "\\") { i += 1 }
                if i < lineEnd, bytes[i] == UInt8(ascii: "\\") {
                    i = fieldStart
                    let (raw, field) = Self.unescape(bytes, from: &i, to: lineEnd, delimiter: delimiter)
                    if raw.elementsEqual(null) { visit(nil, index) } else { field.withUnsafeBufferPointer { visit($0, index) } }
                } else {
                    let field = UnsafeBufferPointer(rebasing: bytes[fieldStart..<i])
                    visit(field.elementsEqual(null) ? nil : field, index)
                }
                index += 1
                guard i < lineEnd else { break }
                i += 1  // the delimiter: a line ending in one ends with an empty field
            }
            return (next, false)
        }
        guard let outcome else {
            scannedWithoutNewline = buffer.count
            return false
        }
        position = outcome.next
        if outcome.marker {
            finished = true
            return false
        }
        return true
    }

    /// The field from `i` to the next unescaped delimiter (or `end`), as written (`raw`, for
    /// the NULL comparison) and unescaped; `i` ends on the delimiter or at `end`.
    private static func unescape(_ line: UnsafeBufferPointer<UInt8>, from i: inout Int, to end: Int,
                                 delimiter: UInt8) -> (raw: ArraySlice<UInt8>, field: [UInt8]) {
        let start = i
        var field: [UInt8] = []
        while i < end {
            let c = line[i]
            if c == delimiter { break }
            if c == UInt8(ascii: "\\"), i + 1 < end {
                let n = line[i + 1]
                i += 2
                switch n {
                case UInt8(ascii: "b"): field.append(0x08)
                case UInt8(ascii: "f"): field.append(0x0C)
                case UInt8(ascii: "n"): field.append(0x0A)
                case UInt8(ascii: "r"): field.append(0x0D)
                case UInt8(ascii: "t"): field.append(0x09)
                case UInt8(ascii: "v"): field.append(0x0B)
                case UInt8(ascii: "0")...UInt8(ascii: "7"):
                    var value = Int(n - UInt8(ascii: "0"))
                    var digits = 1
                    while digits < 3, i < end, (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(line[i]) {
                        value = value * 8 + Int(line[i] - UInt8(ascii: "0"))
                        i += 1
                        digits += 1
                    }
                    field.append(UInt8(truncatingIfNeeded: value))
                default: field.append(n)
                }
                continue
            }
            field.append(c)
            i += 1
        }
        return (ArraySlice(line[start..<i]), field)
    }

    /// A field's value for a column of `type`: an integer or float column's plainly written
    /// number (`-?digits`, up to 18 digits, or `-?digits.digits`) becomes the number, as the
    /// column's coercion would make it; anything else stays text for the insert to coerce
    /// (or to reject with an INSERT's message).
    static func value(_ field: UnsafeBufferPointer<UInt8>, as type: DataType) -> Value {
        switch type {
        case .integer:
            if let n = plainInteger(field) { return .integer(n) }
        case .float:
            if isPlainDecimal(field), let d = Double(String(decoding: field, as: UTF8.self)) { return .float(d) }
        default:
            break
        }
        return .text(String(decoding: field, as: UTF8.self))
    }

    private static func plainInteger(_ field: UnsafeBufferPointer<UInt8>) -> Int64? {
        let negative = field.first == UInt8(ascii: "-")
        let digits = negative ? UnsafeBufferPointer(rebasing: field.dropFirst()) : field
        guard (1...18).contains(digits.count) else { return nil }
        var n: Int64 = 0
        for c in digits {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            n = n * 10 + Int64(c - UInt8(ascii: "0"))
        }
        return negative ? -n : n
    }

    private static func isPlainDecimal(_ field: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = field.first == UInt8(ascii: "-") ? 1 : 0
        let digitsStart = i
        while i < field.count, field[i] >= UInt8(ascii: "0"), field[i] <= UInt8(ascii: "9") { i += 1 }
        guard i > digitsStart else { return false }
        if i == field.count { return true }
        guard field[i] == UInt8(ascii: "."), i + 1 < field.count else { return false }
        i += 1
        while i < field.count, field[i] >= UInt8(ascii: "0"), field[i] <= UInt8(ascii: "9") { i += 1 }
        return i == field.count
    }
}
