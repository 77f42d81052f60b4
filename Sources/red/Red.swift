import ArgumentParser
import RedDB

/// `red`: the RedDB command line. One file per subcommand.
@main
struct Red: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "red",
        abstract: "RedDB: one multi-model database in one file.",
        version: RedDB.version,
        subcommands: [ServerCommand.self, ReplicaCommand.self, MCPCommand.self, QueryCommand.self, ShellCommand.self, BootstrapCommand.self, PitrListCommand.self, PitrRestoreCommand.self, Bench.self])
}

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure performance (run from a release build: swift run -c release red bench …).",
        subcommands: [BenchStorage.self, BenchQuery.self, BenchDuel.self, BenchSurfaces.self, BenchVectors.self, BenchReplication.self, BenchExport.self, BenchBackup.self, BenchEchoPeer.self])
}
