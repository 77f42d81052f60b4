import RedCore
import RedEngine

/// `Statement.withClause`: `WITH … INSERT | UPDATE | DELETE`, and WITH items that modify data
/// (`WITH moved AS (DELETE FROM jobs WHERE done RETURNING *) INSERT INTO archive SELECT * FROM
/// moved`, or `WITH next AS (SELECT id … FOR UPDATE SKIP LOCKED LIMIT 1) UPDATE jobs SET …
/// FROM next WHERE jobs.id = next.id RETURNING jobs.*`, the queue pattern).
///
/// Each item runs once, in the order written, and its rows are kept under its name
/// (`withRelations`, which FROM resolves before tables, as a CTE shadows a table); a query
/// item sees the items before it, a recursive one itself. The main statement then runs and
/// reads them. One difference from PostgreSQL: there every part of the statement reads one
/// snapshot, so the main statement does not see what a data-modifying item changed (only its
/// RETURNING rows); here later parts run after earlier ones in the same transaction and do.
public struct WithRelation: Sendable {
    public var columns: [ResultColumn]
    public var rows: [[Value]]
    /// False for a data-modifying item without RETURNING, which cannot be read.
    public var readable: Bool
}

extension StatementExecutor {
    func executeWithClause(items: [WithItem], _ main: Statement) throws -> QueryResult {
        var executor = self
        executor.planMemo = nil  // the memo holds the whole statement's plan, not its parts'
        _ = try executor.materialize(items, describing: false)
        return try executor.execute(main)
    }

    /// Describe of a WITH statement: the items described in order (kept with no rows, so the
    /// main statement plans against their columns), then the main statement; a parameter
    /// takes the first type any part gives it.
    func describeWithClause(items: [WithItem], _ main: Statement, parameterCount: Int, declaredTypes: [DataType?]) throws -> StatementDescription {
        var executor = self
        executor.planMemo = nil
        let parts = try executor.materialize(items, describing: true, declaredTypes: declaredTypes)
        var description = try executor.describe(main, parameterCount: parameterCount, declaredTypes: declaredTypes)
        for part in parts {
            while description.parameterTypes.count < part.parameterTypes.count { description.parameterTypes.append(.any) }
            for (i, type) in part.parameterTypes.enumerated() where description.parameterTypes[i] == .any && type != .any {
                description.parameterTypes[i] = type
                if let element = part.parameterArrayElements[i] { description.parameterArrayElements[i] = element }
                if let surface = part.parameterSurfaceTypes[i] { description.parameterSurfaceTypes[i] = surface }
            }
        }
        return description
    }

    /// Runs (or, `describing`, only describes) each item and keeps its rows under its name;
    /// returns the items' descriptions when describing.
    mutating func materialize(_ items: [WithItem], describing: Bool, declaredTypes: [DataType?] = []) throws -> [StatementDescription] {
        var seen: Set<String> = []
        var descriptions: [StatementDescription] = []
        for item in items {
            guard seen.insert(item.name).inserted else {
                throw RedError(.duplicateAlias, "WITH query name \"\(item.name)\" specified more than once")
            }
            var relation: WithRelation
            switch item {
            case .query(let cte):
                let query = Query(with: [cte], body: .select(Select(items: [SelectItem(expr: .star(qualifier: nil), alias: nil)],
                                                                    from: .table(cte.name, alias: nil))))
                if describing {
                    let description = try describe(.query(query), parameterCount: 0, declaredTypes: declaredTypes)
                    descriptions.append(description)
                    relation = WithRelation(columns: description.columns ?? [], rows: [], readable: true)
                } else {
                    let result = try execute(.query(query))
                    relation = WithRelation(columns: result.columns, rows: result.rows, readable: true)
                }
            case .modifying(_, let columns, let statement):
                let returns = Self.returning(of: statement) != nil
                if describing {
                    let description = try describe(statement, parameterCount: 0, declaredTypes: declaredTypes)
                    descriptions.append(description)
                    relation = WithRelation(columns: description.columns ?? [], rows: [], readable: returns)
                } else {
                    let result = try execute(statement)
                    relation = WithRelation(columns: result.columns, rows: result.rows, readable: returns)
                }
                if !columns.isEmpty {
                    guard columns.count <= relation.columns.count else {
                        throw RedError(.invalidColumnReference, "WITH query \"\(item.name)\" has \(relation.columns.count) columns available but \(columns.count) columns specified")
                    }
                    for (i, name) in columns.enumerated() { relation.columns[i].name = name }
                }
            }
            withRelations[item.name] = relation
        }
        return descriptions
    }

    static func returning(of statement: Statement) -> [SelectItem]? {
        switch statement {
        case .insert(let insert): return insert.returning
        case .update(_, _, _, _, _, let returning), .delete(_, _, _, _, let returning): return returning
        default: return nil
        }
    }
}
