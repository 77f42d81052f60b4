import RedCore
import RedEngine

/// Turns a parsed query into a tree of plan nodes.
///
/// Order of a SELECT: FROM (joins, with WHERE predicates pushed to the table
/// they mention so scans can use indexes) → WHERE rest → GROUP BY/aggregates
/// (hash aggregation) → HAVING → window functions → projection (+ hidden sort
/// keys) → DISTINCT → ORDER BY → LIMIT/OFFSET. Equality conditions between two
/// join inputs become hash joins; only joins without one fall back to a
/// nested loop.
final class Planner {
    let context: ExecutionContext
    var parameterCount = 0
    /// Types inferred for `$n` parameters from what they meet (`column = $n` …), for Describe.
    var parameterTypes: [Int: DataType] = [:]
    /// Parameters that are arrays (`x = ANY($1)`), with their elements' type.
    var parameterArrayElements: [Int: DataType] = [:]
    /// PostgreSQL's name for a parameter's type where it says more than `parameterTypes`: the
    /// declaration of the column it fills or meets (`int4`, `timestamptz`, `varchar(20)`), a
    /// declared cast's (`$1::int4`), or `oid[]`. Describe reports that type, as PostgreSQL does.
    var parameterSurfaceTypes: [Int: String] = [:]
    /// Set while binding a `timestamptz` cast's inner cast to `timestamp`, which reads a zone
    /// (every other cast to `timestamp` drops it); taken by the first cast bound.
    var nextTimestampCastIsInstant = false
    /// WITH names visible at each query level (innermost last).
    var cteFrames: [[String: PlanNode]] = []
    /// Views being expanded (to refuse a view that reads itself).
    var expandingViews: Set<String> = []
    /// SQL functions whose calls are being inlined, outermost first (`FunctionInlining`).
    var inliningFunctions: [String] = []
    /// Calls of SQL functions resolved so far within the statement's current top-level call
    /// (`FunctionCatalog.maxInlinedCalls`), and how deep resolving and inlining are nested.
    var inlinedCalls = 0
    var inliningNesting = 0
    /// Set while the FROM clause of a select that `isolatesNames` is planned: its LATERAL
    /// items' scopes stop name lookup (`Scope.barrier`).
    var isolatingLateral = false
    /// The caller's arguments wrapped in an inlined body (`argumentMarker`): each wrapper's id,
    /// drawn at random so a body cannot forge one, and the inlining depth it was made at.
    var argumentMarkers: [Int64: Int] = [:]
    /// False while a view's query is planned: a stored view reads permanent tables only, never
    /// a temporary table the session reading it happens to have of the same name (PostgreSQL
    /// binds a view's tables when it is created; no view may read a temporary table).
    var resolvesTemporaryTables = true
    /// Set once a function or cast the surface supplies is bound: such a plan is not kept for
    /// reuse (`PlanMemo`), as the surface's functions may read the connection's own state.
    var bindsSurfaceFunctions = false
    /// Inner subscripts of a chain being bound (`m[1]` in `m[1][2]`), which stay untyped.
    var subscriptChain = 0
    /// JOIN … USING column pairs found while building the current FROM clause (kept, hidden
    /// positions); `coalesced` for FULL JOIN, whose merged column is COALESCE of the copies.
    var usingMerges: [(kept: Int, hidden: Int, coalesced: Bool)] = []
    /// The locking clauses of the SELECT whose FROM clause is being planned (`RowLocking`):
    /// FROM subqueries and views they apply to get them pushed down, and are noted in
    /// `lockedSubqueries`.
    var fromLocking: [LockingClause] = []
    var lockedSubqueries: Set<String> = []
    /// Set just before a FROM subquery or view is planned when such a clause applies to it;
    /// taken by that query's `planQuery`, whose SELECT then exports its tables' row ids
    /// instead of locking them (the lock is taken above, as PostgreSQL does once it has pulled
    /// the subquery up, so an outer ORDER BY … LIMIT 1 locks one row, not the subquery's all).
    var exportLockedRows: LockingClause?

    /// Whether a PL/pgSQL function call was bound (`bindPLpgSQLCall`): its statement's
    /// aggregates then run in one part (`AggregateNode.runsInOnePart`).
    var bindsRoutineCalls = false

    init(context: ExecutionContext) { self.context = context }

