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
    let isOwn: (Endpoint) -> Bool

    init(local: Endpoint, isOwn: @escaping (Endpoint) -> Bool, receive: @escaping (Datagram) -> Void) {
        self.local = local; self.receive = receive; self.isOwn = isOwn
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let peer = envelope.remoteAddress.bootEndpoint else { return }
        if isOwn(peer) { return }
        var destination = local.address
        var interface = 0
        if let info = envelope.metadata?.packetInfo {
            if let d = info.destinationAddress.bootEndpoint { destination = d.address }
            interface = info.interfaceIndex
        }
        var buffer = envelope.data
        let payload = buffer.readBytes(length: buffer.readableBytes) ?? []
        receive(Datagram(payload: payload, peer: peer, local: Endpoint(destination, local.port), interface: interface))
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
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = e.port.bigEndian
        sin.sin_addr.s_addr = e.address.value.bigEndian
        self = SocketAddress(sin, host: e.address.description)
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

    init(local: Endpoint, loop: any EventLoop, tap: DatagramTap?, portMap: @escaping @Sendable (UInt16) -> UInt16 = { $0 }) {
        self.local = local; self.loop = loop; self.tap = tap; self.portMap = portMap
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
        guard let channel else { pending.append(datagram); return }
        var d = datagram
        d.peer.port = portMap(d.peer.port)
        if d.local.address == .any || d.local.address == .broadcast { d.local.address = local.address }
        d.local.port = local.port
        tap?(d, true)
        var buffer = channel.allocator.buffer(capacity: d.payload.count)
        buffer.writeBytes(d.payload)
        let envelope = AddressedEnvelope(remoteAddress: SocketAddress(d.peer), data: buffer)
        channel.write(envelope, promise: nil)
        channel.flush()
    }

    public func close() {
        guard !closed else { return }
        closed = true
        pending = []
        channel?.close(promise: nil)
        channel = nil
    }

    public var isOpen: Bool { !closed }
}

/// Opens the daemon's UDP ports on one event loop.
public final class NIOPortFactory: PortFactory {
    public let loop: any EventLoop
    let tap: DatagramTap?
    /// Open transfer ports, for the daemon's accounting.
    public private(set) var opened = 0
    public private(set) var failures = 0

    public init(loop: any EventLoop, tap: DatagramTap? = nil) {
        self.loop = loop; self.tap = tap
    }

    /// A listening port (DHCP or TFTP), bound before the daemon starts; `receive` runs on
    /// `loop`. Broadcast and packet info on; `interfaceIndex` binds the socket to one
    /// interface (Linux SO_BINDTOIFINDEX) so replies to 255.255.255.255 leave through it.
    public static func listen(service: String, on loop: any EventLoop, address: IPv4Address, port: UInt16,
                              interfaceIndex: Int? = nil, receiveBufferForced: Int? = nil, tap: DatagramTap? = nil,
                              ownAddresses: Set<IPv4Address> = [],
                              portMap: @escaping @Sendable (UInt16) -> UInt16 = { $0 },
                              receive: @escaping @Sendable (Datagram) -> Void) throws(PortOpenError) -> UDPPort {
        let box = ReceiveBox()
        box.tap = tap
        var bootstrap = DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_broadcast), value: 1)
            .channelOption(.receivePacketInfo, value: true)
            .channelOption(.maxMessagesPerRead, value: 16)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65536))
        #if os(Linux)
        if let interfaceIndex, interfaceIndex > 0 {
            bootstrap = bootstrap.channelOption(.socketOption(.init(rawValue: 62)), value: SocketOptionValue(interfaceIndex))
        }
        // SO_RCVBUFFORCE (33): past net.core.rmem_max; needs CAP_NET_ADMIN (the bind fails without).
        if let receiveBufferForced {
            bootstrap = bootstrap.channelOption(.socketOption(.init(rawValue: 33)), value: SocketOptionValue(receiveBufferForced))
        }
        #endif
        bootstrap = bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let local = Endpoint(address, (channel.localAddress?.port).map { UInt16($0) } ?? port)
                let handler = DatagramReceiver(local: local, isOwn: { peer in
                    peer.port == local.port && (ownAddresses.contains(peer.address) || peer.address == address)
                }, receive: { d in
                    box.tap?(d, false)
                    receive(d)
                })
                try channel.pipeline.syncOperations.addHandler(handler)
            }
        }
        let channel: any Channel
        do {
            channel = try bootstrap.bind(host: address.description, port: Int(port)).wait()
        } catch {
            throw PortOpenError.explain(error, service: service, address: address, port: port)
        }
        let bound = (channel.localAddress?.port).map { UInt16($0) } ?? port
        let p = UDPPort(local: Endpoint(address, bound), loop: loop, tap: tap, portMap: portMap)
        let port = Unchecked(p)
        try? loop.submit { port.value.attach(channel) }.wait()
        return p
    }

    /// One transfer's port: the socket is created and bound synchronously (so the chosen
    /// port is known at once and a failure is reported at once), then registered on the
    /// loop; datagrams sent meanwhile are queued.
    public func openPort(address: IPv4Address, port: UInt16, receive: @escaping (Datagram) -> Void) -> (any BoundPort)? {
        loop.preconditionInEventLoop()
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { failures += 1; return nil }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_IP, IP_PKTINFO, &one, socklen_t(MemoryLayout<Int32>.size))
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        sin.sin_addr.s_addr = address.value.bigEndian
        let rc = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc2 = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard rc == 0, rc2 == 0 else { Glibc.close(fd); failures += 1; return nil }
        let local = Endpoint(address, UInt16(bigEndian: bound.sin_port))
        let p = UDPPort(local: local, loop: loop, tap: tap)
        let receiveBound = NIOLoopBound(receive, eventLoop: loop)
        let portBound = NIOLoopBound(p, eventLoop: loop)
        let tap = NIOLoopBound(self.tap, eventLoop: loop)
        DatagramBootstrap(group: loop)
            .channelOption(.receivePacketInfo, value: true)
            .channelOption(.maxMessagesPerRead, value: 16)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65536))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let r = receiveBound.value
                    let t = tap.value
                    try channel.pipeline.syncOperations.addHandler(DatagramReceiver(local: local, isOwn: { _ in false }) { d in
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
