import RedCore
import RedEngine

/// Relations, functions and casts a surface adds to the SQL its clients send: a wire
/// protocol's own vocabulary, such as the PostgreSQL system catalogs PG-wire supplies
/// (`pg_class`, `information_schema.columns`, `pg_get_indexdef`, `'t'::regclass`). The spec
/// keeps protocol vocabularies in the wire adapter, never in the engine; this protocol is
/// how the adapter hands them over while the engine still plans and runs the whole
/// statement — joins, filters, aggregates and parameters work on catalog rows as on any
/// other. The engine knows nothing of what the names mean.
///
/// A session carries at most one (`Session.surfaceCatalog`); statements run without one
/// see none of these names.
public protocol SurfaceCatalog: Sendable {
    /// The relation `name` (`schema` when the statement qualified it, lower-cased), or nil
    /// when the surface has none. Asked only for names that are not a CTE, table or view of
    /// the statement, or that carry a schema other than `public`.
    func relation(schema: String?, name: String) -> SurfaceRelation?
    /// A function of the surface's vocabulary (`pg_get_indexdef`); nil when it has none.
    /// It takes precedence over the engine's function of the same name (PG-wire's
    /// `current_setting` reads the connection's settings, which only the surface knows).
    func function(named name: String) -> SurfaceFunction?
    /// A cast to a type of the surface's vocabulary (`x::regclass`); nil when it has none.
    func cast(to typeName: String) -> SurfaceFunction?
    /// A set-returning function of the surface's vocabulary, called in FROM
    /// (`pg_partition_ancestors(oid)`); nil when it has none.
    func tableFunction(named name: String) -> SurfaceTableFunction?
    /// Whether CREATE FUNCTION checks the body now (PostgreSQL's `check_function_bodies`, which
    /// pg_dump turns off: its functions come before the tables they read).
    var checksFunctionBodies: Bool { get }
}

extension SurfaceCatalog {
    public func tableFunction(named name: String) -> SurfaceTableFunction? { nil }
    public var checksFunctionBodies: Bool { true }
}

/// A function in FROM whose rows the surface computes from its arguments and the catalog.
public struct SurfaceTableFunction: Sendable {
    public var arity: ClosedRange<Int>
    public var columns: [SurfaceColumn]
    /// The rows for these (already evaluated) arguments; no rows for a NULL argument, as
    /// PostgreSQL's strict set-returning functions give.
    public var rows: @Sendable ([Value], CatalogSnapshot) throws -> [[Value]]

    public init(arity: ClosedRange<Int>, columns: [SurfaceColumn], rows: @escaping @Sendable ([Value], CatalogSnapshot) throws -> [[Value]]) {
        self.arity = arity
        self.columns = columns
        self.rows = rows
    }
}

/// A surface table function's rows, its arguments evaluated at each open (once per outer
/// row when they read an earlier FROM item).
final class SurfaceTableFunctionNode: PlanNode, @unchecked Sendable {
    let function: SurfaceTableFunction
    let arguments: [BoundExpr]
    let columns: [ScopeColumn]
    let label: String

    init(_ function: SurfaceTableFunction, arguments: [BoundExpr], qualifier: String, names: [String], label: String) {
        self.function = function
        self.arguments = arguments
        self.columns = function.columns.enumerated().map { i, column in
            ScopeColumn(qualifier: qualifier, name: i < names.count ? names[i] : column.name, type: column.type, element: column.element, surfaceType: column.surfaceType)
        }
        self.label = label
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let eval = context.evaluation(outerRows)
        let values = try arguments.map { try eval.evaluate($0, []) }
        if values.contains(where: \.isNull) { return ArrayIterator([]) }
        let rows = try function.rows(values, try context.catalogSnapshot())
        try context.checkMaterialized(rows.count, "function \(label)")
        guard rows.allSatisfy({ $0.count == columns.count }) else {
            throw RedError(.internalError, "function \(label) produced a row of the wrong width")
        }
        return ArrayIterator(rows)
    }

    func explain(_ depth: Int) -> [String] { [line(depth, "Function Scan on \(label)")] }
}

/// A relation whose rows the surface computes from the catalog the statement sees.
public struct SurfaceRelation: Sendable {
    public var columns: [SurfaceColumn]
    public var rows: @Sendable (CatalogSnapshot) throws -> [[Value]]

    public init(columns: [SurfaceColumn], rows: @escaping @Sendable (CatalogSnapshot) throws -> [[Value]]) {
        self.columns = columns
        self.rows = rows
    }
}

public struct SurfaceColumn: Sendable {
    public var name: String
    public var type: DataType
    /// For an array column, its elements' type.
    public var element: DataType?
    /// The surface's own type its values travel as (PG-wire's `int2vector`), carried through
    /// the plan as long as the column is selected as it is.
    public var surfaceType: String?
    /// A system column: selectable by name, not part of `*` (a catalog's `tableoid`).
    public var hidden: Bool
    public init(_ name: String, _ type: DataType, element: DataType? = nil, surfaceType: String? = nil, hidden: Bool = false) {
        self.name = name
        self.type = type
        self.element = element
        self.surfaceType = surfaceType
        self.hidden = hidden
    }
}

/// A scalar function (or cast) of a surface: `arity` arguments, a result of `resultType`
/// (what Describe reports), NULL for any NULL argument when `strict`, as PostgreSQL's
/// catalog functions are.
public struct SurfaceFunction: Sendable {
    public var arity: ClosedRange<Int>
    public var resultType: DataType
    /// For an array result, its elements' type.
    public var resultElement: DataType?
    public var strict: Bool
    public var body: @Sendable ([Value], CatalogSnapshot) throws -> Value

    public init(arity: ClosedRange<Int>, resultType: DataType, resultElement: DataType? = nil, strict: Bool = true,
                body: @escaping @Sendable ([Value], CatalogSnapshot) throws -> Value) {
        self.arity = arity
        self.resultType = resultType
        self.resultElement = resultElement
        self.strict = strict
        self.body = body
    }
}

/// A surface relation's rows, computed once per execution from the statement's catalog.
final class SurfaceRelationNode: PlanNode, @unchecked Sendable {
    let relation: SurfaceRelation
    let columns: [ScopeColumn]
    let label: String

    init(_ relation: SurfaceRelation, qualifier: String, label: String) {
        self.relation = relation
        self.columns = relation.columns.map { ScopeColumn(qualifier: qualifier, name: $0.name, type: $0.type, hidden: $0.hidden, element: $0.element, surfaceType: $0.surfaceType) }
        self.label = label
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let snapshot = try context.catalogSnapshot()
        let relation = self.relation
        let rows = try snapshot.memoized("rows:\(label)") { try relation.rows(snapshot) }
        try context.checkMaterialized(rows.count, "catalog relation \(label)")
        let width = columns.count
        // A surface that returns a row of the wrong width would break every operator above.
        guard rows.allSatisfy({ $0.count == width }) else {
            throw RedError(.internalError, "catalog relation \(label) produced a row of the wrong width")
        }
        return ArrayIterator(rows)
    }

    func explain(_ depth: Int) -> [String] { [line(depth, "Function Scan on \(label)")] }
}
