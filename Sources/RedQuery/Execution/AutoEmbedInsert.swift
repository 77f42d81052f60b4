import RedCore
import RedEngine

/// `INSERT … WITH AUTO EMBED (fields)`: the vectors of the inserted rows' texts.
///
/// The texts are computed from the source rows before anything is written; if their vectors
/// are not yet in the statement's embeddings, `EmbeddingsNeeded` sends the session off to get
/// them (one batched call) and the INSERT runs again. The vectors then go, in the same
/// transaction as the rows, to the vector collection `<table>_embeddings` (created on first
/// use), each with `content` = the text and metadata `{_source_collection, _source_row_id,
/// _ai_provider?, _ai_model?}` linking it back to its row. Upstream stores them in the table's
/// own collection without a link; our collections hold one model each.
extension DMLExecutor {
    static func embeddingsCollection(of table: String) -> String { table + "_embeddings" }

    /// Per source row, its text and vector (nil for a row with no text in the fields).
    func autoEmbedVectors(_ embed: AutoEmbed, _ statement: InsertStatement, _ rows: SourceRows,
                          _ handle: TableHandle) throws -> [(text: String, vector: [Float])?] {
        guard handle.schema.model == .table || handle.schema.model == .document else {
            throw RedError(.invalidOperation, "AUTO EMBED works on tables and document collections; \(handle.name) is a \(handle.schema.model.rawValue) collection")
        }
        var texts: [String?] = []
        for r in 0..<rows.count {
            let row = rows.row(r)
            let names = handle.schema.model == .table ? try insertTargets(statement.columns, valueCount: row.count, handle).map(\.name) : []
            var parts: [String] = []
            for field in embed.fields {
                let value: Value?
                if handle.schema.model == .table {
                    guard let i = names.firstIndex(of: field) else {
                        guard handle.schema.column(named: field) != nil else {
                            throw RedError(.undefinedColumn, "AUTO EMBED field \"\(field)\" is not a column of \(handle.name)")
                        }
                        continue  // a column this INSERT leaves to its default
                    }
                    value = row[i]
                } else if case .json(let body)?? = row.first {
                    value = body[field].map { Value(json: $0) }
                } else {
                    value = nil
                }
                if let value, !value.isNull {
                    let text = value.displayText
                    if !text.isBlank { parts.append(text) }
                }
            }
            texts.append(parts.isEmpty ? nil : parts.joined(separator: " "))
        }
        var missing: [EmbeddingKey] = []
        var out: [(text: String, vector: [Float])?] = []
        for text in texts {
            guard let text else { out.append(nil); continue }
            let key = EmbeddingKey(text: text, provider: embed.provider, model: embed.model)
            if let vector = context.embeddings[key] { out.append((text, vector)) } else { missing.append(key); out.append(nil) }
        }
        if !missing.isEmpty { throw EmbeddingsNeeded(keys: missing) }
        return out
    }

    func storeEmbeddings(_ items: [(rid: Int64, text: String, vector: [Float])], of table: String, _ embed: AutoEmbed) throws {
        guard !items.isEmpty else { return }
        let name = Self.embeddingsCollection(of: table)
        var handle = try store.open(tx, name)
        if handle == nil { handle = try store.create(tx, name, schema: .implicitVectorCollection) }
        guard let handle, handle.schema.model == .vector else {
            throw RedError(.invalidOperation, "AUTO EMBED stores vectors in \(name), which is not a vector collection")
        }
        for item in items {
            var metadata: [(String, JSONValue)] = [("_source_collection", .string(table)), ("_source_row_id", .integer(item.rid))]
            if let p = embed.provider { metadata.append(("_ai_provider", .string(p))) }
            if let m = embed.model { metadata.append(("_ai_model", .string(m))) }
            let row = try vectorRow(["dense", "content", "metadata"], [.vector(item.vector), .text(item.text), .json(.object(metadata))], handle, expiresAt: nil)
            try store.insert(tx, handle, row, now: context.now)
        }
    }
}
