import BootCore
import BootWire
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Sees every datagram the daemon receives (`sent == false`) and sends: `--capture`.
public typealias DatagramTap = (_ datagram: Datagram, _ sent: Bool) -> Void

/// Why a UDP port could not be opened, said so a user can fix it.
public struct PortOpenError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }

    static func explain(_ error: any Error, service: String, address: IPv4Address, port: UInt16) -> PortOpenError {
        var errnoCode: Int32?
        if let e = error as? IOError { errnoCode = e.errnoCode }
        let what = "\(service): cannot listen on UDP \(address):\(port)"
        switch errnoCode {
        case EACCES?, EPERM?:
            return PortOpenError("\(what): permission denied (ports below 1024 need root: run as root or grant CAP_NET_BIND_SERVICE, e.g. `setcap cap_net_bind_service=+ep bootd`)")
        case EADDRINUSE?:
            return PortOpenError("\(what): address in use (another DHCP/TFTP server is running on this port?)")
        case EADDRNOTAVAIL?:
            return PortOpenError("\(what): \(address) is not an address of this host")
        default:
            return PortOpenError("\(what): \(error)")
        }
    }
}

/// Datagram channel handler: hands each received datagram, with the destination address
/// and interface from IP_PKTINFO, to the daemon on the channel's loop.
final class DatagramReceiver: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let local: Endpoint
    let receive: (Datagram) -> Void
    /// Our own addresses and port: datagrams from them are our own broadcasts coming back.
    let isOwn: (_ peer: Endpoint, _ localPort: UInt16) -> Bool

    init(local: Endpoint, isOwn: @escaping (_ peer: Endpoint, _ localPort: UInt16) -> Bool,
         priority: ((Datagram) -> Bool)? = nil, receive: @escaping (Datagram) -> Void) {
        self.local = local; self.receive = receive; self.isOwn = isOwn; self.priority = priority
    }

    /// The port the socket is bound to: known only once bound (the initializer runs before
    /// the bind, when the socket's own address still reads port 0).
    private var boundPort: UInt16?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let peer = envelope.remoteAddress.bootEndpoint else { return }
        if boundPort == nil { boundPort = (context.channel.localAddress?.port).map { UInt16($0) } ?? local.port }
        let local = Endpoint(self.local.address, boundPort ?? self.local.port)
        if isOwn(peer, local.port) { return }
        var destination = local.address
        var interface = 0
        if let info = envelope.metadata?.packetInfo {
            if let d = info.destinationAddress.bootEndpoint { destination = d.address }
            interface = info.interfaceIndex
        }
        var buffer = envelope.data
        let payload = buffer.readBytes(length: buffer.readableBytes) ?? []
        let d = Datagram(payload: payload, peer: peer, local: Endpoint(destination, local.port), interface: interface)
        guard let priority else { receive(d); return }
        if priority(d) { urgent.append(d) } else { deferred.append(d) }
    }

    /// With a `priority`, the datagrams of one read burst are handed over when the burst
    /// ends, the urgent ones first (each kind in arrival order).
    let priority: ((Datagram) -> Bool)?
    private var urgent: [Datagram] = []
    private var deferred: [Datagram] = []

    func channelReadComplete(context: ChannelHandlerContext) {
        guard priority != nil, !(urgent.isEmpty && deferred.isEmpty) else { return }
        let first = urgent, then = deferred
        urgent.removeAll(keepingCapacity: true)
        deferred.removeAll(keepingCapacity: true)
        for d in first { receive(d) }
        for d in then { receive(d) }
    }


    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port unreachable from a vanished client and the like: never fatal for a UDP server.
    }
}

extension SocketAddress {
    var bootEndpoint: Endpoint? {
        guard case let .v4(a) = self else { return nil }
        return Endpoint(BootWire.IPv4Address(UInt32(bigEndian: a.address.sin_addr.s_addr)), UInt16(bigEndian: a.address.sin_port))
    }
    init(_ e: Endpoint) {
        self = SocketAddress(SocketCalls.address(e), host: e.address.description)
    }
}

