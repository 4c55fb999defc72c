import BootWire

/// The ports a daemon runs on. Production fills them with SwiftNIO and friends (BootNIO);
/// the simulator with SimNet's in-memory versions. The daemon code is the same.
public struct DaemonPorts {
    public var clock: any Clock
    public var leaseStore: any LeaseStore
    public var authority: (any AccessAuthority)?
    /// Sends DHCP replies (bound to the DHCP port) and notify datagrams.
    public var dhcpTransport: (any Transport)?
    /// Sends from the TFTP listening port (errors that answer a request directly).
    public var tftpTransport: (any Transport)?
    /// Opens one port per TFTP transfer.
    public var ports: (any PortFactory)?
    public var files: (any FileSource)?
    public var log: (LogRecord) -> Void
    /// Group commit of the lease store: runs its argument once the datagrams at hand have
    /// been handled (production: the next task of the event loop, after a batch of reads).
    /// nil: the store is synced at once, before each reply that depends on it.
    public var deferSync: ((@escaping () -> Void) -> Void)?

    public init(clock: any Clock, leaseStore: any LeaseStore, authority: (any AccessAuthority)? = nil,
                dhcpTransport: (any Transport)? = nil, tftpTransport: (any Transport)? = nil,
                ports: (any PortFactory)? = nil, files: (any FileSource)? = nil,
                log: @escaping (LogRecord) -> Void = { _ in }) {
        self.clock = clock; self.leaseStore = leaseStore; self.authority = authority
        self.dhcpTransport = dhcpTransport; self.tftpTransport = tftpTransport
        self.ports = ports; self.files = files; self.log = log
    }
}

/// The daemon composition: engines wired to ports. Both `bootd` and the simulator start
/// this object; it carries out the engines' actions in the order they are given (a lease
/// is stored before the ACK that depends on it is sent; notify goes after the reply).
///
/// Confined to one thread: every call (datagrams, answers, timers) must come from the
/// loop the ports call back on.
public final class BootDaemon {
    public let dhcp: DHCPServer?
    public let tftp: TFTPServer?
    let ports: DaemonPorts
    private var dhcpWakes: Set<Int64> = []
    private var tftpWakes: Set<Int64> = []
    private var sessionPorts: [TFTPSessionID: any BoundPort] = [:]
    private var stopped = false
    /// DHCP replies waiting for the lease store's sync (in the order they were made).
    private var heldReplies: [Datagram] = []
    private var syncScheduled = false

    public init(dhcp: DHCPServerSettings?, tftp: TFTPServerSettings?, ports: DaemonPorts) {
        self.ports = ports
        self.dhcp = dhcp.map { DHCPServer(settings: $0, leases: ports.leaseStore.load()) }
        self.tftp = tftp.map { TFTPServer(settings: $0) }
    }

    /// Open TFTP transfer ports (one per transfer).
    public var openTransferPorts: Int { sessionPorts.count }

    /// Replies held until the lease store syncs (group commit).
    public var repliesAwaitingSync: Int { heldReplies.count }

    /// Stops answering and closes every transfer port. Replies still waiting for a lease
    /// sync are dropped (the clients ask again); the owner of the lease store flushes it on
    /// a graceful stop, and a crash loses only leases that no client was told about.
    public func stop() {
        stopped = true
        heldReplies.removeAll()
        for (_, p) in sessionPorts { p.close() }
        sessionPorts.removeAll()
    }

    // MARK: DHCP

    /// A datagram arrived on the DHCP port.
    public func receiveDHCP(_ datagram: Datagram) {
        guard !stopped, let dhcp else { return }
        perform(dhcp.handle(datagram, at: ports.clock.now))
    }

    func perform(_ actions: [DHCPServerAction]) {
        var afterStore = false
        for action in actions {
            switch action {
            case let .send(d), let .notify(d):
                // A reply that follows a lease change leaves only once the change is durable;
                // once one reply waits, later ones wait behind it (order is kept).
                if !heldReplies.isEmpty || (afterStore && ports.leaseStore.hasUnsyncedChanges) {
                    heldReplies.append(d)
                    scheduleSync()
                } else {
                    ports.dhcpTransport?.send(d)
                }
            case let .storeLease(r):
                ports.leaseStore.store(r)
                afterStore = true
            case let .removeLease(mac):
                ports.leaseStore.remove(mac: mac)
                afterStore = true
            case let .queryAuthority(q, id):
                guard let authority = ports.authority else {
                    perform(dhcp?.authorityAnswered(id: id, .failed("no authority configured"), at: ports.clock.now) ?? [])
                    continue
                }
                authority.query(q) { [weak self] answer in
                    guard let self, !self.stopped, let dhcp = self.dhcp else { return }
                    self.perform(dhcp.authorityAnswered(id: id, answer, at: self.ports.clock.now))
                }
            case let .wakeUp(at):
                // One timer per instant is enough: wake handles everything due.
                guard dhcpWakes.insert(at.nanoseconds).inserted else { continue }
                ports.clock.schedule(at: at) { [weak self] in
                    guard let self, !self.stopped, let dhcp = self.dhcp else { return }
                    self.dhcpWakes.remove(at.nanoseconds)
                    self.perform(dhcp.wake(at: self.ports.clock.now))
                }
            case let .log(record):
                ports.log(record)
            }
        }
        // Changes with no reply waiting (RELEASE, DECLINE) are synced with the next batch.
        if ports.leaseStore.hasUnsyncedChanges { scheduleSync() }
    }

