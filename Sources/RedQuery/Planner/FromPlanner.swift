import RedCore
import RedEngine

/// FROM-clause planning: join trees, predicate pushdown, join keys (hash join, or index
/// lookups when the outer side is already narrowed by an index).
///
/// Every input of the FROM clause ("leaf") gets a contiguous range of
/// positions in the joined row, left to right. Predicates are bound once
/// against that full row; a predicate that reads one leaf only is pushed into
/// it (so a table scan can use an index); an equality between the rows joined
/// so far and the next input becomes a hash-join key; anything else is
/// applied as soon as every input it reads has been joined. Pushdown never
/// crosses to the null-extended side of an outer join, except ON-clause
/// predicates that read only that side (equivalent by definition).
extension Planner {
    indirect enum JoinTree {
        case leaf(Leaf)
        case join(JoinTree, JoinTree, JoinKind, Expr?)

        /// A lateral leaf's `Leaf.lateral`; nil for anything else.
        var lateral: (base: Int, reads: Set<Int>)? {
            if case .leaf(let leaf) = self { return leaf.lateral }
            return nil
        }

        var range: Range<Int> {
            switch self {
            case .leaf(let leaf): return leaf.offset..<(leaf.offset + leaf.plan.columns.count)
            case .join(let l, let r, _, _): return l.range.lowerBound..<r.range.upperBound
            }
        }
    }

    final class Leaf {
        let plan: PlanNode
        let offset: Int
        /// For a leaf that reads the FROM items before it (`LateralJoinNode`): where those
        /// items' columns start in the joined row, and which joined positions it reads.
        let lateral: (base: Int, reads: Set<Int>)?
        init(plan: PlanNode, offset: Int, lateral: (base: Int, reads: Set<Int>)? = nil) {
            self.plan = plan; self.offset = offset; self.lateral = lateral
        }
    }

    func planFrom(_ from: TableRef, whereClause: Expr?, outer: Scope?) throws -> (PlanNode, Scope, JoinTree) {
        var offset = 0
        let enclosingMerges = usingMerges  // a FROM subquery plans its own FROM clause in the middle of ours
        usingMerges = []
        let tree = try buildTree(from, &offset, outer: outer)
        let merges = usingMerges
        usingMerges = enclosingMerges
        var columns: [ScopeColumn] = []
        collectColumns(tree, &columns)
        // JOIN … USING: the duplicate of each merged column is merged away, and `*` lists merged columns first.
        var mergedFirst: [Int] = []
        for merge in merges {
            columns[merge.hidden].mergedAway = true
            if merge.coalesced { columns[merge.kept].coalescedWith.append(merge.hidden) }
            if !mergedFirst.contains(merge.kept) { mergedFirst.append(merge.kept) }
        }
        var seen = Set<String>()
        for leaf in leaves(tree) {
            guard let qualifier = leaf.plan.columns.first?.qualifier else { continue }
            guard seen.insert(qualifier).inserted else {
                throw RedError(.duplicateAlias, "table name \"\(qualifier)\" specified more than once")
            }
        }
        let scope = Scope(columns, parent: outer)
        if !mergedFirst.isEmpty {
            scope.starOrder = mergedFirst + columns.indices.filter { columns[$0].inStar && !mergedFirst.contains($0) }
        }
        var pushed: [BoundExpr] = []
        if let whereClause {
            pushed = try bind(whereClause, BindingContext(scope: scope, aggregatesForbiddenIn: "WHERE")).conjuncts
        }
        let plan = try build(tree, pushed: pushed, scope: scope)
        return (plan, scope, tree)
    }

    /// Tells each table scan which of its columns the query reads (call after all binding).
    func pruneColumns(_ tree: JoinTree, used: Set<Int>) {
        switch tree {
        case .leaf(let leaf):
            guard let scan = leaf.plan as? TableScanNode else { return }
            var local = Set<Int>()
            for p in used where p >= leaf.offset && p < leaf.offset + scan.columns.count { local.insert(p - leaf.offset) }
            if let filter = scan.filter { filter.referencedColumns(into: &local) }
            scan.neededColumns = local
        case .join(let l, let r, _, _):
            // The left side's columns a lateral right side reads are needed too.
            pruneColumns(l, used: used.union(r.lateral?.reads ?? []))
            pruneColumns(r, used: used)
        }
    }

    func leaves(_ tree: JoinTree) -> [Leaf] {
        switch tree {
        case .leaf(let leaf): return [leaf]
        case .join(let l, let r, _, _): return leaves(l) + leaves(r)
        }
    }

    func collectColumns(_ tree: JoinTree, _ columns: inout [ScopeColumn]) {
        switch tree {
        case .leaf(let leaf): columns += leaf.plan.columns
        case .join(let l, let r, _, _): collectColumns(l, &columns); collectColumns(r, &columns)
        }
    }

