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
        if name.utf8.contains(0) { return .failure(.nul) }
        var components: [Substring] = []
        let slashed = name.replacing("\\", with: "/")
        for component in slashed.split(separator: "/", omittingEmptySubsequences: true) {
            if component == "." { continue }
            if component == ".." { return .failure(.parentComponent) }
            components.append(component)
        }
        if components.isEmpty { return .failure(.empty) }
        return .success(components.joined(separator: "/"))
    }

    /// `resolve(_:)` for the bytes of a request's file name.
    public static func resolve(bytes: [UInt8]) -> Result<String, TFTPPathRefusal> {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.utf8.elementsEqual(bytes) else { return .failure(.notUTF8) }
        return resolve(text)
    }
}

/// One `[filters]` rule of a PyBootd configuration: `pattern = replacement`.
///
/// Rules are tried in file order; the first whose pattern matches the requested name (as
/// the client sent it, before `TFTPPath.resolve`) rewrites it, and the result is then
/// resolved inside the root like any requested name. No rule matching: the name is used
/// as is.
public struct TFTPFilterRule: Hashable, Sendable {
    public enum Replacement: Hashable, Sendable {
        /// The new name. `{filename}` in it is replaced by the requested name.
        case name(String)
        /// PyBootd's `[path]` form: the new name is the first non-blank line of that
        /// file, read through the TFTP file source (so it is root-relative, resolved by
        /// the same rules, and works with an HTTP root too) at each request, so that an
        /// operator can change it while the server runs. `{filename}` in the line is
        /// replaced too.
        case file(String)
    }

    /// A glob: `*` matches any run of characters (including `/`, as Python's fnmatch
    /// does), `?` exactly one; every other character matches itself, case-sensitively.
    public var pattern: String
    public var replacement: Replacement

    public init(pattern: String, replacement: Replacement) {
        self.pattern = pattern
        self.replacement = replacement
    }

    /// A rule from a `[filters]` entry as written: a value `[path]` (brackets at both
    /// ends) is the file form, anything else a name.
    public init(pattern: String, value: String) {
        if value.count >= 2, value.first == "[", value.last == "]" {
            self.init(pattern: pattern, replacement: .file(String(value.dropFirst().dropLast())))
        } else {
            self.init(pattern: pattern, replacement: .name(value))
        }
    }

    /// Whether `name` matches the pattern as a whole.
    public func matches(_ name: String) -> Bool {
        tftpGlobMatch(Array(pattern.unicodeScalars), Array(name.unicodeScalars))
    }

    /// `template` with every `{filename}` replaced by `requested`.
    public static func substitute(_ template: String, filename requested: String) -> String {
        template.replacing("{filename}", with: requested)
    }
}

/// Glob match with `*` and `?`, linear backtracking on the last `*`.
func tftpGlobMatch(_ pattern: [Unicode.Scalar], _ text: [Unicode.Scalar]) -> Bool {
    var p = 0, t = 0
    var star: Int? = nil, starText = 0
    while t < text.count {
        if p < pattern.count, pattern[p] == "*" {
            star = p; starText = t; p += 1
        } else if p < pattern.count, pattern[p] == "?" || pattern[p] == text[t] {
            p += 1; t += 1
        } else if let s = star {
            p = s + 1; starText += 1; t = starText
        } else {
            return false
        }
    }
    while p < pattern.count, pattern[p] == "*" { p += 1 }
    return p == pattern.count
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
