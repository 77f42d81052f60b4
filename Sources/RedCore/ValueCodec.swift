/// Binary encoding of `Value` inside stored rows.
///
/// Layout: one tag byte, then the payload:
///   0 null · 1 false · 2 true · 3 integer (zig-zag varint) · 4 float (8 bytes LE bits)
///   5 text (varint length + UTF-8) · 6 blob (varint length + bytes) · 7 json (varint length + compact text)
///   8 timestamp of earlier versions (zig-zag varint ms; read, no longer written)
///   9 date (zig-zag varint days) · 10 uuid (16 bytes BE)
///   11 vector (varint count + count × 4-byte LE float bits) · 12 decimal of earlier versions
///   (zig-zag varint of the value × 10⁴; read, no longer written)
///   13 interval (zig-zag varints: months, days, microseconds)
///   14 numeric (u8 scale + zig-zag varint mantissa) · 15 numeric whose mantissa passes Int64
///   (u8 scale + 16 bytes LE two's complement)
///   16 timestamp (zig-zag varint µs since 1970; the infinities are the ends of `Int64`)
/// Decoding checks every length against the remaining bytes and `Limits.maxValueBytes`.
public enum ValueCodec {
    @inlinable
    public static func encode<W: ByteSink>(_ value: Value, into w: inout W) {
        switch value {
        case .null: w.u8(0)
        case .boolean(let b): w.u8(b ? 2 : 1)
        case .integer(let i): w.u8(3); w.varint(zigzag(i))
        case .float(let d): w.u8(4); w.u64(d.bitPattern)
        case .text(let s): w.u8(5); w.lengthPrefixed(utf8: s)
        case .blob(let b): w.u8(6); w.lengthPrefixed(b)
        case .json(let j): w.u8(7); w.lengthPrefixed(utf8: j.text)
        case .timestamp(let t): w.u8(16); w.varint(zigzag(t))
        case .date(let d): w.u8(9); w.varint(zigzag(Int64(d)))
        case .uuid(let u):
            w.u8(10)
            for i in 0..<16 { w.u8(u.byte(i)) }
        case .decimal(let d):
            if let small = d.smallMantissa {
                w.u8(14); w.u8(UInt8(d.scale)); w.varint(zigzag(small))
            } else {
                w.u8(15); w.u8(UInt8(d.scale))
                let m = d.mantissa
                w.u64(m._low); w.u64(UInt64(bitPattern: m._high))
            }
        case .vector(let v):
            w.u8(11)
            w.varint(UInt64(v.count))
            for f in v { w.u32(f.bitPattern) }
        case .interval(let i):
            w.u8(13)
            w.varint(zigzag(Int64(i.months)))
            w.varint(zigzag(Int64(i.days)))
            w.varint(zigzag(i.microseconds))
        }
    }

    /// At most how many bytes `encode` writes for `value`, or nil for JSON (its text is only
    /// built while encoding): a row written into memory sized beforehand needs a true bound.
    @inlinable
    public static func sizeBound(_ value: Value) -> Int? {
        if case .json = value { return nil }
        return estimatedSize(value)
    }

    /// About how many bytes `encode` writes for `value` (exact for fixed-size values and text;
    /// a guess for JSON, whose text is only built while encoding): a row sizes its buffer once.
    @inlinable
    public static func estimatedSize(_ value: Value) -> Int {
        switch value {
        case .null, .boolean: return 1
        case .integer, .timestamp, .date: return 11
        case .decimal: return 18
        case .float: return 9
        case .text(let s): return 6 + s.utf8.count
        case .blob(let b): return 6 + b.count
        case .json: return 64
        case .uuid: return 17
        case .vector(let v): return 6 + 4 * v.count
        case .interval: return 31
        }
    }

    public static func decode(_ r: inout ByteReader) throws -> Value { try decodeValue(&r) }
    /// The scan path's decoding, from bytes read in place (`RawByteReader`).
    public static func decode(_ r: inout RawByteReader) throws -> Value { try decodeValue(&r) }
    public static func skip(_ r: inout ByteReader) throws { try skipValue(&r) }
    public static func skip(_ r: inout RawByteReader) throws { try skipValue(&r) }