    func buildTree(_ ref: TableRef, _ offset: inout Int, outer: Scope?) throws -> JoinTree {
        switch ref {
        case .join(let l, let r, let kind, let on):
            let left = try buildTree(l, &offset, outer: outer)
            let right = try lateralLeaf(r, after: left, kind: kind, &offset, outer: outer) ?? buildTree(r, &offset, outer: outer)
            return .join(left, right, kind, on)
        case .joinUsing(let l, let r, let kind, let names):
            let left = try buildTree(l, &offset, outer: outer)
            let right = try buildTree(r, &offset, outer: outer)
            var leftColumns: [ScopeColumn] = [], rightColumns: [ScopeColumn] = []
            collectColumns(left, &leftColumns)
            collectColumns(right, &rightColumns)
            var condition: Expr?
            var names = names
            if names.isEmpty {  // NATURAL: the user columns both sides have
                let rightNames = Set(rightColumns.filter { !$0.hidden }.map(\.name))
                var seen = Set<String>()
                names = leftColumns.filter { !$0.hidden && rightNames.contains($0.name) }.map(\.name).filter { seen.insert($0).inserted }
            }
            if names.isEmpty { return .join(left, right, kind == .inner ? .cross : kind, nil) }
            // A copy an inner USING merged away is not the side's column of that name.
            let mergedAway = Set(usingMerges.map(\.hidden))
            for name in names {
                func find(_ columns: [ScopeColumn], _ side: String, base: Int) throws -> Int {
                    let hits = columns.indices.filter { columns[$0].name == name && !columns[$0].hidden && !mergedAway.contains(base + $0) }
                    guard let first = hits.first else {
                        throw RedError(.undefinedColumn, "column \"\(name)\" specified in USING clause does not exist in \(side) table")
                    }
                    return first
                }
                let li = try find(leftColumns, "left", base: left.range.lowerBound), ri = try find(rightColumns, "right", base: right.range.lowerBound)
                let leftPosition = left.range.lowerBound + li, rightPosition = right.range.lowerBound + ri
                // A column an inner FULL JOIN … USING merged is COALESCE of its copies here too.
                func copies(of position: Int) -> [Int] { usingMerges.filter { $0.coalesced && $0.kept == position }.map(\.hidden) }
                func merged(_ position: Int, _ columns: [ScopeColumn], base: Int) -> Expr {
                    let references = ([position] + copies(of: position)).map { p -> Expr in
                        .column((columns[p - base].qualifier.map { [$0] } ?? []) + [name])
                    }
                    return references.count == 1 ? references[0] : .function(FunctionCall(name: "coalesce", arguments: references, distinct: false, star: false))
                }
                let equality = Expr.binary("=", merged(leftPosition, leftColumns, base: left.range.lowerBound),
                                           merged(rightPosition, rightColumns, base: right.range.lowerBound))
                condition = condition.map { .binary("and", $0, equality) } ?? equality
                switch kind {
                case .right: usingMerges.append((kept: rightPosition, hidden: leftPosition, coalesced: false))
                case .full:
                    usingMerges += [(kept: leftPosition, hidden: rightPosition, coalesced: true)]
                        + copies(of: rightPosition).map { (kept: leftPosition, hidden: $0, coalesced: true) }
                default: usingMerges.append((kept: leftPosition, hidden: rightPosition, coalesced: false))
                }
            }
            return .join(left, right, kind, condition)
        default:
            let plan = try planLeaf(ref, outer: outer)
            defer { offset += plan.columns.count }
            return .leaf(Leaf(plan: plan, offset: offset))
        }
    }

    /// `ref` — a function call, or a `LATERAL` subquery — planned with the columns of `left` as
    /// its nearest outer scope, as PostgreSQL lets them read the items before them. nil for
    /// other items. When it reads none of those columns it joins as any other item, opened
    /// once: its references to enclosing queries were bound one level further out, so it is
    /// opened with an empty row in the left row's place (`OuterRowPlaceholderNode`) rather than
    /// planned a second time (nested, that would double at each level).
    func lateralLeaf(_ ref: TableRef, after left: JoinTree, kind: JoinKind, _ offset: inout Int, outer: Scope?) throws -> JoinTree? {
        switch ref {
        case .function, .lateral: break
        default: return nil
        }
        var leftColumns: [ScopeColumn] = []
        collectColumns(left, &leftColumns)
        let scope = Scope(leftColumns, parent: outer)
        scope.barrier = isolatingLateral
        let plan = try planLeaf(ref, outer: scope)
        defer { offset += plan.columns.count }
        guard !scope.captured.isEmpty else { return .leaf(Leaf(plan: OuterRowPlaceholderNode(plan), offset: offset)) }
        guard kind == .inner || kind == .cross || kind == .left else {
            throw RedError(.invalidColumnReference, "a \(kind.rawValue.uppercased()) JOIN's right side cannot refer to its left side (LATERAL)")
        }
        let base = left.range.lowerBound
        return .leaf(Leaf(plan: plan, offset: offset, lateral: (base, Set(scope.captured.map { $0 + base }))))
    }

