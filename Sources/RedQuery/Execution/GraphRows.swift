import RedCore
import RedEngine

/// Graph items (nodes and edges) as rows: what `INSERT INTO g NODE (…)`, `INSERT INTO g
/// EDGE (…)` and UPDATE write.
///
/// A graph collection holds both. Stored columns: 0 kind (`'node'`/`'edge'`), 1 label,
/// 2 node_type (nodes; defaults to the label), 3 from and 4 to (edges: node rids of the same
/// collection), 5 weight (edges; default 1.0), 6 properties (a JSON object of every other
/// column given). An edge's endpoints are checked when it is written: each must be a node
/// of the collection, named by rid (an integer or numeric text) or by a label unique there.
/// Deleting a node leaves its edges; a traversal ignores an edge whose endpoint is gone.
enum GraphItem {
    static let kindColumn: UInt16 = 0, labelColumn: UInt16 = 1, nodeTypeColumn: UInt16 = 2, fromColumn: UInt16 = 3, toColumn: UInt16 = 4
    static let weightColumn: UInt16 = 5, propertiesColumn: UInt16 = 6
    static let nodeKind = Value.text("node"), edgeKind = Value.text("edge")
    /// Names a property may not take: the columns a graph collection shows.
    static let reservedNames: Set<String> = ["rid", "kind", "label", "node_type", "from", "from_rid", "to", "to_rid", "weight",
                                             "properties", "collection", "created_at", "updated_at"]
}

extension DMLExecutor {
    func graphRow(_ isEdge: Bool, _ columnNames: [String]?, _ source: [Value?], _ handle: TableHandle, expiresAt: Int64?) throws -> StoredRow {
        let what = isEdge ? "EDGE (label, from, to, …)" : "NODE (label, …)"
        guard let columnNames else { throw RedError(.syntaxError, "name the columns: INSERT INTO \(handle.name) \(what)") }
        guard columnNames.count == source.count else {
            throw RedError(.syntaxError, "INSERT has \(columnNames.count) column\(columnNames.count == 1 ? "" : "s") but \(source.count) value\(source.count == 1 ? "" : "s")")
        }
        var row = StoredRow(rid: 0, values: [GraphItem.kindColumn: isEdge ? GraphItem.edgeKind : GraphItem.nodeKind], expiresAt: expiresAt,
                            createdAt: context.now, updatedAt: context.now)
        var properties: [(String, JSONValue)] = []
        var seen = Set<String>()
        for (name, cell) in zip(columnNames, source) {
            let value = cell ?? .null
            let field = name.lowercased()
            guard seen.insert(field).inserted else { throw RedError(.syntaxError, "column \"\(name)\" specified more than once") }
            let isEndpoint = ["from", "from_rid", "to", "to_rid"].contains(field)
            switch field {
            case "label", "node_type" where !isEdge, "weight" where isEdge:
                try setGraphField(field, to: value, in: &row, handle)
            case _ where isEndpoint && isEdge:
                guard !value.isNull else { throw RedError(.notNullViolation, "an edge's \(field) cannot be null") }
                let column = field.hasPrefix("from") ? GraphItem.fromColumn : GraphItem.toColumn
                guard row.values[column] == nil else { throw RedError(.syntaxError, "an edge takes one of from and from_rid, one of to and to_rid") }
                row.values[column] = .integer(try graphNode(value, in: handle))
            case "properties":
                if value.isNull { continue }
                guard case .json(.object(let members)) = try DataType.json.coerce(value) else {
                    throw RedError(.invalidTextRepresentation, "properties must be a JSON object")
                }
                properties += members
            default:
                guard !GraphItem.reservedNames.contains(field) else {
                    throw RedError(.invalidOperation, "\(field) is not a property name a graph \(isEdge ? "edge" : "node") may use")
                }
                if !value.isNull { properties.append((name, value.jsonValue)) }
            }
        }
        guard row.values[GraphItem.labelColumn] != nil else { throw RedError(.notNullViolation, "a graph \(isEdge ? "edge" : "node") needs a label") }
        if isEdge {
            guard row.values[GraphItem.fromColumn] != nil, row.values[GraphItem.toColumn] != nil else {
                throw RedError(.notNullViolation, "an edge needs from and to: the nodes it joins")
            }
            if row.values[GraphItem.weightColumn] == nil { row.values[GraphItem.weightColumn] = .float(1) }
        } else if row.values[GraphItem.nodeTypeColumn] == nil {
            row.values[GraphItem.nodeTypeColumn] = row.values[GraphItem.labelColumn]
        }
        if !properties.isEmpty { row.values[GraphItem.propertiesColumn] = .json(.object(properties)) }
        row.rid = try store.nextRowID(tx, handle)
        return row
    }

