import BootCore

/// Who an event belongs to, so that everything a simulated process left behind (timers,
/// pending answers, queued reads) can be cancelled at once when it crashes. `none` belongs
/// to no process and is never killed.
public struct OwnerID: Hashable, Sendable, CustomStringConvertible {
    public let raw: UInt32
    public init(raw: UInt32) { self.raw = raw }
    public static let none = OwnerID(raw: 0)
    public var description: String { "owner#\(raw)" }
}

/// Something that receives events without a closure (no allocation per event): the
/// network's in-flight packets, say.
public protocol SimEventTarget: AnyObject {
    func fire(_ tag: UInt64)
}

/// One line of the trace: an event that fired, or a note, at a virtual instant.
public struct TraceEntry: Hashable, Sendable, CustomStringConvertible {
    public var time: Instant
    public var text: String
    public var description: String { "\(time.nanoseconds) \(text)" }
}

/// A failed invariant: where, when, with which seed, and what was wrong.
public struct InvariantViolation: Error, Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var message: String
    public var time: Instant
    public var seed: UInt64
    public var step: Int
    public var description: String {
        "invariant '\(name)' violated at \(time) (t=\(time.nanoseconds)ns, step \(step), seed \(seed)): \(message)"
    }
}

/// How a run ended.
public enum SimRunResult: Hashable, Sendable {
    /// The queue is empty.
    case idle
    /// Every event up to the deadline fired; the clock stands at the deadline.
    case reachedDeadline
    /// The step limit was reached with events still queued.
    case stepLimit
    /// `stop()` was called by an event.
    case stopped
    /// An invariant failed after an event; the run stopped there.
    case violated(InvariantViolation)
}

/// The simulated world: one thread, a virtual clock and a queue of events ordered by
/// (time, sequence number), so that two events at the same instant fire in the order they
/// were scheduled and a run is a pure function of its seed.
///
/// The queue is a binary min-heap of small entries (time, sequence, slot); each event's
/// payload lives in a slot table reused through a free list, so cancelling is O(1)
/// (the slot is emptied; its heap entry is skipped when it surfaces) and scheduling does no
/// allocation beyond the action closure itself (none for `SimEventTarget` events).
public final class Simulation {
    /// The root seed: every random stream of the run is forked from it.
    public let seed: UInt64
    /// The root generator. Prefer `fork(_:_:)` for anything that may be added or removed.
    public let random: SimRandom
    /// Virtual time. Only the event loop advances it.
    public private(set) var now: Instant = .zero
    /// Events fired so far (cancelled ones do not count).
    public private(set) var steps: Int = 0
    /// Record a trace (off by default: it costs a string per event).
    public var tracing = false
    public private(set) var trace: [TraceEntry] = []
    /// The first invariant violation, if any; once set, runs return at once.
    public private(set) var violation: InvariantViolation?

    public init(seed: UInt64) {
        self.seed = seed
        self.random = SimRandom(seed: seed)
        alive = [true]  // OwnerID.none
        heap.reserveCapacity(1024)
        slots.reserveCapacity(1024)
    }

    /// An independent random stream for one part of the world (see `SimRandom.fork`).
    public func fork(_ label: String, _ index: UInt64 = 0) -> SimRandom { random.fork(label, index) }

    // MARK: Queue

    enum Payload {
        case empty
        case action(() -> Void)
        case target(SimEventTarget, UInt64)
    }

    struct Slot {
        var payload: Payload
        var seq: UInt64
        var owner: UInt32
        var label: String
    }

    struct Entry {
        var time: Int64
        var seq: UInt64
        var slot: UInt32
        @inline(__always)
        static func before(_ a: Entry, _ b: Entry) -> Bool {
            a.time < b.time || (a.time == b.time && a.seq < b.seq)
        }
    }

    private var heap: [Entry] = []
    private var slots: [Slot] = []
    private var freeSlots: [UInt32] = []
    private var nextSeq: UInt64 = 1
    /// Heap entries whose event was cancelled (skipped when they surface, or swept by
    /// `compact()` when they are most of the heap: engines re-arm a retransmission timer
    /// on every packet, and each leaves a cancelled entry behind).
    private var cancelledInHeap = 0
    private var alive: [Bool]
    private var stopRequested = false
    private var invariants: [(name: String, check: () -> String?)] = []

    /// Events waiting (including cancelled ones not yet skipped).
    public var pendingEvents: Int { heap.count }
    /// The instant of the next event, if any (cancelled ones included).
    public var nextEventTime: Instant? { heap.first.map { Instant(nanoseconds: $0.time) } }

