import BootWire
import BootCore

// What each virtual client sends, and when it retransmits: the observable behaviour of the
// real clients in Fixtures/ and /work/shared/lab (README, "What real clients send in
// DISCOVER"). Values not seen in a capture are marked "assumed" and say where they come from.

/// Which firmware an iPXE build runs on.
public enum Firmware: Hashable, Sendable {
    case bios
    case efi
}

/// Standalone TFTP clients, for TFTP-only tests against a known server endpoint.
public enum TFTPClientFlavor: Hashable, Sendable {
    /// tftp-hpa's `tftp -m binary`: no options at all.
    case tftpHPA
    /// atftp with `--option "blksize 1428" --option "windowsize 8"` (assumed mix).
    case atftp
    /// curl `tftp://`: `tsize=0` and `blksize=512` (curl always sends both).
    case curl
}

/// A kind of boot client.
public enum Persona: Hashable, Sendable {
    /// A legacy (Intel-style) BIOS PXE 2.1 ROM: DHCP, then TFTP with a size probe.
    case biosPXE
    /// EDK2's (OVMF) native UEFI PXE, x64 (architecture 7).
    case uefiPXE
    /// iPXE, BIOS or EFI build: DHCP with 77 = `iPXE` and 175; then TFTP or an HTTP URL.
    case iPXE(Firmware)
    /// An installed OS's DHCP client (dhclient-like): DORA only.
    case plainDHCP
    /// A TFTP-only client: needs `ClientOptions.tftpTarget`.
    case tftp(TFTPClientFlavor)

    /// The DHCP behaviour of this persona; nil for the TFTP-only clients.
    public var dhcpProfile: DHCPProfile? {
        switch self {
        case .biosPXE: .legacyPXE
        case .uefiPXE: .edk2
        case let .iPXE(fw): .iPXE(fw)
        case .plainDHCP: .dhclient
        case .tftp: nil
        }
    }

    /// The TFTP behaviour of this persona; nil for plain DHCP.
    public var tftpProfile: TFTPProfile? {
        switch self {
        case .biosPXE: .legacyPXE
        case .uefiPXE: .edk2
        case .iPXE: .iPXE
        case .plainDHCP: nil
        case let .tftp(flavor):
            switch flavor {
            case .tftpHPA: .tftpHPA
            case .atftp: .atftp
            case .curl: .curl
            }
        }
    }
}

/// When a request is sent again: the wait after each transmission. After the last wait
/// with no answer the exchange gives up. `jitter` adds a uniform offset in
/// `-jitter...+jitter` to each wait, drawn from the client's generator.
public struct RetransmissionSchedule: Hashable, Sendable {
    public var waits: [Duration]
    public var jitter: Duration
    public init(waits: [Duration], jitter: Duration = .zero) { self.waits = waits; self.jitter = jitter }

    /// PXE 2.1 section 2.2.1 and EDK2's `mPxeDhcpTimeout = {4, 8, 16, 32}`: the DISCOVER
    /// goes out at 0, 4, 12 and 28 s and the client gives up at 60 s.
    public static let pxe = Self(waits: [.seconds(4), .seconds(8), .seconds(16), .seconds(32)])
    /// RFC 2131 section 4.1: 4 s doubling to 64 s, each randomised by ±1 s (dhclient-like).
    public static let rfc2131 = Self(
        waits: [.seconds(4), .seconds(8), .seconds(16), .seconds(32), .seconds(64)], jitter: .seconds(1))
}

/// What a client puts in its DHCP requests and how it retransmits them.
public struct DHCPProfile: Hashable, Sendable {
    /// 60, e.g. `PXEClient:Arch:00007:UNDI:003000`.
    public var vendorClass: String?
    /// 93.
    public var architectures: [ClientArchitecture]?
    /// 94.
    public var networkInterface: ClientNetworkInterface?
    /// 97: the machine UUID (SMBIOS order on the wire), or all zeroes (EDK2 in QEMU).
    public var sendsMachineID: Bool
    public var zeroMachineID: Bool
    /// 77.
    public var userClass: UserClass?
    /// 175.
    public var iPXEOptions: [DHCPSubOption]?
    /// 61 = hardware type 1 + MAC.
    public var sendsClientIdentifier: Bool
    /// 57.
    public var maximumMessageSize: UInt16?
    /// 55.
    public var parameterRequestList: [UInt8]
    /// The broadcast flag (RFC 2131 section 4.1): PXE ROMs cannot receive unicast before
    /// they have an address.
    public var broadcastFlag: Bool
    /// 12, if set.
    public var hostName: String?
    public var schedule: RetransmissionSchedule
    /// A PXE ROM only takes an OFFER that names a boot file.
    public var needsBootFile: Bool

