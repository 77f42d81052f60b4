import ArgumentParser
import RedBench

/// `red bench echo-peer`: the loopback floor `red bench surfaces` starts in a process of its own.
struct BenchEchoPeer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo-peer",
        abstract: "Echo bytes back on a loopback port (started by `red bench surfaces`).",
        shouldDisplay: false)

    func run() throws {
        try EchoPeer.serve()
    }
}