    /// The result column an output expression (a select-list item, a RETURNING item) makes:
    /// its type and, where PostgreSQL's is narrower, its surface type. A column selected as it
    /// is keeps its own (`indkey` stays `int2vector`, a TIME column `time`); so does a cast to a
    /// declared type (`x::varchar(3)` is varchar), aggregated or not; an integer gets
    /// PostgreSQL's width (`IntegerWidth`), checked (`bound` wrapped) where the value could pass it.
    func outputColumn(_ bound: inout BoundExpr, named name: String, _ ctx: BindingContext) -> ScopeColumn {
        let (scope, aggregation) = (ctx.scope, ctx.aggregation)
        let type = Self.type(of: bound, scope: scope, aggregation: aggregation, parameters: parameterTypes, windows: ctx.windows)
        var surfaceType = DeclaredCast.declared(by: bound)
        if aggregation == nil, case .column(let i) = bound, i < scope.columns.count { surfaceType = scope.columns[i].surfaceType }
        let enumLabels = EnumOrder.labels(of: bound, ctx)
        if surfaceType == nil, type == .time { surfaceType = DataType.time.rawValue }
        if surfaceType == nil, case .function(let f, _) = bound, Self.jsonFunctions.contains(f.name) {
            surfaceType = DeclaredType(kind: .json).surfaceName  // json, not jsonb: keys stay in their order
        }
        if surfaceType == nil, type.valueType == .timestamp, isZoned(bound, ctx) { surfaceType = DeclaredType(kind: .timestamptz).surfaceName }
        if surfaceType == nil, type.valueType == .integer {
            let (width, fits) = integerWidth(bound, ctx)
            if let declared = width.declared {
                surfaceType = declared.surfaceName
                if !fits { bound = .function(DeclaredCast.applying(declared), [bound, .constant(.text(declared.surfaceName))]) }
            }
        }
        return ScopeColumn(qualifier: nil, name: name, type: type,
                           element: type == .array ? Self.elementType(of: bound, scope: scope, aggregation: aggregation) : nil,
                           surfaceType: surfaceType, enumLabels: enumLabels)
    }

    /// Functions whose result is PostgreSQL's `json` (their `jsonb_` twins give `jsonb`).
    static let jsonFunctions: Set<String> = ["to_json", "json_build_object", "json_build_array", "json_object", "json_array",
                                             "row_to_json", "array_to_json"]

    /// Records the first type a parameter is compared with or assigned to.
    func noteParameterType(_ n: Int, _ type: DataType) {
        guard type != .any, parameterTypes[n] == nil else { return }
        parameterTypes[n] = type
    }

    /// Records the type of a column a parameter fills or meets; an array column's parameter
    /// is described as an array of its elements (`text[]`, not jsonb).
    func noteParameterType(_ n: Int, column type: DataType, element: DataType?, surfaceType: String?) {
        guard type != .any, parameterTypes[n] == nil else { return }
        parameterTypes[n] = type
        if let surfaceType { parameterSurfaceTypes[n] = surfaceType }
        if type == .array, let element, ![.any, .array, .json, .vector].contains(element) { parameterArrayElements[n] = element }
    }

    /// A parameter compared with `other` takes its type; beside a column, the column's
    /// declaration (`id = $1` is `int4`), and beside an array column an array of its elements
    /// (`tags = $1` is `text[]`).
    func noteParameterType(_ n: Int, like other: BoundExpr, _ type: DataType, _ ctx: BindingContext) {
        if ctx.aggregation == nil, case .column(let i) = other, i < ctx.scope.columns.count {
            let column = ctx.scope.columns[i]
            noteParameterType(n, column: column.type == .array ? .array : type, element: column.element, surfaceType: column.surfaceType)
        } else {
            noteParameterType(n, type)
        }
    }

    // MARK: Queries

