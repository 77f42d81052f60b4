import RedCore

/// Finds where the valid log ends, repairs a torn tail, and replays records.
///
/// Runs in two passes so that a refusal changes nothing: the *validation*
/// pass reads every segment from the start LSN, stops at the first invalid
/// record P and looks beyond it (rest of that segment at 8-byte aligned
/// positions, and every later segment) for a record that is intact, sits at
/// its own LSN and says P was already durable when it was appended. Such a
/// record means acknowledged data was damaged: open fails with
/// `.dataCorrupted`. Otherwise everything from P on was never made durable
/// (a torn or reordered tail): the segment is truncated at P and later
/// segments removed. Only then does the *replay* pass deliver the records.
struct WALRecovery {
    struct Segment {
        var base: UInt64
        var path: String
    }

    let directory: String
    let fileSystem: any FileSystem

    /// Segments in base order, with their headers validated.
    func segments() throws -> [Segment] {
        var found: [Segment] = []
        for name in try fileSystem.listDirectory(directory) {
            guard let base = WALFormat.base(ofSegmentNamed: name) else { continue }
            try WALFormat.checkLSN(base, "WAL segment \(FilePath.join(directory, name))")
            found.append(Segment(base: base, path: FilePath.join(directory, name)))
        }
        return found.sorted { $0.base < $1.base }
    }

    /// Bytes of a segment after its header; nil if the header is absent or damaged.
    func data(of segment: Segment) throws -> [UInt8]? {
        let file = try fileSystem.openFile(segment.path, create: false)
        defer { try? file.close() }
        let size = try file.size()
        let bytes = try file.readUpTo(Int(size), at: 0)
        guard let base = try WALFormat.parseSegmentHeader(bytes[...]) else { return nil }
        guard base == segment.base else {
            throw RedError(.dataCorrupted, "\(segment.path): segment header says base LSN \(base), its name says \(segment.base)")
        }
        return Array(bytes[WALFormat.segmentHeaderBytes...])
    }

