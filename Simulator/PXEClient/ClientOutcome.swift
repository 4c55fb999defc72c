import BootWire
import BootCore

/// What a client asks its transport to do, in order.
public enum ClientAction: Hashable, Sendable {
    /// Send this datagram: `peer` is the destination, `local` the source address and port.
    case send(Datagram)
    /// Listen on this UDP port (68 for DHCP, the chosen TFTP port) and hand what arrives to
    /// `receive(_:at:)`.
    case bindPort(UInt16)
    /// Stop listening on this port.
    case releasePort(UInt16)
    /// Call `wake(at:)` at this instant. Earlier or stale wake-ups are harmless.
    case wakeUp(at: Instant)
    /// Fetch this URL; report through `httpCompleted(status:body:at:)`.
    case httpGet(String)
    /// The client is done; nothing more will come from it.
    /// (Boxed: the outcome is large, and every other action is copied per datagram.)
    indirect case finished(ClientOutcome)
}

/// Why a boot failed.
public enum ClientFailure: Hashable, Sendable {
    /// No OFFER at all after the whole retransmission schedule.
    case noOffer
    /// OFFERs came, but none named a boot file (a PXE ROM needs one).
    case noBootFile
    /// The REQUEST went unanswered after the whole schedule.
    case noAck
    /// This many NAKs in a row.
    case nakLoop(Int)
    /// No TFTP server could be derived from the ACK (no siaddr, 66 or 54).
    case noTFTPServer
    case tftpError(code: UInt16, message: String)
    case tftpTimeout
    /// The server's OACK granted something not asked for, or more than asked.
    case badOACK(String)
    /// A DATA block larger than the negotiated blksize, and the like.
    case tftpProtocol(String)
    /// The file is not the size the OACK announced.
    case badTsize(announced: Int, received: Int)
    /// More than `ClientOptions.maximumFileSize` bytes.
    case fileTooLarge
    case httpError(status: Int)
    case httpTimeout
}

/// When each phase started and ended, on the instants the events carried.
public struct ClientTimings: Hashable, Sendable {
    public var started: Instant?
    public var dhcpStarted: Instant?
    public var dhcpFinished: Instant?
    public var tftpStarted: Instant?
    public var tftpFinished: Instant?
    public var httpStarted: Instant?
    public var httpFinished: Instant?
    public var osDHCPStarted: Instant?
    public var osDHCPFinished: Instant?
    public var finished: Instant?
    public init() {}
}

public struct ClientCounters: Hashable, Sendable {
    public var sent = 0
    public var received = 0
    /// Requests and ACKs sent again after a timeout.
    public var retransmissions = 0
    public var discovers = 0
    public var requests = 0
    public var offers = 0
    public var naks = 0
    public var blocks = 0
    /// DATA blocks out of order (duplicates and gaps).
    public var outOfOrderBlocks = 0
    /// Packets from an unknown TFTP transfer id, answered with ERROR 5.
    public var wrongTID = 0
    /// Datagrams that were not for this client or not expected now.
    public var ignored = 0
    public init() {}
}

/// How a client's run ended.
public struct ClientOutcome: Hashable, Sendable {
    public var failure: ClientFailure?
    public var succeeded: Bool { failure == nil }
    /// The address of the firmware (PXE) lease.
    public var leasedAddress: IPv4Address?
    /// The DHCP server identifier (54) of the ACK.
    public var server: IPv4Address?
    public var bootFile: String?
    public var tftpServer: Endpoint?
    /// The options the server granted (OACK), nil without one.
    public var negotiated: TFTPTransferOptions?
    public var bytesReceived = 0
    /// FNV-1a (64-bit) of the bytes received by TFTP or HTTP (the offset basis when
    /// `ClientOptions.checksum` is off).
    public var checksum: UInt64 = ClientOutcome.fnvOffset
    /// The bytes themselves, when `ClientOptions.keepBytes`.
    public var bytes: [UInt8]?
    public var httpURL: String?
    public var httpStatus: Int?
    /// The address of the OS-phase lease, when the client went on to it.
    public var osLeasedAddress: IPv4Address?
    public var timings = ClientTimings()
    public var counters = ClientCounters()
    public init() {}

    public static let fnvOffset: UInt64 = 0xcbf2_9ce4_8422_2325
    /// FNV-1a 64 of `bytes`, to compare with `checksum`.
    public static func fnv1a(_ bytes: some Sequence<UInt8>, from start: UInt64 = fnvOffset) -> UInt64 {
        var h = start
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}

/// What a client does besides its persona's defaults.
public struct ClientOptions: Hashable, Sendable {
    /// Overrides the persona's TFTP profile (options, probe, schedule).
    public var tftpProfile: TFTPProfile?
    /// After the boot file, do a plain DHCP exchange as the booted OS would.
    public var continueToOS = false
    /// iPXE: fetch an `http://` boot file name with `.httpGet` (else stop at the URL).
    public var fetchHTTP = true
    public var httpTimeout: Duration = .seconds(30)
    /// Wait this long after the first usable OFFER for more, then take the best (the
    /// first with a boot file). Zero: take the first usable OFFER at once.
    public var offerCollectionWindow: Duration = .zero
    /// NAKs in a row before giving up.
    public var maximumNAKs = 4
    /// Keep the received bytes in the outcome.
    public var keepBytes = false
    /// Compute `ClientOutcome.checksum` over the bytes received. FNV-1a goes byte by byte
    /// (a multiply per byte, one chain): 1,000 clients' 1 GiB cost pxe-sim's real runs,
    /// which have no expected checksum to compare with, about a tenth of their CPU.
    public var checksum = true
    /// A hostile server must not make the client grow without bound.
    public var maximumFileSize = 256 << 20
    /// TFTP-only personas: the server (port 69 normally), the file, the client's address.
    public var tftpTarget: Endpoint?
    public var tftpFile: String?
    public var clientAddress: IPv4Address = .any
    /// Set the BOOTP broadcast flag (0x8000, RFC 2131 section 4.1) in every DISCOVER and
    /// REQUEST whatever the persona does, so servers broadcast their replies to port 68:
    /// how many virtual clients share one real host socket (`pxe-sim --target`).
    public var broadcastFlag = false
    public init() {}
}