    func planQuery(_ query: Query, outer: Scope?) throws -> PlanNode {
        let exporting = exportLockedRows
        exportLockedRows = nil
        var frame: [String: PlanNode] = [:]
        cteFrames.append(frame)
        defer { cteFrames.removeLast() }
        for cte in query.with {
            let plan: PlanNode
            if cte.recursive, cte.query.with.isEmpty, cte.query.orderBy.isEmpty, cte.query.limit == nil,
               case .setOperation(.union, let all, let anchorBody, let recursiveBody) = cte.query.body {
                // Anchor first (it cannot see the CTE), then the recursive term reading the working table.
                let anchor = try planBody(anchorBody, outer: outer)
                let working = WorkingTableNode(columns: try Self.cteColumns(anchor.columns, cte))
                frame[cte.name] = working
                cteFrames[cteFrames.count - 1] = frame
                let step = try planBody(recursiveBody, outer: outer)
                guard step.columns.count == anchor.columns.count else {
                    throw RedError(.syntaxError, "each UNION query must have the same number of columns")
                }
                plan = RecursiveUnionNode(anchor: anchor, step: step, working: working, all: all)
            } else {
                plan = try planQuery(cte.query, outer: outer)
            }
            var planned = plan.columns
            if let union = plan as? RecursiveUnionNode { planned = Self.agreeing(planned, union.step.columns) }
            let columns = try Self.cteColumns(planned, cte)
            frame[cte.name] = MaterializedNode(plan, name: cte.name, columns: columns)
            cteFrames[cteFrames.count - 1] = frame
        }
        var plan: PlanNode
        if case .select(let select) = query.body {
            // (WITH TIES needs the sort: no index order or top-N heap, which would cut the ties.)
            plan = try planSelect(select, orderBy: query.orderBy, outer: outer, hasLimit: query.limit != nil && !query.withTies, locking: query.locking,
                                  exporting: exporting)
        } else if case .nested(var inner) = query.body, !query.locking.isEmpty || exporting != nil {
            // `(SELECT … FROM t) FOR UPDATE`: the clause locks the parenthesised query's rows.
            inner.locking += query.locking
            exportLockedRows = exporting
            plan = try planQuery(inner, outer: outer)
            if !query.orderBy.isEmpty { plan = try sortByOutputColumns(plan, query.orderBy) }
        } else {
            if let first = query.locking.first ?? exporting {
                if case .values = query.body { throw RedError(.featureNotSupported, "\(Self.lockingName(first)) cannot be applied to VALUES") }
                throw RedError(.featureNotSupported, "\(Self.lockingName(first)) is not allowed with UNION/INTERSECT/EXCEPT")
            }
            plan = try planBody(query.body, outer: outer)
            if !query.orderBy.isEmpty { plan = try sortByOutputColumns(plan, query.orderBy) }
        }
        if query.limit != nil || query.offset != nil {
            let scope = Scope([], parent: outer)
            let ctx = BindingContext(scope: scope, aggregatesForbiddenIn: "LIMIT")
            let limit = try query.limit.map { try bind($0, ctx) }, offset = try query.offset.map { try bind($0, ctx) }
            for case .parameter(let n)? in [limit, offset] { noteParameterType(n, .integer) }
            // The sort evaluates LIMIT and OFFSET again: only expressions that give the same value
            // twice (not `nextval`, `random()` or a subquery).
            if query.withTies {
                plan = try Self.limitWithTies(plan, limit: limit, offset: offset)
            } else {
                if limit?.isRowIndependent ?? true, offset?.isRowIndependent ?? true {
                    let sort = (plan as? SortNode) ?? ((plan as? TrimNode)?.input as? SortNode)
                    sort?.topN = (limit, offset)
                }
                plan = LimitNode(plan, limit: limit, offset: offset)
            }
        }
        return plan
    }

    /// `FETCH FIRST n ROWS WITH TIES`: the limit goes above the sort and what passes its rows
    /// on unchanged (DISTINCT ON, FOR UPDATE), under the trim of hidden sort columns, where its
    /// rows still carry the sort's keys to compare.
    static func limitWithTies(_ plan: PlanNode, limit: BoundExpr?, offset: BoundExpr?) throws -> PlanNode {
        if let trim = plan as? TrimNode { return TrimNode(try limitWithTies(trim.input, limit: limit, offset: offset), width: trim.width) }
        var below: PlanNode? = plan
        while let node = below, !(node is SortNode) { below = (node as? DistinctNode)?.input ?? (node as? LockRowsNode)?.input }
        guard let sort = below as? SortNode else {
            throw RedError(.featureNotSupported, "FETCH FIRST … WITH TIES is not supported in this query")
        }
        return LimitNode(plan, limit: limit, offset: offset, ties: sort.keys)
    }

    /// `left`'s columns, keeping an element type or surface type only where `right`'s column
    /// has the same (rows of both sides come out under one description), or, for integers of
    /// two widths, the wider (`int2` with `int4` is `int4`, with a plain integer `int8`).
    static func agreeing(_ left: [ScopeColumn], _ right: [ScopeColumn]) -> [ScopeColumn] {
        zip(left, right).map { l, r in
            var column = l
            if l.element != r.element { column.element = nil }
            if l.surfaceType != r.surfaceType {
                let widths = [l, r].map { $0.type.valueType == .integer ? IntegerWidth(surfaceName: $0.surfaceType) : .int8 }
                column.surfaceType = widths.max()?.declared?.surfaceName
            }
            return column
        }
    }

