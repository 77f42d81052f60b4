import RedCore
import RedEngine

/// `FROM ANY`: every visible item of every collection, as
/// `collection, kind, rid, body` where `body` is a JSON object of the item's
/// fields (`row`: its columns; `document`: its body; `kv`: `{key, value}`;
/// `vector`: `{dense, content, metadata}`),
/// whose fields are also addressable by name. Hidden columns carry the rest of
/// the spec's envelope: `_collection`, `_kind`, `_entity_id` (= rid),
/// `created_at`, `updated_at`, `tenant` (NULL) and `_score` (0: no ranking yet).
final class FromAnyNode: PlanNode, @unchecked Sendable {
    let columns: [ScopeColumn]

    init(qualifier: String?) {
        columns = [ScopeColumn(qualifier: qualifier, name: "collection", type: .text),
                   ScopeColumn(qualifier: qualifier, name: "kind", type: .text),
                   ScopeColumn(qualifier: qualifier, name: "rid", type: .integer),
                   ScopeColumn(qualifier: qualifier, name: "body", type: .json, isDocumentBody: true),
                   ScopeColumn(qualifier: qualifier, name: "_collection", type: .text, hidden: true),
                   ScopeColumn(qualifier: qualifier, name: "_kind", type: .text, hidden: true),
                   ScopeColumn(qualifier: qualifier, name: "_entity_id", type: .integer, hidden: true),
                   ScopeColumn(qualifier: qualifier, name: "created_at", type: .timestamp, hidden: true),
                   ScopeColumn(qualifier: qualifier, name: "updated_at", type: .timestamp, hidden: true),
                   ScopeColumn(qualifier: qualifier, name: "tenant", type: .text, hidden: true),
                   ScopeColumn(qualifier: qualifier, name: "_score", type: .float, hidden: true)]
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let handles = try context.store.list(context.transaction)
        var position = 0
        var cursor: RowCursor?
        return ClosureIterator {
            while true {
                if let c = cursor, position > 0 {
                    let handle = handles[position - 1]
                    while let (key, row) = try c.nextEntry() {
                        context.rowsScanned += 1
                        guard row.isVisible(at: context.now) else { continue }
                        let item = Self.item(handle, key: key, row: row)
                        return item + [item[0], item[1], item[2], .timestamp(row.createdAt * 1000), .timestamp(row.updatedAt * 1000), .null, .float(0)]
                    }
                }
                guard position < handles.count else { return nil }
                cursor = try context.store.scan(context.transaction, handles[position])
                position += 1
            }
        }
    }

    static func item(_ handle: TableHandle, key: [UInt8], row: StoredRow) -> [Value] {
        let name = Value.text(handle.name)
        switch handle.schema.model {
        case .table:
            let members = handle.schema.columns.map { ($0.name, (row.values[$0.id] ?? .null).jsonValue) }
            return [name, .text("row"), .integer(StoredRow.rid(fromKey: key)), .json(.object(members))]
        case .document:
            return [name, .text("document"), .integer(StoredRow.rid(fromKey: key)), row.values[0] ?? .null]
        case .kv:
            let k = String(decoding: key, as: UTF8.self)
            return [name, .text("kv"), .null, .json(.object([("key", .string(k)), ("value", (row.values[0] ?? .null).jsonValue)]))]
        case .vector:
            let members: [(String, JSONValue)] = [("dense", (row.values[0] ?? .null).jsonValue), ("content", (row.values[1] ?? .null).jsonValue),
                                                  ("metadata", (row.values[2] ?? .null).jsonValue)]
            return [name, .text("vector"), .integer(StoredRow.rid(fromKey: key)), .json(.object(members))]
        case .graph:
            let isEdge = row.values[GraphItem.kindColumn] == GraphItem.edgeKind
            var members: [(String, JSONValue)] = [("label", (row.values[GraphItem.labelColumn] ?? .null).jsonValue)]
            members += isEdge
                ? [("from_rid", (row.values[GraphItem.fromColumn] ?? .null).jsonValue), ("to_rid", (row.values[GraphItem.toColumn] ?? .null).jsonValue),
                   ("weight", (row.values[GraphItem.weightColumn] ?? .null).jsonValue)]
                : [("node_type", (row.values[GraphItem.nodeTypeColumn] ?? .null).jsonValue)]
            if case .json(.object(let properties))? = row.values[GraphItem.propertiesColumn] { members += properties }
            return [name, .text(isEdge ? "edge" : "node"), .integer(StoredRow.rid(fromKey: key)), .json(.object(members))]
        }
    }

    func explain(_ depth: Int) -> [String] { [line(depth, "Any Scan (every collection)")] }
}

