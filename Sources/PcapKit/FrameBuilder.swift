// Synthesizing frames for UDP datagrams, so `bootd --capture` can record what it sends
// and receives in a form tshark and Wireshark decode.

/// Why a frame could not be built.
public enum FrameBuildError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Source and destination are not the same IP version.
    case mixedAddressFamilies(source: IPAddress, destination: IPAddress)
    /// The payload does not fit in one UDP datagram (65507 bytes over IPv4, 65527 over IPv6).
    case payloadTooLarge(Int)
    /// The requested link type cannot carry this IP version (e.g. IPv6 on `.ipv4`).
    case linkTypeCannotCarry(LinkType, IPAddress)

    public var description: String {
        switch self {
        case .mixedAddressFamilies(let s, let d): "source \(s) and destination \(d) are different IP versions"
        case .payloadTooLarge(let n): "UDP payload of \(n) bytes is too large"
        case .linkTypeCannotCarry(let t, let a): "link type \(t) cannot carry \(a)"
        }
    }
}

/// The link layer to put around a synthesized IP packet.
public enum FrameLink: Hashable, Sendable {
    /// Ethernet II, optionally 802.1Q-tagged. Link type ``LinkType/ethernet``.
    case ethernet(source: MACAddress, destination: MACAddress, vlan: VLANTag? = nil)
    /// No link header: link type ``LinkType/raw`` (IPv4 or IPv6).
    case raw

    /// The link type of the frames built with this link.
    public var linkType: LinkType {
        switch self {
        case .ethernet: .ethernet
        case .raw: .raw
        }
    }
}

/// Builds frames holding one UDP datagram, with correct IPv4 header and UDP checksums.
public enum FrameBuilder {
    /// A frame for a UDP datagram from `source` to `destination`.
    ///
    /// IPv4: 20-byte header, DF clear, `identification` as given, TTL `hopLimit`.
    /// IPv6: 40-byte header, no extension headers, flow label 0. Ethernet frames are
    /// not padded to 60 bytes (captures taken on the sending host are not either).
    public static func udpFrame(from source: UDPEndpoint, to destination: UDPEndpoint,
                                payload: [UInt8], link: FrameLink = .raw, hopLimit: UInt8 = 64,
                                identification: UInt16 = 0) throws(FrameBuildError) -> [UInt8] {
        let packet = try ipPacket(from: source, to: destination, payload: payload,
                                  hopLimit: hopLimit, identification: identification)
        switch link {
        case .raw:
            return packet
        case .ethernet(let src, let dst, let vlan):
            var frame = dst.bytes + src.bytes
            if let vlan {
                let tci = UInt16(vlan.priority & 7) << 13 | (vlan.dropEligible ? 0x1000 : 0) | (vlan.id & 0x0FFF)
                frame += be16(vlan.tpid) + be16(tci)
            }
            frame += be16(source.address.isIPv4 ? 0x0800 : 0x86DD)
            return frame + packet
        }
    }

    /// A frame for `datagram` (its addresses, ports, payload and, for Ethernet, MACs
    /// and innermost VLAN tag). Missing MACs default to zero (source) and broadcast.
    public static func frame(for datagram: UDPDatagram, linkType: LinkType) throws(FrameBuildError) -> [UInt8] {
        let link: FrameLink
        switch linkType {
        case .ethernet:
            link = .ethernet(source: datagram.sourceMAC ?? .zero, destination: datagram.destinationMAC ?? .broadcast,
                             vlan: datagram.link.vlanTags.last)
        case .raw, .dltRaw:
            link = .raw
        case .ipv4 where datagram.source.address.isIPv4, .ipv6 where !datagram.source.address.isIPv4:
            link = .raw
        default:
            throw .linkTypeCannotCarry(linkType, datagram.source.address)
        }
        return try udpFrame(from: datagram.source, to: datagram.destination, payload: datagram.payload,
                            link: link, hopLimit: datagram.hopLimit)
    }

    /// An IPv4 or IPv6 packet holding the UDP datagram.
    public static func ipPacket(from source: UDPEndpoint, to destination: UDPEndpoint,
                                payload: [UInt8], hopLimit: UInt8 = 64,
                                identification: UInt16 = 0) throws(FrameBuildError) -> [UInt8] {
        let v4 = source.address.isIPv4
        guard v4 == destination.address.isIPv4 else {
            throw .mixedAddressFamilies(source: source.address, destination: destination.address)
        }
        guard payload.count <= (v4 ? 65_507 : 65_527) else { throw .payloadTooLarge(payload.count) }
        var udp = be16(source.port) + be16(destination.port) + be16(UInt16(8 + payload.count)) + [0, 0] + payload
        var sum = udpChecksum(source: source.address, destination: destination.address, udp: udp)
        if sum == 0 { sum = 0xFFFF }  // RFC 768: a computed zero is sent as all ones
        udp[6] = UInt8(sum >> 8); udp[7] = UInt8(sum & 0xFF)
        if v4 {
            var header: [UInt8] = [0x45, 0] + be16(UInt16(20 + udp.count)) + be16(identification)
                + [0, 0, hopLimit, 17, 0, 0] + source.address.bytes + destination.address.bytes
            let check = internetChecksum(header)
            header[10] = UInt8(check >> 8); header[11] = UInt8(check & 0xFF)
            return header + udp
        }
        return [0x60, 0, 0, 0] + be16(UInt16(udp.count)) + [17, hopLimit]
            + source.address.bytes + destination.address.bytes + udp
    }
}

func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