/// One UDP socket of the daemon on a NIO datagram channel: the DHCP port, the TFTP port,
/// or one TFTP transfer's port. Confined to its event loop: `send` and `close` must be
/// called on it (the daemon is).
public final class UDPPort: BoundPort {
    public let local: Endpoint
    let loop: any EventLoop
    private var channel: (any Channel)?
    /// Datagrams sent before the channel finished registering (transfer ports are bound
    /// synchronously but registered asynchronously).
    private var pending: [Datagram] = []
    private var closed = false
    private let tap: DatagramTap?
    /// Maps the well-known destination ports 67/68 for test setups on high ports.
    private let portMap: @Sendable (UInt16) -> UInt16
    public private(set) var sendErrors = 0
    /// A listening port's receive buffer in bytes, as the kernel granted it.
    public internal(set) var receiveBufferBytes = 0

    init(local: Endpoint, loop: any EventLoop, tap: DatagramTap?, batch: FlushBatch? = nil,
         portMap: @escaping @Sendable (UInt16) -> UInt16 = { $0 }) {
        self.local = local; self.loop = loop; self.tap = tap; self.portMap = portMap
        self.batch = batch ?? FlushBatch(loop: loop)
    }

    func attach(_ channel: any Channel) {
        loop.preconditionInEventLoop()
        if closed { channel.close(promise: nil); return }
        self.channel = channel
        let queued = pending
        pending = []
        for d in queued { send(d) }
    }

    public func send(_ datagram: Datagram) {
        guard !closed else { return }
        guard channel != nil else { pending.append(datagram); return }
        var d = datagram
        d.peer.port = portMap(d.peer.port)
        if d.local.address == .any || d.local.address == .broadcast { d.local.address = local.address }
        d.local.port = local.port
        tap?(d, true)
        if fd >= 0 && !viaNIO { sendDirect(d); return }
        if listenFD >= 0 {
            // A listening port: gathered, and sent with one sendmmsg at the flush — unless
            // NIO still holds writes of ours (the socket was full), which go first.
            if nioOutstanding == 0 { gathered.append((d.payload, d.peer)) } else { nioWriteCounted(d.payload[...], to: d.peer) }
            scheduleFlush()
            return
        }
        // A transfer port whose socket was full once: through NIO.
        nioWrite(d.payload[...], to: d.peer)
        // One flush for every datagram written in this loop iteration: NIO sends them with
        // one sendmmsg (a window of TFTP blocks).
        scheduleFlush()
    }

    // MARK: Listening ports: one sendmmsg per loop iteration

    /// A listening port's own socket (created and bound by `listen`, then registered with
    /// NIO, which closes it): its replies of a loop iteration — a burst of OFFERs and ACKs
    /// (an ACK waits for its lease's group commit, so they leave together), or every
    /// transfer's next block with `single_port` — are sent by one sendmmsg(2) at the flush,
    /// not through NIO's write path (an envelope, a buffer, its queue per datagram: a
    /// sixth of the server's CPU in a `single_port` storm). -1: not a listening port.
    var listenFD: Int32 = -1
    private var gathered: [(payload: [UInt8], peer: Endpoint)] = []
    private lazy var datagramBatch = DatagramBatch()
    /// The sendmmsg (tests make the kernel refuse with it): the number sent or -errno.
    lazy var batchCall: (_ fd: Int32, _ datagrams: ArraySlice<(payload: [UInt8], peer: Endpoint)>) -> Int = { [unowned self] fd, d in
        self.datagramBatch.send(fd, d)
    }
    /// Writes handed to NIO (the socket's send buffer was full) and not yet done: until
    /// they are, later datagrams queue behind them in NIO, so none overtakes another.
    private var nioOutstanding = 0

    private func writeGathered() {
        var at = 0
        defer { gathered.removeAll(keepingCapacity: true) }
        while at < gathered.count {
            let sent = batchCall(listenFD, gathered[at...])
            if sent > 0 { at += sent; continue }
            let error = Int32(-sent)
            if error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS {
                // Full: NIO sends the rest when the socket drains.
                // (flushNow and close flush the channel right after.)
                while at < gathered.count { nioWriteCounted(gathered[at].payload[...], to: gathered[at].peer); at += 1 }
                return
            }
            // This datagram refused (an unreachable network, a broadcast not allowed): lost,
            // as a write through NIO would be; the client retransmits.
            sendErrors += 1
            at += 1
        }
    }

