import BootWire

/// Address bookkeeping of the DHCP engine: sticky MAC → address bindings, the pool, declined
/// addresses. Allocation is amortised O(1): a cursor walks the pool and a set of addresses in
/// use is kept, so the rate does not fall as the pool fills (PyBootd scanned linearly).
struct LeaseTable {
    private(set) var byMAC: [[UInt8]: LeaseRecord] = [:]
    private var owner: [UInt32: [UInt8]] = [:]
    private var declinedUntil: [UInt32: Instant] = [:]
    /// At most this many addresses are held back by DECLINE at once.
    private let maxDeclined: Int
    /// Clients whose binding is an OFFER's hold, not an ACKed lease: they may not DECLINE
    /// or RELEASE it (RFC 2131 4.3.3: only the client the address was given to).
    private var offerOnly: Set<[UInt8]> = []
    private let poolFirst: UInt32
    private let poolCount: Int
    private var cursor = 0
    private let excluded: Set<UInt32>
    private let staticByMAC: [[UInt8]: IPv4Address]
    private let staticAddresses: Set<UInt32>

    init(settings: DHCPServerSettings, records: [LeaseRecord]) {
        poolFirst = settings.poolStart.value
        poolCount = max(0, min(settings.poolCount, Int(UInt32.max - settings.poolStart.value) + 1))
        excluded = [settings.serverAddress.value, settings.networkAddress.value, settings.broadcastAddress.value]
        staticByMAC = settings.staticBindings
        staticAddresses = Set(settings.staticBindings.values.map(\.value))
        maxDeclined = max(1, poolCount * settings.maxDeclinedPercent / 100)
        for r in records where r.address.value != 0 {
            // A record whose address another record already holds is dropped: never two owners.
            if owner[r.address.value] == nil || owner[r.address.value] == r.mac {
                if let old = byMAC[r.mac] { owner[old.address.value] = nil }
                byMAC[r.mac] = r
                owner[r.address.value] = r.mac
            }
        }
    }

    var count: Int { byMAC.count }
    /// Addresses held back by DECLINE (some may have lapsed already).
    var declinedCount: Int { declinedUntil.count }
    /// The binding of `mac` is an ACKed lease (or a BOOTP or loaded one), not an offer.
    func isCommitted(_ mac: [UInt8]) -> Bool { byMAC[mac] != nil && !offerOnly.contains(mac) }
    func record(for mac: [UInt8]) -> LeaseRecord? { byMAC[mac] }
    func owner(of address: IPv4Address) -> [UInt8]? { owner[address.value] }
    /// The binding that holds `address`, by the owner index (no scan of the table).
    func record(holding address: IPv4Address) -> LeaseRecord? {
        guard let mac = owner[address.value], let r = byMAC[mac], r.address == address else { return nil }
        return r
    }

    func inPool(_ a: IPv4Address) -> Bool {
        a.value >= poolFirst && Int(a.value - poolFirst) < poolCount
    }

    /// An address this table may give to `mac`: not excluded, not declined, not another
    /// client's static address, and either free or already this client's.
    func usable(_ a: IPv4Address, for mac: [UInt8], at now: Instant) -> Bool {
        if excluded.contains(a.value) { return false }
        if let until = declinedUntil[a.value], until > now { return false }
        if staticAddresses.contains(a.value), staticByMAC[mac] != a { return false }
        if let o = owner[a.value], o != mac {
            // Held by another client: only reusable once that lease has expired.
            guard let other = byMAC[o], let exp = other.expires, exp <= now else { return false }
        }
        return true
    }

    /// Chooses the address for `mac`: static binding, then its sticky binding, then the
    /// requested address if free, then the next free pool address, then the address of the
    /// longest-expired lease. nil when the pool is exhausted.
    mutating func choose(for mac: [UInt8], requested: IPv4Address?, at now: Instant) -> IPv4Address? {
        if let s = staticByMAC[mac] { return s }
        // The sticky binding, while the address is still in the (possibly reconfigured) pool.
        if let r = byMAC[mac], inPool(r.address), usable(r.address, for: mac, at: now) {
            return r.address
        }
        if let req = requested, inPool(req), usable(req, for: mac, at: now), owner[req.value] == nil || owner[req.value] == mac {
            return req
        }
        for _ in 0..<poolCount {
            let a = IPv4Address(poolFirst + UInt32(cursor))
            cursor = cursor + 1 == poolCount ? 0 : cursor + 1
            if owner[a.value] == nil, usable(a, for: mac, at: now) { return a }
        }
        // The pool is out of free addresses: a declined address comes back first (the
        // oldest hold), before any client's expired lease is taken.
        if let (value, _) = declinedUntil.filter({ a, until in
            until > now && owner[a] == nil && inPool(IPv4Address(a)) && !excluded.contains(a)
                && !(staticAddresses.contains(a) && staticByMAC[mac] != IPv4Address(a))
        }).min(by: { $0.value < $1.value || ($0.value == $1.value && $0.key < $1.key) }) {
            declinedUntil[value] = nil
            return IPv4Address(value)
        }
        // Reclaim the longest-expired binding of another client.
        let expired = byMAC.values.filter { r in
            r.mac != mac && inPool(r.address) && (r.expires.map { $0 <= now } ?? false)
                && usable(r.address, for: mac, at: now)
        }
        return expired.min { ($0.expires ?? now) < ($1.expires ?? now) }?.address
    }

    /// Binds `record.address` to `record.mac`, moving the client off any other address and
    /// taking the address from an expired holder. Returns the MAC that lost the address.
    /// `offer`: true for an OFFER's hold, false for a lease (ACK, BOOTP), nil to keep what
    /// the binding was.
    @discardableResult
    mutating func bind(_ record: LeaseRecord, offer: Bool? = false) -> [UInt8]? {
        var evicted: [UInt8]?
        if let o = owner[record.address.value], o != record.mac {
            byMAC[o] = nil
            offerOnly.remove(o)
            evicted = o
        }
        switch offer {
        case true?: offerOnly.insert(record.mac)
        case false?: offerOnly.remove(record.mac)
        case nil: break
        }
        if let old = byMAC[record.mac], old.address != record.address {
            owner[old.address.value] = nil
        }
        byMAC[record.mac] = record
        owner[record.address.value] = record.mac
        return evicted
    }

    mutating func update(_ mac: [UInt8], _ change: (inout LeaseRecord) -> Void) {
        guard var r = byMAC[mac] else { return }
        change(&r)
        byMAC[mac] = r
    }

    mutating func remove(_ mac: [UInt8]) {
        if let r = byMAC.removeValue(forKey: mac) { owner[r.address.value] = nil }
        offerOnly.remove(mac)
    }

    /// Holds `a` back until `until`. Holds that have lapsed are forgotten, and beyond
    /// `maxDeclined` the oldest hold ends: DECLINEs cannot take more than that share.
    mutating func decline(_ a: IPv4Address, until: Instant, at now: Instant) {
        declinedUntil = declinedUntil.filter { $0.value > now }
        declinedUntil[a.value] = until
        while declinedUntil.count > maxDeclined,
              let oldest = declinedUntil.min(by: { $0.value < $1.value || ($0.value == $1.value && $0.key < $1.key) }) {
            declinedUntil[oldest.key] = nil
        }
        if let o = owner[a.value] { remove(o) }
    }

    var all: [LeaseRecord] { Array(byMAC.values) }
}