    /// A CTE's columns under its name, renamed by its column list.
    static func cteColumns(_ planned: [ScopeColumn], _ cte: CommonTableExpression) throws -> [ScopeColumn] {
        var columns = planned.map { ScopeColumn(qualifier: cte.name, name: $0.name, type: $0.type, element: $0.element, surfaceType: $0.surfaceType, enumLabels: $0.enumLabels) }
        guard cte.columns.count <= columns.count else {
            throw RedError(.invalidColumnReference, "WITH query \"\(cte.name)\" has \(columns.count) columns available but \(cte.columns.count) columns specified")
        }
        for (i, name) in cte.columns.enumerated() { columns[i].name = name }
        return columns
    }

    func planBody(_ body: QueryBody, outer: Scope?) throws -> PlanNode {
        switch body {
        case .select(let select): return try planSelect(select, orderBy: [], outer: outer, hasLimit: false)
        case .nested(let query): return try planQuery(query, outer: outer)
        case .values(let rows):
            guard let width = rows.first?.count, width > 0 else { throw RedError(.syntaxError, "VALUES needs at least one column") }
            let ctx = BindingContext(scope: Scope([], parent: outer), aggregatesForbiddenIn: "VALUES")
            var bound: [[BoundExpr]] = []
            for row in rows {
                guard row.count == width else { throw RedError(.syntaxError, "VALUES lists must all be the same length") }
                bound.append(try row.map { try bind($0, ctx) })
            }
            var columns = (1...width).map { ScopeColumn(qualifier: nil, name: "column\($0)", type: staticType(bound[0][$0 - 1], ctx)) }
            for c in columns.indices where columns[c].type == .timestamp && bound.allSatisfy({ $0[c].isNullConstant || isZoned($0[c], ctx) }) {
                columns[c].surfaceType = DeclaredType(kind: .timestamptz).surfaceName  // `VALUES (now())`: instants
            }
            for c in columns.indices where columns[c].type == .integer {
                // `VALUES (1), (2)` is int4, as in PostgreSQL: the widest of its rows (`IntegerWidth`).
                guard bound.allSatisfy({ $0[c].isNullConstant || staticType($0[c], ctx) == .integer }) else { continue }
                let widths = bound.map { integerWidth($0[c], ctx) }
                guard let declared = bound.indices.filter({ !bound[$0][c].isNullConstant }).map({ widths[$0].width }).max()?.declared else { continue }
                columns[c].surfaceType = declared.surfaceName
                for r in bound.indices where !widths[r].fits {
                    bound[r][c] = .function(DeclaredCast.applying(declared), [bound[r][c], .constant(.text(declared.surfaceName))])
                }
            }
            return ValuesNode(bound, columns)
        case .setOperation(let op, let all, let l, let r):
            let left = try planBody(l, outer: outer), right = try planBody(r, outer: outer)
            guard left.columns.count == right.columns.count else {
                throw RedError(.syntaxError, "each \(op.rawValue.uppercased()) query must have the same number of columns")
            }
            return SetOperationNode(left, right, op, all: all, columns: Self.agreeing(left.columns, right.columns).map {
                ScopeColumn(qualifier: nil, name: $0.name, type: $0.type, element: $0.element, surfaceType: $0.surfaceType, enumLabels: $0.enumLabels)
            })
        }
    }

    /// ORDER BY over a set operation: output names and ordinals only.
    func sortByOutputColumns(_ plan: PlanNode, _ items: [OrderItem]) throws -> PlanNode {
        var keys: [SortKey] = []
        for item in items {
            let index: Int
            switch item.expr {
            case .literal(.integer(let k)) where k >= 1 && Int(k) <= plan.columns.count: index = Int(k) - 1
            case .column(let path) where path.count == 1:
                guard let i = plan.columns.firstIndex(where: { $0.name == path[0] }) else {
                    throw RedError(.undefinedColumn, "column \"\(path[0])\" does not exist in the result of the set operation")
                }
                index = i
            default:
                throw RedError(.featureNotSupported, "ORDER BY on a UNION/INTERSECT/EXCEPT result must name an output column or position")
            }
            keys.append(SortKey(expr: EnumOrder.sortKey(.column(index), labels: plan.columns[index].enumLabels), descending: item.descending,
                                nullsFirst: item.nullsFirst ?? item.descending))
        }
        return SortNode(plan, keys)
    }

    // MARK: SELECT