    /// `nioWrite`, counted in `nioOutstanding` until NIO has sent it.
    private func nioWriteCounted(_ payload: ArraySlice<UInt8>, to peer: Endpoint) {
        guard channel != nil else { return }
        nioOutstanding += 1
        let promise = loop.makePromise(of: Void.self)
        let me = NIOLoopBound(self, eventLoop: loop)
        promise.futureResult.whenComplete { _ in me.value.nioOutstanding -= 1 }
        nioWrite(payload, to: peer, promise: promise)
    }

    // MARK: Transfer ports: straight to the socket

    /// A transfer port writes its datagrams with its own sendmsg(2) on the socket it created,
    /// not through NIO's write path: a lock-step transfer sends one block per ACK, and NIO's
    /// per-write work (an envelope, a buffer copy, its queue, a flush) cost more than the
    /// block's own processing. Only when the kernel answers EAGAIN (the socket's send buffer
    /// is full: a large window) does the port hand its writes to NIO, which waits for the
    /// socket to drain, and it stays with NIO from then on so nothing overtakes a queued write.
    private var viaNIO = false
    /// A run of same-size datagrams to one peer sent straight as one segmented write (GSO).
    private var directRun: (peer: Endpoint, size: Int, count: Int)?
    /// The system call (tests make the kernel refuse with it).
    var sendCall: SendCall = SocketCalls.send
    private var runBytes: [UInt8] = []

    private func sendDirect(_ d: Datagram) {
        if let segmentation, segmentation.enabled, d.payload.count >= Segmentation.minimumSegment {
            if directRun == nil && !flushScheduled {
                // The first block of a window leaves at once, on its own (a lock-step block
                // too); the rest of the window gathers into one segmented write at the flush.
                transmit(d.payload[...], to: d.peer)
                scheduleFlush()
                return
            }
            if let r = directRun, r.peer == d.peer, r.size == d.payload.count, r.count < Segmentation.maximumSegments,
               runBytes.count + d.payload.count <= Segmentation.maximumBytes {
                runBytes.append(contentsOf: d.payload)
                directRun!.count += 1
            } else {
                writeDirectRun()
                directRun = (d.peer, d.payload.count, 1)
                runBytes.append(contentsOf: d.payload)
            }
        } else {
            writeDirectRun()
            transmit(d.payload[...], to: d.peer)
        }
        scheduleFlush()
    }

    private func writeDirectRun() {
        guard let r = directRun else { return }
        directRun = nil
        defer { runBytes.removeAll(keepingCapacity: true) }
        if r.count == 1 { transmit(runBytes[...], to: r.peer); return }
        let error = runBytes.withUnsafeBytes { sendCall(fd, $0, r.peer, r.size) }
        if error == 0 { segmentation?.writes += 1; return }
        if error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS {
            handToNIO(runBytes[...], size: r.size, to: r.peer)
        } else if error == EIO || error == EINVAL || error == EOPNOTSUPP {
            // A device that cannot segment (no checksum offload: EIO): off for good, and
            // this run goes again one datagram at a time.
            segmentation?.failed(SocketCalls.Failure(errno: error))
            var at = 0
            while at < runBytes.count {
                let end = min(at + r.size, runBytes.count)
                transmit(runBytes[at..<end], to: r.peer)
                at = end
            }
        } else {
            sendErrors += 1
        }
    }

    /// One datagram straight to the socket. ICMP errors from the peer (ECONNREFUSED) and
    /// the like lose that datagram, as a write through NIO would; the transfer's own
    /// timeout and retransmission cover it.
    private func transmit(_ payload: ArraySlice<UInt8>, to peer: Endpoint) {
        if viaNIO { handToNIO(payload, size: payload.count, to: peer); return }
        let error = payload.withUnsafeBytes { sendCall(fd, $0, peer, nil) }
        if error == 0 { return }
        if error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS {
            handToNIO(payload, size: payload.count, to: peer)
        } else {
            sendErrors += 1
        }
    }

