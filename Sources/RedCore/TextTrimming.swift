/// Whitespace tests and trimming over a string's own characters, without Foundation.
extension String {
    /// True if the text holds nothing but whitespace (Unicode's, newlines included). Stops at the
    /// first other character, so a large request body costs nothing (Foundation's
    /// `trimmingCharacters` copies the whole text to UTF-16 first).
    public var isBlank: Bool { unicodeScalars.allSatisfy(\.properties.isWhitespace) }

    /// Without leading and trailing ASCII spaces, tabs and newlines.
    public func trimmingSpaces() -> String {
        String(self[...].trimmingSpacesSubstring())
    }
}

extension Substring {
    func trimmingSpacesSubstring() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" || f == "\n" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" || l == "\r" { s = s.dropLast() }
        return s
    }
}

extension UInt8 {
    /// An ASCII letter or digit.
    public var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}