    private func scheduleSync() {
        guard let deferSync = ports.deferSync else { commitLeases(); return }
        guard !syncScheduled else { return }
        syncScheduled = true
        deferSync { [weak self] in self?.commitLeases() }
    }

    /// One sync for every change made since the last, then the replies that waited for it.
    /// When the store could not make the changes durable, no reply that depends on them
    /// leaves: they are dropped, logged and counted, and the clients' retransmissions ask
    /// again (an ACK is never sent for a lease a restart would forget).
    private func commitLeases() {
        syncScheduled = false
        guard !stopped else { return }
        let durable = ports.leaseStore.sync()
        let replies = heldReplies
        heldReplies.removeAll()
        guard durable else {
            leaseSyncFailures += 1
            repliesDroppedUnsynced += replies.count
            ports.log(LogRecord(.error, "lease store write failed (\(ports.leaseStore.failureReason ?? "no reason given")): \(replies.count) DHCP replies withheld, their clients will retry"))
            return
        }
        for d in replies { ports.dhcpTransport?.send(d) }
    }

    /// Syncs of the lease store that failed, and the replies withheld because of them.
    public private(set) var leaseSyncFailures = 0
    public private(set) var repliesDroppedUnsynced = 0

    // MARK: TFTP

    /// A datagram arrived on the TFTP listening port.
    public func receiveTFTP(_ datagram: Datagram) {
        guard !stopped, let tftp else { return }
        perform(tftp.handle(datagram, session: nil, at: ports.clock.now))
    }

    func perform(_ actions: [TFTPServerAction]) {
        guard let tftp else { return }
        for action in actions {
            switch action {
            case let .send(d, session?):
                if let port = sessionPorts[session] ?? openSessionPort(session, on: d.local.address) {
                    port.send(d)
                }
            case let .send(d, nil):
                ports.tftpTransport?.send(d)
            case let .openFile(id, path):
                guard let files = ports.files else {
                    perform(tftp.fileOpened(id, .failure(.notFound), at: ports.clock.now))
                    continue
                }
                files.open(path) { [weak self] result in
                    guard let self, !self.stopped else {
                        if case let .success(h) = result { files.close(h) }
                        return
                    }
                    let opened = result.map { (handle: $0, size: files.size(of: $0)) }
                    self.perform(tftp.fileOpened(id, opened, at: self.ports.clock.now))
                }
            case let .readFile(id, handle, offset, count):
                ports.files?.read(handle, offset: offset, count: count) { [weak self] result in
                    guard let self, !self.stopped else { return }
                    self.perform(tftp.dataRead(id, offset: offset, result, at: self.ports.clock.now))
                }
            case let .closeFile(handle):
                ports.files?.close(handle)
            case let .closeSessionPort(id):
                sessionPorts.removeValue(forKey: id)?.close()
            case let .wakeUp(at):
                guard tftpWakes.insert(at.nanoseconds).inserted else { continue }
                ports.clock.schedule(at: at) { [weak self] in
                    guard let self, !self.stopped else { return }
                    self.tftpWakes.remove(at.nanoseconds)
                    self.perform(tftp.wake(at: self.ports.clock.now))
                }
            case let .log(record):
                ports.log(record)
            }
        }
    }

    /// RFC 1350: each transfer gets its own port (TID), bound on the address the request
    /// came to, so the reply leaves from the address the client talked to.
    private func openSessionPort(_ id: TFTPSessionID, on address: IPv4Address) -> (any BoundPort)? {
        guard let factory = ports.ports else {
            ports.log(LogRecord(.error, "no port factory: cannot open a TFTP transfer port"))
            return nil
        }
        let bindAddress = address == .broadcast ? IPv4Address.any : address
        guard let port = factory.openPort(address: bindAddress, port: 0, receive: { [weak self] d in
            guard let self, !self.stopped, let tftp = self.tftp else { return }
            self.perform(tftp.handle(d, session: id, at: self.ports.clock.now))
        }) else {
            ports.log(LogRecord(.error, "cannot open a TFTP transfer port on \(bindAddress)"))
            return nil
        }
        sessionPorts[id] = port
        return port
    }
}