    /// The socket is full: from now on this port writes through NIO (in order: these
    /// datagrams, `size` bytes each, first), which sends them when the socket drains.
    private func handToNIO(_ bytes: ArraySlice<UInt8>, size: Int, to peer: Endpoint) {
        viaNIO = true
        var at = bytes.startIndex
        while at < bytes.endIndex {
            let end = min(at + max(size, 1), bytes.endIndex)
            nioWrite(bytes[at..<end], to: peer)
            at = end
        }
        scheduleFlush()
    }

    /// One datagram queued on the channel, sent at the loop iteration's flush.
    private func nioWrite(_ payload: ArraySlice<UInt8>, to peer: Endpoint, promise: EventLoopPromise<Void>? = nil) {
        guard let channel else { return }
        var b = channel.allocator.buffer(capacity: payload.count)
        b.writeBytes(payload)
        channel.write(AddressedEnvelope(remoteAddress: socketAddress(peer), data: b), promise: promise)
    }

    /// A transfer port talks to one peer: its socket address is built once, not per block.
    private func socketAddress(_ peer: Endpoint) -> SocketAddress {
        if peer != lastPeer?.0 { lastPeer = (peer, SocketAddress(peer)) }
        return lastPeer!.1
    }

    /// UDP GSO (Linux UDP_SEGMENT) on transfer ports: datagrams of one size to one peer sent
    /// in one loop iteration (a window of TFTP blocks: the block number is in each
    /// datagram, so each is whole) are written as one buffer that the kernel cuts into
    /// those datagrams, one trip through the network stack instead of one per block. A
    /// shorter datagram (the last block) ends the run and leaves after it, in order.
    var segmentation: Segmentation?
    fileprivate var flushScheduled = false
    /// This port's writes of the loop iteration are flushed (and its socket busy-polled) with
    /// the batch, once.
    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        batch.add(self)
    }
    /// The socket of a transfer port (for busy polling), -1 otherwise.
    fileprivate var fd: Int32 = -1
    /// Who flushes this port once per loop iteration: the transfer ports of one factory
    /// share one flush task (a storm of lock-step transfers writes one block on each of
    /// hundreds of ports per iteration); a listening port has its own.
    fileprivate let batch: FlushBatch
    fileprivate func flushNow() {
        flushScheduled = false
        if !gathered.isEmpty { writeGathered() }
        writeDirectRun()
        if fd < 0 || viaNIO { channel?.flush() }
    }
    private var lastPeer: (Endpoint, SocketAddress)?

    public func close() {
        guard !closed else { return }
        closed = true
        pending = []
        if flushScheduled {   // a last ERROR or DATA still leaves
            if !gathered.isEmpty { writeGathered() }
            writeDirectRun(); channel?.flush()
        }
        fd = -1; listenFD = -1   // NIO closes it; the number may be reused at once
        channel?.close(promise: nil)
        channel = nil
    }

    public var isOpen: Bool { !closed }
}

/// Whether transfer ports use UDP GSO: on when the kernel supports it (`System.
/// supportsUDPSegmentationOffload`) and `[tftpd] gso` is on; off for good after the first
/// segmented write the kernel refuses (a device without checksum offload), said once.
public final class Segmentation: @unchecked Sendable {
    /// Confined to the event loop, like the ports.
    var enabled = true
    let onFailure: (String) -> Void
    /// Below this, a datagram is not worth a segmented write (ACKs, OACKs, errors).
    static let minimumSegment = 512
    /// The kernel's limits: 64 segments, and the whole buffer in one IP datagram's length.
    static let maximumSegments = 64
    static let maximumBytes = 65_000
    /// Segmented writes made (each carries 2 to 64 datagrams).
    var writes = 0
    init(onFailure: @escaping (String) -> Void) { self.onFailure = onFailure }
    func failed(_ error: any Error) {
        guard enabled else { return }
        enabled = false
        onFailure("UDP GSO refused by the kernel (\(error)): TFTP windows are sent one datagram at a time from now on")
    }
}

