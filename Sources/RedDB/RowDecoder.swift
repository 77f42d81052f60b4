import RedCore
import RedQuery

/// Decodes one result row into a `Decodable` type, matching properties to column names.
///
/// Integers, floats, booleans, strings and optionals map directly; JSON,
/// timestamps and other values decode from their text form into `String`.
struct RowDecoder: Decoder {
    let columns: [String]
    let row: [Value]
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] = [:]

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(RowContainer<Key>(decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch([Value].self, .init(codingPath: codingPath, debugDescription: "rows decode into keyed types"))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        guard let value = row.first else {
            throw DecodingError.valueNotFound(Value.self, .init(codingPath: codingPath, debugDescription: "the row is empty"))
        }
        return ValueContainer(value: value, codingPath: codingPath)
    }

    func value(_ key: some CodingKey) throws -> Value {
        guard let i = columns.firstIndex(of: key.stringValue) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no column named \(key.stringValue)"))
        }
        return row[i]
    }
}

struct RowContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: RowDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }
    var allKeys: [Key] { decoder.columns.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { decoder.columns.contains(key.stringValue) }
    func decodeNil(forKey key: Key) throws -> Bool { try decoder.value(key).isNull }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try ValueContainer(value: try decoder.value(key), codingPath: codingPath + [key]).decode(type)
    }
    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        throw DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "nested values are not supported"))
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch([Value].self, .init(codingPath: codingPath, debugDescription: "nested values are not supported"))
    }
    func superDecoder() throws -> any Decoder { decoder }
    func superDecoder(forKey key: Key) throws -> any Decoder { decoder }
}

struct ValueContainer: SingleValueDecodingContainer {
    let value: Value
    let codingPath: [any CodingKey]

    func mismatch<T>(_ type: T.Type) -> DecodingError {
        .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "cannot decode \(value.kindName) \(value.displayText) as \(type)"))
    }

    func decodeNil() -> Bool { value.isNull }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if value.isNull, !(T.self is any ExpressibleByNilLiteral.Type) {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "the column is NULL"))
        }
        switch type {
        case is Bool.Type:
            guard case .boolean(let b) = value else { throw mismatch(type) }
            return b as! T
        case is Int.Type:
            guard case .integer(let i) = value, let v = Int(exactly: i) else { throw mismatch(type) }
            return v as! T
        case is Int64.Type:
            guard case .integer(let i) = value else { throw mismatch(type) }
            return i as! T
        case is Int32.Type:
            guard case .integer(let i) = value, let v = Int32(exactly: i) else { throw mismatch(type) }
            return v as! T
        case is Double.Type:
            guard let d = value.doubleValue else { throw mismatch(type) }
            return d as! T
        case is Float.Type:
            guard let d = value.doubleValue else { throw mismatch(type) }
            return Float(d) as! T
        case is String.Type:
            if case .text(let s) = value { return s as! T }
            return value.displayText as! T
        case is Value.Type:
            return value as! T
        default:
            return try T(from: SingleValueDecoder(container: self))
        }
    }
}

/// Lets nested `Decodable` types (optionals, wrappers) reach the single value.
struct SingleValueDecoder: Decoder {
    let container: ValueContainer
    var codingPath: [any CodingKey] { container.codingPath }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> { throw container.mismatch(type) }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { throw container.mismatch([Value].self) }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { container }
}

extension QueryResult {
    /// Decodes every row into `T`, matching properties to column names.
    ///
    /// ```swift
    /// struct User: Decodable { let id: Int; let name: String }
    /// let users = try result.decode(User.self)
    /// ```
    public func decode<T: Decodable>(_ type: T.Type) throws -> [T] {
        let names = columns.map(\.name)
        return try rows.map { try T(from: RowDecoder(columns: names, row: $0)) }
    }
}
