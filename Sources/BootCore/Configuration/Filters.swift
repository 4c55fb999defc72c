// `[filters]`: rewrite requested file names. PyBootd's README: a glob pattern (`*`, `?`)
// maps to a replacement in which `{filename}` is the requested name; a replacement
// written `[path]` means "read the replacement from that file".

/// The right-hand side of a `[filters]` entry.
public enum FilterReplacement: Hashable, Sendable {
    /// A template: `{filename}` is the requested name, `{authfile}` the HTTP authority's
    /// `File:` value; `{{` and `}}` are literal braces (Python `str.format` rules).
    case template(String)
    /// `[path]`: the replacement is the content of this file (read elsewhere; relative
    /// paths resolve like every other path of the configuration).
    case file(String)
}

/// What a matching filter says to serve instead.
public enum FilterResult: Hashable, Sendable {
    /// Serve this name.
    case name(String)
    /// Serve what the file at this path says (the caller reads and trims it).
    case contentsOf(path: String)
}

public struct FilterRule: Hashable, Sendable {
    /// The glob as written (case is kept; matching is case-sensitive, as Python's fnmatch
    /// is on POSIX). `*` matches any run of characters, `/` included; `?` one character;
    /// everything else, `[` too, is literal.
    public var pattern: String
    public var replacement: FilterReplacement
    public init(pattern: String, replacement: FilterReplacement) { self.pattern = pattern; self.replacement = replacement }

    /// The replacement for `filename`, or nil when the pattern does not match. A template
    /// that uses `{authfile}` does not apply when no `File:` value is known (the next rule,
    /// or the requested name itself, is used instead).
    public func apply(to filename: String, authFile: String?) -> FilterResult? {
        guard globMatches(pattern, filename) else { return nil }
        switch replacement {
        case .file(let path): return .contentsOf(path: path)
        case .template(let t):
            guard let s = try? expandFilterTemplate(t, filename: filename, authFile: authFile) else { return nil }
            return .name(s)
        }
    }
}

/// Why a template cannot be expanded.
public enum FilterTemplateError: Error, Hashable, Sendable, CustomStringConvertible {
    case unknownPlaceholder(String)
    case unbalancedBrace
    case missingAuthFile
    public var description: String {
        switch self {
        case .unknownPlaceholder(let p): "unknown placeholder {\(p)} (known: {filename}, {authfile})"
        case .unbalancedBrace: "unbalanced '{' or '}' (write {{ or }} for a literal brace)"
        case .missingAuthFile: "{authfile} used but the authority gave no File: value"
        }
    }
}

/// Expands `{filename}` and `{authfile}`; `{{`/`}}` are literal braces. With `authFile`
/// nil, a template using `{authfile}` throws `.missingAuthFile`.
public func expandFilterTemplate(_ template: String, filename: String, authFile: String?) throws(FilterTemplateError) -> String {
    var out = ""
    var chars = template[...]
    while let c = chars.first {
        chars = chars.dropFirst()
        if c == "{" {
            if chars.first == "{" { out.append("{"); chars = chars.dropFirst(); continue }
            guard let close = chars.firstIndex(of: "}") else { throw .unbalancedBrace }
            let name = chars[..<close]
            chars = chars[chars.index(after: close)...]
            switch name.lowercased() {
            case "filename": out += filename
            case "authfile":
                guard let authFile else { throw .missingAuthFile }
                out += authFile
            default: throw .unknownPlaceholder(String(name))
            }
        } else if c == "}" {
            guard chars.first == "}" else { throw .unbalancedBrace }
            out.append("}"); chars = chars.dropFirst()
        } else {
            out.append(c)
        }
    }
    return out
}

/// Glob matching with `*` (any run, possibly empty, `/` included) and `?` (exactly one
/// character); all other characters match themselves. Case-sensitive. Linear-time
/// backtracking on the last `*`, so hostile names cannot make it slow.
public func globMatches(_ pattern: String, _ text: String) -> Bool {
    let p = Array(pattern), t = Array(text)
    var pi = 0, ti = 0
    var star: Int? = nil, mark = 0
    while ti < t.count {
        if pi < p.count && (p[pi] == "?" || (p[pi] != "*" && p[pi] == t[ti])) {
            pi += 1; ti += 1
        } else if pi < p.count && p[pi] == "*" {
            star = pi; mark = ti; pi += 1
        } else if let s = star {
            pi = s + 1; mark += 1; ti = mark
        } else {
            return false
        }
    }
    while pi < p.count && p[pi] == "*" { pi += 1 }
    return pi == p.count
}