/// sendmsg(2) of a datagram or a segmented run: 0 or the errno.
typealias SendCall = (_ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ to: Endpoint, _ segmentSize: Int?) -> Int32

/// Ports with writes waiting for their flush, flushed together once per loop iteration.
final class FlushBatch {
    let loop: any EventLoop
    private var ports: [UDPPort] = []
    private var scheduled = false
    init(loop: any EventLoop) { self.loop = loop }

    fileprivate func add(_ port: UDPPort) {
        ports.append(port)
        guard !scheduled else { return }
        scheduled = true
        let me = NIOLoopBound(self, eventLoop: loop)
        loop.execute { me.value.flush() }
    }

    private func flush() {
        scheduled = false
        let due = ports
        ports.removeAll(keepingCapacity: true)
        for p in due { p.flushNow() }
        if spinNanoseconds > 0 { spin(due) }
    }

    /// Busy polling (`[tftpd] busy_poll`): after sending on transfer ports, poll those
    /// sockets (poll(2), no timeout) until one is readable or this long has passed, instead
    /// of letting the loop sleep in epoll_wait. The ACK that answers a block is then read
    /// at once, without waking an idle CPU (in a VM, a halt and an interrupt). The spin
    /// ends as soon as anything arrives, so it never delays a datagram; a datagram on
    /// another socket (a new request) waits at most this long. 0: off.
    var spinNanoseconds: UInt64 = 0
    private var pollSet: [pollfd] = []
    private func spin(_ sent: [UDPPort]) {
        pollSet.removeAll(keepingCapacity: true)
        for p in sent where p.fd >= 0 && pollSet.count < 64 {
            pollSet.append(pollfd(fd: p.fd, events: Int16(POLLIN), revents: 0))
        }
        guard !pollSet.isEmpty else { return }
        let until = NIODeadline.now().uptimeNanoseconds + spinNanoseconds
        let n = nfds_t(pollSet.count)
        repeat {
            if poll(&pollSet, n, 0) != 0 { return }   // readable (or an error: let NIO see it)
        } while NIODeadline.now().uptimeNanoseconds < until
    }
}

/// Opens the daemon's UDP ports on one event loop.
public final class NIOPortFactory: PortFactory {
    public let loop: any EventLoop
    let tap: DatagramTap?
    /// Open transfer ports, for the daemon's accounting.
    public private(set) var opened = 0
    public private(set) var failures = 0
    /// The largest datagram a transfer port receives whole (longer ones are truncated).
    /// The server's transfer ports receive only ACKs and ERRORs, so 2 KiB is plenty; NIO
    /// keeps one receive buffer of this size per open socket, and at 64 KiB 1,000
    /// transfers held 64 MiB of them. A client receiving DATA sets blksize + 4.
    public var transferReceiveSize = 2048

    private let batch: FlushBatch
    /// The transfer ports' send call (tests make the kernel refuse with it).
    var sendCall: SendCall = SocketCalls.send

    /// Busy polling on the transfer ports (`[tftpd] busy_poll`): after sending, the loop
    /// keeps polling its sockets for this long instead of sleeping until the next datagram.
    /// A lock-step transfer's ACK then needs no wake-up of an idle CPU, at the price of
    /// that CPU spinning while transfers run. Zero (the default): off.
    public var busyPoll: Duration {
        get { .nanoseconds(Int64(batch.spinNanoseconds)) }
        set { batch.spinNanoseconds = UInt64(max(0, newValue.nanosecondCount)) }
    }

    public init(loop: any EventLoop, tap: DatagramTap? = nil) {
        self.loop = loop; self.tap = tap
        batch = FlushBatch(loop: loop)
    }

    /// UDP GSO on the transfer ports opened from now on, when this kernel has it (`onFailure`
    /// says once that a refusal turned it off). Returns whether it is on.
    @discardableResult
    public func enableSegmentation(onFailure: @escaping (String) -> Void = { _ in }) -> Bool {
        segmentation = System.supportsUDPSegmentationOffload ? Segmentation(onFailure: onFailure) : nil
        return segmentation != nil
    }
    private var segmentation: Segmentation?
    /// Segmented (GSO) writes made by this factory's transfer ports; nil when GSO is off.
    public var segmentedWrites: Int? { segmentation.map(\.writes) }

