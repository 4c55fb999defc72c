// A reader for the INI dialect PyBootd's configuration files are written in: Python's
// `configparser` with its defaults (strict, no interpolation that matters here, no inline
// comments). It keeps sections, keys, values and line numbers, and reports every syntax
// problem it finds instead of stopping at the first. No I/O: text in, values out.

/// Where something in a configuration file is: file name (as given by the caller) and
/// 1-based line number. Line nil means "the file as a whole".
public struct ConfigurationLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public init(file: String, line: Int?) { self.file = file; self.line = line }
    public var description: String { line.map { "\(file):\($0)" } ?? file }
}

/// A problem in a configuration file. Rendered as `file:line: [section] key: message`
/// (the `[section]` and `key` parts only when known).
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public var location: ConfigurationLocation
    /// Lower-case section name, when the problem is in a section.
    public var section: String?
    /// The key as written in the file, when the problem is about a key.
    public var key: String?
    public var message: String
    public init(location: ConfigurationLocation, section: String? = nil, key: String? = nil, message: String) {
        self.location = location; self.section = section; self.key = key; self.message = message
    }
    public var description: String { renderIssue(location, section, key, message) }
}

/// Something worth telling the user that does not stop the file from loading (unknown
/// sections and keys, settings that have no effect). Same rendering as errors.
public struct ConfigurationWarning: Hashable, Sendable, CustomStringConvertible {
    public var location: ConfigurationLocation
    public var section: String?
    public var key: String?
    public var message: String
    public init(location: ConfigurationLocation, section: String? = nil, key: String? = nil, message: String) {
        self.location = location; self.section = section; self.key = key; self.message = message
    }
    public var description: String { renderIssue(location, section, key, message) }
}

func renderIssue(_ l: ConfigurationLocation, _ section: String?, _ key: String?, _ message: String) -> String {
    var s = "\(l): "
    if let section { s += "[\(section)] " }
    if let key { s += "\(key): " } else if section != nil { s = String(s.dropLast()) + ": " }
    return s + message
}