    /// A surface's set-returning function in FROM (`pg_partition_ancestors(…)`).
    func planSurfaceTableFunction(_ function: SurfaceTableFunction, _ call: FunctionCall, alias: String?, names: [String], outer: Scope?) throws -> PlanNode {
        guard function.arity.contains(call.arguments.count) else {
            throw RedError(.undefinedFunction, "function \(call.name) does not accept \(call.arguments.count) argument\(call.arguments.count == 1 ? "" : "s")")
        }
        let qualifier = alias ?? call.name
        guard names.count <= function.columns.count else {
            throw RedError(.invalidColumnReference, "table \"\(qualifier)\" has \(function.columns.count) columns available but \(names.count) columns specified")
        }
        let ctx = BindingContext(scope: Scope([], parent: outer), aggregatesForbiddenIn: "FROM")
        let arguments = try call.arguments.map { try bind($0, ctx) }
        // One column takes the alias as its name, as PostgreSQL names a scalar function's column.
        let columnNames = names.isEmpty && function.columns.count == 1 ? alias.map { [$0] } ?? [] : names
        return SurfaceTableFunctionNode(function, arguments: arguments, qualifier: qualifier, names: columnNames, label: call.name)
    }

    /// The permanent table, view or sequence `name` names: along the search path when it is
    /// unqualified (`SchemaCatalog.candidates`), the first schema holding any of them winning;
    /// then, unqualified, PostgreSQL's catalog relation of that name.
    func planRelation(named name: String, qualifier: String, shown: String, exact: Bool = false) throws -> PlanNode {
        let tx = context.transaction
        for candidate in exact ? [name] : SchemaCatalog.candidates(for: name, tx) {
            if let handle = try context.store.open(tx, candidate, temporary: false) {
                return TableScanNode(handle: handle, qualifier: qualifier)
            }
            if let view = try ViewCatalog.definition(of: candidate, tx) {
                let plan = try planView(candidate, view, exportingLockedRows: lockingPushedDown(to: qualifier))
                return AliasNode(plan, columns: try Self.renamed(plan.columns, view.columns, qualifier: qualifier, what: "view \(shown)"), label: shown)
            }
            if let stored = try context.store.sequences.storedName(tx, candidate) {
                return SequenceRelationNode(name: stored, qualifier: qualifier)
            }
        }
        if !exact, let relation = context.surfaceCatalog?.relation(schema: nil, name: name) {
            return SurfaceRelationNode(relation, qualifier: qualifier, label: name)
        }
        throw RedError(.undefinedCollection, "relation \"\(shown)\" does not exist")
    }