    /// A listening port (DHCP or TFTP), bound before the daemon starts; `receive` runs on
    /// `loop`. Broadcast and packet info on; `interfaceIndex` binds the socket to one
    /// interface (Linux SO_BINDTOIFINDEX) so replies to 255.255.255.255 leave through it.
    public static func listen(service: String, on loop: any EventLoop, address: IPv4Address, port: UInt16,
                              interfaceIndex: Int? = nil, tap: DatagramTap? = nil,
                              ownAddresses: Set<IPv4Address> = [],
                              portMap: @escaping @Sendable (UInt16) -> UInt16 = { $0 },
                              receiveBuffer: Int = defaultReceiveBuffer,
                              priority: (@Sendable (Datagram) -> Bool)? = nil,
                              receive: @escaping @Sendable (Datagram) -> Void) throws(PortOpenError) -> UDPPort {
        let box = ReceiveBox()
        box.tap = tap
        // A storm of clients powering on at once: read up to 32 datagrams per system call
        // (recvmmsg), 4 KiB each (a DHCP or TFTP request is far smaller), 16 calls per
        // loop iteration before the loop turns to its other work.
        //
        // The socket is ours (created and bound here, then handed to NIO, which reads it and
        // closes it): replies leave by our own sendmmsg on it (`listenFD`).
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else {
            throw PortOpenError.explain(IOError(errnoCode: errno, reason: "socket"), service: service, address: address, port: port)
        }
        var failure = SocketCalls.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1) && SocketCalls.setOption(fd, SOL_SOCKET, SO_BROADCAST, 1)
            ? nil : IOError(errnoCode: errno, reason: "setsockopt")
        #if os(Linux)
        if failure == nil, let interfaceIndex, interfaceIndex > 0,
           !SocketCalls.setOption(fd, SOL_SOCKET, 62, Int32(interfaceIndex)) {   // SO_BINDTOIFINDEX
            failure = IOError(errnoCode: errno, reason: "SO_BINDTOIFINDEX")
        }
        #endif
        if failure == nil, SocketCalls.bind(fd, to: Endpoint(address, port)) != 0 {
            failure = IOError(errnoCode: errno, reason: "bind")
        }
        if let failure {
            Glibc.close(fd)
            throw PortOpenError.explain(failure, service: service, address: address, port: port)
        }
        var bootstrap = DatagramBootstrap(group: loop)
            .channelOption(.receivePacketInfo, value: true)
            .channelOption(.datagramVectorReadMessageCount, value: vectorReadCount)
            .channelOption(.maxMessagesPerRead, value: 16)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: vectorReadCount * 4096))
        bootstrap = bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let handler = DatagramReceiver(local: Endpoint(address, port), isOwn: { peer, localPort in
                    peer.port == localPort && (ownAddresses.contains(peer.address) || peer.address == address)
                }, priority: priority, receive: { d in
                    box.tap?(d, false)
                    receive(d)
                })
                try channel.pipeline.syncOperations.addHandler(handler)
            }
        }
        let channel: any Channel
        do {
            channel = try bootstrap.withBoundSocket(fd).wait()
        } catch {
            throw PortOpenError.explain(error, service: service, address: address, port: port)
        }
        setReceiveBuffer(channel, bytes: receiveBuffer)
        let bound = SocketCalls.localEndpoint(fd)?.port ?? port
        let p = UDPPort(local: Endpoint(address, bound), loop: loop, tap: tap, portMap: portMap)
        p.listenFD = fd
        // What the kernel granted (it reports twice the bytes asked, for its bookkeeping).
        p.receiveBufferBytes = (try? channel.getOption(.socketOption(.so_rcvbuf)).wait()).map { Int($0) / 2 } ?? 0
        let port = Unchecked(p)
        try? loop.submit { port.value.attach(channel) }.wait()
        return p
    }

    /// Datagrams per recvmmsg on the listening ports.
    public static let vectorReadCount = 32
    /// The listening ports' receive buffer. The kernel's default (about 208 KiB) holds some
    /// 400 DISCOVERs: a rack powering on at once overflows it before the first is read.
    public static let defaultReceiveBuffer = 8 << 20

    /// SO_RCVBUFFORCE when allowed (root or CAP_NET_ADMIN: past net.core.rmem_max), else
    /// SO_RCVBUF (capped by net.core.rmem_max).
    static func setReceiveBuffer(_ channel: any Channel, bytes: Int) {
        guard bytes > 0 else { return }
        let value = SocketOptionValue(min(bytes, Int(Int32.max / 2)))
        #if os(Linux)
        let force = ChannelOptions.Types.SocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(33))
        if (try? channel.setOption(force, value: value).wait()) != nil { return }
        #endif
        _ = try? channel.setOption(.socketOption(.so_rcvbuf), value: value).wait()
    }

    /// One transfer's port: the socket is created and bound synchronously (so the chosen
    /// port is known at once and a failure is reported at once), then registered on the
    /// loop; datagrams sent meanwhile are queued.
    public func openPort(address: IPv4Address, port: UInt16, receive: @escaping (Datagram) -> Void) -> (any BoundPort)? {
        loop.preconditionInEventLoop()
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { failures += 1; return nil }
        // No IP_PKTINFO here: the port is bound to one address (the one the request came
        // to) and talks to one peer, so the destination is known without a control
        // message per datagram.
        guard SocketCalls.bind(fd, to: Endpoint(address, port)) == 0, let bound = SocketCalls.localEndpoint(fd) else {
            Glibc.close(fd); failures += 1; return nil
        }
        let local = Endpoint(address, bound.port)
        let p = UDPPort(local: local, loop: loop, tap: tap, batch: batch)
        p.fd = fd
        p.segmentation = segmentation
        p.sendCall = sendCall
        let receiveBound = NIOLoopBound(receive, eventLoop: loop)
        let portBound = NIOLoopBound(p, eventLoop: loop)
        let tap = NIOLoopBound(self.tap, eventLoop: loop)
        // One datagram per read: a transfer has at most one ACK in flight, and reading on
        // to EAGAIN would cost a second recvmsg per ACK. (NIO's epoll is level-triggered:
        // anything left is read on the next iteration.)
        DatagramBootstrap(group: loop)
            .channelOption(.maxMessagesPerRead, value: 1)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: transferReceiveSize))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let r = receiveBound.value
                    let t = tap.value
                    try channel.pipeline.syncOperations.addHandler(DatagramReceiver(local: local, isOwn: { _, _ in false }) { d in
                        t?(d, false)
                        r(d)
                    })
                }
            }
            .withBoundSocket(fd)
            .whenComplete { result in
                switch result {
                case .success(let channel): portBound.value.attach(channel)
                case .failure: portBound.value.close()
                }
            }
        opened += 1
        return p
    }
}

/// Carries the capture tap into the channel initializer (set before the first datagram).
final class ReceiveBox: @unchecked Sendable {
    var tap: DatagramTap?
}

/// The DHCP port's read order.
public enum DHCPIngress {
    /// DHCP: requests that complete an exchange (REQUEST, DECLINE, RELEASE, INFORM) before
    /// new DISCOVERs. Under overload the server then finishes the exchanges it started
    /// instead of starting ones it cannot finish (the rate does not collapse); DISCOVERs
    /// wait in the socket's receive buffer, and the clients' retransmissions cover the rest.
    public static func completesExchange(_ d: Datagram) -> Bool {
        let p = d.payload
        guard p.count > 240, p[236] == 99, p[237] == 130, p[238] == 83, p[239] == 99 else { return false }
        var i = 240
        while i < p.count {
            let code = p[i]
            if code == 0 { i += 1; continue }
            if code == 255 || i + 1 >= p.count { return false }
            let length = Int(p[i + 1])
            if code == 53, length == 1, i + 2 < p.count { return p[i + 2] != 1 }   // not DISCOVER
            i += 2 + length
        }
        return false
    }
}