    /// Validates `value` for the graph field `field` and stores it in `row` (INSERT and UPDATE).
    func setGraphField(_ field: String, to value: Value, in row: inout StoredRow, _ handle: TableHandle) throws {
        let isEdge = row.values[GraphItem.kindColumn] == GraphItem.edgeKind
        switch field.lowercased() {
        case "label":
            guard !value.isNull else { throw RedError(.notNullViolation, "a graph item's label cannot be null") }
            row.values[GraphItem.labelColumn] = .text(try DataType.text.coerce(value).displayText)
        case "node_type" where !isEdge:
            row.values[GraphItem.nodeTypeColumn] = value.isNull ? row.values[GraphItem.labelColumn] : .text(try DataType.text.coerce(value).displayText)
        case "weight" where isEdge:
            guard !value.isNull, case .float(let weight) = try DataType.float.coerce(value), weight.isFinite else {
                throw RedError(.invalidArgument, "an edge's weight must be a finite number")
            }
            row.values[GraphItem.weightColumn] = .float(weight)
        case "from", "from_rid", "to", "to_rid":
            throw RedError(.invalidOperation, "an edge's endpoints cannot be changed; delete the edge and insert another")
        case let name:
            guard !GraphItem.reservedNames.contains(name) else { throw RedError(.invalidOperation, "\(name) cannot be set on a graph \(isEdge ? "edge" : "node")") }
            var members: [(String, JSONValue)] = []
            if case .json(.object(let existing))? = row.values[GraphItem.propertiesColumn] { members = existing }
            members.removeAll { $0.0 == field }
            if !value.isNull { members.append((field, value.jsonValue)) }
            row.values[GraphItem.propertiesColumn] = members.isEmpty ? nil : .json(.object(members))
        }
    }

    /// The rid of the node `reference` names in `handle`: a rid (integer or numeric text), or a
    /// label only one node of the collection has.
    func graphNode(_ reference: Value, in handle: TableHandle) throws -> Int64 {
        var rid: Int64?
        switch reference {
        case .integer(let i): rid = i
        case .text(let s): rid = Int64(s)
        default: break
        }
        if let rid {
            guard let item = try store.get(tx, handle, rid: rid), item.isVisible(at: context.now), item.values[GraphItem.kindColumn] == GraphItem.nodeKind else {
                throw RedError(.undefinedObject, "no graph node with id \(rid) in \(handle.name)")
            }
            return rid
        }
        let label = reference.displayText
        var found: [Int64] = []
        let cursor = try store.scan(tx, handle)
        while let (key, item) = try cursor.nextEntry() {
            if item.values[GraphItem.kindColumn] == GraphItem.nodeKind, item.values[GraphItem.labelColumn] == .text(label), item.isVisible(at: context.now) {
                found.append(StoredRow.rid(fromKey: key))
                if found.count > 1 { break }
            }
        }
        guard let first = found.first else { throw RedError(.undefinedObject, "no graph node with label '\(label)' in \(handle.name)") }
        guard found.count == 1 else { throw RedError(.invalidArgument, "ambiguous label '\(label)' in \(handle.name): several nodes have it; use a node id") }
        return first
    }
}