    /// One routine for both readers, specialized for each by the two entry points above.
    static func decodeValue<R: ByteSource>(_ r: inout R) throws -> Value {
        let tag = try r.u8()
        switch tag {
        case 0: return .null
        case 1: return .boolean(false)
        case 2: return .boolean(true)
        case 3: return .integer(unzigzag(try r.varint()))
        case 4: return .float(Double(bitPattern: try r.u64()))
        case 5: return .text(try r.lengthPrefixedString(limit: Limits.maxValueBytes))
        case 6: return .blob(try r.lengthPrefixed(limit: Limits.maxValueBytes))
        case 7:
            let text = String(decoding: try r.lengthPrefixed(limit: Limits.maxValueBytes), as: UTF8.self)
            do { return .json(try JSONValue.parse(text)) } catch {
                throw RedError(.dataCorrupted, "stored JSON value does not parse")
            }
        case 16: return .timestamp(unzigzag(try r.varint()))
        case 8:
            let ms = unzigzag(try r.varint())
            return .timestamp(CalendarMath.isInfinite(ms) ? ms : ms.multipliedReportingOverflow(by: 1000).partialValue)
        case 9: return .date(Int32(truncatingIfNeeded: unzigzag(try r.varint())))
        case 10:
            // Two big-endian halves, read without an array (`u64` reads little-endian).
            let high = try r.u64().byteSwapped
            let low = try r.u64().byteSwapped
            return .uuid(UUIDBits(high: high, low: low))
        case 12: return .decimal(Numeric(mantissa: unzigzag(try r.varint()), scale: 4))
        case 14:
            let scale = Int(try r.u8())
            let mantissa = unzigzag(try r.varint())
            guard scale <= Numeric.maxDigits else { throw RedError(.dataCorrupted, "numeric value out of range in a stored row") }
            return .decimal(Numeric(mantissa: mantissa, scale: scale))
        case 15:
            let scale = Int(try r.u8())
            let low = try r.u64(), high = try r.u64()
            return .decimal(try storedNumeric(Int128(_low: low, _high: Int64(bitPattern: high)), scale: scale))
        case 11:
            let count = try r.count(limit: Limits.maxValueBytes / 4, "vector length")
            return .vector(try r.littleEndianFloats(count))
        case 13:
            let months = unzigzag(try r.varint()), days = unzigzag(try r.varint()), micros = unzigzag(try r.varint())
            guard let m = Int32(exactly: months), let d = Int32(exactly: days) else {
                throw RedError(.dataCorrupted, "stored interval is out of range")
            }
            return .interval(Interval(months: m, days: d, microseconds: micros))
        default:
            throw RedError(.dataCorrupted, "unknown value tag \(tag) in a stored row")
        }
    }

    /// Moves past one encoded value without materialising it.
    static func skipValue<R: ByteSource>(_ r: inout R) throws {
        let tag = try r.u8()
        switch tag {
        case 0, 1, 2: return
        case 3, 8, 9, 12, 16: _ = try r.varint()
        case 14: try r.skip(1); _ = try r.varint()
        case 15: try r.skip(17)
        case 4: try r.skip(8)
        case 5, 6, 7: try r.skip(try r.count(limit: Limits.maxValueBytes, "length"))
        case 10: try r.skip(16)
        case 11: try r.skip(try r.count(limit: Limits.maxValueBytes / 4, "vector length") * 4)
        case 13: for _ in 0..<3 { _ = try r.varint() }
        default: throw RedError(.dataCorrupted, "unknown value tag \(tag) in a stored row")
        }
    }

    static func storedNumeric(_ mantissa: Int128, scale: Int) throws -> Numeric {
        guard scale <= Numeric.maxDigits, mantissa.magnitude < Numeric.limit else {
            throw RedError(.dataCorrupted, "numeric value out of range in a stored row")
        }
        return Numeric(unchecked: mantissa, scale: scale)
    }

    public static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
    public static func unzigzag(_ v: UInt64) -> Int64 { Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1) }
}