    func planLeaf(_ ref: TableRef, outer: Scope?) throws -> PlanNode {
        switch ref {
        case .qualifiedTable(let schema, let name, let alias):
            if let relation = context.surfaceCatalog?.relation(schema: schema, name: name) {
                return SurfaceRelationNode(relation, qualifier: alias ?? name, label: "\(schema).\(name)")
            }
            // `pg_temp.t`: the session's temporary table `t` only.
            if schema == "pg_temp", resolvesTemporaryTables, let handle = try context.store.open(context.transaction, name, temporary: true) {
                return TableScanNode(handle: handle, qualifier: alias ?? name)
            }
            // `public.t` is `t` there, whatever the search path; `app.t` is the relation of that name (`SchemaCatalog`).
            return try planRelation(named: SchemaCatalog.physicalName(name, inSchema: schema), qualifier: alias ?? name, shown: "\(schema).\(name)",
                                    exact: true)
        case .table(let name, let alias):
            let qualifier = alias ?? name
            for frame in cteFrames.reversed() {
                if let cte = frame[name] {
                    return AliasNode(cte, columns: cte.columns.map { ScopeColumn(qualifier: qualifier, name: $0.name, type: $0.type, element: $0.element, surfaceType: $0.surfaceType, enumLabels: $0.enumLabels) }, label: name)
                }
            }
            if let relation = context.withRelations[name] {
                guard relation.readable else {
                    throw RedError(.featureNotSupported, "WITH query \"\(name)\" does not have a RETURNING clause")
                }
                let columns = relation.columns.map { ScopeColumn(qualifier: qualifier, name: $0.name, type: $0.type, element: $0.element, surfaceType: $0.surfaceType) }
                return ValuesNode(relation.rows.map { $0.map(BoundExpr.constant) }, columns)
            }
            // The session's temporary table first; then the search path's schemas in order, each
            // with its tables, views and sequences (`planRelation`).
            if resolvesTemporaryTables, let handle = try context.store.open(context.transaction, name, temporary: true) {
                return TableScanNode(handle: handle, qualifier: qualifier)
            }
            return try planRelation(named: name, qualifier: qualifier, shown: name)
        case .lateral(let inner):
            return try planLeaf(inner, outer: outer)
        case .subquery(let query, let alias, let names):
            exportLockedRows = lockingPushedDown(to: alias)
            let plan = try planQuery(query, outer: outer)
            if alias == Parser.arrayRows, plan.columns.count != 1 {
                throw RedError(.syntaxError, "subquery must return only one column")
            }
            return AliasNode(plan, columns: try Self.renamed(plan.columns, names, qualifier: alias, what: "table \(alias)"), label: alias)
        case .any(let alias):
            return FromAnyNode(qualifier: alias)
        case .vectorSearch(let search, let alias):
            return try planVectorSearch(search, qualifier: alias, outer: outer)
        case .command(.match(let pattern), _):
            return MatchNode(pattern)
        case .command(let statement, let alias):
            return try CommandRowsNode(statement, qualifier: alias)
        case .function(let call, let alias?, let names) where call.name == SetReturningCalls.alias:
            // The select list's set-returning calls (`SetReturningCalls`), zipped; their columns stay out of `*`.
            // Only as the planner writes it: one column name per call, each a set-returning call.
            guard names.count == call.arguments.count, !names.isEmpty else {
                throw RedError(.undefinedFunction, "function \(call.name)() does not exist as a table function")
            }
            let sources = try call.arguments.enumerated().map { i, argument -> PlanNode in
                guard case .function(let inner) = argument, SetReturningCalls.isSetReturning(inner) || context.surfaceCatalog?.tableFunction(named: inner.name) != nil else {
                    throw RedError(.undefinedFunction, "function \(call.name)() does not exist as a table function")
                }
                guard inner.name != "unnest" || inner.arguments.count == 1 else {
                    throw RedError(.undefinedFunction, "unnest with several arguments is only allowed in FROM")
                }
                let leaf = try planLeaf(.function(inner, alias: alias, columns: [names[i]]), outer: outer)
                guard leaf.columns.count == 1 else {
                    throw RedError(.featureNotSupported, "\(inner.name)() returns rows of \(leaf.columns.count) columns; call it in FROM")
                }
                return leaf
            }
            let columns = zip(sources, names).map { source, name in
                ScopeColumn(qualifier: alias, name: name, type: source.columns[0].type, hidden: true, element: source.columns[0].element, surfaceType: source.columns[0].surfaceType, enumLabels: source.columns[0].enumLabels)
            }
            return ZipNode(sources, columns: columns)
        case .function(let call, let alias, let names) where call.name == Parser.withOrdinality:
            // The function's own columns, then the row number: named by the alias list's last
            // name when it lists one more than the function has, else "ordinality".
            guard call.arguments.count == 1, case .function(let inner) = call.arguments[0] else {
                throw RedError(.undefinedFunction, "function \(call.name)() does not exist")
            }
            let plan = try planLeaf(.function(inner, alias: alias, columns: []), outer: outer)
            let width = plan.columns.count
            guard names.count <= width + 1 else {
                throw RedError(.invalidColumnReference, "table \"\(alias ?? inner.name)\" has \(width + 1) columns available but \(names.count) columns specified")
            }
            let numbered = OrdinalityNode(plan, column: ScopeColumn(qualifier: alias ?? inner.name, name: names.count == width + 1 ? names[width] : "ordinality", type: .integer))
            return AliasNode(numbered, columns: try Self.renamed(numbered.columns, names, qualifier: alias ?? inner.name, what: "table \(alias ?? inner.name)"), label: inner.name)
        case .function(let call, let alias, let names) where Self.populateFunctions.contains(call.name):
            return try planPopulateRecord(call, alias: alias, names: names, outer: outer)
        case .function(let call, let alias, let names) where call.name == "generate_subscripts":
            // PostgreSQL's definition: the subscripts of dimension `dim`, lowest first (or last
            // when `reverse`): generate_series over array_lower … array_upper.
            guard (2...3).contains(call.arguments.count) else { throw RedError(.undefinedFunction, "generate_subscripts takes 2 or 3 arguments") }
            func bound(_ name: String) -> Expr {
                .function(FunctionCall(name: name, arguments: Array(call.arguments.prefix(2)), distinct: false, star: false))
            }
            var range = [bound("array_lower"), bound("array_upper")]
            if call.arguments.count == 3 {
                // `reverse`: from the upper bound down (a NULL reverse counts as false).
                let reverse = Expr.function(FunctionCall(name: "coalesce", arguments: [call.arguments[2], .literal(.boolean(false))], distinct: false, star: false))
                func pick(_ whenReversed: Expr, _ otherwise: Expr) -> Expr {
                    .caseWhen(operand: nil, branches: [WhenBranch(condition: reverse, result: whenReversed)], otherwise: otherwise)
                }
                range = [pick(range[1], range[0]), pick(range[0], range[1]), pick(.literal(.integer(-1)), .literal(.integer(1)))]
            }
            let series = FunctionCall(name: "generate_series", arguments: range, distinct: false, star: false)
            return try planLeaf(.function(series, alias: alias ?? call.name, columns: names), outer: outer)
        case .function(let call, let alias, let names) where call.name == "regexp_split_to_table":
            // PostgreSQL's definition: the elements of regexp_split_to_array, one per row.
            let array = FunctionCall(name: "regexp_split_to_array", arguments: call.arguments, distinct: false, star: false)
            let elements = FunctionCall(name: "unnest", arguments: [.function(array)], distinct: false, star: false)
            return try planLeaf(.function(elements, alias: alias ?? call.name, columns: names), outer: outer)
        case .function(let call, let alias, let names) where call.name == "regexp_matches":
            guard (2...3).contains(call.arguments.count) else { throw RedError(.undefinedFunction, "regexp_matches takes 2 or 3 arguments") }
            let ctx = BindingContext(scope: Scope([], parent: outer), aggregatesForbiddenIn: "FROM")
            let arguments = try call.arguments.map { try bind($0, ctx) }
            let qualifier = alias ?? call.name
            guard names.count <= 1 else { throw RedError(.invalidColumnReference, "table \"\(qualifier)\" has 1 column available but \(names.count) columns specified") }
            return RegexpMatchesNode(arguments: arguments, column: ScopeColumn(qualifier: qualifier, name: names.first ?? alias ?? call.name, type: .array, element: .text))
        case .function(let call, let alias, let names) where call.name == "unnest":
            guard !call.arguments.isEmpty else { throw RedError(.undefinedFunction, "unnest takes at least 1 argument") }
            let ctx = BindingContext(scope: Scope([], parent: outer), aggregatesForbiddenIn: "FROM")
            let arguments = try call.arguments.map { try bind($0, ctx) }
            let qualifier = alias ?? "unnest"
            guard names.count <= arguments.count else {
                throw RedError(.invalidColumnReference, "table \"\(qualifier)\" has \(arguments.count) column\(arguments.count == 1 ? "" : "s") available but \(names.count) columns specified")
            }
            // As PostgreSQL names them: the alias list, else the alias for one array, else "unnest".
            let columns = arguments.indices.map { i in
                ScopeColumn(qualifier: qualifier, name: i < names.count ? names[i] : arguments.count == 1 ? alias ?? "unnest" : "unnest", type: .any)
            }
            return UnnestNode(arguments: arguments, columns: columns)
        case .function(let call, let alias, let names) where JSONFunctions.tableFunctions[call.name] != nil:
            let function = JSONFunctions.tableFunctions[call.name]!
            guard function.arity.contains(call.arguments.count) else {
                throw RedError(.undefinedFunction, "function \(call.name)() does not accept \(call.arguments.count) argument\(call.arguments.count == 1 ? "" : "s")")
            }
            let ctx = BindingContext(scope: Scope([], parent: outer), aggregatesForbiddenIn: "FROM")
            let arguments = try call.arguments.map { try bind($0, ctx) }
            let qualifier = alias ?? call.name
            guard names.count <= function.columns.count else {
                throw RedError(.invalidColumnReference, "table \"\(qualifier)\" has \(function.columns.count) column\(function.columns.count == 1 ? "" : "s") available but \(names.count) columns specified")
            }
            // Named output columns (key, value) keep their names under an alias, as in PostgreSQL;
            // the unnamed one of jsonb_object_keys is named by the alias.
            let columns = function.columns.enumerated().map { i, column in
                ScopeColumn(qualifier: qualifier, name: i < names.count ? names[i] : column.0 == call.name ? alias ?? column.0 : column.0, type: column.1)
            }
            return JSONTableFunctionNode(name: call.name, function: function, arguments: arguments, columns: columns)
        case .function(let call, let alias, let names):
            if call.name != "generate_series", let function = context.surfaceCatalog?.tableFunction(named: call.name) {
                return try planSurfaceTableFunction(function, call, alias: alias, names: names, outer: outer)
            }
            if call.name != "generate_series", let rows = try planSQLFunctionRows(call, alias: alias, names: names, outer: outer) {
                return rows
            }
            guard call.name == "generate_series" else {
                throw RedError(.undefinedFunction, "function \(call.name)() does not exist as a table function; generate_series, generate_subscripts, unnest, regexp_split_to_table, regexp_matches and the json[b]_each, _array_elements and _object_keys functions are available")
            }
            guard (2...3).contains(call.arguments.count) else { throw RedError(.undefinedFunction, "generate_series takes 2 or 3 arguments") }
            let ctx = BindingContext(scope: Scope([], parent: outer), aggregatesForbiddenIn: "FROM")
            let arguments = try call.arguments.map { try bind($0, ctx) }
            let qualifier = alias ?? "generate_series"
            guard names.count <= 1 else { throw RedError(.invalidColumnReference, "table \"\(qualifier)\" has 1 column available but \(names.count) columns specified") }
            // Timestamps (or dates) stepped by an interval are a series of timestamps, as in PostgreSQL.
            let types = arguments.map { staticType($0, ctx) }
            let type: DataType = types.contains(.timestamp) || types.contains(.date) || types.contains(.duration) ? .timestamp : .integer
            var column = ScopeColumn(qualifier: qualifier, name: names.first ?? alias ?? "generate_series", type: type)
            if type == .integer, let declared = arguments.map({ integerWidth($0, ctx).width }).max()?.declared {
                // Of its arguments' width, as in PostgreSQL (`generate_series(1, 3)` is int4); its values lie between them.
                column.surfaceType = declared.surfaceName
            }
            if type == .timestamp, !(types[0] == .timestamp && !isZoned(arguments[0], ctx)) {
                // As PostgreSQL resolves it: a series of `timestamp` only from a `timestamp` start;
                // from dates, untyped text or instants, of `timestamptz`.
                column.surfaceType = DeclaredType(kind: .timestamptz).surfaceName
            }
            return GenerateSeriesNode(arguments: arguments, column: column)
        case .join, .joinUsing:
            preconditionFailure("joins are handled by buildTree")
        }
    }