    public init(vendorClass: String? = nil, architectures: [ClientArchitecture]? = nil,
                networkInterface: ClientNetworkInterface? = nil, sendsMachineID: Bool = false,
                zeroMachineID: Bool = false, userClass: UserClass? = nil, iPXEOptions: [DHCPSubOption]? = nil,
                sendsClientIdentifier: Bool = false, maximumMessageSize: UInt16? = nil,
                parameterRequestList: [UInt8], broadcastFlag: Bool, hostName: String? = nil,
                schedule: RetransmissionSchedule, needsBootFile: Bool) {
        self.vendorClass = vendorClass; self.architectures = architectures
        self.networkInterface = networkInterface; self.sendsMachineID = sendsMachineID
        self.zeroMachineID = zeroMachineID; self.userClass = userClass; self.iPXEOptions = iPXEOptions
        self.sendsClientIdentifier = sendsClientIdentifier; self.maximumMessageSize = maximumMessageSize
        self.parameterRequestList = parameterRequestList; self.broadcastFlag = broadcastFlag
        self.hostName = hostName; self.schedule = schedule; self.needsBootFile = needsBootFile
    }

    static let pxeMenuOptions: [UInt8] = Array(128...135)

    /// Legacy BIOS PXE 2.1 ROM (Intel-style; values from the brief, 55 assumed from
    /// Intel Boot Agent captures).
    public static let legacyPXE = DHCPProfile(
        vendorClass: "PXEClient:Arch:00000:UNDI:002001", architectures: [.x86BIOS],
        networkInterface: ClientNetworkInterface(type: 1, major: 2, minor: 1), sendsMachineID: true,
        maximumMessageSize: 1260,
        parameterRequestList: [1, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 43, 54, 60, 66, 67, 97] + pxeMenuOptions,
        broadcastFlag: true, schedule: .pxe, needsBootFile: true)

    /// EDK2 native UEFI PXE (OVMF): 60/93/94 from the lab captures, zero UUID, 55 as
    /// EDK2's PxeBcBuildDhcpOptions builds it, 57 = 1472 (PXEBC_DHCP4_MAX_PACKET_SIZE).
    public static let edk2 = DHCPProfile(
        vendorClass: "PXEClient:Arch:00007:UNDI:003000", architectures: [.x64UEFI],
        networkInterface: ClientNetworkInterface(type: 1, major: 3, minor: 0), sendsMachineID: true,
        zeroMachineID: true, maximumMessageSize: 1472,
        parameterRequestList: [1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54,
                               58, 59, 60, 66, 67, 97] + pxeMenuOptions,
        broadcastFlag: true, schedule: .pxe, needsBootFile: true)

    /// iPXE's 175 feature flags (include/ipxe/features.h): 16 PXE extensions, 19 HTTP,
    /// 21 TFTP, 23 DNS, and per platform 24 bzImage + 33 PXE (BIOS) or 36 EFI; 177 the bus
    /// id (PCI 8086:100e, QEMU's e1000), 235 the version (1.21.1).
    public static func iPXEFeatures(_ firmware: Firmware) -> [DHCPSubOption] {
        let flag = { (code: UInt8) in DHCPSubOption(code: code, data: [1]) }
        let platform: [DHCPSubOption] = firmware == .bios ? [flag(24), flag(33)] : [flag(36)]
        return [flag(16), flag(19), flag(21), flag(23)] + platform + [
            DHCPSubOption(code: 177, data: [1, 0x80, 0x86, 0x10, 0x0e]),
            DHCPSubOption(code: 235, data: [1, 21, 1]),
        ]
    }

    /// iPXE: 60/93/94/77/97 from the lab captures; 61, 57 = 1472 and 55 as iPXE's dhcp.c.
    public static func iPXE(_ firmware: Firmware) -> DHCPProfile {
        DHCPProfile(
            vendorClass: firmware == .bios ? "PXEClient:Arch:00000:UNDI:002001" : "PXEClient:Arch:00007:UNDI:003010",
            architectures: [firmware == .bios ? .x86BIOS : .x64UEFI],
            networkInterface: firmware == .bios ? ClientNetworkInterface(type: 1, major: 2, minor: 1)
                                                : ClientNetworkInterface(type: 1, major: 3, minor: 10),
            sendsMachineID: true, userClass: .plain(Array("iPXE".utf8)), iPXEOptions: iPXEFeatures(firmware),
            sendsClientIdentifier: true, maximumMessageSize: 1472,
            parameterRequestList: [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119] + pxeMenuOptions + [175, 203],
            broadcastFlag: true, schedule: .pxe, needsBootFile: false)
    }