    /// Validates the record at `offset` of a segment's data, expected at `lsn`.
    static func validRecord(_ data: [UInt8], at offset: Int, lsn: UInt64) -> WALFormat.RecordHeader? {
        guard let header = WALFormat.recordHeader(in: data, at: offset, expectedLSN: lsn) else { return nil }
        let end = offset + WALFormat.padded(header.length)
        guard end <= data.count else { return nil }
        let crc = data.withUnsafeBytes {
            CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[(offset + WALFormat.recordHeaderBytes)..<(offset + header.length)]))
        }
        return crc == header.payloadCRC ? header : nil
    }

    struct ScanResult {
        /// End of the valid log.
        var end: UInt64
        /// Index of the segment that holds `end` (appends continue there); nil: start a new segment at `end`.
        var segmentIndex: Int?
        /// Truncate that segment's data to this many bytes (nil: nothing to repair).
        var truncateDataTo: Int?
        /// Later segments to delete.
        var discard: [Segment]
    }

    /// Pass 1: where the valid log ends, without changing anything.
    func validate(_ segments: [Segment], from startLSN: UInt64) throws -> ScanResult {
        try WALFormat.checkLSN(startLSN, "\(directory): checkpoint position")
        guard let first = segments.lastIndex(where: { $0.base <= startLSN }) else {
            throw RedError(.dataCorrupted, "\(directory): no WAL segment holds the checkpoint position LSN \(startLSN)")
        }
        var index = first
        var lsn = startLSN
        while true {
            let segment = segments[index]
            guard let data = try data(of: segment) else {
                // A damaged header is only acceptable on the last segment, starting exactly where the
                // log ends: a rollover that crashed before the new header was durable. (Rollover makes
                // the previous segment durable first, and writes data only after the header.)
                if index == segments.count - 1 && lsn == segment.base {
                    return ScanResult(end: lsn, segmentIndex: nil, truncateDataTo: nil, discard: [segment])
                }
                throw RedError(.dataCorrupted, "\(segment.path): damaged WAL segment header; refusing to open")
            }
            var offset = Int(lsn - segment.base)
            guard offset <= data.count else {
                throw RedError(.dataCorrupted, "\(segment.path): WAL ends at LSN \(segment.base + UInt64(data.count)) before LSN \(lsn)")
            }
            while let header = Self.validRecord(data, at: offset, lsn: lsn) {
                offset += WALFormat.padded(header.length)
                lsn += UInt64(WALFormat.padded(header.length))
            }
            if offset == data.count, index + 1 < segments.count, segments[index + 1].base == lsn {
                index += 1  // clean end of this segment, the log continues in the next
                continue
            }
            // The log ends at `lsn`: a torn tail, unless later intact records prove it was durable.
            try refuseIfDurable(invalidAt: lsn, data: data, offset: offset, segment: segment,
                                later: Array(segments[(index + 1)...]))
            return ScanResult(end: lsn, segmentIndex: index,
                              truncateDataTo: offset < data.count ? offset : nil,
                              discard: Array(segments[(index + 1)...]))
        }
    }

    private func refuseIfDurable(invalidAt lsn: UInt64, data: [UInt8], offset: Int, segment: Segment,
                                 later: [Segment]) throws {
        func check(_ data: [UInt8], from start: Int, base: UInt64, path: String) throws {
            var o = start
            while o + WALFormat.recordHeaderBytes <= data.count {
                if let header = WALFormat.recordHeader(in: data, at: o, expectedLSN: base + UInt64(o)),
                   header.syncedLSN > lsn {
                    throw RedError(.dataCorrupted, """
                        \(segment.path): the WAL record at LSN \(lsn) (byte \(offset + WALFormat.segmentHeaderBytes)) is \
                        damaged, but a later record (LSN \(base + UInt64(o)) in \(path)) shows it had been made durable; \
                        refusing to open the database. Restore from a backup or a replica.
                        """)
                }
                o += 8
            }
        }
        try check(data, from: offset + 8, base: segment.base, path: segment.path)
        for next in later {
            guard let nextData = try? self.data(of: next) else { continue }
            try check(nextData, from: 0, base: next.base, path: next.path)
        }
    }

    /// Applies the repair pass 1 decided on.
    func repair(_ segments: [Segment], _ scan: ScanResult) throws {
        if let keep = scan.truncateDataTo, let index = scan.segmentIndex {
            let file = try fileSystem.openFile(segments[index].path, create: false)
            try file.truncate(to: UInt64(WALFormat.segmentHeaderBytes + keep))
            try file.sync()
            try file.close()
        }
        for segment in scan.discard { try fileSystem.removeFile(segment.path) }
        if !scan.discard.isEmpty { try fileSystem.syncDirectory(directory) }
    }

    /// Pass 2: delivers every record from `startLSN` to `end` in order.
    func replay(_ segments: [Segment], from startLSN: UInt64, to end: UInt64,
                _ deliver: (WALRecord) throws -> Void) throws {
        var lsn = startLSN
        for segment in segments where lsn < end {
            let next = segments.first { $0.base > segment.base }?.base ?? .max
            guard segment.base <= lsn, lsn < next else { continue }
            guard let data = try data(of: segment) else { break }
            var offset = Int(lsn - segment.base)
            while lsn < end, let header = Self.validRecord(data, at: offset, lsn: lsn) {
                let payload = Array(data[(offset + WALFormat.recordHeaderBytes)..<(offset + header.length)])
                let size = UInt64(WALFormat.padded(header.length))
                try deliver(WALRecord(lsn: lsn, endLSN: lsn + size, kind: header.kind, payload: payload))
                offset += Int(size)
                lsn += size
            }
        }
        guard lsn == end else {
            throw RedError(.internalError, "\(directory): WAL replay stopped at LSN \(lsn), validation reached \(end)")
        }
    }
}
