import BootCore
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Boot files from a local directory. The path from the TFTP engine is relative to the
/// root; nothing outside the root is ever opened: NUL bytes, absolute names and `..` are
/// refused, and the real path (after every symlink) must stay under the root's real path.
///
/// Every open resolves and checks the path again on a thread pool (a file replaced or a
/// symlink changed between two transfers is seen). Transfers of the same file (same device,
/// inode, size and modification time) share one descriptor and, for files up to
/// `cacheFileLimit`, one copy of the bytes read once: a thousand clients booting the same
/// loader cost one read, and blocks are then served from memory on the event loop with no
/// thread hop. Larger files are read with `pread` in the engine's chunks on the pool. The
/// cache holds at most `cacheBudget` bytes; a file nobody reads is dropped (and its
/// descriptor closed) a few seconds after its last transfer ends. Completions always come
/// back on `loop`, asynchronously.
public final class LocalFileSource: FileSource {
    public let root: String
    public let realRoot: String
    let loop: any EventLoop
    let pool: NIOThreadPool
    /// Distinct files open at once (not transfers: transfers of one file share it).
    public let maxOpenFiles: Int
    public let cacheFileLimit: Int
    public let cacheBudget: Int

    struct FileKey: Hashable { var device: UInt64; var inode: UInt64; var size: Int; var mtime: Int64 }
    final class SharedFile {
        let fd: Int32
        let size: Int
        let key: FileKey
        var users = 0
        var bytes: [UInt8]?
        var loadWaiters: [() -> Void]?
        var uncacheable = false
        var idleSince: UInt64 = 0   // generation of the idle timer that may drop it
        init(fd: Int32, size: Int, key: FileKey) { self.fd = fd; self.size = size; self.key = key }
    }
    private var handles: [UInt64: SharedFile] = [:]
    private var shared: [FileKey: SharedFile] = [:]
    private var nextID: UInt64 = 0
    private var idleGeneration: UInt64 = 0
    private var cachedBytes = 0
    /// Opens in flight count against the bound too.
    private var opening = 0
    public private(set) var cacheLoads = 0