    private static let slotBits: UInt64 = 24

    @inline(__always)
    private func enqueue(_ deadline: Instant, _ payload: Payload, owner: OwnerID, label: String) -> TimerToken {
        guard alive[Int(owner.raw)] else { return TimerToken(id: 0) }  // a dead process schedules nothing
        let seq = nextSeq; nextSeq &+= 1
        let slot: UInt32
        if let free = freeSlots.popLast() {
            slot = free
            slots[Int(slot)] = Slot(payload: payload, seq: seq, owner: owner.raw, label: label)
        } else {
            slot = UInt32(slots.count)
            precondition(UInt64(slot) < 1 << Simulation.slotBits, "more than 16M pending events")
            slots.append(Slot(payload: payload, seq: seq, owner: owner.raw, label: label))
        }
        let t = max(deadline.nanoseconds, now.nanoseconds)  // never in the past
        heap.append(Entry(time: t, seq: seq, slot: slot))
        siftUp(heap.count - 1)
        return TimerToken(id: seq << Simulation.slotBits | UInt64(slot))
    }

    /// Calls `action` at `deadline` (or now, if it is past). `owner` ties it to a process
    /// that `kill(_:)` can cancel; `label` names it in the trace.
    @discardableResult
    public func schedule(at deadline: Instant, owner: OwnerID = .none, label: String = "",
                         _ action: @escaping () -> Void) -> TimerToken {
        enqueue(deadline, .action(action), owner: owner, label: label)
    }

    @discardableResult
    public func schedule(after delay: Duration, owner: OwnerID = .none, label: String = "",
                         _ action: @escaping () -> Void) -> TimerToken {
        enqueue(now + delay, .action(action), owner: owner, label: label)
    }

    /// Calls `target.fire(tag)` at `deadline`: an event with no closure to allocate.
    @discardableResult
    public func schedule(at deadline: Instant, target: SimEventTarget, tag: UInt64,
                         owner: OwnerID = .none, label: String = "") -> TimerToken {
        enqueue(deadline, .target(target, tag), owner: owner, label: label)
    }

    /// Cancels a pending event. Cancelling one that fired or was cancelled does nothing.
    /// Returns whether something was cancelled.
    @discardableResult
    public func cancel(_ token: TimerToken) -> Bool {
        let slot = Int(token.id & (1 << Simulation.slotBits - 1))
        let seq = token.id >> Simulation.slotBits
        guard token.id != 0, slot < slots.count, slots[slot].seq == seq else { return false }
        if case .empty = slots[slot].payload { return false }
        slots[slot].payload = .empty
        slots[slot].label = ""
        cancelledInHeap += 1
        if cancelledInHeap >= 4096, cancelledInHeap * 2 > heap.count { compact() }
        return true
    }

    /// Drops the entries of cancelled events and rebuilds the heap (Floyd, O(n)).
    private func compact() {
        var kept = 0
        for i in heap.indices {
            let e = heap[i]
            if case .empty = slots[Int(e.slot)].payload { freeSlots.append(e.slot); continue }
            heap[kept] = e; kept += 1
        }
        heap.removeLast(heap.count - kept)
        cancelledInHeap = 0
        var i = heap.count / 2 - 1
        while i >= 0 { siftDown(i); i -= 1 }
    }

    // MARK: Owners (crash and restart)

    /// A new owner for a process incarnation.
    public func makeOwner() -> OwnerID {
        alive.append(true)
        return OwnerID(raw: UInt32(alive.count - 1))
    }

    public func isAlive(_ owner: OwnerID) -> Bool { alive[Int(owner.raw)] }

    /// Drops every pending event and invariant (their closures with them): the end of a
    /// simulated world.
    public func clearPending() {
        heap.removeAll()
        slots.removeAll()
        freeSlots.removeAll()
        cancelledInHeap = 0
        invariants.removeAll()
    }

    /// A crash: cancels every pending event of `owner`, and anything it schedules later is
    /// dropped. Returns how many events were cancelled. `OwnerID.none` cannot be killed.
    @discardableResult
    public func kill(_ owner: OwnerID) -> Int {
        guard owner != .none else { return 0 }
        alive[Int(owner.raw)] = false
        var cancelled = 0
        for i in slots.indices where slots[i].owner == owner.raw {
            if case .empty = slots[i].payload { continue }
            slots[i].payload = .empty; slots[i].label = ""
            cancelled += 1
        }
        cancelledInHeap += cancelled
        if cancelledInHeap >= 4096, cancelledInHeap * 2 > heap.count { compact() }
        if tracing { note("kill \(owner): \(cancelled) events cancelled") }
        return cancelled
    }

