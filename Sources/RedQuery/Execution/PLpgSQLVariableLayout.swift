import RedCore

/// How a PL/pgSQL block's variables reach the SQL it runs: which name reads which parameter,
/// and as what type.
///
/// Parameters `$1 … $n` carry the slots' values in slot order (a function's arguments first, so
/// `$k` is argument k); after them, each visible record with fields carries whether it is
/// NULL and then its fields, in slot order. Scalars read as `CAST($n AS type)`, fields as
/// `CAST($n AS their type)`, and a whole record, as a whole-row reference reads, as a JSON object
/// of its fields (`to_jsonb(NEW)`, `NEW IS DISTINCT FROM OLD`): an expression building it from
/// the fields' parameters, so that only a statement reading it pays for it.
///
/// Why kept: the layout changes only when a variable is declared, a scope ends or a record gets
/// fields of another shape, so it is built then, not for every statement; and calls of one
/// body share the layouts they build (`RoutinePlans`), whose `id` names the plans made with
/// each, so a function's statements are planned once and not at every call.
struct VariableLayout: Sendable {
    let variables: RoutineVariables
    /// The slots whose records follow the slots' values as parameters, in that order.
    let records: [Int]
    /// Names the layout among those `RoutinePlans` keeps, for its plans' keys (nil: not kept).
    var id: Int?
    /// What it was built from: each slot's name, type and record fields' names and types, in
    /// slot order (which slot a name reaches follows from them: the last of that name).
    let shape: [SlotShape]

    struct SlotShape: Sendable, Equatable {
        var name: String
        var typeText: String?
        var isRecord: Bool
        var fields: [Field]?
    }

    struct Field: Sendable, Equatable {
        var name: String
        var type: DataType
    }
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
        if let before, before.elementsEqual(fields, by: { $0.name == $1.name && $0.type == $1.type }) { return }
        layout = nil
    }

    /// The variables as the next statement's SQL sees them, and the parameters carrying them.
    mutating func visibleVariables() -> (VariableLayout, [Value]) {
        let layout: VariableLayout
        if let known = self.layout {
            layout = known
        } else if let plans {
            let hash = shapeHash()
            // The same variables as an earlier call had here, or a new layout kept for the next.
            layout = plans.layout(hash: hash, matching: { Self.shapeMatches($0, slots) }) ?? plans.keep(makeLayout(), hash: hash)
        } else {
            layout = makeLayout()
        }
        self.layout = layout
        var parameters = slots.map(\.value)
        for i in layout.records {
            let slot = slots[i], fields = slot.fields ?? []
            parameters.reserveCapacity(parameters.count + fields.count + 1)
            parameters.append(slot.nullRecord ? .null : .boolean(true))
            for field in fields { parameters.append(field.value) }
        }
        return (layout, parameters)
    }

    /// A hash of what `shapeMatches` compares, from the slots as they are: their count, and
    /// each one's name's and type's lengths and the record's field count, mixed as FNV-1a does.
    /// Cheap (it runs whenever the variables change shape: several times a trigger's firing);
    /// shapes that collide are told apart by `shapeMatches`.
    private func shapeHash() -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ n: Int) { hash = (hash ^ UInt64(truncatingIfNeeded: n)) &* 0x0000_0100_0000_01b3 }
        mix(slots.count)
        for slot in slots {
            mix(slot.name.utf8.count)
            mix(slot.name.utf8.first.map(Int.init) ?? 0)
            mix(slot.typeText.map { $0.utf8.count + 1 } ?? 0)
            mix(slot.isRecord ? slot.fields.map { $0.count + 1 } ?? 0 : -1)
        }
        return Int(truncatingIfNeeded: hash)
    }

    private static func shapeMatches(_ shape: [VariableLayout.SlotShape], _ slots: [Slot]) -> Bool {
        guard shape.count == slots.count else { return false }
        for (kept, slot) in zip(shape, slots) {
            guard kept.name == slot.name, kept.typeText == slot.typeText, kept.isRecord == slot.isRecord else { return false }
            switch (kept.fields, slot.fields) {
            case (nil, nil): continue
            case (let fields?, let current?):
                guard fields.count == current.count,
                      zip(fields, current).allSatisfy({ $0.name == $1.name && $0.type == $1.type }) else { return false }
            default: return false
            }
        }
        return true
    }

    private func makeLayout() -> VariableLayout {
        var byName: [String: RoutineVariables.Variable] = [:]
        var records: [String: [String]] = [:]
        var recordSlots: [Int] = []
        var next = slots.count
        for (i, slot) in slots.enumerated() {
            let visible = slotIndex(slot.name) == i
            if let read = slot.read {
                if visible { byName[slot.name] = .init(read: read) }
            } else if let fields = slot.fields {
                guard visible else { continue }
                recordSlots.append(i)
                next += 1
                let present = Expr.parameter(next)
                records[slot.name] = fields.map(\.name)
                var members: [Expr] = []
                for field in fields {
                    next += 1
                    let n = Expr.parameter(next)
                    members += [.literal(.text(field.name)), n]
                    let name = slot.name + "." + field.name
                    if byName[name] == nil { byName[name] = .init(read: field.type == .any ? n : .cast(n, field.type)) }
                }
                byName[slot.name] = .init(read: .caseWhen(operand: nil, branches: [WhenBranch(condition: present, result: Self.jsonObject(members))],
                                                         otherwise: nil))
            }
        }
        let shape = slots.map { slot in
            VariableLayout.SlotShape(name: slot.name, typeText: slot.typeText, isRecord: slot.isRecord, fields: slot.fields?.map { .init(name: $0.name, type: $0.type) })
        }
        return VariableLayout(variables: RoutineVariables(byName, records: records), records: recordSlots, shape: shape)
    }

    private static var maxObjectArguments: Int { 1_000 }

    /// `jsonb_build_object(name, value, …)` of `members`, in calls of at most 1,000 arguments
    /// (the function's limit; a table has up to 1,600 columns) joined by `||`.
    private static func jsonObject(_ members: [Expr]) -> Expr {
        let calls = stride(from: 0, to: max(members.count, 1), by: maxObjectArguments).map { start in
            Expr.function(FunctionCall(name: "jsonb_build_object", arguments: Array(members[start..<min(start + maxObjectArguments, members.count)]),
                                       distinct: false, star: false))
        }
        return calls.dropFirst().reduce(calls[0]) { .binary("||", $0, $1) }
    }
}
