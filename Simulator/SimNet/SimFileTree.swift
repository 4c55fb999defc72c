import BootCore

/// BootCore's `FileSource` over an in-memory tree (path → bytes). Files share storage:
/// an open handle keeps the bytes it opened (copy-on-write, so replacing a file does not
/// disturb a transfer in progress) and each read copies only the bytes it returns.
/// Optional latency (completions become events of the simulation, tagged with `owner`)
/// and injected errors; counts opens and reads.
public final class SimFileTree: FileSource {
    public unowned let simulation: Simulation
    public var files: [String: [UInt8]]
    /// nil: completions are called before `open`/`read` return. Otherwise they are events
    /// at now + latency (+ jitter).
    public var latency: Duration?
    public var jitter: Duration = .zero
    /// Probabilities of an injected `.ioError` on open and on each read.
    public var openErrorRate: Double = 0
    public var readErrorRate: Double = 0
    /// Errors for given paths (e.g. `.accessDenied`), before the tree is consulted.
    public var failures: [String: FileSourceError] = [:]
    /// Owner of the completion events (the reading process); set it on restart.
    public var owner: OwnerID = .none

    public private(set) var opens = 0
    public private(set) var reads = 0
    public private(set) var bytesRead = 0
    public private(set) var injectedErrors = 0
    public var openHandles: Int { handles.count }

    private var handles: [UInt64: [UInt8]] = [:]
    private var nextHandle: UInt64 = 1
    private let random: SimRandom

    public init(simulation: Simulation, files: [String: [UInt8]] = [:], random: SimRandom? = nil) {
        self.simulation = simulation; self.files = files
        self.random = random ?? simulation.fork("files")
    }

    private func complete<T>(_ result: T, _ completion: @escaping (T) -> Void) {
        guard let latency else { completion(result); return }
        let delay = latency.nanosecondCount + Int64(random.below(UInt64(max(0, jitter.nanosecondCount)) + 1))
        simulation.schedule(at: Instant(nanoseconds: simulation.now.nanoseconds + delay), owner: owner) {
            completion(result)
        }
    }

    public func open(_ path: String, completion: @escaping (Result<FileHandleID, FileSourceError>) -> Void) {
        opens += 1
        if let failure = failures[path] { complete(.failure(failure), completion); return }
        if random.chance(openErrorRate) {
            injectedErrors += 1
            complete(.failure(.ioError("simulated open error")), completion); return
        }
        guard let bytes = files[path] else { complete(.failure(.notFound), completion); return }
        let id = nextHandle; nextHandle += 1
        handles[id] = bytes
        complete(.success(FileHandleID(id: id)), completion)
    }

    public func size(of file: FileHandleID) -> Int { handles[file.id]?.count ?? 0 }

    public func read(_ file: FileHandleID, offset: Int, count: Int,
                     completion: @escaping (Result<ArraySlice<UInt8>, FileSourceError>) -> Void) {
        reads += 1
        guard let bytes = handles[file.id] else { complete(.failure(.ioError("bad handle")), completion); return }
        if random.chance(readErrorRate) {
            injectedErrors += 1
            complete(.failure(.ioError("simulated read error")), completion); return
        }
        guard offset >= 0, count >= 0 else { complete(.failure(.ioError("bad range")), completion); return }
        let start = min(offset, bytes.count)
        let end = min(bytes.count, start + count)
        let chunk = bytes[start..<end]
        bytesRead += chunk.count
        complete(.success(chunk), completion)
    }

    public func close(_ file: FileHandleID) { handles[file.id] = nil }
}
