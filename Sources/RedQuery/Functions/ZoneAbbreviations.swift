import Foundation
import RedCore
import Synchronization

/// A zone's abbreviations over time (`CEST`, `EST`, `IST`), read from the system's zone files,
/// for `to_char`'s `TZ`: Foundation on Linux names an offset only as `GMT+2`.
///
/// A zone file (TZif, RFC 8536) lists the zone's changes of offset and, for each, a local time
/// type: its offset, whether it is daylight saving time, and its abbreviation. The
/// abbreviation at an instant is that of the last change at or before it, when its offset is
/// the one the zone has then; past the last change listed (a file may stop at a year and leave
/// the rest to a rule), the latest type with that offset. Nil when the file cannot be read.
enum ZoneAbbreviations {
    private struct Zone {
        /// Instants of the changes (epoch seconds, ascending) and the type each begins.
        var changes: [(at: Int64, type: Int)] = []
        var types: [(offset: Int, abbreviation: String)] = []
    }

    private static let zones = Mutex<[String: Zone?]>([:])
    /// Zone files are a few kilobytes; anything larger is not one.
    private static let maxFileBytes = 1 << 20

    /// The abbreviation `identifier`'s clocks show at `instant` (epoch microseconds), where
    /// their offset is `offset` seconds east.
    static func abbreviation(_ identifier: String, at instant: Int64, offset: Int) -> String? {
        let cached = zones.withLock { $0[identifier] }
        let zone: Zone?
        if let cached { zone = cached } else {
            zone = read(identifier)
            zones.withLock { $0[identifier] = .some(zone) }
        }
        guard let zone, !zone.types.isEmpty else { return nil }
        let seconds = instant / 1_000_000
        // The last change at or before the instant (binary search), else the zone's first type.
        var low = 0, high = zone.changes.count
        while low < high {
            let middle = (low + high) / 2
            if zone.changes[middle].at <= seconds { low = middle + 1 } else { high = middle }
        }
        let current = low > 0 ? zone.changes[low - 1].type : 0
        if zone.types[current].offset == offset { return zone.types[current].abbreviation }
        for change in zone.changes.reversed() where zone.types[change.type].offset == offset { return zone.types[change.type].abbreviation }
        return zone.types.last { $0.offset == offset }?.abbreviation
    }

    private static func read(_ identifier: String) -> Zone? {
        let path = "/usr/share/zoneinfo/" + identifier
        guard !identifier.contains(".."), let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber,
              size.intValue <= maxFileBytes, let data = FileManager.default.contents(atPath: path), data.count <= maxFileBytes else { return nil }
        let bytes = [UInt8](data)
        var reader = BigEndianReader(bytes: bytes)
        guard let first = header(&reader) else { return nil }
        // Version 2 and later repeat the data with 64-bit times after the first block: skip to it.
        if first.version >= 2 {
            guard reader.skip(first.dataBytes(timeSize: 4)), let second = header(&reader) else { return nil }
            return body(&reader, second, timeSize: 8)
        }
        return body(&reader, first, timeSize: 4)
    }

    private struct Header {
        var version: Int
        var isUTCCount, isStandardCount, leapCount, timeCount, typeCount, characterCount: Int

        func dataBytes(timeSize: Int) -> Int {
            timeCount * timeSize + timeCount + typeCount * 6 + characterCount + leapCount * (timeSize + 4) + isStandardCount + isUTCCount
        }
    }

    private static func header(_ reader: inout BigEndianReader) -> Header? {
        guard let magic = reader.bytes(4), magic == Array("TZif".utf8), let version = reader.bytes(1), reader.skip(15) else { return nil }
        var counts: [Int] = []
        for _ in 0..<6 {
            guard let count = reader.uint32() else { return nil }
            counts.append(Int(count))
        }
        let number = version[0] == 0 ? 1 : Int(version[0]) - Int(UInt8(ascii: "0"))
        return Header(version: number, isUTCCount: counts[0], isStandardCount: counts[1], leapCount: counts[2],
                      timeCount: counts[3], typeCount: counts[4], characterCount: counts[5])
    }

    private static func body(_ reader: inout BigEndianReader, _ header: Header, timeSize: Int) -> Zone? {
        var zone = Zone()
        var times: [Int64] = []
        for _ in 0..<header.timeCount {
            guard let time = timeSize == 8 ? reader.int64() : reader.uint32().map({ Int64(Int32(bitPattern: $0)) }) else { return nil }
            times.append(time)
        }
        guard let indices = reader.bytes(header.timeCount) else { return nil }
        var raw: [(offset: Int, abbreviationIndex: Int)] = []
        for _ in 0..<header.typeCount {
            guard let offset = reader.uint32(), let info = reader.bytes(2) else { return nil }
            raw.append((Int(Int32(bitPattern: offset)), Int(info[1])))
        }
        guard let characters = reader.bytes(header.characterCount) else { return nil }
        for type in raw {
            guard type.abbreviationIndex < characters.count else { return nil }
            let text = characters[type.abbreviationIndex...].prefix { $0 != 0 }
            zone.types.append((type.offset, String(decoding: text, as: UTF8.self)))
        }
        for (time, index) in zip(times, indices) {
            guard Int(index) < zone.types.count else { return nil }
            zone.changes.append((time, Int(index)))
        }
        return zone
    }
}

/// Reads a zone file's big-endian fields; nil past its end.
private struct BigEndianReader {
    let bytes: [UInt8]
    var position = 0

    mutating func bytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, count <= bytes.count - position else { return nil }
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }

    mutating func skip(_ count: Int) -> Bool { bytes(count) != nil }

    mutating func uint32() -> UInt32? { bytes(4).map { $0.reduce(0) { $0 << 8 | UInt32($1) } } }

    mutating func int64() -> Int64? { bytes(8).map { Int64(bitPattern: $0.reduce(0) { $0 << 8 | UInt64($1) }) } }
}