    /// dhclient-like: 61, the 55 of Debian's dhclient.conf, no PXE options, RFC 2131 backoff.
    public static let dhclient = DHCPProfile(
        sendsClientIdentifier: true,
        parameterRequestList: [1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42],
        broadcastFlag: false, schedule: .rfc2131, needsBootFile: false)
}

/// A preliminary request made only to learn a file's size, then abandoned with an
/// ERROR (what Intel PXE ROMs and EDK2's PxeBcTftpGetFileSize do before the download).
public struct TFTPSizeProbe: Hashable, Sendable {
    public var options: [TFTPOption]
    public var abort: TFTPError
    public init(options: [TFTPOption], abort: TFTPError) { self.options = options; self.abort = abort }
}

/// What a client asks for over TFTP and how it retransmits.
public struct TFTPProfile: Hashable, Sendable {
    /// Options of the download RRQ, in wire order.
    public var options: [TFTPOption]
    public var probe: TFTPSizeProbe?
    /// Waits after each transmission of the same RRQ/ACK; reset by every new block.
    public var schedule: RetransmissionSchedule
    public init(options: [TFTPOption], probe: TFTPSizeProbe? = nil, schedule: RetransmissionSchedule) {
        self.options = options; self.probe = probe; self.schedule = schedule
    }

    static func opt(_ name: String, _ value: Int) -> TFTPOption { TFTPOption(name: name, value: String(value)) }
    static func fixed(_ wait: Duration, tries: Int) -> RetransmissionSchedule {
        RetransmissionSchedule(waits: Array(repeating: wait, count: tries))
    }

    /// Intel-style PXE ROM: `tsize=0` probe aborted with ERROR 0 "TFTP Aborted" (what
    /// dnsmasq logs as "error 0 TFTP Aborted received"), then `blksize=1456`. 4 s × 6
    /// (assumed, like EDK2).
    public static let legacyPXE = TFTPProfile(
        options: [opt(TFTPOption.blksize, 1456)],
        probe: TFTPSizeProbe(options: [opt(TFTPOption.tsize, 0)], abort: TFTPError(code: .notDefined, message: "TFTP Aborted")),
        schedule: fixed(.seconds(4), tries: 6))

    /// EDK2: `tsize=0, blksize=1468, windowsize=4` (lab capture) as a size probe aborted
    /// with ERROR 8, then the download with `blksize=1468, windowsize=4`. PxeBc's
    /// PXEBC_MTFTP_TIMEOUT 4 s and PXEBC_MTFTP_RETRIES 6.
    public static let edk2 = TFTPProfile(
        options: [opt(TFTPOption.blksize, 1468), opt(TFTPOption.windowsize, 4)],
        probe: TFTPSizeProbe(options: [opt(TFTPOption.tsize, 0), opt(TFTPOption.blksize, 1468), opt(TFTPOption.windowsize, 4)],
                             abort: TFTPError(code: .optionNegotiationRefused, message: "User aborted the transfer")),
        schedule: fixed(.seconds(4), tries: 6))

    /// iPXE's tftp.c: `blksize=1432` (TFTP_MAX_BLKSIZE) then `tsize=0`; its retry timer
    /// starts near 1/4 s and doubles up to 10 s, modelled as 0.25, 0.5, 1, 2, 4, 8 s.
    public static let iPXE = TFTPProfile(
        options: [opt(TFTPOption.blksize, 1432), opt(TFTPOption.tsize, 0)],
        schedule: RetransmissionSchedule(waits: [.milliseconds(250), .milliseconds(500), .seconds(1),
                                                 .seconds(2), .seconds(4), .seconds(8)]))

    /// tftp-hpa: no options; rexmt 5 s, total timeout 25 s.
    public static let tftpHPA = TFTPProfile(options: [], schedule: fixed(.seconds(5), tries: 5))
    /// atftp: blksize and windowsize (assumed mix); 5 s × 5.
    public static let atftp = TFTPProfile(
        options: [opt(TFTPOption.blksize, 1428), opt(TFTPOption.windowsize, 8)], schedule: fixed(.seconds(5), tries: 5))
    /// curl: `tsize=0`, `blksize=512`; 5 s × 5 (assumed).
    public static let curl = TFTPProfile(
        options: [opt(TFTPOption.tsize, 0), opt(TFTPOption.blksize, 512)], schedule: fixed(.seconds(5), tries: 5))
}

