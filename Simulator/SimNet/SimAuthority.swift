import BootCore

/// A simulated HTTP access authority (PyBootd's `[http]` location): rules by MAC, UUID and
/// phase, answered after a seeded latency, with injected errors and timeouts (the
/// completion is never called, as with a server that hangs; the engine's own deadline must
/// cover it). Completions run as events of the simulation, tagged with `owner` so a crash
/// of the asking process cancels them.
public final class SimAuthority: AccessAuthority {
    /// What the authority does with a query.
    public enum Behaviour: Hashable, Sendable {
        case answer(AuthorityAnswer)
        /// Never answers.
        case timeout
        /// An HTTP-level failure: `.failed(message)`.
        case error(String)
    }

    /// A rule: every given field must match; the first matching rule decides.
    public struct Rule: Hashable, Sendable {
        public var mac: [UInt8]?
        public var uuid: String?
        public var phase: BootPhase?
        public var behaviour: Behaviour
        public init(mac: [UInt8]? = nil, uuid: String? = nil, phase: BootPhase? = nil, _ behaviour: Behaviour) {
            self.mac = mac; self.uuid = uuid; self.phase = phase; self.behaviour = behaviour
        }
        func matches(_ q: AuthorityQuery) -> Bool {
            (mac == nil || mac == q.mac) && (uuid == nil || uuid == q.uuid) && (phase == nil || phase == q.phase)
        }
    }

    /// One query received, and what was decided for it.
    public struct LoggedQuery: Hashable, Sendable {
        public var time: Instant
        public var query: AuthorityQuery
        public var behaviour: Behaviour
        /// When the completion is due (nil: never).
        public var answerAt: Instant?
    }

    public unowned let simulation: Simulation
    public var rules: [Rule] = []
    /// When no rule matches.
    public var defaultBehaviour: Behaviour
    public var latency: Duration
    /// Extra latency, uniform in 0...jitter.
    public var jitter: Duration
    /// Probability that any query fails (`.failed("simulated error")`), before the rules.
    public var errorRate: Double = 0
    /// Probability that any query is never answered, before the rules.
    public var timeoutRate: Double = 0
    /// Owner of the completion events (the asking process); set it on restart.
    public var owner: OwnerID
    public private(set) var log: [LoggedQuery] = []
    /// Completions called so far.
    public private(set) var answered = 0
    private let random: SimRandom

    public init(simulation: Simulation, defaultBehaviour: Behaviour = .answer(.allowed(hostName: nil, bootFile: nil)),
                latency: Duration = .milliseconds(5), jitter: Duration = .zero, owner: OwnerID = .none,
                random: SimRandom? = nil) {
        self.simulation = simulation; self.defaultBehaviour = defaultBehaviour
        self.latency = latency; self.jitter = jitter; self.owner = owner
        self.random = random ?? simulation.fork("authority")
    }

    public func query(_ query: AuthorityQuery, completion: @escaping (AuthorityAnswer) -> Void) {
        let behaviour: Behaviour
        if random.chance(errorRate) { behaviour = .error("simulated error") }
        else if random.chance(timeoutRate) { behaviour = .timeout }
        else { behaviour = rules.first(where: { $0.matches(query) })?.behaviour ?? defaultBehaviour }
        let delay = latency.nanosecondCount + Int64(random.below(UInt64(max(0, jitter.nanosecondCount)) + 1))
        let due = Instant(nanoseconds: simulation.now.nanoseconds + delay)
        let answer: AuthorityAnswer
        switch behaviour {
        case .timeout:
            log.append(LoggedQuery(time: simulation.now, query: query, behaviour: behaviour, answerAt: nil))
            simulation.note("authority: timeout for \(query.mac)")
            return
        case .error(let message): answer = .failed(message)
        case .answer(let a): answer = a
        }
        log.append(LoggedQuery(time: simulation.now, query: query, behaviour: behaviour, answerAt: due))
        simulation.schedule(at: due, owner: owner, label: "authority answer") { [unowned self] in
            self.answered += 1
            completion(answer)
        }
    }
}
