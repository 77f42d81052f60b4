import RedCore

/// PostgreSQL's jsonb functions beyond the operators (`JSONOperators`), over RedDB's one JSON
/// type (`json` and `jsonb` are the same values here, keys in the order written):
///
/// | function | what |
/// |---|---|
/// | `jsonb_set(j, path, new [, create_missing])` | `j` with the value at `path` replaced (or added) |
/// | `jsonb_insert(j, path, new [, insert_after])` | `new` inserted into an array, or a new key added |
/// | `jsonb_strip_nulls`, `json_strip_nulls` | object members whose value is null removed, at any depth |
/// | `jsonb_pretty(j)` | PostgreSQL's indented text (keys in the order written) |
/// | `array_to_json(a [, pretty])` | the array as JSON |
/// | `row_to_json(t)` | a FROM item's row as an object (`t` alone is that row: `Binder.wholeRow`) |
/// | `j ? 'k'`, `j ?| array`, `j ?& array` | key (or string element) exists: it, any, all |
/// | `j #- path` | the value at `path` removed |
///
/// and the set-returning `json[b]_each[_text]`, `json[b]_array_elements[_text]` and
/// `json[b]_object_keys` (`JSONTableFunctionNode`; the `jsonb_` ones give keys in jsonb's
/// order, shorter first, the `json_` ones as written). Paths are text arrays (`'{a,0}'` or
/// `ARRAY['a','0']`); a step into an array is an index, negative from the end.
enum JSONFunctions {
    static let functions: [ScalarFunction] = {
        func make(_ name: String, _ arity: ClosedRange<Int>, _ body: @escaping @Sendable ([Value]) throws -> Value) -> ScalarFunction {
            ScalarFunction(name: name, arity: arity, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in try body(a) }
        }
        @Sendable func flag(_ a: [Value], _ i: Int, default value: Bool) throws -> Bool {
            guard i < a.count else { return value }
            guard case .boolean(let b) = a[i] else { throw RedError(.datatypeMismatch, "argument \(i + 1) must be boolean") }
            return b
        }
        return [
            make("jsonb_set", 3...4) { a in
                .json(try changed(try JSONOperators.document(a[0]), path: try JSONOperators.pathElements(a[1]),
                                  to: try JSONOperators.document(a[2]), mode: .set(createMissing: try flag(a, 3, default: true))))
            },
            make("jsonb_insert", 3...4) { a in
                .json(try changed(try JSONOperators.document(a[0]), path: try JSONOperators.pathElements(a[1]),
                                  to: try JSONOperators.document(a[2]), mode: .insert(after: try flag(a, 3, default: false))))
            },
            // Of a whole-row reference (`row_to_json(t)`, already a JSON object) or any value.
            make("row_to_json", 1...2) { a in
                _ = try flag(a, 1, default: false)  // `pretty`: whitespace only
                return .json(a[0].postgresJSON)
            },
            make("jsonb_strip_nulls", 1...1) { a in .json(strippingNulls(try JSONOperators.document(a[0]))) },
            make("json_strip_nulls", 1...1) { a in .json(strippingNulls(try JSONOperators.document(a[0]))) },
            make("jsonb_pretty", 1...1) { a in
                var out = ""
                pretty(try JSONOperators.document(a[0]), indent: 0, into: &out)
                return .text(out)
            },
            make("array_to_json", 1...2) { a in
                guard case .json(.array(let items)) = try DataType.array.coerce(a[0]) else {
                    throw RedError(.datatypeMismatch, "array_to_json takes an array")
                }
                _ = try flag(a, 1, default: false)  // `pretty` changes only whitespace, which JSON values do not keep
                return .json(.array(items))
            },
            make("__json_has_key", 2...2) { a in .boolean(hasKey(try JSONOperators.document(a[0]), try keyText(a[1]))) },
            make("__json_has_any", 2...2) { a in
                let j = try JSONOperators.document(a[0])
                return .boolean(try JSONOperators.pathElements(a[1]).contains { hasKey(j, $0) })
            },
            make("__json_has_all", 2...2) { a in
                let j = try JSONOperators.document(a[0])
                return .boolean(try JSONOperators.pathElements(a[1]).allSatisfy { hasKey(j, $0) })
            },
            make("__json_delete_path", 2...2) { a in
                .json(try deleting(try JSONOperators.document(a[0]), path: try JSONOperators.pathElements(a[1])))
            },
        ]
    }()

    static let resultTypes: [String: DataType] = [
        "jsonb_set": .json, "jsonb_insert": .json, "jsonb_strip_nulls": .json, "json_strip_nulls": .json, "jsonb_pretty": .text,
        "array_to_json": .json, "row_to_json": .json, "__json_has_key": .boolean, "__json_has_any": .boolean, "__json_has_all": .boolean, "__json_delete_path": .json,
    ]