    /// PostgreSQL's functional dependency: grouping by a table's primary key groups by its
    /// other columns too, so they may appear outside aggregates (Django's annotate() groups by
    /// the id alone). Those columns become extra keys, which split no group.
    static func addFunctionallyDependentKeys(_ tree: JoinTree, _ scope: Scope, _ keys: inout [Expr], _ boundKeys: inout [BoundExpr]) {
        let grouped = Set(boundKeys.compactMap { key -> Int? in if case .column(let i) = key { return i } else { return nil } })
        func visit(_ node: JoinTree) {
            switch node {
            case .join(let left, let right, _, _):
                visit(left)
                visit(right)
            case .leaf(let leaf):
                guard let scan = leaf.plan as? TableScanNode, scan.handle.schema.model == .table else { return }
                let schema = scan.handle.schema
                let keyIDs = schema.indexes.first(where: { $0.primaryKey == true })?.columnIDs
                    ?? schema.columns.filter(\.primaryKey).map(\.id)
                guard !keyIDs.isEmpty else { return }
                let range = leaf.offset..<(leaf.offset + scan.columns.count)
                let keyNames = Set(keyIDs.compactMap { id in schema.columns.first { $0.id == id }?.name })
                let keyPositions = range.filter { keyNames.contains(scope.columns[$0].name) && !scope.columns[$0].hidden }
                guard keyPositions.count == keyNames.count, keyPositions.allSatisfy(grouped.contains) else { return }
                for i in range where !grouped.contains(i) && !scope.columns[i].hidden {
                    let column = scope.columns[i]
                    keys.append(.column(column.qualifier.map { [$0, column.name] } ?? [column.name]))
                    boundKeys.append(.column(i))
                    scope.used.insert(i)  // read from the table like any column named in the query
                }
            }
        }
        visit(tree)
    }

