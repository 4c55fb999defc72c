import BootWire
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Every error of a configuration file (not just the first), with its warnings.
public struct ConfigurationFailure: Error, Hashable, Sendable, CustomStringConvertible {
    public var errors: [ConfigurationError]
    public var warnings: [ConfigurationWarning]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// A configuration that loaded, and what was worth saying about it.
public struct LoadedConfiguration: Hashable, Sendable {
    public var configuration: BootConfiguration
    public var warnings: [ConfigurationWarning]
}

/// Turns PyBootd-compatible INI text into a validated `BootConfiguration`.
///
/// Decisions where PyBootd's notes are silent:
/// - An empty value (`netmask =`) means "not set" for optional settings; for settings
///   with a default it is an error (write the value or remove the line).
/// - Lists (`dns`, `notify`) are separated by `;`, `,` or continuation lines.
/// - `[bootfile]` architecture keys are decimal, 1 to 5 digits (`00007` and `7` are the
///   same key; both at once is a duplicate); `ipxe` is bootd's key for iPXE clients.
/// - `[http] timeout` wins over `[bootpd] timeout` when both are given (warning).
/// - Relative paths (tftpd/httpd root, logger file, `[path]` filter files) resolve against
///   the configuration file's directory.
public enum ConfigurationLoader {
    /// Reads and parses a file. The only I/O in BootCore.
    public static func load(contentsOfFile path: String, dhcpEnabled: Bool = true) throws(ConfigurationFailure) -> LoadedConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationFailure(errors: [ConfigurationError(location: .init(file: path, line: nil), message: "cannot read the file")], warnings: [])
        }
        var base = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if base.isEmpty { base = path.hasPrefix("/") ? "/" : "." }
        return try parse(bytes: Array(data), fileName: path, baseDirectory: base, dhcpEnabled: dhcpEnabled)
    }

    public static func parse(bytes: [UInt8], fileName: String, baseDirectory: String? = nil, dhcpEnabled: Bool = true) throws(ConfigurationFailure) -> LoadedConfiguration {
        if let e = INIFile.utf8Error(bytes, fileName: fileName) { throw ConfigurationFailure(errors: [e], warnings: []) }
        let (ini, errors) = INIFile.parse(String(decoding: bytes, as: UTF8.self), fileName: fileName)
        return try build(ini, syntaxErrors: errors, baseDirectory: baseDirectory, dhcpEnabled: dhcpEnabled)
    }

    /// Parses configuration text. `fileName` is only used in messages. `dhcpEnabled`:
    /// whether the DHCP service will run (then `[bootpd] pool_start` is required).
    public static func parse(_ text: String, fileName: String, baseDirectory: String? = nil, dhcpEnabled: Bool = true) throws(ConfigurationFailure) -> LoadedConfiguration {
        let (ini, errors) = INIFile.parse(text, fileName: fileName)
        return try build(ini, syntaxErrors: errors, baseDirectory: baseDirectory, dhcpEnabled: dhcpEnabled)
    }

    static func build(_ ini: INIFile, syntaxErrors: [ConfigurationError], baseDirectory: String?, dhcpEnabled: Bool) throws(ConfigurationFailure) -> LoadedConfiguration {
        var b = Builder(ini: ini)
        b.errors = syntaxErrors
        b.config.baseDirectory = baseDirectory
        b.run(dhcpEnabled: dhcpEnabled)
        if !b.errors.isEmpty { throw ConfigurationFailure(errors: b.errors, warnings: b.warnings) }
        return LoadedConfiguration(configuration: b.config, warnings: b.warnings)
    }
}

// MARK: - Building

/// Values spelled as booleans, as PyBootd's README lists them (case-insensitive).
public func parseConfigurationBool(_ text: String) -> Bool? {
    switch text.lowercased() {
    case "on", "high", "true", "enable", "enabled", "yes", "1": true
    case "off", "low", "false", "disable", "disabled", "no", "0": false
    default: nil
    }
}

private struct Builder {
    let ini: INIFile
    var config = BootConfiguration()
    var errors: [ConfigurationError] = []
    var warnings: [ConfigurationWarning] = []
    var section = ""

    init(ini: INIFile) { self.ini = ini }

