import BootCore

/// BootCore's `LeaseStore` in memory. The store object outlives the server it serves: a
/// simulated crash tears down the server, and the new incarnation `load()`s what was
/// stored. Optionally models a write-back cache: with `autoFlush` off, writes wait in a
/// journal until `flush()`, and `crash(losingUnflushed:)` drops the newest of them.
public final class SimLeaseStore: LeaseStore {
    private var durable = LeaseBindings()
    private enum Write { case store(LeaseRecord); case remove([UInt8]) }
    private var journal: [Write] = []
    /// Writes are durable at once (the production store's contract). Off: see `flush`.
    public var autoFlush = true
    public private(set) var stores = 0
    public private(set) var removes = 0
    public private(set) var loads = 0

    public init(_ records: [LeaseRecord] = []) {
        for r in records { durable.store(r) }
    }

    /// The records as the server sees them (durable plus unflushed), by MAC.
    public var records: [LeaseRecord] {
        var view = durable
        for w in journal { apply(w, to: &view) }
        return view.byMAC.values.sorted { $0.mac.lexicographicallyPrecedes($1.mac) }
    }

    public var unflushed: Int { journal.count }

    public func record(for mac: [UInt8]) -> LeaseRecord? { records.first { $0.mac == mac } }

    /// In MAC order, so a restart is deterministic.
    public func load() -> [LeaseRecord] { loads += 1; return records }

    public func store(_ record: LeaseRecord) {
        stores += 1
        write(.store(record))
    }

    public func remove(mac: [UInt8]) {
        removes += 1
        write(.remove(mac))
    }

    private func write(_ w: Write) {
        if autoFlush { apply(w, to: &durable) } else { journal.append(w) }
    }

    private func apply(_ w: Write, to view: inout LeaseBindings) {
        switch w {
        case .store(let r): view.store(r)
        case .remove(let mac): view.remove(mac)
        }
    }

    /// Unflushed writes (only with `autoFlush` off): the daemon holds dependent replies.
    public var hasUnsyncedChanges: Bool { !journal.isEmpty }

    /// The daemon's group commit: every journalled write becomes durable, unless the
    /// simulated disk is full (`failingSyncs` > 0): then nothing is written and the writes
    /// stay journalled for the next sync.
    @discardableResult
    public func sync() -> Bool {
        if failingSyncs > 0, !journal.isEmpty {
            failingSyncs -= 1
            failedSyncs += 1
            return false
        }
        flush()
        return true
    }
    /// The next this many syncs with something to write fail (a full disk).
    public var failingSyncs = 0
    public private(set) var failedSyncs = 0
    public var failureReason: String? { failedSyncs > 0 ? "simulated full disk" : nil }
    public private(set) var syncs = 0

    /// Makes every journalled write durable.
    public func flush() {
        if !journal.isEmpty { syncs += 1 }
        for w in journal { apply(w, to: &durable) }
        journal.removeAll()
    }

    /// The machine crashes: the newest `count` unflushed writes are lost, the older ones
    /// reached the disk. Returns how many were lost.
    @discardableResult
    public func crash(losingUnflushed count: Int = .max) -> Int {
        let lost = min(count, journal.count)
        journal.removeLast(lost)
        flush()
        return lost
    }
}