/// An INI file as sections of key/value entries, in file order, with line numbers.
public struct INIFile: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        /// The key as written (case kept; `[filters]` patterns and MAC keys need it).
        public var key: String
        /// The key lower-cased, for lookups (keys are case-insensitive).
        public var normalizedKey: String { key.lowercased() }
        /// The value with surrounding whitespace trimmed and nothing else removed (no
        /// inline comments, as in configparser). Continuation lines are joined with "\n".
        public var value: String
        public var line: Int
        public init(key: String, value: String, line: Int) { self.key = key; self.value = value; self.line = line }
    }
    public struct Section: Hashable, Sendable {
        /// The section name as written between the brackets, trimmed.
        public var name: String
        /// The name lower-cased (section names are case-insensitive in bootd).
        public var normalizedName: String { name.lowercased() }
        public var line: Int
        public var entries: [Entry]
        public init(name: String, line: Int, entries: [Entry] = []) { self.name = name; self.line = line; self.entries = entries }
        public subscript(key: String) -> Entry? {
            let k = key.lowercased()
            return entries.first { $0.normalizedKey == k }
        }
    }

    public var fileName: String
    public var sections: [Section]

    public init(fileName: String, sections: [Section] = []) { self.fileName = fileName; self.sections = sections }

    public subscript(section name: String) -> Section? {
        let n = name.lowercased()
        return sections.first { $0.normalizedName == n }
    }

    /// Parses UTF-8 bytes. A byte sequence that is not UTF-8 is an error naming its line;
    /// a leading byte order mark is skipped.
    public static func parse(bytes: [UInt8], fileName: String) -> (file: INIFile, errors: [ConfigurationError]) {
        if let e = utf8Error(bytes, fileName: fileName) { return (INIFile(fileName: fileName), [e]) }
        return parse(String(decoding: bytes, as: UTF8.self), fileName: fileName)
    }

    /// The error for bytes that are not UTF-8, naming the line of the first bad byte.
    public static func utf8Error(_ bytes: [UInt8], fileName: String) -> ConfigurationError? {
        var it = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &it) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput: return nil
            case .error(let length):
                let line = bytes[..<offset].reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
                return ConfigurationError(
                    location: .init(file: fileName, line: line),
                    message: "not valid UTF-8 (byte offset \(offset), \(length) bad byte\(length == 1 ? "" : "s")); save the file as UTF-8")
            }
        }
    }

    /// Parses text. Syntax, after configparser:
    /// - `[name]` starts a section; names are case-insensitive; a section may appear once.
    /// - `key = value` or `key: value`, split at the first `=` or `:`; keys are
    ///   case-insensitive and may appear once per section. bootd extension: when the text
    ///   before the first `=` is a colon-separated MAC address (`aa:bb:cc:dd:ee:ff`, maybe
    ///   with `/N`), the key is that whole address.
    /// - Lines whose first non-blank character is `;` or `#` are comments. Inline comments
    ///   are NOT recognised: `port = 67 ; dhcp` has the value `67 ; dhcp`.
    /// - An indented line after a `key = value` line continues that value (joined with a
    ///   newline); blank lines end a value. An indented line anywhere else is an error.
    /// - Values are trimmed; an empty value is kept as "".
    public static func parse(_ text: String, fileName: String) -> (file: INIFile, errors: [ConfigurationError]) {
        var file = INIFile(fileName: fileName)
        var errors: [ConfigurationError] = []
        var seenSections: [String: Int] = [:]
        var current: Int? = nil                 // index into file.sections
        var skipping = false                    // inside a duplicate section: entries dropped
        var lastEntry: (section: Int, entry: Int)? = nil
        var seenKeys: [String: Int] = [:]       // normalized key -> line, current section

        func err(_ line: Int, _ section: String?, _ key: String?, _ message: String) {
            errors.append(ConfigurationError(location: .init(file: fileName, line: line), section: section, key: key, message: message))
        }

        var body = Substring(text)
        if body.hasPrefix("\u{FEFF}") { body = body.dropFirst() }
        // "\r\n" is one Character in Swift: split on both.
        let lines = body.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (index, rawLine) in lines.enumerated() {
            let lineNumber = index + 1
            var line = rawLine
            if line.hasSuffix("\r") { line = line.dropLast() }
            let trimmed = line.trimmingINIWhitespace()
            if trimmed.isEmpty { lastEntry = nil; continue }
            if trimmed.hasPrefix(";") || trimmed.hasPrefix("#") { continue }
            let indented = line.first.map { $0 == " " || $0 == "\t" } ?? false

            if indented {
                if let (s, e) = lastEntry {
                    let old = file.sections[s].entries[e].value
                    file.sections[s].entries[e].value = old.isEmpty ? String(trimmed) : old + "\n" + trimmed
                } else if !skipping {
                    err(lineNumber, current.map { file.sections[$0].normalizedName }, nil,
                        "indented line \"\(trimmed)\" does not continue a value (remove the indentation)")
                }
                continue
            }
            lastEntry = nil

            if trimmed.hasPrefix("[") {
                guard trimmed.hasSuffix("]"), trimmed.count >= 3 else {
                    err(lineNumber, nil, nil, "malformed section header \"\(trimmed)\" (expected [name])")
                    current = nil; skipping = true
                    continue
                }
                let name = trimmed.dropFirst().dropLast().trimmingINIWhitespace()
                guard !name.isEmpty else {
                    err(lineNumber, nil, nil, "empty section name")
                    current = nil; skipping = true
                    continue
                }
                let n = name.lowercased()
                if let first = seenSections[n] {
                    err(lineNumber, n, nil, "duplicate section (first at line \(first)); merge the two")
                    current = nil; skipping = true
                    continue
                }
                seenSections[n] = lineNumber
                file.sections.append(Section(name: String(name), line: lineNumber))
                current = file.sections.count - 1
                skipping = false
                seenKeys = [:]
                continue
            }

            guard let s = current else {
                if !skipping {
                    err(lineNumber, nil, nil, "\"\(trimmed)\" appears before any [section] header")
                    skipping = true   // one message for the whole headless block
                }
                continue
            }
            let sectionName = file.sections[s].normalizedName
            guard let (key, value) = splitKeyValue(trimmed) else {
                err(lineNumber, sectionName, nil, "expected \"key = value\", found \"\(trimmed)\"")
                continue
            }
            guard !key.isEmpty else {
                err(lineNumber, sectionName, nil, "missing key before the separator in \"\(trimmed)\"")
                continue
            }
            let nk = key.lowercased()
            if let first = seenKeys[nk] {
                err(lineNumber, sectionName, key, "duplicate key (first at line \(first))")
                continue
            }
            seenKeys[nk] = lineNumber
            file.sections[s].entries.append(Entry(key: key, value: value, line: lineNumber))
            lastEntry = (s, file.sections[s].entries.count - 1)
        }
        return (file, errors)
    }

    /// Splits `key = value` / `key: value` at the first separator (configparser's rule),
    /// except that a colon-separated MAC address before a `=` stays whole.
    static func splitKeyValue(_ line: Substring) -> (String, String)? {
        if let eq = line.firstIndex(of: "=") {
            let before = line[..<eq].trimmingINIWhitespace()
            if before.contains(":"), looksLikeColonMAC(before) {
                return (String(before), String(line[line.index(after: eq)...].trimmingINIWhitespace()))
            }
        }
        guard let sep = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else { return nil }
        return (String(line[..<sep].trimmingINIWhitespace()),
                String(line[line.index(after: sep)...].trimmingINIWhitespace()))
    }

    static func looksLikeColonMAC(_ s: Substring) -> Bool {
        let addr = s.split(separator: "/", maxSplits: 1).first ?? s
        let parts = addr.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count >= 2 && parts.count <= 6 && parts.allSatisfy { $0.count == 2 && $0.allSatisfy(\.isHexDigit) }
    }
}

extension StringProtocol where SubSequence == Substring {
    func trimmingINIWhitespace() -> Substring {
        let s = self[...]
        guard let first = s.firstIndex(where: { !$0.isWhitespace }) else { return s[s.endIndex...] }
        let last = s.lastIndex(where: { !$0.isWhitespace })!
        return s[first...last]
    }
}