    func planSelect(_ select: Select, orderBy: [OrderItem], outer: Scope?, hasLimit: Bool, locking: [LockingClause] = [],
                    exporting: LockingClause? = nil) throws -> PlanNode {
        if select.into != nil { throw RedError(.syntaxError, "SELECT ... INTO is not allowed here") }
        let select = try SetReturningCalls.movedIntoFrom(select) { [context] in context.surfaceCatalog?.tableFunction(named: $0) != nil } ?? select
        var plan: PlanNode
        var scope: Scope
        var tree: JoinTree?
        let enclosingLocking = (fromLocking, lockedSubqueries)
        fromLocking = locking + (exporting.map { [$0] } ?? [])
        lockedSubqueries = []
        defer { (fromLocking, lockedSubqueries) = enclosingLocking }
        if let from = select.from {
            let enclosingIsolation = isolatingLateral
            isolatingLateral = select.isolatesNames
            defer { isolatingLateral = enclosingIsolation }
            let planned = try planFrom(from, whereClause: select.whereClause, outer: outer)
            (plan, scope, tree) = (planned.0, planned.1, planned.2)
            if select.isolatesNames { scope.barrier = true }
        } else {
            scope = Scope([], parent: outer)
            plan = ValuesNode([[]], [])
            if let w = select.whereClause {
                let predicate = try bind(w, BindingContext(scope: scope, aggregatesForbiddenIn: "WHERE"))
                plan = FilterNode(plan, predicate)
            }
        }
        let inputScope = scope
        let aggregated = !select.groupBy.isEmpty || select.groupingSets != nil || select.having != nil
            || select.items.contains { $0.expr.containsAggregate } || orderBy.contains { $0.expr.containsAggregate }
        var ctx = BindingContext(scope: scope, aggregation: nil, windows: WindowState(), aggregatesForbiddenIn: nil, namedWindows: select.windows)
        var aggregation: AggregationState?
        if aggregated {
            let keyCtx = BindingContext(scope: scope, aggregatesForbiddenIn: "GROUP BY")
            var keys: [Expr] = []
            for key in select.groupBy {
                // GROUP BY 2 and GROUP BY alias refer to SELECT items.
                if case .literal(.integer(let k)) = key {
                    guard k >= 1, Int(k) <= select.items.count else { throw RedError(.invalidColumnReference, "GROUP BY position \(k) is not in select list") }
                    keys.append(select.items[Int(k) - 1].expr)
                } else if case .column(let path) = key, path.count == 1, (try? resolveLocal(path, scope)) == nil,
                          let item = select.items.first(where: { $0.alias == path[0] }) {
                    keys.append(item.expr)
                } else {
                    keys.append(key)
                }
            }
            var boundKeys = try keys.map { try bind($0, keyCtx) }
            if select.groupingSets == nil, let tree { Self.addFunctionallyDependentKeys(tree, scope, &keys, &boundKeys) }
            let state = AggregationState(inputScope: scope, groupKeys: keys, boundKeys: boundKeys)
            aggregation = state
            ctx.aggregation = state
        }
        // Bind the SELECT list (expanding stars).
        var outputExprs: [BoundExpr] = []
        var outputColumns: [ScopeColumn] = []
        var outputASTs: [Expr?] = []
        for item in select.items {
            if case .star(let qualifier) = item.expr {
                if aggregation != nil { throw RedError(.groupingError, "SELECT * cannot be combined with GROUP BY or aggregates; name the grouped columns") }
                let matching: [Int]
                if let qualifier {
                    matching = scope.columns.indices.filter { !scope.columns[$0].hidden && scope.columns[$0].qualifier == qualifier }
                } else {
                    matching = (scope.starOrder ?? Array(scope.columns.indices)).filter { scope.columns[$0].inStar }
                }
                if let qualifier, matching.isEmpty, !scope.columns.contains(where: { $0.qualifier == qualifier }) {
                    // A PL/pgSQL record's fields (`SELECT 'D', OLD.*` in a trigger).
                    guard let fields = routineRecordFields(qualifier, scope) else {
                        throw RedError(.undefinedCollection, "missing FROM-clause entry for table \"\(qualifier)\"")
                    }
                    for field in fields {
                        var bound = try bind(field, ctx)
                        outputColumns.append(outputColumn(&bound, named: Self.columnName(field), ctx))
                        outputExprs.append(bound)
                        outputASTs.append(field)
                    }
                    continue
                }
                for i in matching {
                    scope.used.insert(i)
                    outputExprs.append(qualifier == nil && !scope.columns[i].coalescedWith.isEmpty ? try mergedColumn(i, in: scope, from: scope) : .column(i))
                    outputColumns.append(ScopeColumn(qualifier: nil, name: scope.columns[i].name, type: scope.columns[i].type, element: scope.columns[i].element,
                                                     surfaceType: scope.columns[i].surfaceType, enumLabels: scope.columns[i].enumLabels))
                    outputASTs.append(.column([scope.columns[i].name]))
                }
                continue
            }
            var bound = try bind(item.expr, ctx)
            outputColumns.append(outputColumn(&bound, named: item.alias ?? Self.columnName(item.expr), ctx))
            outputExprs.append(bound)
            outputASTs.append(item.expr)
        }
        if select.items.isEmpty && select.from == nil { throw RedError(.syntaxError, "SELECT needs at least one column") }
        // HAVING
        var having: BoundExpr?
        if let h = select.having {
            var hctx = ctx
            hctx.windows = nil
            having = try bind(h, hctx)
        }
        // ORDER BY: output positions, output names, or expressions over the input.
        var sortKeys: [SortKey] = []
        var hiddenExprs: [BoundExpr] = []
        for item in orderBy {
            let nullsFirst = item.nullsFirst ?? item.descending
            var target: Int?
            if case .literal(.integer(let k)) = item.expr {
                guard k >= 1, Int(k) <= outputExprs.count else { throw RedError(.invalidColumnReference, "ORDER BY position \(k) is not in select list") }
                target = Int(k) - 1
            } else if case .column(let path) = item.expr, path.count == 1,
                      let i = outputColumns.indices.first(where: { outputColumns[$0].name == path[0] && select.items.contains { $0.alias == path[0] } }) {
                target = i
            } else if let i = outputASTs.firstIndex(of: item.expr) {
                target = i
            } else if select.distinct {
                throw RedError(.invalidColumnReference, "for SELECT DISTINCT, ORDER BY expressions must appear in select list")
            } else if case .column(let path) = item.expr, path.count == 1, (try? resolve(path, scope)) == nil,
                      let i = outputColumns.firstIndex(where: { $0.name == path[0] }) {
                target = i
            }
            if let target {
                let key = EnumOrder.sortKey(.column(target), labels: outputColumns[target].enumLabels)
                sortKeys.append(SortKey(expr: key, descending: item.descending, nullsFirst: nullsFirst))
            } else {
                let bound = try bind(item.expr, ctx)
                hiddenExprs.append(bound)
                let key = EnumOrder.sortKey(.column(outputExprs.count + hiddenExprs.count - 1), labels: EnumOrder.labels(of: bound, ctx))
                sortKeys.append(SortKey(expr: key, descending: item.descending, nullsFirst: nullsFirst))
            }
        }
        // FOR UPDATE: the locked tables' row ids ride along as hidden columns.
        let windowed = !(ctx.windows?.calls.isEmpty ?? true)
        try Self.refuseLocking(locking + (exporting.map { [$0] } ?? []), select, aggregated: aggregated, windowed: windowed)
        var lockTargets: [LockRowsNode.Target] = []
        for target in locking.isEmpty ? [] : try rowLockTargets(locking, tree, scope) {
            hiddenExprs.append(.column(target.position))
            lockTargets.append(LockRowsNode.Target(position: outputExprs.count + hiddenExprs.count - 1, handle: target.handle,
                                                   shared: target.shared, policy: target.policy))
        }
        var exported: [(position: Int, handle: TableHandle)] = []
        for target in try exporting.map({ try rowLockTargets([$0], tree, scope) }) ?? [] {
            hiddenExprs.append(.column(target.position))
            exported.append((outputExprs.count + hiddenExprs.count - 1, target.handle))
        }
        if let tree { pruneColumns(tree, used: scope.used) }
        // DISTINCT ON keys: select-list items where they match, otherwise extra hidden columns.
        var distinctOnPositions: [Int] = []
        for expr in select.distinctOn {
            if case .literal(.integer(let k)) = expr, k >= 1, Int(k) <= outputExprs.count {
                distinctOnPositions.append(Int(k) - 1)
            } else if let i = outputASTs.firstIndex(of: expr) {
                distinctOnPositions.append(i)
            } else {
                hiddenExprs.append(try bind(expr, ctx))
                distinctOnPositions.append(outputExprs.count + hiddenExprs.count - 1)
            }
        }
        // Assemble: aggregate, having, windows, projection.
        var baseWidth = inputScope.columns.count
        if let aggregation {
            let columns = aggregation.groupKeys.map { ScopeColumn(qualifier: nil, name: Self.columnName($0), type: .any) }
                + aggregation.callASTs.map { ScopeColumn(qualifier: nil, name: $0.name, type: .any) }
            let aggregate = AggregateNode(plan, groupKeys: aggregation.boundKeys, aggregates: aggregation.calls, columns: columns,
                                          groupingSets: select.groupingSets)
            aggregate.runsInOnePart = bindsRoutineCalls  // PL/pgSQL calls write to the one transaction
            plan = aggregate
            baseWidth = columns.count
            if let having { plan = FilterNode(plan, having) }
        }
        var projection = outputExprs + hiddenExprs
        if let windows = ctx.windows, !windows.calls.isEmpty {
            let windowColumns = windows.calls.indices.map { ScopeColumn(qualifier: nil, name: "window\($0)", type: .any) }
            plan = WindowNode(plan, calls: windows.calls, columns: plan.columns + windowColumns)
            projection = projection.map { Self.remapWindowRefs($0, base: baseWidth) }
        }
        // A single-table ORDER BY column LIMIT n can read an index in order instead of sorting.
        var sortSatisfied = false
        if hasLimit, aggregation == nil, ctx.windows?.calls.isEmpty ?? true, !select.distinct, sortKeys.count == 1,
           let scan = Self.singleScan(plan), case .column(let target) = sortKeys[0].expr,
           case .column(let source) = projection[target], sortKeys[0].nullsFirst == sortKeys[0].descending {
            sortSatisfied = scan.provideOrder(columnPosition: source, descending: sortKeys[0].descending)
        }
        // pgvector's `ORDER BY embedding <-> $1 LIMIT n`: rows nearest first instead of sorting.
        if !sortSatisfied, hasLimit, aggregation == nil, ctx.windows?.calls.isEmpty ?? true, !select.distinct, sortKeys.count == 1,
           !sortKeys[0].descending, !sortKeys[0].nullsFirst, let scan = Self.singleScan(plan), case .column(let target) = sortKeys[0].expr {
            sortSatisfied = scan.provideVectorOrder(projection[target])
        }
        plan = ProjectNode(plan, projection, outputColumns + hiddenExprs.map { _ in ScopeColumn(qualifier: nil, name: "?sort?", type: .any) })
        if select.distinct { plan = DistinctNode(plan, width: outputColumns.count) }
        if !sortKeys.isEmpty, !sortSatisfied { plan = SortNode(plan, sortKeys) }
        if !distinctOnPositions.isEmpty { plan = DistinctNode(plan, keyPositions: distinctOnPositions) }
        if !lockTargets.isEmpty { plan = LockRowsNode(plan, targets: lockTargets, clauseName: Self.lockingName(locking[0])) }
        if !exported.isEmpty {
            // The output, then the exported row ids as hidden columns (the sort keys go).
            let kept = outputColumns.indices.map { BoundExpr.column($0) } + exported.map { BoundExpr.column($0.position) }
            let ids = exported.map { ScopeColumn(qualifier: nil, name: "\u{0}locked_row", type: .integer, hidden: true, lockedRowOf: $0.handle) }
            plan = ProjectNode(plan, kept, outputColumns + ids)
        } else if !hiddenExprs.isEmpty {
            plan = TrimNode(plan, width: outputColumns.count)
        }
        return plan
    }

