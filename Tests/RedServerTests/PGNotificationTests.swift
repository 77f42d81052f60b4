import NIOCore
import NIOEmbedded
import RedCore
@testable import RedServer
import Testing

/// LISTEN/UNLISTEN/NOTIFY parsing, and the gate that sends a connection's notifications only
/// between transactions (end to end against PostgreSQL's answers: PythonClientTests.listenAndNotifyBehaveAsInPostgreSQL).
@Suite struct PGNotificationTests {
    @Test func commandsParse() throws {
        guard case .listen("jobs")? = try PGWireCommand.recognize("LISTEN Jobs;") else { Issue.record("LISTEN"); return }
        guard case .listen("Jobs")? = try PGWireCommand.recognize(#"listen "Jobs""#) else { Issue.record("quoted"); return }
        guard case .unlisten(nil)? = try PGWireCommand.recognize("UNLISTEN *") else { Issue.record("UNLISTEN *"); return }
        guard case .unlisten("jobs")? = try PGWireCommand.recognize("unlisten jobs") else { Issue.record("UNLISTEN"); return }
        guard case .notify("jobs", "")? = try PGWireCommand.recognize("NOTIFY jobs") else { Issue.record("NOTIFY"); return }
        guard case .notify("jobs", "it's")? = try PGWireCommand.recognize("NOTIFY jobs, 'it''s'") else { Issue.record("payload"); return }
        for bad in ["LISTEN", "LISTEN a b", "NOTIFY a, b", "NOTIFY a, 'x' y", "UNLISTEN * x", "NOTIFY a, 'open"] {
            #expect(throws: RedError.self, "\(bad)") { try PGWireCommand.recognize(bad) }
        }
        guard case .listen(String(repeating: "c", count: 63))? = try PGWireCommand.recognize("LISTEN " + String(repeating: "c", count: 64)) else {
            Issue.record("a long name is cut to 63 bytes"); return
        }
        #expect { try PGWireCommand.recognize("NOTIFY c, '" + String(repeating: "x", count: 8_000) + "'") } throws: { ($0 as? RedError)?.sqlState == "22023" }
    }

    @Test func pendingNotificationsFoldRepeats() throws {
        let pending = PGPendingNotifications()
        let one = PGNotification(processID: 1, channel: "c", payload: "x")
        try pending.add(.notify(one))
        try pending.add(.listen("c"))
        try pending.add(.notify(one))
        try pending.add(.notify(PGNotification(processID: 1, channel: "c", payload: "y")))
        #expect(pending.takeAll() == [.notify(one), .listen("c"), .notify(PGNotification(processID: 1, channel: "c", payload: "y"))])
        #expect(pending.isEmpty)
        try pending.add(.notify(one))  // a new block may send it again
        #expect(pending.takeAll() == [.notify(one)])
    }

    /// The messages written out, as type bytes (`A` notification, `Z` ReadyForQuery …).
    private func written(_ channel: EmbeddedChannel) throws -> String {
        var all = ByteBuffer()
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&buffer) }
        var types = ""
        while all.readableBytes >= 5, let type = all.readInteger(as: UInt8.self), let length = all.readInteger(as: Int32.self),
              length >= 4, all.readableBytes >= Int(length) - 4 {
            types.append(Character(Unicode.Scalar(type)))
            all.moveReaderIndex(forwardBy: Int(length) - 4)
        }
        return types
    }

    private func reply(_ types: String, status: Character) -> ByteBuffer {
        var writer = PGBackendWriter()
        for type in types { if type == "C" { writer.commandComplete("SELECT 1") } }
        writer.readyForQuery(status == "I" ? .idle : (status == "T" ? .inTransaction : .failed))
        return writer.take()
    }

    @Test func theGateSendsOnlyBetweenTransactions() throws {
        let gate = PGNotificationGate()
        let channel = EmbeddedChannel(handler: gate)
        gate.watching = true
        let note = PGNotification(processID: 7, channel: "c", payload: "p")

        try channel.writeOutbound(reply("C", status: "I"))
        #expect(try written(channel) == "CZ")
        gate.deliver(note)  // idle: at once
        #expect(try written(channel) == "A")

        try channel.writeInbound(PGFrontendMessage.query("BEGIN"))
        gate.deliver(note)  // a message came in: held
        #expect(try written(channel) == "")
        try channel.writeOutbound(reply("C", status: "T"))
        #expect(try written(channel) == "CZ")  // in a block: still held
        try channel.writeInbound(PGFrontendMessage.query("COMMIT"))
        try channel.writeOutbound(reply("C", status: "I"))
        #expect(try written(channel) == "CZA")  // after the idle ReadyForQuery

        // A reply written in pieces: the message's body continues in the next write.
        var split = reply("C", status: "I")
        let head = split.readSlice(length: 7)!
        try channel.writeInbound(PGFrontendMessage.query("SELECT 1"))
        gate.deliver(note)
        try channel.writeOutbound(head)
        try channel.writeOutbound(split)
        #expect(try written(channel) == "CZA")
        _ = try channel.finish()
    }

    @Test func aListenerHoldingTooMuchIsClosed() throws {
        let gate = PGNotificationGate()
        let channel = EmbeddedChannel(handler: gate)
        gate.watching = true
        try channel.writeInbound(PGFrontendMessage.query("BEGIN"))
        let payload = String(repeating: "x", count: 7_000)
        for _ in 0...(PGNotificationGate.maxHeldBytes / 7_000) {
            gate.deliver(PGNotification(processID: 1, channel: "c", payload: payload))
        }
        #expect(!channel.isActive)
    }
}
