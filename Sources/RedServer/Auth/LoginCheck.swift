import RedCore
import Synchronization

/// A long-lived connection's login (PG-wire, RedWire), checked again whenever the auth store
/// has changed since: once it no longer holds, it never holds again.
final class LoginCheck: Sendable {
    let auth: AuthStore
    let credential: AuthStore.Credential
    private let checkedGeneration: Atomic<UInt64>
    private let revoked = Atomic<Bool>(false)

    /// `generation` is the store's, read before the login was checked: a change made while it
    /// was being checked is then looked at again on the first request.
    init(auth: AuthStore, credential: AuthStore.Credential, generation: UInt64) {
        self.auth = auth
        self.credential = credential
        checkedGeneration = Atomic(generation)
    }

    func holds() -> Bool {
        if revoked.load(ordering: .acquiring) { return false }
        let current = auth.generation.load(ordering: .sequentiallyConsistent)
        guard current != checkedGeneration.load(ordering: .acquiring) else { return true }
        guard auth.isValid(credential) else {
            revoked.store(true, ordering: .releasing)
            return false
        }
        checkedGeneration.store(current, ordering: .releasing)
        return true
    }

    static var revokedError: RedError {
        RedError(.invalidAuthorization, "the login of this connection is no longer valid (its user or key was removed, or the server now requires authentication)")
    }
}
