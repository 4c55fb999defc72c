// TFTP file names: the `[filters]` rewrite rules, then resolution inside the root.
//
// Both are pure functions, tested on their own and used by `TFTPServer` before any
// file-source action is emitted. PyBootd let `../`, absolute paths and the current
// directory escape its root (pybootd-notes.md, "TFTP" defects); here no resolved path
// can name anything outside the root.

/// Why a requested name was refused. The engine answers ERROR 2 (access violation) for
/// every case: the name is one this server will never serve, whatever the root holds.
public enum TFTPPathRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    /// A `..` component (after `\` became `/`): the name would leave the root.
    case parentComponent
    /// Nothing left once `/`, `.` and empty components are removed (`/`, `.`, `//`).
    case empty
    /// A NUL byte (the wire parser already excludes it; a filter's output could not).
    case nul
    /// The name is not valid UTF-8; file sources take text paths.
    case notUTF8

    public var description: String {
        switch self {
        case .parentComponent: "a '..' component would leave the root"
        case .empty: "the name names no file"
        case .nul: "NUL in the name"
        case .notUTF8: "the name is not valid UTF-8"
        }
    }
}

/// Resolution of a requested file name to a path relative to the TFTP root.
public enum TFTPPath {
    /// The root-relative path for `name`, or why it is refused. Rules, in order:
    ///
    /// - `\` becomes `/` (Windows clients and WDS-style configurations send `\`);
    /// - the name is root-relative, like tftpd-hpa with `--secure`: leading `/` are
    ///   dropped, so `/pxelinux.0` and `pxelinux.0` are the same file (GRUB and many
    ///   `pxelinux.cfg` files send absolute names) and `/etc/passwd` means
    ///   `<root>/etc/passwd`, never the host's;
    /// - empty and `.` components are removed (`a//./b` is `a/b`);
    /// - any `..` component is refused, even one that would stay inside the root
    ///   (`a/../b`): no client needs it, and refusing is simpler to trust;
    /// - a name with nothing left, or with a NUL, is refused;
    /// - URL escapes (`%2e%2e`) are not decoded: they are ordinary characters of a name.
    ///
    /// Symbolic links inside the root are the file source's business (the production
    /// local source refuses those that lead outside it).
    public static func resolve(_ name: String) -> Result<String, TFTPPathRefusal> {
        var name = name
        return name.withUTF8 { resolveValid($0) }
    }

    /// `resolve(_:)` for the bytes of a request's file name.
    public static func resolve(bytes: [UInt8]) -> Result<String, TFTPPathRefusal> {
        bytes.withUnsafeBufferPointer { bytes in
            guard String(validating: bytes, as: UTF8.self) != nil else { return .failure(.notUTF8) }
            return resolveValid(bytes)
        }
    }

    /// The rules above on UTF-8 bytes, one pass (this runs for every RRQ and every HTTP
    /// request; the String version, with `replacing` and a Character split, cost ~20,000
    /// instructions a name). Separators and dots are ASCII, so no byte of a multi-byte
    /// character is taken for one.
    private static func resolveValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<String, TFTPPathRefusal> {
        let slash = UInt8(ascii: "/"), backslash = UInt8(ascii: "\\"), dot = UInt8(ascii: ".")
        if bytes.contains(0) { return .failure(.nul) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var start = 0
        var i = 0
        while i <= bytes.count {
            let b: UInt8 = i < bytes.count ? bytes[i] : slash
            if b == slash || b == backslash {
                let length = i - start
                if length == 1 && bytes[start] == dot {
                    // "." names the directory it is in: dropped
                } else if length == 2 && bytes[start] == dot && bytes[start + 1] == dot {
                    return .failure(.parentComponent)
                } else if length > 0 {
                    if !out.isEmpty { out.append(slash) }
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i]))
                }
                start = i + 1
            }
            i += 1
        }
        if out.isEmpty { return .failure(.empty) }
        return .success(String(decoding: out, as: UTF8.self))
    }
}

/// The first line of an indirection file that is not blank, without surrounding spaces,
/// tabs or CR; nil when there is none.
func tftpFirstLine(_ bytes: [UInt8]) -> String? {
    // Split bytes, not Characters: "\r\n" is one Character in Swift.
    let blank: Set<UInt8> = [0x20, 0x09, 0x0D]
    for line in bytes.split(separator: 0x0A) {
        guard let first = line.firstIndex(where: { !blank.contains($0) }),
              let last = line.lastIndex(where: { !blank.contains($0) }) else { continue }
        return String(decoding: line[first...last], as: UTF8.self)
    }
    return nil
}
