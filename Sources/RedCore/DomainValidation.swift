/// Validation and normalisation of the text-backed domain types (spec §8.3).
///
/// Each rule returns the stored form, or nil when the text is not a valid
/// value of the type (the caller turns nil into a 22P02 error).
enum DomainValidation {
    static func normalise(_ s: String, as type: DataType) -> String? {
        switch type {
        case .email:
            let parts = s.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, parts[1].contains("."),
                  !parts[1].hasPrefix("."), !parts[1].hasSuffix("."), !s.contains(where: { $0 == " " }) else { return nil }
            return s.lowercased()
        case .url:
            let lower = s.lowercased()
            guard ["http://", "https://", "ftp://"].contains(where: { lower.hasPrefix($0) && lower.count > $0.count }),
                  !s.contains(where: { $0 == " " }) else { return nil }
            return s
        case .inet:
            if let v4 = ipv4(s[...]) { return v4 }
            return ipv6(s)
        case .ipv4: return ipv4(s[...])
        case .ipv6: return ipv6(s)
        case .color, .colorAlpha:
            let hex = s.hasPrefix("#") ? String(s.dropFirst()) : s
            guard hex.count == (type == .color ? 6 : 8), UInt32(hex, radix: 16) != nil else { return nil }
            return "#" + hex.uppercased()
        case .geoPoint:
            let parts = s.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpacesSubstring() }
            guard parts.count == 2, let lat = Double(parts[0]), let lon = Double(parts[1]),
                  lat.isFinite, lon.isFinite, abs(lat) <= 90, abs(lon) <= 180 else { return nil }
            return "\(fixed6(lat)),\(fixed6(lon))"
        case .lang2: return letters(s, count: 2)?.lowercased()
        case .lang5:
            let parts = s.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, let l = letters(String(parts[0]), count: 2), let c = letters(String(parts[1]), count: 2) else { return nil }
            return l.lowercased() + "-" + c.uppercased()
        case .assetCode:
            guard (2...16).contains(s.count), s.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else { return nil }
            return s.uppercased()
        case .money:
            // `USD 1.23`, `1.23 USD` or `USD:1.23` → `USD 1.23`.
            let separators: Set<Character> = [" ", ":"]
            let parts = s.split(whereSeparator: { separators.contains($0) }).map(String.init)
            guard parts.count == 2 else { return nil }
            let (asset, amount) = Double(parts[0]) != nil ? (parts[1], parts[0]) : (parts[0], parts[1])
            guard let code = normalise(asset, as: .assetCode), Double(amount) != nil,
                  amount.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "." || $0 == "-") }) else { return nil }
            return "\(code) \(amount)"
        case .keyRef, .vectorRef, .rowRef:
            let parts = s.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
            return s
        case .docRef:
            let parts = s.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
            return s
        case .nodeRef, .edgeRef, .tableRef:
            return s.isEmpty ? nil : s
        case .cidr:
            let parts = s.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let prefix = Int(parts[1]) else { return nil }
            if let v4 = ipv4(parts[0]), (0...32).contains(prefix) { return "\(v4)/\(prefix)" }
            if let v6 = ipv6(String(parts[0])), (0...128).contains(prefix) { return "\(v6)/\(prefix)" }
            return nil
        case .macaddr:
            let parts = s.split(separator: s.contains("-") ? "-" : ":", omittingEmptySubsequences: false)
            guard parts.count == 6, parts.allSatisfy({ $0.count == 2 && UInt8($0, radix: 16) != nil }) else { return nil }
            return parts.joined(separator: ":").lowercased()
        case .country2: return letters(s, count: 2)?.uppercased()
        case .country3, .currency: return letters(s, count: 3)?.uppercased()
        case .semver:
            let parts = s.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && Int($0).map { (0...999).contains($0) } == true })
            else { return nil }
            return parts.map { String(Int($0)!) }.joined(separator: ".")
        case .phone:
            let digits = s.filter { $0.isASCII && $0.isNumber }
            guard (7...15).contains(digits.count),
                  s.allSatisfy({ ($0.isASCII && $0.isNumber) || " +-().".contains($0) }) else { return nil }
            return "+" + digits
        default: return nil
        }
    }

    static func fixed6(_ d: Double) -> String {
        let scaled = (d * 1_000_000).rounded()
        let negative = scaled < 0
        let m = Int64(abs(scaled))
        let frac = String(m % 1_000_000)
        return (negative ? "-" : "") + "\(m / 1_000_000)." + String(repeating: "0", count: 6 - frac.count) + frac
    }

    static func letters(_ s: String, count: Int) -> String? {
        s.count == count && s.allSatisfy({ $0.isASCII && $0.isLetter }) ? s : nil
    }

    static func ipv4(_ s: Substring) -> String? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var octets: [Int] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }), let v = Int(p), v <= 255 else { return nil }
            octets.append(v)
        }
        return octets.map(String.init).joined(separator: ".")
    }

    /// Validates IPv6 text (with `::` compression and an optional trailing IPv4) and returns it lower-cased.
    static func ipv6(_ s: String) -> String? {
        guard s.contains(":"), s.count <= 45 else { return nil }
        let halves = s.components(separatedByDoubleColon: ())
        guard halves.count <= 2 else { return nil }
        var groups = 0
        for (h, half) in halves.enumerated() {
            if half.isEmpty { continue }
            let parts = half.split(separator: ":", omittingEmptySubsequences: false)
            for (i, p) in parts.enumerated() {
                if h == halves.count - 1, i == parts.count - 1, p.contains(".") {
                    guard ipv4(p) != nil else { return nil }
                    groups += 2
                    continue
                }
                guard (1...4).contains(p.count), UInt16(p, radix: 16) != nil else { return nil }
                groups += 1
            }
        }
        if halves.count == 2 { guard groups < 8 else { return nil } } else { guard groups == 8 else { return nil } }
        return s.lowercased()
    }
}

extension String {
    /// Splits at the first `::` (at most two parts); a second `::` yields three parts.
    func components(separatedByDoubleColon: ()) -> [Substring] {
        var result: [Substring] = []
        var rest = self[...]
        while let range = rest.firstRange(of: "::") {
            result.append(rest[..<range.lowerBound])
            rest = rest[range.upperBound...]
        }
        result.append(rest)
        return result
    }
}
