import RedCore

/// A trigger on a table (`CREATE TRIGGER`): kept in the table's schema, so it goes with the
/// table (DROP TABLE drops it, RENAME keeps it) and changes transactionally with it.
///
/// The trigger names its function by name (PostgreSQL's by OID): `functionName` with no
/// arguments, a `LANGUAGE plpgsql` function `RETURNS trigger`, looked up when the trigger
/// fires. DROP FUNCTION refuses a function a trigger names (`FunctionCatalog.users`).
public struct TriggerDefinition: Codable, Sendable, Equatable {
    public enum Timing: String, Codable, Sendable { case before, after }
    public enum Event: String, Codable, Sendable, CaseIterable { case insert, update, delete }

    public var name: String
    public var timing: Timing
    /// The events it fires on, in the order written (`INSERT OR UPDATE`).
    public var events: [Event]
    /// `UPDATE OF a, b`: fires on an UPDATE only when its SET names one of these columns (by name).
    public var updateColumns: [String]
    /// `FOR EACH ROW`; false: `FOR EACH STATEMENT` (the default).
    public var forEachRow: Bool
    /// `WHEN (condition)`: its SQL text, over `NEW` and `OLD`.
    public var whenSQL: String?
    public var functionName: String
    /// `EXECUTE FUNCTION f('a', 'b')`: the arguments as text (`TG_ARGV`).
    public var arguments: [String]
    /// `ALTER TABLE … DISABLE TRIGGER`: a disabled trigger does not fire (`pg_trigger.tgenabled` 'D').
    public var enabled: Bool

    public init(name: String, timing: Timing, events: [Event], updateColumns: [String] = [], forEachRow: Bool,
                whenSQL: String? = nil, functionName: String, arguments: [String] = [], enabled: Bool = true) {
        self.name = name
        self.timing = timing
        self.events = events
        self.updateColumns = updateColumns
        self.forEachRow = forEachRow
        self.whenSQL = whenSQL
        self.functionName = functionName
        self.arguments = arguments
        self.enabled = enabled
    }

    /// Whether it fires for `event`, with `setColumns` the columns an UPDATE's SET names.
    public func fires(on event: Event, timing: Timing, row: Bool, setColumns: Set<String> = []) -> Bool {
        guard enabled, self.timing == timing, forEachRow == row, events.contains(event) else { return false }
        guard event == .update, !updateColumns.isEmpty else { return true }
        return updateColumns.contains { setColumns.contains($0.lowercased()) }
    }

    /// Triggers per table: each fires its function on every row or statement it applies to.
    public static let maxPerTable = 100
}

extension CollectionSchema {
    /// The table's triggers, by name (the order they fire in, as in PostgreSQL).
    public var triggerList: [TriggerDefinition] { (triggers ?? []).sorted { $0.name < $1.name } }
}
