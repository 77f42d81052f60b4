import RedCore

/// How a PL/pgSQL block's variables reach the SQL it runs: which name reads which parameter,
/// and as what type.
///
/// Parameters `$1 … $n` carry the slots' values in slot order (a function's arguments first, so
/// `$k` is argument k); after them, each visible record with fields carries its whole value
/// (a JSON object, what `to_jsonb(NEW)` reads) and then its fields, in slot order. Scalars read
/// as `CAST($n AS type)`, fields as `CAST($n AS their type)`.
///
/// Why kept: the layout changes only when a variable is declared, a scope ends or a record gets
/// fields of another shape, so it is built then, not for every statement; and `key` — the
/// layout as text, everything a binding depends on — names the plans made with it, so a
/// function's statements are planned once and not at every call (`RoutinePlans`).
struct VariableLayout {
    let variables: RoutineVariables
    /// The slots whose records follow the slots' values as parameters, in that order.
    let records: [Int]
    let key: String
}

extension PLpgSQLRun {
    /// Opens a scope for the variables a block, loop or handler declares; returns the mark
    /// `popScope` goes back to.
    mutating func pushScope() -> Int {
        scopes.append([:])
        return slots.count
    }

    /// Ends the innermost scope, dropping its variables.
    mutating func popScope(_ mark: Int) {
        scopes.removeLast()
        slots.removeSubrange(mark...)
        layout = nil
    }

    /// Puts fields into record `i` (their names and types shape the layout).
    mutating func setFields(of i: Int, _ fields: [(name: String, type: DataType, value: Value)]) {
        let before = slots[i].fields
        slots[i].fields = fields
        slots[i].nullRecord = false
        if before == nil || !before!.elementsEqual(fields, by: { $0.name == $1.name && $0.type == $1.type }) { layout = nil }
    }

    /// The variables as the next statement's SQL sees them, and the parameters carrying them.
    mutating func visibleVariables() -> (VariableLayout, [Value]) {
        let layout = self.layout ?? makeLayout()
        self.layout = layout
        var parameters = slots.map(\.value)
        for i in layout.records {
            let slot = slots[i], fields = slot.fields ?? []
            parameters.reserveCapacity(parameters.count + fields.count + 1)
            parameters.append(slot.nullRecord ? .null : .json(.object(fields.map { ($0.name, $0.value.postgresJSON) })))
            for field in fields { parameters.append(field.value) }
        }
        return (layout, parameters)
    }

    private func makeLayout() -> VariableLayout {
        var byName: [String: RoutineVariables.Variable] = [:]
        var records: [String: [String]] = [:]
        var recordSlots: [Int] = []
        var key = ""
        var next = slots.count
        for (i, slot) in slots.enumerated() {
            let visible = slotIndex(slot.name) == i
            // NUL between the parts: no name or type holds one, so no two layouts share a key.
            key += slot.name + (visible ? "\u{0}=" : "\u{0}~")
            if let read = slot.read {
                key += (slot.typeText ?? "") + "\u{0}"
                if visible { byName[slot.name] = .init(read: read) }
            } else if let fields = slot.fields {
                key += "{" + fields.map { $0.name + "\u{0}" + $0.type.rawValue }.joined(separator: "\u{0}") + "}\u{0}"
                guard visible else { continue }
                recordSlots.append(i)
                next += 1
                // The whole record, as a whole-row reference reads: a JSON object (`to_jsonb(NEW)`, `NEW IS DISTINCT FROM OLD`).
                byName[slot.name] = .init(read: .parameter(next))
                records[slot.name] = fields.map(\.name)
                for field in fields {
                    next += 1
                    let n = Expr.parameter(next)
                    let name = slot.name + "." + field.name
                    if byName[name] == nil { byName[name] = .init(read: field.type == .any ? n : .cast(n, field.type)) }
                }
            } else {
                key += "record\u{0}"
            }
        }
        return VariableLayout(variables: RoutineVariables(byName, records: records), records: recordSlots, key: key)
    }
}
