import BootWire

/// The TFTP engine's settings (PyBootd's `[tftpd]` and `[filters]`, plus the bounds a
/// server facing hostile peers needs). Values out of range are clamped by the engine
/// (`TFTPServer.init`), never trusted.
public struct TFTPServerSettings: Hashable, Sendable {
    /// Block size when the client negotiates none (`[tftpd] blocksize`, default 512).
    /// RFC 1350 fixes 512 for clients that do not ask for `blksize`: a client that sees a
    /// longer DATA packet may take it as an error, so change it only for known clients.
    public var defaultBlksize: Int
    /// Largest `blksize` a client may negotiate (RFC 2348); bigger requests are clamped
    /// to it. Default 65464, RFC 2348's maximum and tftpd-hpa's default: the client picks
    /// by its MTU (PXE ROMs ask 1432-1468). On links that drop IP fragments set it to the
    /// MTU minus 32 (IP and UDP headers, TFTP's 4 bytes).
    public var maxBlksize: Int
    /// Retransmission timeout when the client negotiates none (`[tftpd] timeout`,
    /// seconds, fractional allowed; default 2 s). A client's RFC 2349 `timeout` option
    /// (1-255 s) replaces it for that transfer.
    public var timeout: Duration
    /// Retransmissions of one window (or OACK) without progress before the transfer is
    /// given up (`[tftpd] retries`, default 5: six sends in all).
    public var retries: Int
    /// Concurrent sessions, including those still opening their file (default 4096,
    /// `[tftpd] max_transfers`).
    /// A request beyond the bound is dropped (the client's own retransmission of the RRQ
    /// gets in once a slot is free), counted and logged at debug level.
    public var maxSessions: Int
    /// Sessions one client address may hold at once (nil: half of `maxSessions`). A request
    /// beyond it is dropped like one beyond `maxSessions`: one host cannot take the table.
    public var maxSessionsPerClient: Int?
    /// Largest RFC 2349 `timeout` (seconds) granted; a larger request is not granted
    /// (omitted from the OACK, `timeout` is used). Default 10.
    public var maxClientTimeout: Int = 10
    /// Largest RFC 7440 `windowsize` granted (default 64). Also never more than the
    /// blocks of one read chunk (see `readChunkSize`).
    public var maxWindowSize: Int
    /// Bytes read from the file source at a time, rounded down to whole blocks (at least
    /// one block). One chunk per session is all the file data the engine holds, so this
    /// bounds per-session memory at max(readChunkSize, blksize). Default 64 KiB.
    public var readChunkSize: Int
    /// Single-port mode (NAT, containers): every datagram of every transfer goes through
    /// the listening port, and sessions are told apart by the peer's endpoint alone.
    /// Off (default): each transfer sends from its own port (RFC 1350 TIDs); see
    /// `TFTPServerAction.send`.
    public var singlePort: Bool
    /// How long the engine waits for the file source (open, read) before it gives the
    /// transfer up with ERROR 0 (default 30 s). Protects the session table from a file
    /// source that never answers.
    public var fileSourceTimeout: Duration
    /// `[filters]`, in file order; first match wins.
    public var filters: [FilterRule]

    public init(
        defaultBlksize: Int = 512, maxBlksize: Int = 65464, timeout: Duration = .seconds(2), retries: Int = 5,
        maxSessions: Int = 4096, maxWindowSize: Int = 64, readChunkSize: Int = 65536, singlePort: Bool = false,
        fileSourceTimeout: Duration = .seconds(30), filters: [FilterRule] = []
    ) {
        self.defaultBlksize = defaultBlksize
        self.maxBlksize = maxBlksize
        self.timeout = timeout
        self.retries = retries
        self.maxSessions = maxSessions
        self.maxWindowSize = maxWindowSize
        self.readChunkSize = readChunkSize
        self.singlePort = singlePort
        self.fileSourceTimeout = fileSourceTimeout
        self.filters = filters
        self.maxSessionsPerClient = nil
    }

    /// The engine's settings from a configuration's `[tftpd]` and `[filters]` (what bootd
    /// and the simulator both run).
    public init(configuration config: BootConfiguration) {
        self.init()
        defaultBlksize = config.tftpd.blockSize
        timeout = config.tftpd.timeout
        retries = config.tftpd.retries
        filters = config.filters
        singlePort = config.tftpd.singlePort
        maxSessions = config.tftpd.maxTransfers
        maxSessionsPerClient = config.tftpd.maxTransfersPerClient
        maxClientTimeout = config.tftpd.maxClientTimeout
    }

    /// The settings with every value brought into its valid range.
    var clamped: TFTPServerSettings {
        var s = self
        let range = TFTPTransferOptions.blksizeRange
        s.maxBlksize = min(max(s.maxBlksize, range.lowerBound), range.upperBound)
        s.defaultBlksize = min(max(s.defaultBlksize, range.lowerBound), range.upperBound)
        if s.timeout <= .zero { s.timeout = .seconds(2) }
        s.retries = max(0, s.retries)
        s.maxSessions = max(1, s.maxSessions)
        s.maxSessionsPerClient = min(max(1, s.maxSessionsPerClient ?? max(1, s.maxSessions / 2)), s.maxSessions)
        s.maxClientTimeout = min(max(1, s.maxClientTimeout), 255)
        s.maxWindowSize = min(max(1, s.maxWindowSize), TFTPTransferOptions.windowsizeRange.upperBound)
        s.readChunkSize = max(1, s.readChunkSize)
        if s.fileSourceTimeout <= .zero { s.fileSourceTimeout = .seconds(30) }
        return s
    }
}
