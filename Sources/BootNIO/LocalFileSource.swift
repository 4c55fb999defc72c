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
/// Opening and reading run on a thread pool (`pread` at an offset on a descriptor kept
/// open for the transfer: no per-packet open); completions come back on `loop`, always
/// asynchronously. Open handles are bounded (`maxOpenFiles`).
public final class LocalFileSource: FileSource {
    public let root: String
    public let realRoot: String
    let loop: any EventLoop
    let pool: NIOThreadPool
    public let maxOpenFiles: Int
    private var files: [UInt64: (fd: Int32, size: Int)] = [:]
    private var nextID: UInt64 = 0
    /// Opens in flight count against the bound too.
    private var opening = 0

    /// Fails when the root does not exist or is not a directory.
    public init(root: String, loop: any EventLoop, pool: NIOThreadPool, maxOpenFiles: Int = 512) throws(FileSourceError) {
        guard let real = realpath(root, nil) else { throw .notFound }
        defer { free(real) }
        var st = stat()
        guard stat(root, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { throw .accessDenied("\(root) is not a directory") }
        self.root = root
        self.realRoot = String(cString: real)
        self.loop = loop; self.pool = pool; self.maxOpenFiles = maxOpenFiles
    }

    public var openFiles: Int { files.count }

    /// The checks that need no file system: NUL, absolute, `..` components.
    public static func lexicalProblem(_ path: String) -> String? {
        if path.utf8.contains(0) { return "NUL byte in file name" }
        if path.hasPrefix("/") { return "absolute file name" }
        if path.isEmpty { return "empty file name" }
        if path.split(separator: "/", omittingEmptySubsequences: true).contains("..") { return "'..' in file name" }
        return nil
    }

    /// Resolves `path` under `realRoot` and opens it; blocking (run on the pool).
    static func openContained(realRoot: String, path: String) -> Result<(Int32, Int), FileSourceError> {
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
        return .success((fd, Int(st.st_size)))
    }

    public func open(_ path: String, completion: @escaping (Result<FileHandleID, FileSourceError>) -> Void) {
        loop.preconditionInEventLoop()
        let done = NIOLoopBound((self, completion), eventLoop: loop)
        guard files.count + opening < maxOpenFiles else {
            loop.execute { done.value.1(.failure(.ioError("too many open files"))) }
            return
        }
        opening += 1
        let realRoot = self.realRoot
        pool.runIfActive(eventLoop: loop) {
            Self.openContained(realRoot: realRoot, path: path).map { FDBox(fd: $0.0, size: $0.1) }
        }.whenComplete { result in
            let (source, completion) = done.value
            source.opening -= 1
            switch result {
            case .success(.success(let box)):
                source.nextID += 1
                source.files[source.nextID] = (box.fd, box.size)
                completion(.success(FileHandleID(id: source.nextID)))
            case .success(.failure(let e)):
                completion(.failure(e))
            case .failure(let e):
                completion(.failure(.ioError("\(e)")))
            }
        }
    }

    public func size(of file: FileHandleID) -> Int { files[file.id]?.size ?? 0 }

    public func read(_ file: FileHandleID, offset: Int, count: Int, completion: @escaping (Result<[UInt8], FileSourceError>) -> Void) {
        loop.preconditionInEventLoop()
        let done = NIOLoopBound(completion, eventLoop: loop)
        guard let f = files[file.id] else {
            loop.execute { done.value(.failure(.ioError("file is closed"))) }
            return
        }
        let fd = f.fd
        let want = max(0, min(count, f.size - offset))
        pool.runIfActive(eventLoop: loop) { () -> Result<[UInt8], FileSourceError> in
            var bytes = [UInt8](repeating: 0, count: want)
            var got = 0
            while got < want {
                let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, want - got, off_t(offset + got)) }
                if n < 0 { if errno == EINTR { continue }; return .failure(.ioError(String(cString: strerror(errno)))) }
                if n == 0 { break }
                got += n
            }
            if got < want { bytes.removeLast(want - got) }
            return .success(bytes)
        }.whenComplete { result in
            switch result {
            case .success(let r): done.value(r)
            case .failure(let e): done.value(.failure(.ioError("\(e)")))
            }
        }
    }

    public func close(_ file: FileHandleID) {
        loop.preconditionInEventLoop()
        guard let f = files.removeValue(forKey: file.id) else { return }
        // A read may still be in flight on the pool with this descriptor: close after it,
        // on the same pool (FIFO per submission is not guaranteed, so defer briefly).
        let fd = f.fd
        loop.scheduleTask(in: .seconds(5)) { Glibc.close(fd) }
    }

    /// Closes every descriptor (shutdown).
    public func closeAll() {
        for (_, f) in files { Glibc.close(f.fd) }
        files.removeAll()
    }
}

struct FDBox: Sendable { var fd: Int32; var size: Int }
