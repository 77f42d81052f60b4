// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "RedDB",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "RedDB", targets: ["RedDB"]),
        .executable(name: "red", targets: ["red"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(name: "RedCore", swiftSettings: strict),
        .target(name: "RedStorage", dependencies: ["RedCore"], swiftSettings: strict),
        .target(name: "RedEngine", dependencies: ["RedCore", "RedStorage"], swiftSettings: strict),
        .target(name: "RedQuery", dependencies: ["RedCore", "RedStorage", "RedEngine"], swiftSettings: strict),
        .target(name: "RedDB", dependencies: ["RedCore", "RedStorage", "RedEngine", "RedQuery"], swiftSettings: strict),
        .executableTarget(
            name: "red",
            dependencies: ["RedDB", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict),
        // Test helper: commits in a loop and reports each acknowledged commit; killed by DurabilityTests.
        .executableTarget(name: "red-crash-writer", dependencies: ["RedDB"], swiftSettings: strict),
        .testTarget(name: "RedCoreTests", dependencies: ["RedCore"], swiftSettings: strict),
        .testTarget(name: "RedStorageTests", dependencies: ["RedCore", "RedStorage"], swiftSettings: strict),
        .testTarget(name: "RedEngineTests", dependencies: ["RedCore", "RedStorage", "RedEngine"], swiftSettings: strict),
        .testTarget(name: "RedQueryTests", dependencies: ["RedCore", "RedQuery"], swiftSettings: strict),
        .testTarget(
            name: "RedDBTests", dependencies: ["RedCore", "RedEngine", "RedQuery", "RedDB"], swiftSettings: strict),
        .testTarget(
            name: "DurabilityTests", dependencies: ["RedCore", "RedStorage", "RedEngine", "RedDB"],
            swiftSettings: strict),
    ]
)