    // MARK: Paths

    enum Change { case set(createMissing: Bool), insert(after: Bool) }

    /// `j` with the change at `path` (PostgreSQL's setPath): every step but the last must
    /// exist, else `j` comes back as it was; the last names the member or element changed.
    static func changed(_ j: JSONValue, path: [String], to new: JSONValue, mode: Change) throws -> JSONValue {
        switch j {
        case .object, .array: break
        default: throw RedError(.invalidArgument, "cannot set path in scalar")
        }
        guard !path.isEmpty else { return j }
        return try changed(j, path: path[...], position: 1, to: new, mode: mode)
    }

    private static func changed(_ j: JSONValue, path: ArraySlice<String>, position: Int, to new: JSONValue, mode: Change) throws -> JSONValue {
        let step = path[path.startIndex]
        let last = path.count == 1
        switch j {
        case .object(var members):
            if let i = members.firstIndex(where: { $0.0 == step }) {
                if last {
                    if case .insert = mode { throw RedError(.invalidArgument, "cannot replace existing key", detail: "Try using the function jsonb_set to replace key value.") }
                    members[i].1 = new
                } else {
                    members[i].1 = try changed(members[i].1, path: path.dropFirst(), position: position + 1, to: new, mode: mode)
                }
            } else if last {
                if case .set(false) = mode { return j }
                members.append((step, new))
            }
            return .object(members)
        case .array(var items):
            guard let n = Int(step) else {
                throw RedError(.invalidTextRepresentation, "path element at position \(position) is not an integer: \"\(step)\"")
            }
            let index = n < 0 ? items.count + n : n
            if last {
                switch mode {
                case .set(let createMissing):
                    if index >= 0 && index < items.count { items[index] = new }
                    else if createMissing { if index < 0 { items.insert(new, at: 0) } else { items.append(new) } }
                case .insert(let after):
                    let at = index < 0 ? 0 : index >= items.count ? items.count : after ? index + 1 : index
                    items.insert(new, at: at)
                }
            } else if index >= 0 && index < items.count {
                items[index] = try changed(items[index], path: path.dropFirst(), position: position + 1, to: new, mode: mode)
            }
            return .array(items)
        default:
            return j
        }
    }

    /// `j #- path`: the member or element at `path` removed; `j` unchanged when there is none.
    static func deleting(_ j: JSONValue, path: [String]) throws -> JSONValue {
        switch j {
        case .object, .array: break
        default: throw RedError(.invalidArgument, "cannot delete path in scalar")
        }
        func delete(_ j: JSONValue, _ path: ArraySlice<String>, _ position: Int) throws -> JSONValue {
            guard let step = path.first else { return j }
            switch j {
            case .object(var members):
                guard let i = members.firstIndex(where: { $0.0 == step }) else { return j }
                if path.count == 1 { members.remove(at: i) } else { members[i].1 = try delete(members[i].1, path.dropFirst(), position + 1) }
                return .object(members)
            case .array(var items):
                guard let n = Int(step) else {
                    throw RedError(.invalidTextRepresentation, "path element at position \(position) is not an integer: \"\(step)\"")
                }
                let index = n < 0 ? items.count + n : n
                guard index >= 0, index < items.count else { return j }
                if path.count == 1 { items.remove(at: index) } else { items[index] = try delete(items[index], path.dropFirst(), position + 1) }
                return .array(items)
            default:
                return j
            }
        }
        return try delete(j, path[...], 1)
    }

    // MARK: Keys, nulls, layout

    /// `j ? key`: a member of an object, a string element of an array, or the string itself.
    static func hasKey(_ j: JSONValue, _ key: String) -> Bool {
        switch j {
        case .object(let members): return members.contains { $0.0 == key }
        case .array(let items): return items.contains(.string(key))
        case .string(let s): return s == key
        default: return false
        }
    }

    private static func keyText(_ v: Value) throws -> String {
        guard case .text(let s) = v else { throw RedError(.datatypeMismatch, "the right operand of ? must be text") }
        return s
    }

    static func strippingNulls(_ j: JSONValue) -> JSONValue {
        switch j {
        case .object(let members): return .object(members.compactMap { $0.1 == .null ? nil : ($0.0, strippingNulls($0.1)) })
        case .array(let items): return .array(items.map(strippingNulls))
        default: return j
        }
    }