    func loc(_ line: Int?) -> ConfigurationLocation { .init(file: ini.fileName, line: line) }
    mutating func error(_ e: INIFile.Entry, _ message: String) {
        var m = message
        if e.value.contains(" ;") || e.value.contains(" #") || e.value.contains("\t;") || e.value.contains("\t#") {
            m += " (comments must be on their own line)"
        }
        errors.append(.init(location: loc(e.line), section: section, key: e.key, message: m))
    }
    mutating func warn(_ e: INIFile.Entry, _ message: String) {
        warnings.append(.init(location: loc(e.line), section: section, key: e.key, message: message))
    }

    mutating func run(dhcpEnabled: Bool) {
        for s in ini.sections {
            section = s.normalizedName
            switch section {
            case "logger": logger(s)
            case "bootpd": bootpd(s)
            case "bootfile": bootfile(s)
            case "buggy_clients": config.buggyClients = macRules(s, exactOnly: false)
            case "mac": config.macRules = macRules(s, exactOnly: false)
            case "uuid": uuid(s)
            case "static_dhcp": staticDHCP(s)
            case "http": http(s)
            case "tftpd": tftpd(s)
            case "httpd": httpd(s)
            case "filters": filters(s)
            default:
                warnings.append(.init(location: loc(s.line), section: section,
                                      message: "unknown section, ignored (known: logger, bootpd, bootfile, buggy_clients, mac, uuid, static_dhcp, http, tftpd, httpd, filters)"))
            }
        }
        crossChecks(dhcpEnabled: dhcpEnabled)
    }

    // MARK: Value helpers. Each returns nil after recording an error.

