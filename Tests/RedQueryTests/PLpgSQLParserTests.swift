import Testing
import RedCore
@testable import RedQuery

/// A DO block's body comes from a client: whatever its bytes, parsing it returns or throws a
/// RedError, never traps; and what it accepts has the shape PostgreSQL gives it.
@Suite struct PLpgSQLParserTests {
    static let sample = """
        <<outer>>
        DECLARE
          n integer := 0;
          r record;
          s text DEFAULT 'x;y';
        BEGIN
          FOR i IN REVERSE 10..1 BY 2 LOOP
            n := n + i;
            EXIT outer WHEN i = 4;
          END LOOP;
          FOR r IN SELECT a, b FROM t WHERE a = n LOOP
            UPDATE t SET b = r.b || $q$;$q$ WHERE a = r.a RETURNING b INTO STRICT s;
          END LOOP;
          IF n > 3 THEN RAISE NOTICE 'n=%', n; ELSIF n IS NULL THEN NULL; ELSE RAISE EXCEPTION USING ERRCODE = 'P0001'; END IF;
          CASE n WHEN 1, 2 THEN PERFORM 1; ELSE EXECUTE format('SELECT %L', s) INTO s USING n; END CASE;
          BEGIN
            INSERT INTO t VALUES (1) ;
          EXCEPTION WHEN unique_violation OR SQLSTATE '23503' THEN
            GET DIAGNOSTICS n = ROW_COUNT;
          END;
          /* comment; END */ -- END LOOP;
        END outer
        """

    @Test func theSampleParses() throws {
        let block = try PLpgSQLParser.parse(Self.sample)
        #expect(block.label == "outer")
        #expect(block.declarations.map(\.name) == ["n", "r", "s"])
        #expect(block.declarations[1].typeText == nil)
        #expect(block.declarations[2].initial == "'x;y'")
        #expect(block.body.count == 5)
        guard case .loop(nil, .range("i", true, "10", "1", "2"), let body) = block.body[0] else { Issue.record("\(block.body[0])"); return }
        #expect(body == [.assign(target: "n", expression: "n + i"), .exit(label: "outer", when: "i = 4", continues: false)])
        guard case .loop(_, .query(["r"], .sql("SELECT a, b FROM t WHERE a = n")), let inner) = block.body[1],
              case .sql(let update, let into?) = inner.first else { Issue.record("\(block.body[1])"); return }
        #expect(update == "UPDATE t SET b = r.b || $q$;$q$ WHERE a = r.a RETURNING b")
        #expect(into == PLInto(targets: ["s"], strict: true))
    }

    /// Every prefix of the sample, and random mutations of it: parsed or refused, never a trap.
    @Test func truncatedAndMutatedBodiesNeverCrash() {
        let bytes = Array(Self.sample.utf8)
        for end in 0...bytes.count {
            Self.expectParsedOrRefused(String(decoding: bytes[..<end], as: UTF8.self))
        }
        var rng = SplitMix64(seed: 0x91_5EED)
        let vocabulary = ["BEGIN", "END", "LOOP", "IF", "THEN", "ELSE", "CASE", "WHEN", "FOR", "IN", "..", ":=", ";", "(", ")", "<<", ">>",
                          "'", "$$", "$a$", "\"", "--", "/*", "*/", "EXCEPTION", "DECLARE", "RAISE", "%", "INTO", "STRICT", "EXIT", "RETURN", "E'\\"]
        for round in 0..<3_000 {
            var input: String
            if round % 2 == 0 {
                input = (0..<Int(rng.next() % 40)).map { _ in vocabulary[Int(rng.next() % UInt64(vocabulary.count))] }.joined(separator: " ")
            } else {
                var mutated = bytes
                for _ in 0..<Int(1 + rng.next() % 6) where !mutated.isEmpty {
                    let i = Int(rng.next() % UInt64(mutated.count))
                    switch rng.next() % 3 {
                    case 0: mutated.remove(at: i)
                    case 1: mutated.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
                    default: mutated[i] = UInt8(truncatingIfNeeded: rng.next())
                    }
                }
                input = String(decoding: mutated, as: UTF8.self)
            }
            Self.expectParsedOrRefused(input)
        }
    }

    /// Nesting is bounded: a body of thousands of nested blocks is refused, not a stack overflow.
    @Test func deepNestingIsRefused() {
        let deep = String(repeating: "BEGIN ", count: 5_000) + String(repeating: "END; ", count: 5_000)
        let ifs = "BEGIN " + String(repeating: "IF true THEN ", count: 5_000) + String(repeating: "END IF; ", count: 5_000) + "END"
        for body in [deep, ifs] {
            do {
                _ = try PLpgSQLParser.parse(body)
                Issue.record("parsed")
            } catch let error as RedError {
                #expect(error.sqlState == "54000")
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    static func expectParsedOrRefused(_ body: String) {
        do {
            _ = try PLpgSQLParser.parse(body)
        } catch is RedError {
        } catch {
            Issue.record("not a RedError: \(error) for \(body)")
        }
    }
}