    /// The table scan at the bottom of a plain filter chain, if the plan is one.
    static func singleScan(_ plan: PlanNode) -> TableScanNode? {
        if let scan = plan as? TableScanNode { return scan }
        if let filter = plan as? FilterNode { return singleScan(filter.input) }
        return nil
    }

    static func remapWindowRefs(_ e: BoundExpr, base: Int) -> BoundExpr {
        e.mapColumns { i in i >= WindowState.sentinelBase ? .column(base + i - WindowState.sentinelBase) : .column(i) }
    }


    // MARK: Names and types

    /// Whether a cast of `operand` is named after its type: `operand` has no name of its own
    /// (a constant) or has only a type's, which a later cast replaces (`5::int::text` is
    /// `text`, `x::int::text` is `x`), as PostgreSQL ranks a type's name below a column's.
    static func namedByType(_ operand: Expr) -> Bool {
        switch operand {
        case .cast(let inner, _): return namedByType(inner)
        case .literal(.interval): return true
        case .function(let call) where [DeclaredCast.name, Parser.surfaceCast, "__array_cast"].contains(call.name) && !call.arguments.isEmpty:
            if case .cast(let inside, _) = call.arguments[0] { return namedByType(inside) }
            return namedByType(call.arguments[0])
        default: return columnName(operand) == "?column?"
        }
    }