    // MARK: Heap

    @inline(__always)
    private func siftUp(_ index: Int) {
        var i = index
        let e = heap[i]
        while i > 0 {
            let parent = (i - 1) >> 1
            if !Entry.before(e, heap[parent]) { break }
            heap[i] = heap[parent]
            i = parent
        }
        heap[i] = e
    }

    @inline(__always)
    private func siftDown(_ index: Int) {
        let n = heap.count
        let e = heap[index]
        var i = index
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            var c = l
            if l + 1 < n, Entry.before(heap[l + 1], heap[l]) { c = l + 1 }
            if !Entry.before(heap[c], e) { break }
            heap[i] = heap[c]
            i = c
        }
        heap[i] = e
    }

    @inline(__always)
    private func popMin() -> Entry {
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
        return top
    }

    // MARK: Running

    /// Fires the next event (skipping cancelled ones). False when nothing is queued.
    @discardableResult
    public func step() -> Bool {
        while !heap.isEmpty {
            let e = popMin()
            let i = Int(e.slot)
            let payload = slots[i].payload
            slots[i].payload = .empty
            freeSlots.append(e.slot)
            if case .empty = payload { cancelledInHeap -= 1; continue }
            now = Instant(nanoseconds: e.time)
            steps &+= 1
            if tracing, !slots[i].label.isEmpty { trace.append(TraceEntry(time: now, text: slots[i].label)) }
            slots[i].label = ""
            switch payload {
            case .action(let action): action()
            case .target(let target, let tag): target.fire(tag)
            case .empty: break
            }
            if !invariants.isEmpty { checkInvariants() }
            return true
        }
        return false
    }

    /// Fires every event up to and including `deadline`, then sets the clock to it.
    @discardableResult
    public func run(until deadline: Instant) -> SimRunResult {
        stopRequested = false
        if let violation { return .violated(violation) }
        while let top = heap.first, top.time <= deadline.nanoseconds {
            step()
            if let violation { return .violated(violation) }
            if stopRequested { return .stopped }
        }
        if deadline > now { now = deadline }
        return .reachedDeadline
    }

    @discardableResult
    public func run(for duration: Duration) -> SimRunResult { run(until: now + duration) }

    /// Fires events until none is left, or `limit` have fired in this call.
    @discardableResult
    public func runUntilIdle(limit: Int = .max) -> SimRunResult {
        stopRequested = false
        if let violation { return .violated(violation) }
        var fired = 0
        while fired < limit {
            guard step() else { return .idle }
            fired += 1
            if let violation { return .violated(violation) }
            if stopRequested { return .stopped }
        }
        return heap.isEmpty ? .idle : .stepLimit
    }

    /// Ends the current run after the event that calls it.
    public func stop() { stopRequested = true }

    // MARK: Trace and invariants

    /// Adds a line to the trace (evaluated only when tracing).
    public func note(_ text: @autoclosure () -> String) {
        if tracing { trace.append(TraceEntry(time: now, text: text())) }
    }

    public func clearTrace() { trace.removeAll() }

    /// A check run after every event: nil when all is well, else what is wrong. The first
    /// failure stops the run and is kept in `violation`.
    public func addInvariant(_ name: String, _ check: @escaping () -> String?) {
        invariants.append((name, check))
    }

    /// Runs the invariants now (also done after every event).
    public func checkInvariants() {
        guard violation == nil else { return }
        for inv in invariants {
            if let message = inv.check() {
                violation = InvariantViolation(name: inv.name, message: message, time: now, seed: seed, step: steps)
                note("violation: \(inv.name): \(message)")
                return
            }
        }
    }

    /// A `Clock` for one process: its timers belong to `owner`.
    public func clock(owner: OwnerID = .none) -> SimClock { SimClock(self, owner: owner) }
}

/// BootCore's `Clock` over the simulation's virtual time; timers are tagged with the
/// owner of the process that uses it, so a crash cancels them.
public final class SimClock: Clock {
    public unowned let simulation: Simulation
    public let owner: OwnerID
    public init(_ simulation: Simulation, owner: OwnerID = .none) {
        self.simulation = simulation; self.owner = owner
    }
    public var now: Instant { simulation.now }
    @discardableResult
    public func schedule(at deadline: Instant, _ action: @escaping () -> Void) -> TimerToken {
        simulation.schedule(at: deadline, owner: owner, action)
    }
    public func cancel(_ token: TimerToken) { simulation.cancel(token) }
}
