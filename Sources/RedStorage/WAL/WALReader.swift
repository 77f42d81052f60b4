import RedCore

/// Reads records back from a live log's segment files, for replication: a replica asks for
/// the commits after the last one it applied, and the primary reads them from the files
/// its `WriteAheadLog` wrote (never past `readableLSN`, so only bytes already on disk).
///
/// Reads happen without the log's locks, so commits are not held up; a segment removed by a
/// checkpoint meanwhile reads as `gap` (the caller asked for log the primary no longer has).
/// A record larger than `maxBytes` is returned in parts (`offset` into its payload), so a
/// 1 GiB commit crosses the network in bounded messages.
public struct WALReader {
    public struct Part: Sendable, Equatable {
        /// End LSN of the record: what a replica reports as applied once it has all of it.
        public var endLSN: UInt64
        public var kind: UInt8
        /// Where `bytes` start in the payload, and the payload's full length.
        public var offset: Int
        public var payloadLength: Int
        /// CRC32 of the whole payload, for the reader that joins the parts.
        public var payloadCRC: UInt32
        public var bytes: [UInt8]
        public var isWhole: Bool { offset == 0 && bytes.count == payloadLength }
    }

    public enum ReadError: Error, Equatable {
        /// `lsn` is before the oldest segment still on disk.
        case gap(oldest: UInt64)
    }

    let directory: String
    let fileSystem: any FileSystem

    public init(log: WriteAheadLog) {
        directory = log.directory
        fileSystem = log.fileSystem
    }

    /// Records starting at `lsn` (a record boundary, e.g. the end of the last record read),
    /// up to `end`: at most `maxRecords`, and about `maxBytes` of payload (at least one part).
    /// `payloadOffset` continues a record returned in parts.
    public func read(from lsn: UInt64, payloadOffset: Int = 0, upTo end: UInt64, bases: [UInt64],
                     maxRecords: Int, maxBytes: Int) throws -> [Part] {
        guard lsn < end else { return [] }
        guard let oldest = bases.first, lsn >= oldest else { throw ReadError.gap(oldest: bases.first ?? end) }
        var parts: [Part] = []
        var bytes = 0
        var position = lsn
        var offsetInPayload = payloadOffset
        var index = bases.lastIndex { $0 <= position } ?? 0
        var file: (any StorageFile)?
        defer { try? file?.close() }
        while position < end, parts.count < maxRecords, bytes < maxBytes {
            let next = index + 1 < bases.count ? bases[index + 1] : UInt64.max
            if position >= next {
                try? file?.close()
                file = nil
                index += 1
                continue
            }
            let base = bases[index]
            if file == nil {
                do {
                    file = try fileSystem.openFile(FilePath.join(directory, WALFormat.segmentName(base: base)), create: false)
                } catch {
                    throw ReadError.gap(oldest: next == .max ? end : next)
                }
            }
            let recordOffset = UInt64(WALFormat.segmentHeaderBytes) + (position - base)
            let header = try file!.readUpTo(WALFormat.recordHeaderBytes, at: recordOffset)
            guard let parsed = WALFormat.recordHeader(in: header, at: 0, expectedLSN: position) else {
                throw RedError(.dataCorrupted, "WAL record at LSN \(position) does not read back while replicating")
            }
            let payloadLength = parsed.length - WALFormat.recordHeaderBytes
            guard offsetInPayload < payloadLength || (offsetInPayload == 0 && payloadLength == 0) else {
                throw RedError(.invalidArgument, "offset \(offsetInPayload) is beyond the \(payloadLength)-byte record ending at LSN \(position + UInt64(WALFormat.padded(parsed.length)))")
            }
            let endLSN = position + UInt64(WALFormat.padded(parsed.length))
            let take = min(payloadLength - offsetInPayload, max(1, maxBytes - bytes))
            let chunk = try file!.readUpTo(take, at: recordOffset + UInt64(WALFormat.recordHeaderBytes + offsetInPayload))
            guard chunk.count == take else { throw RedError(.dataCorrupted, "WAL record at LSN \(position) is short while replicating") }
            if offsetInPayload == 0, take == payloadLength, CRC32.checksum(chunk) != parsed.payloadCRC {
                throw RedError(.dataCorrupted, "WAL record at LSN \(position) fails its checksum while replicating")
            }
            parts.append(Part(endLSN: endLSN, kind: parsed.kind, offset: offsetInPayload, payloadLength: payloadLength,
                              payloadCRC: parsed.payloadCRC, bytes: chunk))
            bytes += take
            if offsetInPayload + take < payloadLength { break }  // the rest of this record comes in the next read
            offsetInPayload = 0
            position = endLSN
        }
        return parts
    }
}