/// Order-preserving key encoding for index keys: `memcmp` order of the bytes
/// equals `Value.sortCompare` order of the values (NULLs last), and every
/// encoded value is self-delimiting, so composite keys concatenate.
///
///   integers and floats share tag 0x20 and are encoded as an order-preserving
///   double followed by the exact integer (so 1 and 1.0 sort together and large
///   integers stay exact); text/json tag 0x30 (bytes with 0x00 escaped as 0x00 0xFF,
///   terminated by 0x00 0x00); booleans 0x10; timestamps/dates 0x40 (µs; ms in files of
///   format version 1, whose indexes are rebuilt when they open); uuid 0x50;
///   blob 0x60; vector 0x70; interval 0x80 (its span, a 128-bit integer, so `1 mon` and
///   `30 days` are one key as they are one value); NULL 0xF0.
public enum KeyEncoding {
    public static func append(_ value: Value, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(0xF0)
        case .boolean(let b): out.append(0x10); out.append(b ? 1 : 0)
        case .integer(let i):
            out.append(0x20)
            appendOrderedDouble(Double(i), to: &out)
            appendOrderedInt(i, to: &out)
        case .decimal(let d): appendNumeric(d, to: &out)
        case .float(let d):
            out.append(0x20)
            appendOrderedDouble(d, to: &out)
            // Tie-break among integers that round to the same double: floats sit with the nearest integer.
            let clamped = d.isFinite ? max(-9.2e18, min(9.2e18, d)) : (d > 0 ? 9.2e18 : -9.2e18)
            appendOrderedInt(Int64(clamped.rounded(.towardZero)), to: &out)
        case .text(let s): out.append(0x30); appendEscaped(s.utf8, to: &out)  // no copy of the text first
        case .json(let j): out.append(0x31); appendEscaped(j.text.utf8, to: &out)
        case .timestamp(let t): out.append(0x40); appendOrderedInt(t, to: &out)
        case .date(let d): out.append(0x40); appendOrderedInt(CalendarMath.midnight(ofDay: Int64(d)), to: &out)
        case .uuid(let u):
            out.append(0x50)
            u.appendBytes(to: &out)
        case .blob(let b): out.append(0x60); appendEscaped(b, to: &out)
        case .vector(let v):
            out.append(0x70)
            var bytes: [UInt8] = []
            for f in v { withUnsafeBytes(of: f.bitPattern.bigEndian) { bytes.append(contentsOf: $0) } }
            appendEscaped(bytes, to: &out)
        case .interval(let i):
            out.append(0x80)
            let span = i.span
            appendOrderedInt(Int64(truncatingIfNeeded: span >> 64), to: &out)
            withUnsafeBytes(of: UInt64(truncatingIfNeeded: span).bigEndian) { out.append(contentsOf: $0) }
        }
    }

    public static func encode(_ values: [Value]) -> [UInt8] {
        var out: [UInt8] = []
        for v in values { append(v, to: &out) }
        return out
    }

    /// A numeric that is a whole Int64 is the integer's key (so `2.00` and `2` are one key); any
    /// other sits among the numbers by its double, then its floor, and then — to tell apart the
    /// numerics a double cannot — a 0xF8 byte (above every tag, so it sorts after the shorter
    /// integer key whatever follows that) with its exact floor and its fraction in units of 10⁻³⁶.
    static func appendNumeric(_ n: Numeric, to out: inout [UInt8]) {
        out.append(0x20)
        var d = n.doubleValue
        if n.isSmall, n.scale < Numeric.smallPowers.count, n.smallMagnitude % Numeric.smallPowers[n.scale] == 0 {
            // A whole number of at most 19 digits: an Int64 unless it is ±2^63 and beyond.
            let whole = n.smallMagnitude / Numeric.smallPowers[n.scale]
            if whole <= UInt64(Int64.max) {
                appendOrderedDouble(d, to: &out)
                appendOrderedInt(n.isNegative ? -Int64(whole) : Int64(whole), to: &out)
                return
            }
        }
        let floor = n.floor()
        let wholeFloor = floor.smallMantissa  // the floor has scale 0: its mantissa is the integer
        if n.isIntegral, let whole = wholeFloor { appendOrderedDouble(d, to: &out); appendOrderedInt(whole, to: &out); return }
        // Below −2^63 a value may share −2^63's double, and the clamped floor would make its key
        // extend (sort after) −2^63's: step the double down instead (no Int64 lies there).
        if wholeFloor == nil, floor.isNegative, d == -0x1p63 { d = d.nextDown }
        appendOrderedDouble(d, to: &out)
        appendOrderedInt(wholeFloor ?? (floor.isNegative ? .min : .max), to: &out)
        out.append(0xF8)
        let exactFloor = floor.mantissa
        withUnsafeBytes(of: (UInt64(bitPattern: exactFloor._high) ^ (1 << 63)).bigEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: exactFloor._low.bigEndian) { out.append(contentsOf: $0) }
        // value − floor is in [0, 1): its scale-digit fraction, widened to 36 digits.
        let fractionUnits = (try? n.subtracting(floor))?.mantissa.magnitude ?? 0
        let fraction = fractionUnits * Numeric.powers[Numeric.maxDigits - n.scale]
        withUnsafeBytes(of: fraction._high.bigEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: fraction._low.bigEndian) { out.append(contentsOf: $0) }
    }

    static func appendOrderedInt(_ i: Int64, to out: inout [UInt8]) {
        let u = UInt64(bitPattern: i) ^ (1 << 63)
        withUnsafeBytes(of: u.bigEndian) { out.append(contentsOf: $0) }
    }

    static func appendOrderedDouble(_ d: Double, to out: inout [UInt8]) {
        let normalised = d == 0 ? 0.0 : (d.isNaN ? Double.nan : d)
        var bits = normalised.bitPattern
        bits = (bits & (1 << 63)) != 0 ? ~bits : bits | (1 << 63)
        withUnsafeBytes(of: bits.bigEndian) { out.append(contentsOf: $0) }
    }

    static func appendEscaped<Bytes: Sequence<UInt8>>(_ bytes: Bytes, to out: inout [UInt8]) {
        for b in bytes {
            out.append(b)
            if b == 0 { out.append(0xFF) }
        }
        out.append(0); out.append(0)
    }

    /// The smallest key above every index key whose leading values are exactly those encoded in
    /// `values` (complete encodings): after them comes the end, a row id's first byte (below
    /// 0x80), or the next value's tag (at most 0xF0) — and never 0xF8, which starts the exact
    /// tail of a numeric a double cannot hold (`appendNumeric`). So unlike `successor(ofPrefix:)`,
    /// the bound for `1` stops before `1.0000000000000000001`, whose key extends the key of `1`.
    public static func end(ofValues values: [UInt8]) -> [UInt8] { values + [0xF1] }

    /// The smallest byte string greater than every key that starts with `prefix`.
    public static func successor(ofPrefix prefix: [UInt8]) -> [UInt8]? {
        var p = prefix
        while let last = p.last {
            if last < 0xFF { p[p.count - 1] = last + 1; return p }
            p.removeLast()
        }
        return nil
    }
}