    /// Views within views within … at most this deep.
    static let maxViewNesting = 32

    /// Plans a view's stored query in a fresh scope (views see no outer names or CTEs).
    func planView(_ name: String, _ view: ViewDefinition, exportingLockedRows: LockingClause? = nil) throws -> PlanNode {
        guard !expandingViews.contains(name) else { throw RedError(.invalidOperation, "view \"\(name)\" refers to itself") }
        // Each view's text is parsed afresh, with its own nesting limit: a chain of views
        // built on views would otherwise plan as deep as it liked (and overflow the stack).
        guard expandingViews.count < Self.maxViewNesting else {
            throw RedError(.limitExceeded, "views nested more than \(Self.maxViewNesting) deep (view \"\(name)\")")
        }
        expandingViews.insert(name)
        defer { expandingViews.remove(name) }
        var parser = try Parser(view.query)
        let query = try parser.parseQuery()
        let saved = cteFrames, savedRelations = context.withRelations
        cteFrames = []
        context.withRelations = [:]  // a view's names are tables, not the statement's WITH items
        defer { (cteFrames, context.withRelations) = (saved, savedRelations) }
        exportLockedRows = exportingLockedRows
        let resolved = resolvesTemporaryTables
        resolvesTemporaryTables = false
        defer { resolvesTemporaryTables = resolved }
        return try SchemaCatalog.withHomePath(of: name, context.transaction) { try planQuery(query, outer: nil) }
    }