    mutating func singleLine(_ e: INIFile.Entry) -> String? {
        guard !e.value.contains("\n") else { error(e, "value continues on an indented line; only lists may span lines"); return nil }
        return e.value
    }
    mutating func nonEmpty(_ e: INIFile.Entry) -> String? {
        guard let v = singleLine(e) else { return nil }
        guard !v.isEmpty else { error(e, "empty value"); return nil }
        return v
    }
    /// Optional string: empty means unset (returns .some(nil)).
    mutating func optionalString(_ e: INIFile.Entry) -> String?? {
        guard let v = singleLine(e) else { return nil }
        return .some(v.isEmpty ? nil : v)
    }
    mutating func bool(_ e: INIFile.Entry) -> Bool? {
        guard let v = nonEmpty(e) else { return nil }
        guard let b = parseConfigurationBool(v) else {
            error(e, "\"\(v)\" is not a boolean (true: on, high, true, enable, enabled, yes, 1; false: off, low, false, disable, disabled, no, 0)")
            return nil
        }
        return b
    }
    mutating func ipv4(_ e: INIFile.Entry) -> IPv4Address? {
        guard let v = nonEmpty(e) else { return nil }
        guard let a = IPv4Address(v) else { error(e, "\"\(v)\" is not an IPv4 address"); return nil }
        return a
    }
    mutating func optionalIPv4(_ e: INIFile.Entry) -> IPv4Address?? {
        guard let v = singleLine(e) else { return nil }
        if v.isEmpty { return .some(nil) }
        guard let a = IPv4Address(v) else { error(e, "\"\(v)\" is not an IPv4 address"); return nil }
        return .some(a)
    }
    mutating func port(_ e: INIFile.Entry) -> UInt16? {
        guard let n = integer(e, 1...65535, what: "port") else { return nil }
        return UInt16(n)
    }
    mutating func integer(_ e: INIFile.Entry, _ range: ClosedRange<Int>, what: String) -> Int? {
        guard let v = nonEmpty(e) else { return nil }
        guard v.allSatisfy({ $0.isASCII && $0.isNumber }) || (v.hasPrefix("-") && v.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber })),
              let n = Int(v) else {
            error(e, "\"\(v)\" is not a whole number"); return nil
        }
        guard range.contains(n) else { error(e, "\(what) \(n) is outside \(range.lowerBound)...\(range.upperBound)"); return nil }
        return n
    }
    /// Seconds, possibly fractional, > 0 and <= max.
    mutating func seconds(_ e: INIFile.Entry, max: Double = 3600) -> Duration? {
        guard let v = nonEmpty(e) else { return nil }
        guard v.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let d = Double(v), d.isFinite else {
            error(e, "\"\(v)\" is not a number of seconds"); return nil
        }
        guard d > 0, d <= max else { error(e, "\(v) seconds is outside the range (0, \(formatSeconds(.seconds(max)))]"); return nil }
        return .milliseconds(Int64((d * 1000).rounded()))
    }
    mutating func list(_ e: INIFile.Entry) -> [String] {
        e.value.split(whereSeparator: { $0 == ";" || $0 == "," || $0 == "\n" })
            .map { String($0.trimmingINIWhitespace()) }.filter { !$0.isEmpty }
    }
    mutating func unknownKey(_ e: INIFile.Entry, known: [String]) {
        warn(e, "unknown key, ignored (known: \(known.joined(separator: ", ")))")
    }

    // MARK: Sections

    mutating func logger(_ s: INIFile.Section) {
        var type = "stderr"; var typeEntry: INIFile.Entry?
        var file: String?; var fileEntry: INIFile.Entry?
        for e in s.entries {
            switch e.normalizedKey {
            case "type":
                guard let v = nonEmpty(e) else { continue }
                let t = v.lowercased()
                guard ["stderr", "stdout", "file", "syslog", "none"].contains(t) else {
                    error(e, "unknown log type \"\(v)\" (stderr, stdout, file, syslog, none)"); continue
                }
                type = t; typeEntry = e
            case "level":
                guard let v = nonEmpty(e) else { continue }
                guard let l = LoggerSettings.Level(rawValue: v.lowercased()) else {
                    error(e, "unknown log level \"\(v)\" (critical, error, warning, info, debug)"); continue
                }
                config.logger.level = l
            case "file":
                guard let v = optionalString(e) else { continue }
                file = v; fileEntry = e
            default: unknownKey(e, known: ["type", "level", "file"])
            }
        }
        switch type {
        case "stdout": config.logger.output = .stdout
        case "syslog": config.logger.output = .syslog
        case "none": config.logger.output = .none
        case "file":
            if let file { config.logger.output = .file(file) } else if let typeEntry {
                error(typeEntry, "type = file needs file = PATH in [logger]")
            }
        default: config.logger.output = .stderr
        }
        if type != "file", file != nil, let fileEntry { warn(fileEntry, "ignored: type is \(type), not file") }
    }

    mutating func bootpd(_ s: INIFile.Section) {
        let known = ["address", "port", "pool_start", "pool_count", "netmask", "gateway", "dns", "domain", "servername",
                     "lease_time", "bootp_lease", "boot_file", "access", "allow_simple_dhcp", "notify", "timeout"]
        for e in s.entries {
            switch e.normalizedKey {
            case "address": if let a = ipv4(e) { config.bootpd.address = a }
            case "port": if let p = port(e) { config.bootpd.port = p }
            case "pool_start": if let a = optionalIPv4(e) { config.bootpd.poolStart = a }
            case "pool_count": if let n = integer(e, 0...(1 << 24), what: "pool_count") { config.bootpd.poolCount = n }
            case "netmask":
                guard let m = optionalIPv4(e) else { continue }
                if let m, prefixLength(m) == nil || m.value == 0 {
                    error(e, "\(m) is not a netmask (contiguous ones, e.g. 255.255.255.0)"); continue
                }
                config.bootpd.netmask = m
            case "gateway": if let a = optionalIPv4(e) { config.bootpd.gateway = a }
            case "dns":
                if e.value.lowercased() == "auto" { config.bootpd.dns = .auto; continue }
                var servers: [IPv4Address] = []
                var ok = true
                for item in list(e) {
                    if let a = IPv4Address(item) { servers.append(a) } else {
                        error(e, "\"\(item)\" is not an IPv4 address (dns is a ';'-separated list of addresses, or auto)"); ok = false
                    }
                }
                if ok { config.bootpd.dns = .servers(servers) }
            case "domain": if let v = optionalString(e) { config.bootpd.domain = v }
            case "servername": if let v = optionalString(e) { config.bootpd.serverName = v }
            case "lease_time": if let n = integer(e, 1...0xFFFF_FFFE, what: "lease_time") { config.bootpd.leaseTime = UInt32(n) }
            case "bootp_lease":
                // Empty: as lease_time.
                if e.value.isEmpty { config.bootpd.bootpLease = nil }
                else if let n = integer(e, 1...0xFFFF_FFFE, what: "bootp_lease") { config.bootpd.bootpLease = UInt32(n) }
            case "boot_file": if let v = optionalString(e) { config.bootpd.bootFile = v }
            case "access":
                guard let v = singleLine(e) else { continue }
                if v.isEmpty { config.bootpd.access = .none; continue }
                guard let m = AccessMode(rawValue: v.lowercased()) else {
                    error(e, "unknown access mode \"\(v)\" (none, mac, uuid, http)"); continue
                }
                config.bootpd.access = m
            case "allow_simple_dhcp": if let b = bool(e) { config.bootpd.allowSimpleDHCP = b }
            case "notify":
                var targets: [NotifyTarget] = []
                var ok = true
                for item in list(e) {
                    let parts = item.split(separator: ":", omittingEmptySubsequences: false)
                    if parts.count == 2, let a = IPv4Address(String(parts[0])), let p = UInt16(parts[1]), p > 0 {
                        targets.append(NotifyTarget(address: a, port: p))
                    } else {
                        error(e, "\"\(item)\" is not an ip:port target (e.g. 10.0.0.1:5555)"); ok = false
                    }
                }
                if ok { config.bootpd.notify = targets }
            case "timeout":
                if let d = seconds(e) {
                    if let h = ini[section: "http"]?["timeout"] {
                        if h.value != e.value { warn(e, "[http] timeout (line \(h.line)) is used instead") }
                    } else {
                        config.http.timeout = d
                    }
                }
            default: unknownKey(e, known: known)
            }
        }
    }

    mutating func bootfile(_ s: INIFile.Section) {
        var archLines: [UInt16: Int] = [:]
        for e in s.entries {
            let k = e.normalizedKey
            if k == "default" { if let v = optionalString(e) { config.bootFiles.defaultFile = v }; continue }
            if k == "ipxe" { if let v = optionalString(e) { config.bootFiles.iPXE = v }; continue }
            guard !k.isEmpty, k.count <= 5, k.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                warn(e, "unknown key, ignored (expected default, ipxe, or an architecture number such as 00007)")
                continue
            }
            guard let n = Int(k), n <= 0xFFFF else { error(e, "architecture \(k) is outside 0...65535"); continue }
            let arch = UInt16(n)
            if let first = archLines[arch] {
                error(e, "architecture \(n) is already given at line \(first)"); continue
            }
            guard let v = nonEmpty(e) else { continue }
            archLines[arch] = e.line
            config.bootFiles.byArchitecture[arch] = v
        }
    }

    mutating func macRules(_ s: INIFile.Section, exactOnly: Bool) -> [MACRule] {
        var rules: [MACRule] = []
        var seen: [MACAddressPattern: Int] = [:]
        for e in s.entries {
            switch MACAddressPattern.parse(e.key) {
            case .failure(let f): error(e, f.description)
            case .success(let p):
                if let first = seen[p] { error(e, "\(p) is already listed at line \(first)"); continue }
                guard let b = bool(e) else { continue }
                seen[p] = e.line
                rules.append(MACRule(p, b))
            }
        }
        return rules
    }

    mutating func uuid(_ s: INIFile.Section) {
        var seen: [MachineUUID: Int] = [:]
        for e in s.entries {
            guard let u = MachineUUID(e.key) else {
                error(e, "\"\(e.key)\" is not a UUID (8-4-4-4-12 hex digits)"); continue
            }
            if let first = seen[u] { error(e, "\(u) is already listed at line \(first)"); continue }
            guard let b = bool(e) else { continue }
            seen[u] = e.line
            config.uuidRules.append(UUIDRule(u, b))
        }
    }

    mutating func staticDHCP(_ s: INIFile.Section) {
        var byMAC: [MACAddress: Int] = [:]
        var byIP: [IPv4Address: (line: Int, key: String)] = [:]
        for e in s.entries {
            guard case .success(let p) = MACAddressPattern.parse(e.key), p.isExact else {
                error(e, "\"\(e.key)\" is not a MAC address (static bindings need a full address such as AA-BB-CC-DD-EE-FF)")
                continue
            }
            let mac = MACAddress(p.bytes)
            if let first = byMAC[mac] { error(e, "\(mac) is already bound at line \(first)"); continue }
            guard let ip = ipv4(e) else { continue }
            if let other = byIP[ip] {
                error(e, "\(ip) is already bound to \(other.key) at line \(other.line)"); continue
            }
            byMAC[mac] = e.line
            byIP[ip] = (e.line, e.key)
            config.staticBindings.append(StaticBinding(mac: mac, address: ip, source: SourceLocation(loc(e.line))))
        }
    }

    mutating func http(_ s: INIFile.Section) {
        for e in s.entries {
            switch e.normalizedKey {
            case "location":
                guard let v = optionalString(e) else { continue }
                guard let v else { config.http.location = nil; continue }
                switch parseLocation(v) {
                case .success(let l): config.http.location = l
                case .failure(let f): error(e, f.description)
                }
            case "pxe": if let v = optionalString(e) { config.http.pxePath = v }
            case "dhcp": if let v = optionalString(e) { config.http.dhcpPath = v }
            case "timeout": if let d = seconds(e) { config.http.timeout = d }
            case "always_check": if let b = bool(e) { config.http.alwaysCheck = b }
            default: unknownKey(e, known: ["location", "pxe", "dhcp", "timeout", "always_check"])
            }
        }
    }

    mutating func tftpd(_ s: INIFile.Section) {
        for e in s.entries {
            switch e.normalizedKey {
            case "address": if let a = ipv4(e) { config.tftpd.address = a }
            case "port": if let p = port(e) { config.tftpd.port = p }
            case "root":
                guard let v = nonEmpty(e) else { continue }
                switch parseRoot(v) {
                case .success(let r): config.tftpd.root = r
                case .failure(let f): error(e, f.description)
                }
            case "blocksize": if let n = integer(e, 8...65464, what: "blocksize") { config.tftpd.blockSize = n }
            case "timeout": if let d = seconds(e, max: 255) { config.tftpd.timeout = d }
            case "retries": if let n = integer(e, 0...100, what: "retries") { config.tftpd.retries = n }
            case "single_port": if let b = bool(e) { config.tftpd.singlePort = b }
            case "max_transfers": if let n = integer(e, 1...65536, what: "max_transfers") { config.tftpd.maxTransfers = n }
            case "max_transfers_per_client":
                if e.value.isEmpty { config.tftpd.maxTransfersPerClient = nil }
                else if let n = integer(e, 1...65536, what: "max_transfers_per_client") { config.tftpd.maxTransfersPerClient = n }
            case "max_timeout": if let n = integer(e, 1...255, what: "max_timeout") { config.tftpd.maxClientTimeout = n }
            case "busy_poll": if let n = integer(e, 0...200, what: "busy_poll (microseconds)") { config.tftpd.busyPoll = .microseconds(n) }
            case "gso": if let b = bool(e) { config.tftpd.gso = b }
            default: unknownKey(e, known: ["address", "port", "root", "blocksize", "timeout", "retries", "single_port", "max_transfers", "max_transfers_per_client", "max_timeout", "busy_poll", "gso"])
            }
        }
    }

    mutating func httpd(_ s: INIFile.Section) {
        for e in s.entries {
            switch e.normalizedKey {
            case "address": if let a = ipv4(e) { config.httpd.address = a }
            case "port": if let p = port(e) { config.httpd.port = p }
            case "root":
                guard let v = nonEmpty(e) else { continue }
                if v.lowercased().hasPrefix("http://") || v.lowercased().hasPrefix("https://") {
                    error(e, "the HTTP server's root must be a local directory"); continue
                }
                config.httpd.root = v
            case "check_ip": if let b = bool(e) { config.httpd.checkIP = b }
            default: unknownKey(e, known: ["address", "port", "root", "check_ip"])
            }
        }
    }

    mutating func filters(_ s: INIFile.Section) {
        for e in s.entries {
            guard let v = nonEmpty(e) else { continue }
            if v.hasPrefix("[") && v.hasSuffix("]") {
                let path = v.dropFirst().dropLast().trimmingINIWhitespace()
                guard !path.isEmpty else { error(e, "empty file name in [ ]"); continue }
                config.filters.append(FilterRule(pattern: e.key, replacement: .file(String(path))))
                continue
            }
            do {
                _ = try expandFilterTemplate(v, filename: "", authFile: "")
            } catch {
                self.error(e, error.description); continue
            }
            config.filters.append(FilterRule(pattern: e.key, replacement: .template(v)))
        }
    }

    // MARK: Whole-file checks

    mutating func crossChecks(dhcpEnabled: Bool) {
        let bootpd = ini[section: "bootpd"]
        let bp = config.bootpd
        if let start = bp.poolStart, bp.poolCount > 0 {
            let entry = bootpd?["pool_count"] ?? bootpd?["pool_start"]
            let last = UInt64(start.value) + UInt64(bp.poolCount) - 1
            if last > 0xFFFF_FFFF {
                add(entry, "bootpd", "pool of \(bp.poolCount) addresses from \(start) goes past 255.255.255.255")
            } else if let mask = bp.netmask, UInt32(last) & mask.value != start.value & mask.value {
                add(entry, "bootpd", "pool \(start)...\(IPv4Address(UInt32(last))) leaves the /\(prefixLength(mask) ?? 0) network of pool_start")
            }
        }
        if dhcpEnabled && bp.poolStart == nil {
            add(bootpd?["pool_start"], "bootpd", "required: an address of the served network (it selects the interface)",
                key: "pool_start", line: bootpd?.line)
        }
        if bp.access == .http && config.http.location == nil {
            add(bootpd?["access"], "bootpd", "access = http needs [http] location")
        }
        if bp.access == .mac && config.macRules.isEmpty, let e = bootpd?["access"] {
            warnings.append(.init(location: loc(e.line), section: "bootpd", key: e.key, message: "access = mac with an empty [mac] section denies every client"))
        }
        if bp.access == .uuid && config.uuidRules.isEmpty, let e = bootpd?["access"] {
            warnings.append(.init(location: loc(e.line), section: "bootpd", key: e.key, message: "access = uuid with an empty [uuid] section denies every client"))
        }
    }

    mutating func add(_ e: INIFile.Entry?, _ section: String, _ message: String, key: String? = nil, line: Int? = nil) {
        errors.append(.init(location: loc(e?.line ?? line), section: section, key: e?.key ?? key, message: message))
    }
}

