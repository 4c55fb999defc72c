import PXESimKit
// Rules for the TFTP-only fixtures (tftp-hpa, atftp, curl, busybox against dnsmasq's
// TFTP server). The RRQ is replayed as captured; the client's ACKs (and ERRORs) go to
// bootd's transfer port and follow bootd's DATA (PXESimKit/Replay/ReplayDriver.swift, replayTransfer).

let block512x5 = [512, 512, 512, 512, 512, 440]
let block512x4 = [512, 512, 512, 512, 0]

let tftpFixtureRules: [String: FixtureRules] = [
    "tftp-hpa": FixtureRules(capture: "tftp-hpa", tftp: [
        // No options: RFC 1350 lock-step, DATA 1 answers the RRQ, 512-byte blocks.
        TFTPRule(file: "payload-3000.bin", oack: nil, blocks: block512x5),
        // 2048 is a multiple of 512: the final DATA block is empty (RFC 1350 section 6).
        TFTPRule(file: "payload-2048.bin", oack: nil, blocks: block512x4),
    ]),
    "tftp-hpa-notfound": FixtureRules(capture: "tftp-hpa-notfound", tftp: [
        // ERROR 1 (file not found) as dnsmasq; bootd's message does not name its root.
        TFTPRule(file: "missing.bin", oack: nil, blocks: nil, error: 1,
                 rewrites: "none: the transfer ends at bootd's ERROR; the client's stray ACK 1 is not replayed"),
    ]),
    "tftp-atftp-blksize": FixtureRules(capture: "tftp-atftp-blksize", tftp: [
        TFTPRule(file: "payload-3000.bin", oack: ["blksize": "1428", "tsize": "3000"], blocks: [1428, 1428, 144]),
        TFTPRule(file: "payload-2048.bin", oack: ["blksize": "1024", "tsize": "2048"], blocks: [1024, 1024, 0]),
    ]),
    "tftp-atftp-windowsize": FixtureRules(capture: "tftp-atftp-windowsize", tftp: [
        TFTPRule(file: "payload-3000.bin", oack: ["tsize": "3000", "windowsize": "8"],
                 oackDiffers: "windowsize 8 granted (RFC 7440, at most [tftpd] maxWindowSize 64); dnsmasq ignores it and went lock-step",
                 blocks: block512x5,
                 rewrites: "ACK 0 to bootd's transfer port; then one ACK of block 6 for the whole window (the capture ACKs each block)"),
    ]),
    "tftp-curl": FixtureRules(capture: "tftp-curl", tftp: [
        TFTPRule(file: "payload-3000.bin", oack: ["blksize": "1428", "tsize": "3000", "timeout": "6"],
                 oackDiffers: "timeout 6 granted (RFC 2349); dnsmasq ignores it", blocks: [1428, 1428, 144]),
        TFTPRule(file: "payload-2048.bin", oack: ["blksize": "512", "tsize": "2048", "timeout": "6"],
                 oackDiffers: "timeout 6 granted (RFC 2349); dnsmasq ignores it", blocks: block512x4),
    ]),
    "tftp-busybox": FixtureRules(capture: "tftp-busybox", tftp: [
        TFTPRule(file: "payload-3000.bin", oack: ["tsize": "3000"], blocks: block512x5),
        TFTPRule(file: "payload-2048.bin", oack: ["blksize": "1024", "tsize": "2048"], blocks: [1024, 1024, 0]),
    ]),
]