    /// Columns under an alias, the first `names.count` of them renamed (`AS d(a, b)`).
    /// Row ids exported for a FOR UPDATE outside (`ScopeColumn.lockedRowOf`) stay hidden, last.
    static func renamed(_ columns: [ScopeColumn], _ names: [String], qualifier: String, what: String) throws -> [ScopeColumn] {
        let visible = columns.count { $0.lockedRowOf == nil }
        guard names.count <= visible else {
            throw RedError(.invalidColumnReference, "\(what) has \(visible) columns available but \(names.count) columns specified")
        }
        return columns.enumerated().map { i, c in
            ScopeColumn(qualifier: qualifier, name: i < names.count ? names[i] : c.name, type: c.type, hidden: c.lockedRowOf != nil,
                        element: c.element, surfaceType: c.surfaceType, lockedRowOf: c.lockedRowOf, enumLabels: c.enumLabels)
        }
    }

    /// Plans a (sub)tree whose output row starts at `tree.range.lowerBound`; `pushed` use full-row positions.
    func build(_ tree: JoinTree, pushed: [BoundExpr], scope: Scope) throws -> PlanNode {
        let base = tree.range.lowerBound
        switch tree {
        case .leaf(let leaf):
            let local = pushed.map { $0.rebased(by: leaf.offset) }
            if local.isEmpty { return leaf.plan }
            if let scan = leaf.plan as? TableScanNode {
                scan.addPredicates(local)
                return scan
            }
            return FilterNode(leaf.plan, Self.conjunction(local))
        case .join(_, _, let kind, _) where kind == .inner || kind == .cross:
            var units: [JoinTree] = []
            var conditions: [Expr] = []
            flattenInner(tree, &units, &conditions)
            var pool = pushed
            let ctx = BindingContext(scope: scope, aggregatesForbiddenIn: "JOIN conditions")
            for condition in conditions { pool += try bind(condition, ctx).conjuncts }
            var unitPushed = [[BoundExpr]](repeating: [], count: units.count)
            pool = pool.filter { predicate in
                let refs = predicate.referencedColumns
                // Not into a lateral item: it runs with the left row as its nearest outer row, which
                // would shift the predicate's own outer references by one.
                guard !refs.isEmpty, !predicate.containsSubquery,
                      let u = units.firstIndex(where: { refs.isSubset(of: Set($0.range)) }), units[u].lateral == nil else { return true }
                unitPushed[u].append(predicate)
                return false
            }
            var plan = try build(units[0], pushed: unitPushed[0], scope: scope)
            var joined = units[0].range
            for u in 1..<units.count {
                let right = try build(units[u], pushed: unitPushed[u], scope: scope)
                let rightRange = units[u].range
                if let lateral = units[u].lateral {
                    // Opened per left row: no join keys; predicates across both sides apply after it.
                    plan = LateralJoinNode(left: plan, right: right, kind: .inner, condition: nil, leftSkip: lateral.base - joined.lowerBound)
                } else {
                    plan = joinOnKeys(plan, right, joined: joined, rightRange: rightRange, pool: &pool)
                }
                joined = joined.lowerBound..<rightRange.upperBound
                var ready: [BoundExpr] = []
                pool = pool.filter { predicate in
                    let refs = predicate.referencedColumns
                    guard !refs.isEmpty, refs.isSubset(of: Set(joined)), !predicate.containsSubquery else { return true }
                    ready.append(predicate.rebased(by: joined.lowerBound))
                    return false
                }
                if !ready.isEmpty { plan = FilterNode(plan, Self.conjunction(ready)) }
            }
            if !pool.isEmpty { plan = FilterNode(plan, Self.conjunction(pool.map { $0.rebased(by: base) })) }
            return plan
        case .join(let l, let r, let kind, let on):
            let leftRange = Set(l.range), rightRange = Set(r.range)
            var leftPushed: [BoundExpr] = [], rightPushed: [BoundExpr] = [], above: [BoundExpr] = []
            for p in pushed {
                let refs = p.referencedColumns
                if kind == .left, !refs.isEmpty, refs.isSubset(of: leftRange), !p.containsSubquery { leftPushed.append(p) }
                else if kind == .right, !refs.isEmpty, refs.isSubset(of: rightRange), !p.containsSubquery { rightPushed.append(p) }
                else { above.append(p) }
            }
            var leftKeys: [BoundExpr] = [], rightKeys: [BoundExpr] = [], residual: [BoundExpr] = []
            let lateral = r.lateral
            if let on, lateral != nil {
                residual = try bind(on, BindingContext(scope: scope, aggregatesForbiddenIn: "JOIN conditions")).conjuncts.map { $0.rebased(by: base) }
            } else if let on {
                let conjuncts = try bind(on, BindingContext(scope: scope, aggregatesForbiddenIn: "JOIN conditions")).conjuncts
                for c in conjuncts {
                    if case .comparison("=", let a, let b) = c, !c.containsSubquery {
                        let ra = a.referencedColumns, rb = b.referencedColumns
                        if !ra.isEmpty, !rb.isEmpty, ra.isSubset(of: leftRange), rb.isSubset(of: rightRange) {
                            leftKeys.append(a.rebased(by: l.range.lowerBound)); rightKeys.append(b.rebased(by: r.range.lowerBound)); continue
                        }
                        if !ra.isEmpty, !rb.isEmpty, rb.isSubset(of: leftRange), ra.isSubset(of: rightRange) {
                            leftKeys.append(b.rebased(by: l.range.lowerBound)); rightKeys.append(a.rebased(by: r.range.lowerBound)); continue
                        }
                    }
                    let refs = c.referencedColumns
                    if kind == .left, !refs.isEmpty, refs.isSubset(of: rightRange), !c.containsSubquery { rightPushed.append(c); continue }
                    if kind == .right, !refs.isEmpty, refs.isSubset(of: leftRange), !c.containsSubquery { leftPushed.append(c); continue }
                    residual.append(c.rebased(by: base))
                }
            }
            let left = try build(l, pushed: leftPushed, scope: scope)
            let right = try build(r, pushed: rightPushed, scope: scope)
            let residualExpr = residual.isEmpty ? nil : Self.conjunction(residual)
            var plan: PlanNode
            if let lateral {
                plan = LateralJoinNode(left: left, right: right, kind: kind, condition: residualExpr, leftSkip: lateral.base - l.range.lowerBound)
            } else if leftKeys.isEmpty {
                plan = NestedLoopJoinNode(left: left, right: right, kind: kind, condition: residualExpr)
            } else {
                plan = HashJoinNode(left: left, right: right, leftKeys: leftKeys, rightKeys: rightKeys, kind: kind, residual: residualExpr)
            }
            if !above.isEmpty { plan = FilterNode(plan, Self.conjunction(above.map { $0.rebased(by: base) })) }
            return plan
        }
    }