    /// PostgreSQL's `jsonb_pretty` layout: four spaces a level, one member or element a line.
    static func pretty(_ j: JSONValue, indent: Int, into out: inout String) {
        let inner = String(repeating: " ", count: (indent + 1) * 4)
        switch j {
        case .object(let members) where !members.isEmpty:
            out += "{\n"
            for (i, (key, value)) in members.enumerated() {
                out += inner + JSONValue.string(key).text + ": "
                pretty(value, indent: indent + 1, into: &out)
                out += i == members.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent * 4) + "}"
        case .array(let items) where !items.isEmpty:
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += inner
                pretty(item, indent: indent + 1, into: &out)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent * 4) + "]"
        case .object, .array:
            // Empty: the brackets on lines of their own all the same, as PostgreSQL prints them.
            let (open, close) = if case .object = j { ("{", "}") } else { ("[", "]") }
            out += open + "\n" + String(repeating: " ", count: indent * 4) + close
        default:
            out += j.text
        }
    }

    /// An object's members in jsonb's key order (shorter keys first, then by bytes), as the
    /// `jsonb_` functions give them: PostgreSQL's jsonb keeps its keys sorted that way.
    static func jsonbOrder(_ members: [(String, JSONValue)]) -> [(String, JSONValue)] {
        members.sorted { a, b in
            a.0.utf8.count != b.0.utf8.count ? a.0.utf8.count < b.0.utf8.count : a.0.utf8.lexicographicallyPrecedes(b.0.utf8)
        }
    }

    // MARK: Set-returning

    /// A set-returning JSON function: its columns' names and types, and its rows for a document
    /// and the arguments after it (`jsonb_path_query(j, path, vars, silent)`'s; none for the rest)
    /// in a statement.
    struct TableFunction: Sendable {
        let columns: [(String, DataType)]
        var arity: ClosedRange<Int> = 1...1
        let rows: @Sendable (JSONValue, [Value], ExecutionContext) throws -> [[Value]]

        init(columns: [(String, DataType)], arity: ClosedRange<Int>,
             rows: @escaping @Sendable (JSONValue, [Value], ExecutionContext) throws -> [[Value]]) {
            self.columns = columns
            self.arity = arity
            self.rows = rows
        }

        init(columns: [(String, DataType)], rows: @escaping @Sendable (JSONValue) throws -> [[Value]]) {
            self.init(columns: columns, arity: 1...1) { document, _, _ in try rows(document) }
        }
    }

    static let tableFunctions: [String: TableFunction] = {
        var table: [String: TableFunction] = [:]
        for prefix in ["json", "jsonb"] {
            let sorted = prefix == "jsonb"
            @Sendable func members(_ j: JSONValue, _ name: String) throws -> [(String, JSONValue)] {
                guard case .object(let m) = j else { throw RedError(.invalidArgument, "cannot call \(name) on a non-object") }
                return sorted ? jsonbOrder(m) : m
            }
            @Sendable func elements(_ j: JSONValue) throws -> [JSONValue] {
                switch j {
                case .array(let items): return items
                case .object: throw RedError(.invalidArgument, "cannot extract elements from an object")
                default: throw RedError(.invalidArgument, "cannot extract elements from a scalar")
                }
            }
            let each = "\(prefix)_each", eachText = "\(prefix)_each_text", keys = "\(prefix)_object_keys"
            table[each] = TableFunction(columns: [("key", .text), ("value", .json)]) { (j: JSONValue) in
                try members(j, each).map { [.text($0.0), .json($0.1)] }
            }
            table[eachText] = TableFunction(columns: [("key", .text), ("value", .text)]) { (j: JSONValue) in
                try members(j, eachText).map { [.text($0.0), JSONOperators.text($0.1, jsonb: sorted)] }
            }
            table["\(prefix)_array_elements"] = TableFunction(columns: [("value", .json)]) { (j: JSONValue) in try elements(j).map { [.json($0)] } }
            table["\(prefix)_array_elements_text"] = TableFunction(columns: [("value", .text)]) { (j: JSONValue) in try elements(j).map { [JSONOperators.text($0, jsonb: sorted)] } }
            table[keys] = TableFunction(columns: [(keys, .text)]) { (j: JSONValue) in
                switch j {
                case .object(let m): return (sorted ? jsonbOrder(m) : m).map { [.text($0.0)] }
                case .array: throw RedError(.invalidArgument, "cannot call \(keys) on an array")
                default: throw RedError(.invalidArgument, "cannot call \(keys) on a scalar")
                }
            }
        }
        for name in ["jsonb_path_query", "jsonb_path_query_tz"] {
            table[name] = TableFunction(columns: [(name, .json)], arity: 2...4) { document, rest, context in
                try JSONPathFunctions.items(document, rest, context)?.map { [.json($0)] } ?? []
            }
        }
        return table
    }()
}
