import RedCore

/// The SQLSTATE `body` fails with (nil when it succeeds; the error's text when it is no `RedError`).
func sqlState(of body: () async throws -> Void) async -> String? {
    do { try await body(); return nil } catch let error as RedError { return error.sqlState } catch { return "\(error)" }
}