    /// Joins `right` (an inner-join unit covering `rightRange`) to `plan` (the units so far,
    /// covering `joined`): equalities between the two in `pool` become hash-join (or index
    /// lookup) keys and leave the pool; with none, a nested loop.
    func joinOnKeys(_ plan: PlanNode, _ right: PlanNode, joined: Range<Int>, rightRange: Range<Int>, pool: inout [BoundExpr]) -> PlanNode {
        var leftKeys: [BoundExpr] = [], rightKeys: [BoundExpr] = []
        pool = pool.filter { predicate in
            guard case .comparison("=", let a, let b) = predicate, !predicate.containsSubquery else { return true }
            let ra = a.referencedColumns, rb = b.referencedColumns
            guard !ra.isEmpty, !rb.isEmpty else { return true }
            if ra.isSubset(of: Set(joined)), rb.isSubset(of: Set(rightRange)) {
                leftKeys.append(a.rebased(by: joined.lowerBound)); rightKeys.append(b.rebased(by: rightRange.lowerBound)); return false
            }
            if rb.isSubset(of: Set(joined)), ra.isSubset(of: Set(rightRange)) {
                leftKeys.append(b.rebased(by: joined.lowerBound)); rightKeys.append(a.rebased(by: rightRange.lowerBound)); return false
            }
            return true
        }
        if leftKeys.isEmpty { return NestedLoopJoinNode(left: plan, right: right, kind: .cross, condition: nil) }
        if let lookup = indexNestedLoopJoin(left: plan, right: right, leftKeys: leftKeys, rightKeys: rightKeys) { return lookup }
        return HashJoinNode(left: plan, right: right, leftKeys: leftKeys, rightKeys: rightKeys, kind: .inner, residual: nil)
    }

