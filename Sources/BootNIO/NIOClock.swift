import BootCore
import NIOCore
import NIOPosix

/// The daemon's clock: the event loop's monotonic time and scheduler. `Instant` is
/// `NIODeadline.now().uptimeNanoseconds` (CLOCK_MONOTONIC), so instants are comparable
/// across process restarts on one boot of the host. Call only on `loop`.
public final class NIOClock: BootCore.Clock {
    public let loop: any EventLoop
    private var tasks: [UInt64: Scheduled<Void>] = [:]
    private var nextID: UInt64 = 0

    public init(loop: any EventLoop) { self.loop = loop }

    public var now: Instant { Instant(nanoseconds: Int64(NIODeadline.now().uptimeNanoseconds)) }

    @discardableResult
    public func schedule(at deadline: Instant, _ action: @escaping () -> Void) -> TimerToken {
        loop.preconditionInEventLoop()
        nextID += 1
        let id = nextID
        let bound = NIOLoopBound((self, action), eventLoop: loop)
        let task = loop.scheduleTask(deadline: .uptimeNanoseconds(UInt64(max(0, deadline.nanoseconds)))) {
            let (clock, action) = bound.value
            clock.tasks.removeValue(forKey: id)
            action()
        }
        tasks[id] = task
        return TimerToken(id: id)
    }

    public func cancel(_ token: TimerToken) {
        tasks.removeValue(forKey: token.id)?.cancel()
    }

    /// Cancels every pending timer (shutdown).
    public func cancelAll() {
        for (_, t) in tasks { t.cancel() }
        tasks.removeAll()
    }
}

/// The system random generator.
public final class SystemRandomSource: RandomSource {
    public init() {}
    public func next() -> UInt64 { UInt64.random(in: .min ... .max) }
}
