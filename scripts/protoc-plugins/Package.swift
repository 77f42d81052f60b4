// swift-tools-version: 6.1
// Builds the two protoc plugins that scripts/regenerate-protos runs. Not part of the server build:
// the generated Swift files are committed, so CI never builds these plugins nor runs protoc.
import PackageDescription

let package = Package(
    name: "ProtocPlugins",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
    ],
    targets: []
)
