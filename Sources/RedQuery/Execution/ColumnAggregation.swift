import RedCore

/// The common shape of a GROUP BY (`SELECT grp, count(*), sum(val) … GROUP BY grp`): every
/// key is an input column, and every aggregate call takes no argument or one input column,
/// without DISTINCT, FILTER or ORDER BY. Such an aggregate reads its values straight out of
/// each row by position.
///
/// Why: the general path evaluates each key and argument as an expression and picks each
/// call's feed per row; every one of those steps copies an indirect enum (a reference count
/// taken and given back), which over a million-row scan cost more than the arithmetic.
struct ColumnAggregation {
    /// The input positions of the group keys.
    let keys: [Int]
    /// Per aggregate call, the input position of its argument; nil for a call without one (`count(*)`).
    let arguments: [Int?]

    init?(groupKeys: [BoundExpr], aggregates: [AggregateCall]) {
        var keys: [Int] = []
        for key in groupKeys {
            guard case .column(let position) = key else { return nil }
            keys.append(position)
        }
        var arguments: [Int?] = []
        for call in aggregates {
            guard !call.distinct, call.filter == nil, call.orderBy.isEmpty, call.keyIndices.isEmpty,
                  !call.kind.isOrderedSet, call.kind != .jsonObjectAgg, call.kind != .grouping else { return nil }
            switch call.arguments.count {
            case 0: arguments.append(nil)
            case 1:
                guard case .column(let position) = call.arguments[0] else { return nil }
                arguments.append(position)
            default: return nil
            }
        }
        self.keys = keys
        self.arguments = arguments
    }

    /// The groups of `source`'s rows, as `AggregateNode`'s general path computes them.
    func aggregate(_ source: RowIterator, _ aggregates: [AggregateCall], context: ExecutionContext) throws -> AggregateNode.Groups {
        var groups = AggregateNode.Groups()
        let width = aggregates.count
        if keys.isEmpty {
            groups.keys.append([])
            groups.accumulators = aggregates.map(Accumulator.init)
        }
        var index: [Value: Int] = [:]   // one key: the value itself, no key array per row
        var compositeIndex: [[Value]: Int] = [:]
        while let row = try source.next() {
            let g: Int
            switch keys.count {
            case 0: g = 0
            case 1:
                let key = Self.value(row, keys[0])
                if let existing = index[key] { g = existing } else {
                    g = try newGroup([key], &groups, aggregates, context)
                    index[key] = g
                }
            default:
                let key = keys.map { Self.value(row, $0) }
                if let existing = compositeIndex[key] { g = existing } else {
                    g = try newGroup(key, &groups, aggregates, context)
                    compositeIndex[key] = g
                }
            }
            let base = g * width
            for a in 0..<width {
                try groups.accumulators[base + a].add(single: arguments[a].map { Self.value(row, $0) } ?? .null)
            }
        }
        return groups
    }

    private func newGroup(_ key: [Value], _ groups: inout AggregateNode.Groups, _ aggregates: [AggregateCall],
                          _ context: ExecutionContext) throws -> Int {
        let g = groups.keys.count
        groups.keys.append(key)
        try context.checkMaterialized(groups.keys.count, "GROUP BY")
        for call in aggregates { groups.accumulators.append(Accumulator(call)) }
        return g
    }

    @inline(__always)
    private static func value(_ row: [Value], _ position: Int) -> Value {
        position < row.count ? row[position] : .null
    }
}
