import AsyncHTTPClient
import BootCore
import Logging
import NIOCore

/// Boot files from a remote root (`[tftpd] root = http://…` or `https://…`).
///
/// A file is fetched once with one GET and kept in memory, so its size is known before
/// the OACK (tsize) and every TFTP read is a copy from memory. Files stay in an LRU cache
/// bounded by total bytes (a file being transferred stays alive while open even if it is
/// evicted). Concurrent opens of one path share one fetch. Errors are not cached.
///
/// Confined to the daemon's event loop: every method is called on `eventLoop` and every
/// completion runs there, later (never from inside the call).
public final class HTTPFileSource: FileSource {
    public let prefix: String
    public let eventLoop: any EventLoop
    /// Upper bound of the cache, in bytes.
    public let cacheLimit: Int
    /// Larger files are refused (`ioError`), so one file cannot take the host's memory.
    public let maxFileSize: Int
    /// Deadline of one whole fetch.
    public let fetchTimeout: Duration
    private let client: HTTPClient
    private let logger: Logger

    private struct Cached { var bytes: [UInt8]; var lastUse: UInt64 }
    private var cache: [String: Cached] = [:]
    private var cachedBytes = 0
    private var useCounter: UInt64 = 0
    private var pending: [String: [(Result<FileHandleID, FileSourceError>) -> Void]] = [:]
    private var handles: [FileHandleID: [UInt8]] = [:]
    private var nextHandle: UInt64 = 1
    /// GETs sent so far (for logs and tests).
    public private(set) var fetchCount = 0

    /// `prefix` is the `[tftpd] root` URL; the file's path is appended after a `/`.
    /// `client` is shared and owned by the caller.
    public init(prefix: String, client: HTTPClient, eventLoop: any EventLoop,
                cacheLimit: Int = 256 << 20, maxFileSize: Int = 1 << 30, fetchTimeout: Duration = .seconds(120),
                logger: Logger = Logger(label: "bootd.tftp.http-root")) {
        self.prefix = prefix; self.client = client; self.eventLoop = eventLoop
        self.cacheLimit = cacheLimit; self.maxFileSize = min(maxFileSize, Int(UInt32.max))
        self.fetchTimeout = fetchTimeout; self.logger = logger
    }

    /// The URL of `path` (already resolved inside the root by the engine): each component
    /// percent-encoded.
    public func url(for path: String) -> String {
        let encoded = path.split(separator: "/", omittingEmptySubsequences: true)
            .map { percentEncode(String($0)) }.joined(separator: "/")
        return (prefix.hasSuffix("/") ? prefix : prefix + "/") + encoded
    }

    public func open(_ path: String, completion: @escaping (Result<FileHandleID, FileSourceError>) -> Void) {
        eventLoop.preconditionInEventLoop()
        if var hit = cache[path] {
            useCounter += 1
            hit.lastUse = useCounter
            cache[path] = hit
            let handle = makeHandle(hit.bytes)
            eventLoop.assumeIsolated().execute { completion(.success(handle)) }
            return
        }
        if pending[path] != nil {
            pending[path]!.append(completion)
            return
        }
        pending[path] = [completion]
        fetch(path)
    }

    public func size(of file: FileHandleID) -> Int { handles[file]?.count ?? 0 }

    public func read(_ file: FileHandleID, offset: Int, count: Int,
                     completion: @escaping (Result<ArraySlice<UInt8>, FileSourceError>) -> Void) {
        let result: Result<ArraySlice<UInt8>, FileSourceError>
        if let bytes = handles[file] {
            let start = max(0, min(offset, bytes.count))
            let end = min(bytes.count, start + max(0, count))
            result = .success(bytes[start..<end])
        } else {
            result = .failure(.ioError("read of a closed file"))
        }
        eventLoop.assumeIsolated().execute { completion(result) }
    }

    public func close(_ file: FileHandleID) { handles[file] = nil }

    // MARK: -

    private func makeHandle(_ bytes: [UInt8]) -> FileHandleID {
        let h = FileHandleID(id: nextHandle)
        nextHandle += 1
        handles[h] = bytes
        return h
    }

    private func fetch(_ path: String) {
        let url = self.url(for: path)
        fetchCount += 1
        let request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(url: url, method: .GET)
        } catch {
            let reason = "bad URL \(url): \(error)"
            eventLoop.assumeIsolated().execute { self.finish(path, .failure(.ioError(reason))) }
            return
        }
        let accumulator = ResponseAccumulator(request: request, maxBodySize: maxFileSize)
        let loop = eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        client.execute(request: request, delegate: accumulator, eventLoop: .delegate(on: loop),
                       deadline: .now() + TimeAmount(fetchTimeout))
            .futureResult
            .hop(to: loop)
            .assumeIsolated()
            .whenComplete { result in
                let outcome: Result<[UInt8], FileSourceError>
                switch result {
                case let .success(response):
                    switch response.status.code {
                    case 200:
                        var body = response.body ?? ByteBuffer()
                        outcome = .success(body.readBytes(length: body.readableBytes) ?? [])
                    case 404, 410:
                        outcome = .failure(.notFound)
                    case 401, 403:
                        outcome = .failure(.accessDenied("\(url): HTTP \(response.status.code)"))
                    default:
                        outcome = .failure(.ioError("\(url): HTTP \(response.status.code)"))
                    }
                case let .failure(error):
                    if error is ResponseAccumulator.ResponseTooBigError {
                        outcome = .failure(.ioError("\(url): larger than \(bound.value.maxFileSize) bytes"))
                    } else {
                        outcome = .failure(.ioError("\(url): \(HTTPAuthorityClient.describe(error))"))
                    }
                }
                bound.value.finish(path, outcome)
            }
    }

    private func finish(_ path: String, _ outcome: Result<[UInt8], FileSourceError>) {
        let waiters = pending.removeValue(forKey: path) ?? []
        switch outcome {
        case let .success(bytes):
            logger.info("fetched \(url(for: path))", metadata: ["bytes": "\(bytes.count)"])
            store(path, bytes)
            for w in waiters { w(.success(makeHandle(bytes))) }
        case let .failure(error):
            logger.warning("cannot fetch \(url(for: path)): \(error)")
            for w in waiters { w(.failure(error)) }
        }
    }

    private func store(_ path: String, _ bytes: [UInt8]) {
        guard bytes.count <= cacheLimit else { return }
        if let old = cache.removeValue(forKey: path) { cachedBytes -= old.bytes.count }
        while cachedBytes + bytes.count > cacheLimit,
              let oldest = cache.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            cache[oldest.key] = nil
            cachedBytes -= oldest.value.bytes.count
        }
        useCounter += 1
        cache[path] = Cached(bytes: bytes, lastUse: useCounter)
        cachedBytes += bytes.count
    }

    /// Whether `path` is in the cache (for tests and logs).
    public func isCached(_ path: String) -> Bool { cache[path] != nil }
}