struct ParseFailure: Error, CustomStringConvertible { var description: String }

/// `host:port`, `host`, `http://host[:port][/prefix]`, `https://...`.
func parseLocation(_ text: String) -> Result<HTTPLocation, ParseFailure> {
    var rest = Substring(text)
    var scheme = HTTPLocation.Scheme.http
    if let r = rest.firstRange(of: "://") {
        let s = rest[..<r.lowerBound].lowercased()
        guard let sc = HTTPLocation.Scheme(rawValue: s) else {
            return .failure(ParseFailure(description: "unsupported scheme \"\(s)\" in \"\(text)\" (http or https)"))
        }
        scheme = sc
        rest = rest[r.upperBound...]
    }
    var path = ""
    if let slash = rest.firstIndex(of: "/") { path = String(rest[slash...]); rest = rest[..<slash] }
    if path.contains("?") || path.contains("#") {
        return .failure(ParseFailure(description: "\"\(text)\" must not contain a query or fragment"))
    }
    var host = rest
    var port: UInt16? = nil
    if let colon = rest.lastIndex(of: ":") {
        host = rest[..<colon]
        guard let p = UInt16(rest[rest.index(after: colon)...]), p > 0 else {
            return .failure(ParseFailure(description: "bad port in \"\(text)\" (1...65535)"))
        }
        port = p
    }
    guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }) else {
        return .failure(ParseFailure(description: "\"\(text)\" is not a host:port or http(s)://host:port/prefix location"))
    }
    return .success(HTTPLocation(scheme: scheme, host: String(host), port: port, pathPrefix: path))
}

