#if canImport(Glibc)
import Glibc
#endif

/// Reads each named file (or every regular file in a named directory) and runs it through
/// `check`. Uses only libc so the fuzz targets stay free of Foundation.
public func replayInputs(_ paths: ArraySlice<String>, through check: ([UInt8]) -> Void) {
    var count = 0
    for path in paths {
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name.hasPrefix(".") { continue }
                if let bytes = readWholeFile(path + "/" + name) { check(bytes); count += 1 }
            }
            closedir(dir)
        } else if let bytes = readWholeFile(path) {
            check(bytes); count += 1
        } else {
            print("cannot read \(path)")
            exit(2)
        }
    }
    print("replayed \(count) input\(count == 1 ? "" : "s") without a failure")
}

func readWholeFile(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buffer, 1, buffer.count, f)
        if n > 0 { out += buffer[0..<n] }
        if n < buffer.count { break }
    }
    return ferror(f) == 0 ? out : nil
}
