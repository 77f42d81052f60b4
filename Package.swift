// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]
/// RedQuery's async functions run where their caller runs (SE-0461) instead of hopping to the
/// global executor at every call: the PL/pgSQL interpreter, run synchronously inside a
/// statement for each function call and trigger firing, makes dozens of such calls per row.
let callerIsolated: [SwiftSetting] = strict + [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]

let package = Package(
    name: "RedDB",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "RedDB", targets: ["RedDB"]),
        .library(name: "RedClient", targets: ["RedClient"]),
        .executable(name: "red", targets: ["red"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // TLS on every surface (`reds://`, `grpcs://`, `https://`, PG SSL) and the self-signed
        // certificate a server makes for itself when none is given.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        // gRPC surface: grpc-swift 2, its HTTP/2 transport on SwiftNIO, and protobuf messages.
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        // HTTP/2 frames, for the limit on unauthenticated gRPC calls (`GRPCUnauthenticatedLimit`).
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // PostgreSQL client: drives both engines in `red bench duel`, and real-peer integration tests.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // Test-only HTTP client for the integration tests.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // `red mcp`: the Model Context Protocol server (JSON-RPC lifecycle, tool calls).
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", from: "0.12.1"),
    ],
    targets: [
        // Carry-less-multiply CRC-32 (PCLMULQDQ), which Swift cannot reach: see CRC32.swift.
        .target(name: "CRedCRC"),
        .target(name: "RedCore", dependencies: ["CRedCRC"], swiftSettings: strict),
        .target(name: "RedStorage", dependencies: ["RedCore"], swiftSettings: strict),
        .target(name: "RedEngine", dependencies: ["RedCore", "RedStorage"], swiftSettings: strict),
        .target(name: "RedQuery", dependencies: ["RedCore", "RedStorage", "RedEngine", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: callerIsolated),
        // AI providers (embeddings, prompts) and the ASK pipeline's pure parts; RedDB wires it to the engine.
        .target(
            name: "RedAI",
            dependencies: [
                "RedCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict),
        .target(name: "RedDB", dependencies: ["RedCore", "RedStorage", "RedEngine", "RedQuery", "RedAI"], swiftSettings: strict),
        // RedWire frame and value codecs, shared by the server and the client; no engine dependency.
        .target(name: "RedWire", dependencies: ["RedCore"], swiftSettings: strict),
        // Generated protobuf messages and gRPC stubs for reddb.v1 and grpc.health.v1 (scripts/regenerate-protos),
        // shared by the server and clients.
        .target(
            name: "RedProto",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict),
        .target(
            name: "RedReplication",
            dependencies: [
                "RedCore", "RedStorage", "RedEngine", "RedDB", "RedProto", "RedWire",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict),
        .target(
            name: "RedServer",
            dependencies: [
                "RedDB", "RedEngine", "RedWire", "RedProto", "RedReplication", "RedAI", "RedMCP",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict),
        // `red mcp`: RedDB's tools for AI agents over the Model Context Protocol (stdio).
        .target(
            name: "RedMCP",
            dependencies: [
                "RedCore", "RedEngine", "RedQuery", "RedDB",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // The Swift driver: red://, grpc://, http://, memory:// and file:// behind one API.
        .target(
            name: "RedClient",
            dependencies: [
                "RedDB", "RedEngine", "RedWire", "RedProto",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict),
        // `red bench duel`: our server and a temporary PostgreSQL, driven by the same PostgresNIO client.
        .target(
            name: "RedBench",
            dependencies: [
                "RedCore", "RedStorage", "RedClient",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "red",
            dependencies: [
                "RedDB", "RedServer", "RedReplication", "RedBench", "RedClient", "RedMCP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        // Test helper: commits in a loop and reports each acknowledged commit; killed by DurabilityTests.
        .executableTarget(name: "red-crash-writer", dependencies: ["RedDB"], swiftSettings: strict),
        .testTarget(name: "RedCoreTests", dependencies: ["RedCore"], swiftSettings: strict),
        .testTarget(name: "RedStorageTests", dependencies: ["RedCore", "RedStorage"], swiftSettings: strict),
        .testTarget(name: "RedEngineTests", dependencies: ["RedCore", "RedStorage", "RedEngine"], swiftSettings: strict),
        .testTarget(name: "RedQueryTests", dependencies: ["RedCore", "RedQuery"], swiftSettings: strict),
        .testTarget(
            name: "RedDBTests", dependencies: ["RedCore", "RedStorage", "RedEngine", "RedQuery", "RedDB"], swiftSettings: strict),
        .testTarget(
            name: "RedServerTests",
            dependencies: [
                "RedCore", "RedStorage", "RedDB", "RedServer", "RedProto",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
            ],
            swiftSettings: strict),
        // Start the real `red server` binary and talk to it with real clients.
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "RedCore", "RedEngine", "RedDB", "RedWire", "RedProto", "RedClient", "RedServer", "RedReplication", "AITestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict),
        // A fake OpenAI/Anthropic server for the AI tests.
        .target(
            name: "AITestSupport",
            dependencies: [
                "RedCore", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/AITestSupport", swiftSettings: strict),
        .testTarget(
            name: "RedAITests",
            dependencies: ["RedCore", "RedAI", "RedDB", "AITestSupport"],
            swiftSettings: strict),
        .testTarget(name: "RedWireTests", dependencies: ["RedCore", "RedWire"], swiftSettings: strict),
        .testTarget(
            name: "RedMCPTests",
            dependencies: ["RedCore", "RedDB", "RedMCP", .product(name: "MCP", package: "swift-sdk")],
            swiftSettings: strict),
        .testTarget(
            name: "RedReplicationTests",
            dependencies: ["RedCore", "RedStorage", "RedEngine", "RedDB", "RedReplication", .product(name: "Logging", package: "swift-log"),
                           .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict),
        .testTarget(
            name: "RedClientTests",
            dependencies: ["RedCore", "RedQuery", "RedClient", "RedProto", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: strict),
        .testTarget(
            name: "RedBenchTests",
            dependencies: ["RedCore", "RedBench"],
            swiftSettings: strict),
        .testTarget(
            name: "DurabilityTests", dependencies: ["RedCore", "RedStorage", "RedEngine", "RedDB"],
            swiftSettings: strict),
    ]
)