func parseRoot(_ text: String) -> Result<FileRoot, ParseFailure> {
    let lower = text.lowercased()
    if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
        guard case .success = parseLocation(text) else {
            return .failure(ParseFailure(description: "\"\(text)\" is not a valid http(s):// URL prefix"))
        }
        return .success(.remote(text))
    }
    if let r = text.firstRange(of: "://") {
        return .failure(ParseFailure(description: "unsupported scheme \"\(text[..<r.lowerBound])\" (a local directory, or an http(s):// URL prefix)"))
    }
    return .success(.local(text))
}

// MARK: - Effective settings

func formatSeconds(_ d: Duration) -> String {
    let (s, atto) = d.components
    if atto == 0 { return String(s) }
    var frac = String(atto / 1_000_000_000_000_000 + 1000).dropFirst()   // milliseconds, 3 digits
    while frac.hasSuffix("0") { frac = frac.dropLast() }
    return "\(s).\(frac)"
}

extension BootConfiguration {
    /// Every effective setting, defaults included, one per line in INI form (what
    /// `bootd --check-config` prints). Unset optional settings are written with an empty
    /// value. Loading the output gives this configuration back.
    public func effectiveSettingsDescription() -> String {
        var out: [String] = []
        func sec(_ name: String) { if !out.isEmpty { out.append("") }; out.append("[\(name)]") }
        func kv(_ k: String, _ v: String?) { out.append(v.map { $0.isEmpty ? "\(k) =" : "\(k) = \($0)" } ?? "\(k) =") }
        func onOff(_ b: Bool) -> String { b ? "on" : "off" }

        sec("logger")
        switch logger.output {
        case .stderr: kv("type", "stderr")
        case .stdout: kv("type", "stdout")
        case .syslog: kv("type", "syslog")
        case .none: kv("type", "none")
        case .file(let f): kv("type", "file"); kv("file", f)
        }
        kv("level", logger.level.rawValue)

        sec("bootpd")
        kv("address", bootpd.address.description)
        kv("port", String(bootpd.port))
        kv("pool_start", bootpd.poolStart?.description)
        kv("pool_count", String(bootpd.poolCount))
        kv("netmask", bootpd.netmask?.description)
        kv("gateway", bootpd.gateway?.description)
        switch bootpd.dns {
        case .auto: kv("dns", "auto")
        case .servers(let s): kv("dns", s.map(\.description).joined(separator: ";"))
        }
        kv("domain", bootpd.domain)
        kv("servername", bootpd.serverName)
        kv("lease_time", String(bootpd.leaseTime))
        kv("bootp_lease", bootpd.bootpLease.map(String.init))
        kv("boot_file", bootpd.bootFile)
        kv("access", bootpd.access.rawValue)
        kv("allow_simple_dhcp", onOff(bootpd.allowSimpleDHCP))
        kv("notify", bootpd.notify.map(\.description).joined(separator: ";"))

        sec("bootfile")
        kv("default", bootFiles.defaultFile)
        kv("ipxe", bootFiles.iPXE)
        for (arch, file) in bootFiles.byArchitecture.sorted(by: { $0.key < $1.key }) {
            kv(ClientArchitecture(rawValue: arch).fiveDigits, file)
        }

        sec("buggy_clients")
        for r in buggyClients { kv(r.pattern.description, onOff(r.value)) }
        sec("mac")
        for r in macRules { kv(r.pattern.description, onOff(r.value)) }
        sec("uuid")
        for r in uuidRules { kv(r.uuid.text, onOff(r.allow)) }
        sec("static_dhcp")
        for b in staticBindings { kv(b.mac.description, b.address.description) }

        sec("http")
        kv("location", http.location?.description)
        kv("pxe", http.pxePath)
        kv("dhcp", http.dhcpPath)
        kv("timeout", formatSeconds(http.timeout))
        kv("always_check", onOff(http.alwaysCheck))

        sec("tftpd")
        kv("address", tftpd.address.description)
        kv("port", String(tftpd.port))
        kv("root", tftpd.root.description)
        kv("blocksize", String(tftpd.blockSize))
        kv("timeout", formatSeconds(tftpd.timeout))
        kv("retries", String(tftpd.retries))
        kv("single_port", tftpd.singlePort ? "yes" : "no")
        kv("max_transfers", String(tftpd.maxTransfers))
        kv("max_transfers_per_client", tftpd.maxTransfersPerClient.map(String.init))
        kv("max_timeout", String(tftpd.maxClientTimeout))
        kv("busy_poll", String(tftpd.busyPoll.nanosecondCount / 1000))
        kv("gso", tftpd.gso ? "yes" : "no")

        sec("httpd")
        kv("address", httpd.address.description)
        kv("port", String(httpd.port))
        kv("root", httpd.root)
        kv("check_ip", onOff(httpd.checkIP))

        sec("filters")
        for f in filters {
            switch f.replacement {
            case .template(let t): kv(f.pattern, t)
            case .file(let p): kv(f.pattern, "[\(p)]")
            }
        }
        return out.joined(separator: "\n") + "\n"
    }
}
