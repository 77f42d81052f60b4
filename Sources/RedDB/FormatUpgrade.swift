import RedCore
import RedEngine
import RedStorage

/// Brings a database file written by an earlier format version up to the current one, once,
/// when it opens.
///
/// **Version 1 → 2: timestamps in microseconds.** Version 1 kept timestamps in milliseconds.
/// Stored values say which unit they are in (`ValueCodec` tags 8 and 16), so rows, documents
/// and the WAL read correctly as they are. Index keys do not: a timestamp's or a date's key
/// is its count of the current unit (`KeyEncoding`), so every index is rebuilt from its
/// table's rows, in one transaction. Only after that commits may checkpoints call the image
/// version 2 (`StorageEngine.markFormatCurrent`): a crash before then leaves a version-1
/// image, and the next open rebuilds again, which is harmless.
extension Database {
    /// `database` once its file is in the current format; closed again if the upgrade fails.
    static func upgraded(_ database: Database) async throws -> Database {
        do {
            try await database.upgradeFormatIfNeeded()
        } catch {
            try? await database.close()
            throw error
        }
        return database
    }

    private func upgradeFormatIfNeeded() async throws {
        let version = engine.openedFormatVersion
        guard version < DatabaseHeader.formatVersion else { return }
        if version < 2 {
            try await engine.transaction { tx in
                for handle in try store.list(tx) where !handle.schema.indexes.isEmpty {
                    var current = handle
                    for index in handle.schema.indexes {
                        current = try store.rebuildIndex(tx, current, named: index.name, now: options.clock.nowMilliseconds())
                    }
                }
            }
        }
        engine.markFormatCurrent()
    }
}