    func flattenInner(_ tree: JoinTree, _ units: inout [JoinTree], _ conditions: inout [Expr]) {
        if case .join(let l, let r, let kind, let on) = tree, kind == .inner || kind == .cross {
            flattenInner(l, &units, &conditions)
            flattenInner(r, &units, &conditions)
            if let on { conditions.append(on) }
        } else {
            units.append(tree)
        }
    }

    static func conjunction(_ parts: [BoundExpr]) -> BoundExpr {
        parts.dropFirst().reduce(parts[0]) { .and($0, $1) }
    }
}

extension BoundExpr {
    var containsSubquery: Bool { !subqueries.isEmpty }

    /// The subqueries this expression runs itself (not those nested inside their plans).
    var subqueries: [SubqueryPlan] {
        var found: [SubqueryPlan] = []
        collectSubqueries(into: &found)
        return found
    }

    private func collectSubqueries(into found: inout [SubqueryPlan]) {
        switch self {
        case .inSubquery(let e, let plan, _), .quantified(_, let e, _, .subquery(let plan)):
            found.append(plan)
            e.collectSubqueries(into: &found)
        case .exists(let plan, _), .scalarSubquery(let plan): found.append(plan)
        case .quantified(_, let e, _, .array(let array)): e.collectSubqueries(into: &found); array.collectSubqueries(into: &found)
        case .constant, .column, .outer, .documentField, .parameter: break
        case .negate(let e), .not(let e), .isNull(let e, _), .cast(let e, _): e.collectSubqueries(into: &found)
        case .and(let a, let b), .or(let a, let b), .arithmetic(_, let a, let b), .concat(let a, let b),
             .comparison(_, let a, let b), .distinctFrom(let a, let b, _), .like(let a, let b, _, _):
            a.collectSubqueries(into: &found); b.collectSubqueries(into: &found)
        case .between(let a, let b, let c, _): for e in [a, b, c] { e.collectSubqueries(into: &found) }
        case .inList(let e, let items, _): for i in [e] + items { i.collectSubqueries(into: &found) }
        case .caseWhen(let o, let branches, let other):
            o?.collectSubqueries(into: &found)
            for (c, r) in branches { c.collectSubqueries(into: &found); r.collectSubqueries(into: &found) }
            other?.collectSubqueries(into: &found)
        case .function(_, let args), .array(let args): for a in args { a.collectSubqueries(into: &found) }
        }
    }
}
