import Foundation

/// Runs blocking work (waiting on a socket or for a child process) on a thread of its own.
/// Swift Testing runs every test on Swift concurrency's pool, as wide as the machine has
/// cores (two here): a test that blocks a pool thread (the namespace lab, a minute) starves
/// every other test meanwhile, and servers that answer on the pool (the demo authority, the
/// HTTP server's `decide`) time out.
public func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { cont in Thread { cont.resume(returning: body()) }.start() }
}