    /// Fails when the root does not exist or is not a directory.
    public init(root: String, loop: any EventLoop, pool: NIOThreadPool, maxOpenFiles: Int = 512,
                cacheFileLimit: Int = 16 << 20, cacheBudget: Int = 32 << 20) throws(FileSourceError) {
        guard let real = realpath(root, nil) else { throw .notFound }
        defer { free(real) }
        var st = stat()
        guard stat(root, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { throw .accessDenied("\(root) is not a directory") }
        self.root = root
        self.realRoot = String(cString: real)
        self.loop = loop; self.pool = pool; self.maxOpenFiles = maxOpenFiles
        self.cacheFileLimit = cacheFileLimit; self.cacheBudget = cacheBudget
    }

    /// Transfers holding a file.
    public var openFiles: Int { handles.count }
    /// Distinct files (descriptors) open.
    public var distinctOpenFiles: Int { shared.count }

    /// The checks that need no file system: NUL, absolute, `..` components.
    public static func lexicalProblem(_ path: String) -> String? {
        if path.utf8.contains(0) { return "NUL byte in file name" }
        if path.hasPrefix("/") { return "absolute file name" }
        if path.isEmpty { return "empty file name" }
        if path.split(separator: "/", omittingEmptySubsequences: true).contains("..") { return "'..' in file name" }
        return nil
    }

    /// Resolves `path` under `realRoot` and opens it; blocking (run on the pool).
    static func openContained(realRoot: String, path: String) -> Result<(Int32, Int, FileKey), FileSourceError> {
        if let problem = lexicalProblem(path) { return .failure(.accessDenied(problem)) }
        let full = realRoot + "/" + path
        guard let r = realpath(full, nil) else {
            return .failure(errno == EACCES ? .accessDenied("permission denied") : .notFound)
        }
        let real = String(cString: r)
        free(r)
        guard real.hasPrefix(realRoot == "/" ? "/" : realRoot + "/") else {
            return .failure(.accessDenied("\(path) resolves outside the root"))
        }
        // Open the resolved path; O_NOFOLLOW guards against a swap of the last component.
        let fd = Glibc.open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            return .failure(errno == EACCES ? .accessDenied("permission denied") : errno == ENOENT ? .notFound : .ioError(String(cString: strerror(errno))))
        }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(fd)
            return .failure(.accessDenied("\(path) is not a regular file"))
        }
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        let key = FileKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int(st.st_size),
                          mtime: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))
        return .success((fd, Int(st.st_size), key))
    }

    /// Opens waiting for a slot (at most `maxOpensInFlight` run on the pool at once, so a
    /// storm of requests neither floods the pool nor holds a descriptor per request).
    private var waitingOpens: [(String, (Result<FileHandleID, FileSourceError>) -> Void)] = []
    private var waitingHead = 0
    static let maxOpensInFlight = 16

    public func open(_ path: String, completion: @escaping (Result<FileHandleID, FileSourceError>) -> Void) {
        loop.preconditionInEventLoop()
        guard opening < Self.maxOpensInFlight else {
            waitingOpens.append((path, completion))
            return
        }
        startOpen(path, completion)
    }

    private func openFinished() {
        opening -= 1
        guard waitingHead < waitingOpens.count else { return }
        let (path, completion) = waitingOpens[waitingHead]
        waitingHead += 1
        if waitingHead == waitingOpens.count { waitingOpens.removeAll(keepingCapacity: true); waitingHead = 0 }
        startOpen(path, completion)
    }

    private func startOpen(_ path: String, _ completion: @escaping (Result<FileHandleID, FileSourceError>) -> Void) {
        let done = NIOLoopBound((self, completion), eventLoop: loop)
        opening += 1
        let realRoot = self.realRoot
        pool.runIfActive(eventLoop: loop) {
            Self.openContained(realRoot: realRoot, path: path).map { OpenedFile(fd: $0.0, size: $0.1, key: $0.2) }
        }.whenComplete { result in
            let (source, completion) = done.value
            defer { source.openFinished() }
            switch result {
            case .success(.success(let opened)):
                let file: SharedFile
                if let existing = source.shared[opened.key] {
                    Glibc.close(opened.fd)   // the same file is open already: share its descriptor
                    file = existing
                } else {
                    guard source.shared.count < source.maxOpenFiles else {
                        Glibc.close(opened.fd)
                        completion(.failure(.ioError("too many open files")))
                        return
                    }
                    file = SharedFile(fd: opened.fd, size: opened.size, key: opened.key)
                    source.shared[opened.key] = file
                }
                file.users += 1
                source.nextID += 1
                source.handles[source.nextID] = file
                completion(.success(FileHandleID(id: source.nextID)))
            case .success(.failure(let e)):
                completion(.failure(e))
            case .failure(let e):
                completion(.failure(.ioError("\(e)")))
            }
        }
    }

    public func size(of file: FileHandleID) -> Int { handles[file.id]?.size ?? 0 }

    public func read(_ file: FileHandleID, offset: Int, count: Int, completion: @escaping (Result<ArraySlice<UInt8>, FileSourceError>) -> Void) {
        loop.preconditionInEventLoop()
        let done = NIOLoopBound(completion, eventLoop: loop)
        guard let f = handles[file.id] else {
            loop.execute { done.value(.failure(.ioError("file is closed"))) }
            return
        }
        let want = max(0, min(count, f.size - max(0, offset)))
        if let bytes = f.bytes {
            let slice = bytes[min(offset, bytes.count)..<min(offset + want, bytes.count)]   // no copy
            loop.execute { done.value(.success(slice)) }
            return
        }
        if f.loadWaiters != nil {   // the whole file is being read: answer when it is in
            let me = NIOLoopBound(self, eventLoop: loop)
            f.loadWaiters!.append { me.value.read(file, offset: offset, count: count, completion: done.value) }
            return
        }
        if !f.uncacheable, f.size <= cacheFileLimit, cachedBytes + f.size <= cacheBudget {
            load(f)
            let me = NIOLoopBound(self, eventLoop: loop)
            f.loadWaiters!.append { me.value.read(file, offset: offset, count: count, completion: done.value) }
            return
        }
        let fd = f.fd
        pool.runIfActive(eventLoop: loop) { Self.pread(fd, offset: offset, count: want) }.whenComplete { result in
            switch result {
            case .success(let r): done.value(r.map { $0[...] })
            case .failure(let e): done.value(.failure(.ioError("\(e)")))
            }
        }
    }

    /// Reads a whole file into the cache once, on the pool; readers wait for it.
    private func load(_ f: SharedFile) {
        f.loadWaiters = []
        cachedBytes += f.size
        cacheLoads += 1
        let fd = f.fd, size = f.size
        let file = NIOLoopBound(f, eventLoop: loop)
        let me = NIOLoopBound(self, eventLoop: loop)
        pool.runIfActive(eventLoop: loop) { Self.pread(fd, offset: 0, count: size) }.whenComplete { result in
            let f = file.value
            let waiters = f.loadWaiters ?? []
            f.loadWaiters = nil
            if case .success(.success(let bytes)) = result, bytes.count == size {
                f.bytes = bytes
            } else {
                // Not cached (I/O error, file shrank): the budget is given back and the
                // readers go to pread, which reports the error per read.
                me.value.cachedBytes -= size
                f.uncacheable = true
            }
            for w in waiters { w() }
        }
    }

    static func pread(_ fd: Int32, offset: Int, count want: Int) -> Result<[UInt8], FileSourceError> {
        // Not zero-filled first (a 64 MiB boot image was memset before being read over).
        var failure: FileSourceError?
        let bytes = [UInt8](unsafeUninitializedCapacity: want) { buffer, initialized in
            var got = 0
            while got < want {
                let n = Glibc.pread(fd, buffer.baseAddress! + got, want - got, off_t(offset + got))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = .ioError(String(cString: strerror(errno)))
                    break
                }
                if n == 0 { break }
                got += n
            }
            initialized = got
        }
        if let failure { return .failure(failure) }
        return .success(bytes)
    }

    public func close(_ file: FileHandleID) {
        loop.preconditionInEventLoop()
        guard let f = handles.removeValue(forKey: file.id) else { return }
        f.users -= 1
        guard f.users == 0 else { return }
        // Kept a few seconds for the next client of the same file (a boot storm, a
        // retried transfer); then dropped. A read still in flight on the pool with this
        // descriptor has long finished by then.
        idleGeneration += 1
        let generation = idleGeneration
        f.idleSince = generation
        let me = NIOLoopBound(self, eventLoop: loop)
        let bound = NIOLoopBound(f, eventLoop: loop)
        loop.scheduleTask(in: .seconds(5)) {
            let source = me.value, f = bound.value
            guard f.users == 0, f.idleSince == generation else { return }
            if source.shared[f.key] === f { source.shared.removeValue(forKey: f.key) }
            if f.bytes != nil { source.cachedBytes -= f.size; f.bytes = nil }
            Glibc.close(f.fd)
        }
    }

    /// Closes every descriptor (shutdown).
    public func closeAll() {
        for (_, f) in shared { Glibc.close(f.fd) }
        shared.removeAll()
        waitingOpens.removeAll()
        waitingHead = 0
        handles.removeAll()
        cachedBytes = 0
    }
}

struct OpenedFile: Sendable { var fd: Int32; var size: Int; var key: LocalFileSource.FileKey }