    /// PostgreSQL's default output column name.
    static func columnName(_ expr: Expr) -> String {
        switch expr {
        case .column(let path): return path.last == "*" ? path[0] : path.last ?? "?column?"
        case .function(let call):
            switch call.name {
            case "trim": return "btrim"
            case "date_part": return "date_part"
            case "json_build_object": return "json_build_object"
            case "__subscript" where !call.arguments.isEmpty, "__array_slice" where !call.arguments.isEmpty:
                // `tags[1]` is `tags`, `(array_agg(x))[1]` `array_agg`, as PostgreSQL names them.
                let inner = call.arguments[0]
                if case .array = inner { return "array" }
                return columnName(inner)
            case DeclaredCast.name:
                // `'abc'::varchar(3)`: named as the cast is, or after the type (`varchar`).
                guard call.arguments.count == 2, case .literal(.text(let surfaceName)) = call.arguments[1],
                      let declared = DeclaredType(surfaceName: surfaceName) else { return "?column?" }
                let operand: Expr
                if case .cast(let inside, _) = call.arguments[0] { operand = inside } else { operand = call.arguments[0] }
                return namedByType(operand) ? declared.typeName : columnName(operand)
            case "__array_cast":
                // `'{1}'::int[]`: named as any cast is, the type being the elements' (`int4`).
                guard call.arguments.count >= 2, case .literal(.text(let element)) = call.arguments[1] else { return "?column?" }
                var typeName = DataType(rawValue: element)?.postgresName ?? element
                if call.arguments.count == 3, case .literal(.text(let surfaceName)) = call.arguments[2] {
                    typeName = DeclaredType(surfaceName: surfaceName)?.typeName ?? surfaceName
                }
                return namedByType(call.arguments[0]) ? typeName : columnName(call.arguments[0])
            case Parser.surfaceCast:
                // `conrelid::regclass`: named as any cast is.
                guard call.arguments.count == 2, case .literal(.text(let typeName)) = call.arguments[1] else { return "?column?" }
                return namedByType(call.arguments[0]) ? typeName : columnName(call.arguments[0])
            default: return call.name.hasPrefix("__") ? "?column?" : call.name
            }
        case .cast(let inner, let type):
            // As PostgreSQL names a cast: after what it casts (`id::text` is `id`, `now()::date`
            // is `now`), else after the type.
            return namedByType(inner) ? type.postgresName : columnName(inner)
        case .caseWhen: return "case"
        case .exists: return "exists"
        case .array: return "array"  // ARRAY[…] (and ROW(…), which PostgreSQL names `row`)
        case .literal(.interval): return "interval"  // INTERVAL '1 day', as a cast to interval is named
        case .subquery(let q):
            if case .select(let s) = q.body, s.items.count == 1 { return s.items[0].alias ?? columnName(s.items[0].expr) }
            return "?column?"
        default: return "?column?"
        }
    }
}
