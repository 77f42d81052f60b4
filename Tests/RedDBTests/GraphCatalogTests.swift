import RedCore
import RedDB
import RedQuery
import Testing

/// Graph projections (a filtered view graph commands run over) and analytics jobs (a tracked
/// lifecycle), kept in the catalog.
@Suite struct GraphCatalogTests {
    static func socialGraph() async throws -> Database {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            INSERT INTO social NODE (label, node_type) VALUES ('alice', 'user'), ('bob', 'user'), ('carol', 'user'), ('acme', 'company');
            INSERT INTO social EDGE (label, from, to) VALUES ('knows', 'alice', 'bob'), ('knows', 'bob', 'carol'),
                ('works_at', 'alice', 'acme'), ('works_at', 'bob', 'acme'), ('works_at', 'carol', 'acme')
            """)
        try await s.execute("CREATE TABLE plain (id INT)")
        return db
    }

    @Test func aProjectionIsTheGraphCommandsSeeAndMaterializingCountsIt() async throws {
        let db = try await Self.socialGraph()
        let s = db.session()
        let people = try await db.saveGraphProjection(GraphProjection(name: "people", source: "social", nodeTypes: ["user"], edgeLabels: ["knows"]),
                                                      access: .readWrite)
        #expect(people.status == .declared && people.createdAtMilliseconds > 0)
        let whole = try await s.execute("GRAPH PROPERTIES social").rows[0]
        let viewed = try await s.execute("GRAPH PROPERTIES PROJECTION people").rows[0]
        #expect(whole[0] == .integer(4) && whole[1] == .integer(5))
        #expect(viewed[0] == .integer(3) && viewed[1] == .integer(2), "users only, and knows edges only: \(viewed)")
        // The company is not in the projection, and bob's works_at edge does not count there.
        let central = try await s.execute("GRAPH CENTRALITY PROJECTION people ORDER BY score DESC").rows
        #expect(central.map { $0[1] } == [.text("bob"), .text("alice"), .text("carol")] || central.map { $0[1] } == [.text("bob"), .text("carol"), .text("alice")])
        #expect(central.first?[2] == .float(2) || central.first?[2] == .integer(2), "\(central)")
        #expect(try await s.execute("GRAPH CENTRALITY social").rows.contains { $0[1] == .text("acme") })
        #expect(try await s.execute("GRAPH TRAVERSE PROJECTION people FROM 'alice' DIRECTION both").rows.count == 3)
        await #expect { try await s.execute("GRAPH COMPONENTS PROJECTION nobody") } throws: { ($0 as? RedError)?.code == .undefinedObject }

        let materialized = try await db.materializeGraphProjection("people", access: .readWrite)
        #expect(materialized.status == .materialized && materialized.nodeCount == 3 && materialized.edgeCount == 2 && materialized.materializedLSN != nil)
        #expect(try await db.markGraphProjection("people", status: .stale, access: .readWrite).status == .stale)
        #expect(try db.graphProjections().map(\.name) == ["people"])
        // Saving again replaces the definition and starts over, keeping its creation time.
        let again = try await db.saveGraphProjection(GraphProjection(name: "people", source: "social"), access: .readWrite)
        #expect(again.status == .declared && again.nodeCount == nil && again.createdAtMilliseconds == people.createdAtMilliseconds)
        #expect(try await s.execute("GRAPH PROPERTIES PROJECTION people").rows[0][0] == .integer(4))
    }

    @Test func projectionsAreCheckedAndRefusedToReaders() async throws {
        let db = try await Self.socialGraph()
        await #expect { _ = try await db.saveGraphProjection(GraphProjection(name: "p", source: "plain"), access: .readWrite) } throws: {
            ($0 as? RedError)?.code == .invalidOperation
        }
        await #expect { _ = try await db.saveGraphProjection(GraphProjection(name: "p", source: "nowhere"), access: .readWrite) } throws: {
            ($0 as? RedError)?.code == .undefinedCollection
        }
        await #expect { _ = try await db.saveGraphProjection(GraphProjection(name: "", source: "social"), access: .readWrite) } throws: {
            ($0 as? RedError)?.code == .invalidArgument
        }
        await #expect { _ = try await db.saveGraphProjection(GraphProjection(name: "p", source: "social"), access: .readOnly(principal: "user \"r\"")) } throws: {
            ($0 as? RedError)?.code == .insufficientPrivilege
        }
        await #expect { _ = try await db.markGraphProjection("nope", status: .failed, access: .readWrite) } throws: {
            ($0 as? RedError)?.code == .undefinedObject
        }
        // A collection called `projection` still reads as a collection.
        try await db.session().execute("INSERT INTO projection NODE (label) VALUES ('x')")
        #expect(try await db.session().execute("GRAPH PROPERTIES projection").rows[0][0] == .integer(1))
    }

    @Test func analyticsJobsFollowTheirLifecycle() async throws {
        let db = try await Self.socialGraph()
        _ = try await db.saveGraphProjection(GraphProjection(name: "people", source: "social", nodeTypes: ["user"]), access: .readWrite)
        var job = try await db.saveAnalyticsJob(AnalyticsJob(name: "rank", kind: "pagerank", projection: "people", parameters: .object([("limit", .integer(10))])),
                                                access: .readWrite)
        #expect(job.status == .declared)
        func step(_ s: AnalyticsJob.Step, result: JSONValue? = nil, error: String? = nil) async throws -> AnalyticsJob {
            try await db.stepAnalyticsJob("rank", s, result: result, error: error, access: .readWrite)
        }
        await #expect { _ = try await step(.complete) } throws: { ($0 as? RedError)?.code == .objectNotInPrerequisiteState }
        job = try await step(.queue)
        #expect(job.status == .queued && job.queuedAtMilliseconds != nil)
        job = try await step(.start)
        job = try await step(.complete, result: .object([("rows", .integer(3))]))
        #expect(job.status == .completed && job.result?["rows"] == .integer(3) && job.finishedAtMilliseconds != nil)
        job = try await step(.stale)
        job = try await step(.queue)
        #expect(job.status == .queued && job.result == nil, "queued again: the old result goes")
        job = try await step(.fail, error: "worker lost")
        #expect(job.status == .failed && job.error == "worker lost")
        await #expect { _ = try await step(.stale) } throws: { ($0 as? RedError)?.code == .objectNotInPrerequisiteState }
        #expect(try db.analyticsJobs().map(\.status) == [.failed])

        await #expect { _ = try await db.saveAnalyticsJob(AnalyticsJob(name: "x", kind: "astrology"), access: .readWrite) } throws: {
            ($0 as? RedError)?.code == .invalidArgument
        }
        await #expect { _ = try await db.saveAnalyticsJob(AnalyticsJob(name: "x", kind: "hits", projection: "nope"), access: .readWrite) } throws: {
            ($0 as? RedError)?.code == .undefinedObject
        }
        await #expect { _ = try await db.stepAnalyticsJob("rank", .queue, access: .standby(reason: "a replica")) } throws: {
            ($0 as? RedError)?.code == .readOnlyTransaction
        }
    }
}
