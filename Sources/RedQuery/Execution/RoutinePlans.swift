import RedCore
import Synchronization

/// The plans of one PL/pgSQL body's statements and expressions, kept between calls: a function
/// called for every row, or a trigger fired for every row, parses and plans each of its
/// statements once instead of at every call (PostgreSQL keeps a function's plans in its
/// session; here they are shared by sessions, as a prepared statement's `PlanMemo` is).
///
/// One `Site` per text and variable layout (`VariableLayout`): the same text binds differently
/// when other variables are visible, or a record's fields differ. The layouts are kept here
/// too, by a hash of their shape and with an id, so a call finds its layout by its shape and
/// its sites by the layout's id. Each site's memo keeps its plan for one definitions version,
/// as every `PlanMemo` does; definition versions differ between the databases of a process
/// (`StorageEngine`), so the databases share parses and layouts but never a plan. Bounded;
/// emptied when full.
final class RoutinePlans: Sendable {
    /// A statement or expression of the body, as calls with one layout run it.
    final class Site: Sendable {
        let statement: Statement
        let memo = PlanMemo()
        init(statement: Statement) { self.statement = statement }
    }

    private struct Key: Hashable {
        var text: String
        /// An expression (`SELECT` of the text), not a statement.
        var expression: Bool
        var layout: Int?
    }

    private let sites = Mutex<[Key: Site]>([:])
    static let maxSites = 4_096
    /// The variable layouts calls of the body built, by their shape's hash, and the next id.
    private let layouts = Mutex<(byShape: [Int: [VariableLayout]], count: Int, nextID: Int)>(([:], 0, 0))
    static let maxLayouts = 1_024

    init() {}

    /// How many runs of the body's statements used a kept plan (tests check that reuse happens).
    var reuseCount: Int { sites.withLock { $0.values.reduce(0) { $0 + $1.memo.reuseCount } } }

    /// The site of `text` under layout `layout`; `parse` makes its statement the first time.
    func site(_ text: String, expression: Bool, layout: Int?, parse: () throws -> Statement) throws -> Site {
        let key = Key(text: text, expression: expression, layout: layout)
        if let kept = sites.withLock({ $0[key] }) { return kept }
        let site = Site(statement: try parse())
        return sites.withLock { sites in
            if let kept = sites[key] { return kept }
            if sites.count >= Self.maxSites { sites.removeAll(keepingCapacity: true) }
            sites[key] = site
            return site
        }
    }

    /// The layout kept for a shape hashing to `hash` that `matches` accepts.
    func layout(hash: Int, matching matches: (_ shape: [VariableLayout.SlotShape]) -> Bool) -> VariableLayout? {
        layouts.withLock { layouts in layouts.byShape[hash]?.first { matches($0.shape) } }
    }

    /// Keeps `layout` under a new id, and returns it with that id.
    func keep(_ layout: VariableLayout, hash: Int) -> VariableLayout {
        layouts.withLock { layouts in
            if layouts.count >= Self.maxLayouts { (layouts.byShape, layouts.count) = ([:], 0) }
            var kept = layout
            kept.id = layouts.nextID
            layouts.nextID += 1
            layouts.byShape[hash, default: []].append(kept)
            layouts.count += 1
            return kept
        }
    }
}
