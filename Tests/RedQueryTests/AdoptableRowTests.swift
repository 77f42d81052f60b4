import Testing
import RedCore
import RedEngine
@testable import RedQuery

/// Which bulk inserts may store a decoded row's values as they are (`DMLExecutor.adoptableIDs`):
/// only when every column is given, in id order, and needs nothing but its type's coercion.
@Suite struct AdoptableRowTests {
    static func column(_ id: UInt16, _ type: DataType = .integer, _ change: (inout ColumnDefinition) -> Void = { _ in }) -> ColumnDefinition {
        var column = ColumnDefinition(id: id, name: "c\(id)", type: type)
        change(&column)
        return column
    }

    static func ids(_ given: [ColumnDefinition], of table: [ColumnDefinition], overriding: IdentityGeneration? = nil) -> [UInt16]? {
        DMLExecutor.adoptableIDs(given.map { DMLExecutor.CellTarget($0, overriding: overriding) }, CollectionSchema(model: .table, columns: table))
    }

    @Test func everyColumnInIdOrderWithPlainTypes() {
        let table = [Self.column(1), Self.column(2, .text), Self.column(4, .float)]
        #expect(Self.ids(table, of: table) == [1, 2, 4])
        #expect(Self.ids([table[1], table[0], table[2]], of: table) == nil)  // out of id order
        #expect(Self.ids([table[0], table[2]], of: table) == nil)  // a column left to its default
    }

    @Test func columnsThatNeedMoreThanCoercionAreNeverAdopted() {
        let plain = Self.column(1)
        let cases: [ColumnDefinition] = [
            Self.column(2, .timestamp),
            Self.column(2, .text) { $0.enumVariants = ["a", "b"] },
            Self.column(2, .text) { $0.declared = DeclaredType(kind: .varchar, length: 3) },
            Self.column(2) { $0.arrayElement = .integer },
            Self.column(2) { $0.generatedSQL = "c1 * 2" },
            Self.column(2) { $0.identity = IdentityGeneration.always.rawValue },
        ]
        for other in cases {
            #expect(Self.ids([plain, other], of: [plain, other]) == nil, "\(other)")
        }
        // An identity column given a value keeps it (BY DEFAULT; ALWAYS under OVERRIDING SYSTEM
        // VALUE, as COPY inserts), so it is adopted; OVERRIDING USER VALUE replaces it.
        let byDefault = Self.column(2) { $0.identity = IdentityGeneration.byDefault.rawValue }
        let always = Self.column(2) { $0.identity = IdentityGeneration.always.rawValue }
        #expect(Self.ids([plain, byDefault], of: [plain, byDefault]) == [1, 2])
        #expect(Self.ids([plain, always], of: [plain, always], overriding: .always) == [1, 2])
        #expect(Self.ids([plain, byDefault], of: [plain, byDefault], overriding: .byDefault) == nil)
    }
}
