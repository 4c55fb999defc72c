import Testing
import BootWire
@testable import BootCore

// Helpers

private func load(_ text: String, dhcp: Bool = false, base: String? = nil) throws -> LoadedConfiguration {
    try ConfigurationLoader.parse(text, fileName: "t.ini", baseDirectory: base, dhcpEnabled: dhcp)
}

/// The error lines a text produces (empty when it loads).
private func errors(_ text: String, dhcp: Bool = false) -> [String] {
    do { _ = try load(text, dhcp: dhcp); return [] } catch let f as ConfigurationFailure { return f.errors.map(\.description) } catch { return ["\(error)"] }
}

private func warnings(_ text: String) throws -> [String] { try load(text).warnings.map(\.description) }

private let fixtures: String = {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/") + "/Fixtures/config"
}()

private func mac(_ s: String) -> [UInt8] { MACAddress(s)!.bytes }

// MARK: - INI syntax

@Suite struct ConfigurationINISyntax {
    @Test func sectionsAndKeysAreCaseInsensitiveAndBothSeparatorsWork() throws {
        let c = try load("[BootPD]\nPORT: 1067\nLease_Time = 60\n").configuration
        #expect(c.bootpd.port == 1067)
        #expect(c.bootpd.leaseTime == 60)
    }

    @Test func commentLinesAndCRLFAndBOM() throws {
        let c = try load("\u{FEFF}; comment\r\n# another\r\n[tftpd]\r\n  ; indented comment\r\nport = 1069\r\n").configuration
        #expect(c.tftpd.port == 1069)
    }

    @Test func inlineCommentsAreNotStrippedAndTheErrorSaysSo() throws {
        #expect(errors("[tftpd]\nport = 69 ; tftp\n") ==
            ["t.ini:2: [tftpd] port: \"69 ; tftp\" is not a whole number (comments must be on their own line)"])
        #expect(try load("[bootpd]\ndomain = a#b\n").configuration.bootpd.domain == "a#b")
    }

    @Test func valuesAreTrimmedAndEmptyValuesKept() throws {
        let (ini, errs) = INIFile.parse("[s]\nk =   v  w   \nempty =\n", fileName: "x")
        #expect(errs.isEmpty)
        #expect(ini[section: "S"]?["K"]?.value == "v  w")
        #expect(ini[section: "s"]?["empty"]?.value == "")
        #expect(ini[section: "s"]?["empty"]?.line == 3)
    }

    @Test func indentedLineWithoutValueIsAnError() {
        let (_, errs) = INIFile.parse("[s]\n  orphan = 1\n", fileName: "x")
        #expect(errs.map(\.description) == ["x:2: [s]: indented line \"orphan = 1\" does not continue a value (remove the indentation)"])
    }

    @Test func continuationLinesJoinForListsAndAreRejectedForScalars() throws {
        let c = try load("[bootpd]\ndns = 10.0.0.1\n  10.0.0.2\n").configuration
        #expect(c.bootpd.dns == .servers([IPv4Address(10, 0, 0, 1), IPv4Address(10, 0, 0, 2)]))
        #expect(errors("[bootpd]\ndomain = a\n  b\n") ==
            ["t.ini:2: [bootpd] domain: value continues on an indented line; only lists may span lines"])
    }

    @Test func duplicateKeysAndSectionsNameBothLines() {
        #expect(errors("[tftpd]\nport = 1\nPort = 2\n") == ["t.ini:3: [tftpd] Port: duplicate key (first at line 2)"])
        #expect(errors("[tftpd]\nport = 1\n[TFTPD]\nport = 2\n") == ["t.ini:3: [tftpd]: duplicate section (first at line 1); merge the two"])
    }

    @Test func malformedLines() {
        #expect(errors("port = 1\n[tftpd]\n") == ["t.ini:1: \"port = 1\" appears before any [section] header"])
        #expect(errors("[tftpd\n") == ["t.ini:1: malformed section header \"[tftpd\" (expected [name])"])
        #expect(errors("[]\n") == ["t.ini:1: malformed section header \"[]\" (expected [name])"])
        #expect(errors("[ ]\n") == ["t.ini:1: empty section name"])
        #expect(errors("[tftpd]\njust words\n") == ["t.ini:2: [tftpd]: expected \"key = value\", found \"just words\""])
        #expect(errors("[tftpd]\n= 5\n") == ["t.ini:2: [tftpd]: missing key before the separator in \"= 5\""])
    }

    @Test func notUTF8NamesTheLine() {
        let bytes = Array("[bootpd]\ndomain = caf".utf8) + [0xE9] + Array("\n".utf8)
        do {
            _ = try ConfigurationLoader.parse(bytes: bytes, fileName: "latin1.ini")
            Issue.record("loaded")
        } catch {
            #expect(error.errors.map(\.description) ==
                ["latin1.ini:2: not valid UTF-8 (byte offset 21, 1 bad byte); save the file as UTF-8"])
        }
    }

    @Test func colonSeparatedMACKeysStayWhole() {
        let (ini, errs) = INIFile.parse("[mac]\naa:bb:cc:dd:ee:ff = yes\nhost: x=y\n", fileName: "x")
        #expect(errs.isEmpty)
        #expect(ini.sections[0].entries.map(\.key) == ["aa:bb:cc:dd:ee:ff", "host"])
        #expect(ini.sections[0].entries.map(\.value) == ["yes", "x=y"])
    }
}

// MARK: - Booleans

@Suite struct ConfigurationBooleans {
    @Test(arguments: ["on", "high", "true", "enable", "enabled", "yes", "1", "ON", "High", "TRUE", "Enabled", "Yes"])
    func trueSpellings(_ s: String) throws {
        #expect(parseConfigurationBool(s) == true)
        #expect(try load("[bootpd]\nallow_simple_dhcp = \(s)\n").configuration.bootpd.allowSimpleDHCP)
    }

    @Test(arguments: ["off", "low", "false", "disable", "disabled", "no", "0", "OFF", "Low", "FALSE", "Disabled", "No"])
    func falseSpellings(_ s: String) throws {
        #expect(parseConfigurationBool(s) == false)
        #expect(try load("[httpd]\ncheck_ip = \(s)\n").configuration.httpd.checkIP == false)
    }

    @Test func anythingElseIsAnErrorWithFileLineAndKey() {
        let allowed = "(true: on, high, true, enable, enabled, yes, 1; false: off, low, false, disable, disabled, no, 0)"
        #expect(errors("[bootpd]\n\nallow_simple_dhcp = maybe\n") ==
            ["t.ini:3: [bootpd] allow_simple_dhcp: \"maybe\" is not a boolean \(allowed)"])
        #expect(errors("[http]\nalways_check = 2\n") == ["t.ini:2: [http] always_check: \"2\" is not a boolean \(allowed)"])
        #expect(errors("[mac]\nAA-BB-CC-DD-EE-FF = allow\n") ==
            ["t.ini:2: [mac] AA-BB-CC-DD-EE-FF: \"allow\" is not a boolean \(allowed)"])
        #expect(errors("[httpd]\ncheck_ip =\n") == ["t.ini:2: [httpd] check_ip: empty value"])
    }
}

// MARK: - Defaults and every key

@Suite struct ConfigurationSections {
    @Test func defaults() throws {
        let c = try load("").configuration
        #expect(c == BootConfiguration())
        #expect(c.logger == LoggerSettings(output: .stderr, level: .info))
        #expect(c.bootpd.address == .any && c.bootpd.port == 67 && c.bootpd.poolStart == nil && c.bootpd.poolCount == 10)
        #expect(c.bootpd.leaseTime == 86400 && c.bootpd.access == .none && !c.bootpd.allowSimpleDHCP)
        #expect(c.bootpd.dns == .servers([]) && c.bootpd.notify.isEmpty)
        #expect(c.http.timeout == .seconds(5) && !c.http.alwaysCheck && c.http.location == nil)
        #expect(c.tftpd == TFTPSettings(address: .any, port: 69, root: .local("/srv/tftp"), blockSize: 512, timeout: .seconds(2), retries: 5))
        #expect(c.httpd.port == 80 && c.httpd.checkIP && c.httpd.root == "/srv/tftp")
        #expect(c.filters.isEmpty)
    }

    @Test func logger() throws {
        #expect(try load("[logger]\ntype = SYSLOG\nlevel = warning\n").configuration.logger == LoggerSettings(output: .syslog, level: .warning))
        #expect(try load("[logger]\ntype = file\nfile = /var/log/bootd.log\n").configuration.logger.output == .file("/var/log/bootd.log"))
        #expect(try load("[logger]\ntype = stdout\n").configuration.logger.output == .stdout)
        #expect(try load("[logger]\ntype = none\nlevel = critical\n").configuration.logger == LoggerSettings(output: .none, level: .critical))
        #expect(errors("[logger]\ntype = file\n") == ["t.ini:2: [logger] type: type = file needs file = PATH in [logger]"])
        #expect(errors("[logger]\ntype = journal\n") == ["t.ini:2: [logger] type: unknown log type \"journal\" (stderr, stdout, file, syslog, none)"])
        #expect(errors("[logger]\nlevel = verbose\n") == ["t.ini:2: [logger] level: unknown log level \"verbose\" (critical, error, warning, info, debug)"])
        #expect(try warnings("[logger]\nfile = x.log\n") == ["t.ini:2: [logger] file: ignored: type is stderr, not file"])
    }

    @Test func bootpdKeys() throws {
        let c = try load("""
            [bootpd]
            address = 10.0.0.1
            port = 1067
            pool_start = 10.0.0.100
            pool_count = 0
            netmask = 255.255.0.0
            gateway = 10.0.0.254
            dns = auto
            domain = example.org
            servername = boot1
            lease_time = 120
            boot_file = undionly.kpxe
            access = MAC
            allow_simple_dhcp = yes
            notify = 10.0.0.9:9000, 10.0.0.8:1
            """).configuration.bootpd
        #expect(c == BOOTPSettings(address: IPv4Address(10, 0, 0, 1), port: 1067, poolStart: IPv4Address(10, 0, 0, 100), poolCount: 0,
                                   netmask: IPv4Address(255, 255, 0, 0), gateway: IPv4Address(10, 0, 0, 254), dns: .auto,
                                   domain: "example.org", serverName: "boot1", leaseTime: 120, bootFile: "undionly.kpxe",
                                   access: .mac, allowSimpleDHCP: true,
                                   notify: [NotifyTarget(address: IPv4Address(10, 0, 0, 9), port: 9000), NotifyTarget(address: IPv4Address(10, 0, 0, 8), port: 1)]))
        #expect(c.poolEnd == nil)
    }

    @Test func emptyOptionalValuesMeanUnset() throws {
        let c = try load("[bootpd]\nnetmask =\ngateway =\ndomain =\ndns =\naccess =\nnotify =\n").configuration
        #expect(c == BootConfiguration())
    }

    @Test func bootpdErrors() {
        #expect(errors("[bootpd]\naddress = 10.0.0.256\n") == ["t.ini:2: [bootpd] address: \"10.0.0.256\" is not an IPv4 address"])
        #expect(errors("[bootpd]\nport = 0\n") == ["t.ini:2: [bootpd] port: port 0 is outside 1...65535"])
        #expect(errors("[bootpd]\nport = 70000\n") == ["t.ini:2: [bootpd] port: port 70000 is outside 1...65535"])
        #expect(errors("[bootpd]\nport = sixty\n") == ["t.ini:2: [bootpd] port: \"sixty\" is not a whole number"])
        #expect(errors("[bootpd]\nport =\n") == ["t.ini:2: [bootpd] port: empty value"])
        #expect(errors("[bootpd]\naccess = ldap\n") == ["t.ini:2: [bootpd] access: unknown access mode \"ldap\" (none, mac, uuid, http)"])
        #expect(errors("[bootpd]\nlease_time = 0\n") == ["t.ini:2: [bootpd] lease_time: lease_time 0 is outside 1...4294967294"])
        #expect(errors("[bootpd]\nnetmask = 255.0.255.0\n") == ["t.ini:2: [bootpd] netmask: 255.0.255.0 is not a netmask (contiguous ones, e.g. 255.255.255.0)"])
        #expect(errors("[bootpd]\ndns = 1.1.1.1;dns.google\n") ==
            ["t.ini:2: [bootpd] dns: \"dns.google\" is not an IPv4 address (dns is a ';'-separated list of addresses, or auto)"])
        #expect(errors("[bootpd]\nnotify = 10.0.0.1\n") == ["t.ini:2: [bootpd] notify: \"10.0.0.1\" is not an ip:port target (e.g. 10.0.0.1:5555)"])
        #expect(errors("[bootpd]\npool_count = -1\n") == ["t.ini:2: [bootpd] pool_count: pool_count -1 is outside 0...16777216"])
        #expect(errors("[bootpd]\npool_start = 10.0.0\n") == ["t.ini:2: [bootpd] pool_start: \"10.0.0\" is not an IPv4 address"])
    }

    @Test func poolBounds() {
        #expect(errors("[bootpd]\npool_start = 255.255.255.250\npool_count = 10\n") ==
            ["t.ini:3: [bootpd] pool_count: pool of 10 addresses from 255.255.255.250 goes past 255.255.255.255"])
        #expect(errors("[bootpd]\npool_start = 10.0.0.250\npool_count = 10\nnetmask = 255.255.255.0\n") ==
            ["t.ini:3: [bootpd] pool_count: pool 10.0.0.250...10.0.1.3 leaves the /24 network of pool_start"])
        #expect(errors("[bootpd]\npool_start = 255.255.255.246\npool_count = 10\n").isEmpty)
    }

    @Test func poolStartIsRequiredOnlyWhenDHCPRuns() {
        #expect(errors("[bootpd]\nport = 67\n", dhcp: true) == ["t.ini:1: [bootpd] pool_start: required: an address of the served network (it selects the interface)"])
        #expect(errors("[tftpd]\nport = 69\n", dhcp: true) == ["t.ini: [bootpd] pool_start: required: an address of the served network (it selects the interface)"])
        #expect(errors("[bootpd]\npool_start =\n", dhcp: true) == ["t.ini:2: [bootpd] pool_start: required: an address of the served network (it selects the interface)"])
        #expect(errors("[bootpd]\nport = 67\n", dhcp: false).isEmpty)
    }

    @Test func bootfile() throws {
        let c = try load("[bootfile]\ndefault = d.0\n00000 = bios.0\n7 = x64.efi\n00011 = aa64.efi\niPXE = http://h/s.ipxe\n").configuration
        #expect(c.bootFiles == BootFileSettings(defaultFile: "d.0", byArchitecture: [0: "bios.0", 7: "x64.efi", 11: "aa64.efi"], iPXE: "http://h/s.ipxe"))
        #expect(c.bootFile(architecture: 7) == "x64.efi")
        #expect(c.bootFile(architecture: 9) == "d.0")
        #expect(c.bootFile(architecture: 7, isIPXE: true) == "http://h/s.ipxe")
        #expect(c.bootFile(architecture: nil) == "d.0")
        let legacy = try load("[bootpd]\nboot_file = pxelinux.0\n").configuration
        #expect(legacy.bootFile(architecture: 7) == "pxelinux.0")
        #expect(errors("[bootfile]\n00007 = a\n7 = b\n") == ["t.ini:3: [bootfile] 7: architecture 7 is already given at line 2"])
        #expect(errors("[bootfile]\n99999 = a\n") == ["t.ini:2: [bootfile] 99999: architecture 99999 is outside 0...65535"])
        #expect(errors("[bootfile]\n00007 =\n") == ["t.ini:2: [bootfile] 00007: empty value"])
        #expect(try warnings("[bootfile]\nx64 = a\n") == ["t.ini:2: [bootfile] x64: unknown key, ignored (expected default, ipxe, or an architecture number such as 00007)"])
    }

    @Test func http() throws {
        let c = try load("[http]\nlocation = https://auth.example:8443/api/\npxe = /boot\ndhcp = /linux\ntimeout = 0.25\nalways_check = yes\n").configuration.http
        #expect(c.location == HTTPLocation(scheme: .https, host: "auth.example", port: 8443, pathPrefix: "/api"))
        #expect(c.location?.url(path: "/boot", query: "mac=AA") == "https://auth.example:8443/api/boot?mac=AA")
        #expect(c.pxePath == "/boot" && c.dhcpPath == "/linux" && c.timeout == .milliseconds(250) && c.alwaysCheck)
        #expect(try load("[http]\nlocation = localhost:8000\n").configuration.http.location?.description == "http://localhost:8000")
        #expect(try load("[http]\nlocation = http://10.0.0.1\n").configuration.http.location?.description == "http://10.0.0.1:80")
        #expect(errors("[http]\nlocation = ftp://x:21\n") == ["t.ini:2: [http] location: unsupported scheme \"ftp\" in \"ftp://x:21\" (http or https)"])
        #expect(errors("[http]\nlocation = host:0\n") == ["t.ini:2: [http] location: bad port in \"host:0\" (1...65535)"])
        #expect(errors("[http]\ntimeout = 0\n") == ["t.ini:2: [http] timeout: 0 seconds is outside the range (0, 3600]"])
        #expect(errors("[http]\ntimeout = soon\n") == ["t.ini:2: [http] timeout: \"soon\" is not a number of seconds"])
        #expect(errors("[bootpd]\naccess = http\n") == ["t.ini:2: [bootpd] access: access = http needs [http] location"])
    }

    @Test func authorityTimeoutInEitherSection() throws {
        #expect(try load("[bootpd]\ntimeout = 3\n").configuration.http.timeout == .seconds(3))
        #expect(try load("[http]\ntimeout = 4\n").configuration.http.timeout == .seconds(4))
        let both = try load("[bootpd]\ntimeout = 3\n[http]\ntimeout = 4\n")
        #expect(both.configuration.http.timeout == .seconds(4))
        #expect(both.warnings.map(\.description) == ["t.ini:2: [bootpd] timeout: [http] timeout (line 4) is used instead"])
    }

    @Test func tftpd() throws {
        let c = try load("[tftpd]\naddress = 10.0.0.1\nport = 6969\nroot = /srv/tftp\nblocksize = 1468\ntimeout = 0.5\nretries = 9\nsingle_port = yes\n").configuration.tftpd
        #expect(c == TFTPSettings(address: IPv4Address(10, 0, 0, 1), port: 6969, root: .local("/srv/tftp"), blockSize: 1468, timeout: .milliseconds(500), retries: 9, singlePort: true))
        #expect(errors("[tftpd]\nsingle_port = sometimes\n").count == 1)
        #expect(try load("[tftpd]\nmax_transfers = 2000\n").configuration.tftpd.maxTransfers == 2000)
        #expect(try load("").configuration.tftpd.maxTransfers == 4096)
        #expect(try load("[tftpd]\nbusy_poll = 50\n").configuration.tftpd.busyPoll == .microseconds(50))
        #expect(try load("").configuration.tftpd.busyPoll == .microseconds(50))
        #expect(try load("[tftpd]\nbusy_poll = 0\n").configuration.tftpd.busyPoll == .zero)
        #expect(try load("").configuration.tftpd.gso == false)
        #expect(try load("[tftpd]\ngso = on\n").configuration.tftpd.gso)
        #expect(try load("[tftpd]\ngso = off\n").configuration.tftpd.gso == false)
        #expect(errors("[tftpd]\ngso = maybe\n").count == 1)
        #expect(errors("[tftpd]\nbusy_poll = 500\n") == ["t.ini:2: [tftpd] busy_poll: busy_poll (microseconds) 500 is outside 0...200"])
        #expect(errors("[tftpd]\nmax_transfers = 0\n") == ["t.ini:2: [tftpd] max_transfers: max_transfers 0 is outside 1...65536"])
        #expect(try load("[tftpd]\nroot = https://files.example/boot/\n").configuration.tftpd.root == .remote("https://files.example/boot/"))
        #expect(try load("[tftpd]\nblocksize = 8\n").configuration.tftpd.blockSize == 8)
        #expect(try load("[tftpd]\nblocksize = 65464\n").configuration.tftpd.blockSize == 65464)
        #expect(errors("[tftpd]\nblocksize = 7\n") == ["t.ini:2: [tftpd] blocksize: blocksize 7 is outside 8...65464"])
        #expect(errors("[tftpd]\nblocksize = 65465\n") == ["t.ini:2: [tftpd] blocksize: blocksize 65465 is outside 8...65464"])
        #expect(errors("[tftpd]\nroot = ftp://x/\n") == ["t.ini:2: [tftpd] root: unsupported scheme \"ftp\" (a local directory, or an http(s):// URL prefix)"])
        #expect(errors("[tftpd]\nretries = many\n") == ["t.ini:2: [tftpd] retries: \"many\" is not a whole number"])
        #expect(errors("[tftpd]\naddress = localhost\n") == ["t.ini:2: [tftpd] address: \"localhost\" is not an IPv4 address"])
        // PyBootd read retries from blocksize: bootd keeps them apart.
        #expect(try load("[tftpd]\nblocksize = 1024\n").configuration.tftpd.retries == 5)
    }

    @Test func httpd() throws {
        let c = try load("[httpd]\naddress = 10.0.0.1\nport = 8080\nroot = /srv/www\ncheck_ip = off\n").configuration.httpd
        #expect(c == HTTPDSettings(address: IPv4Address(10, 0, 0, 1), port: 8080, root: "/srv/www", checkIP: false))
        #expect(errors("[httpd]\nport = 80a\n") == ["t.ini:2: [httpd] port: \"80a\" is not a whole number"])
    }

    @Test func relativeRootsResolveAgainstTheConfigurationDirectory() throws {
        let c = try load("[tftpd]\nroot = ./images\n[httpd]\nroot = www\n", base: "/etc/bootd").configuration
        #expect(c.resolvedTFTPRoot == .local("/etc/bootd/images"))
        #expect(c.resolvedHTTPDRoot == "/etc/bootd/www")
        #expect(c.resolvePath("/abs.log") == "/abs.log")
        #expect(c.resolvePath(".") == "/etc/bootd")
        #expect(BootConfiguration.resolve("./a/b", against: "/x/") == "/x/a/b")
        #expect(BootConfiguration.resolve("a", against: nil) == "a")
        let remote = try load("[tftpd]\nroot = http://h/x\n", base: "/etc").configuration
        #expect(remote.resolvedTFTPRoot == .remote("http://h/x"))
    }
}

// MARK: - MAC, UUID, static bindings

@Suite struct ConfigurationAccessLists {
    @Test func macMaskMatchesExactlyThePrefix() throws {
        let p24 = try MACAddressPattern.parse("AA-BB-CC/24").get()
        #expect(p24.matches(mac("AA-BB-CC-00-00-00")))
        #expect(p24.matches(mac("aa:bb:cc:ff:ff:ff")))
        #expect(!p24.matches(mac("AA-BB-CD-00-00-00")))
        #expect(!p24.matches(mac("AB-BB-CC-00-00-00")))
        #expect(p24.description == "AA-BB-CC/24")
        let p20 = try MACAddressPattern.parse("AA-BB-C0/20").get()
        #expect(p20.matches(mac("AA-BB-CF-01-02-03")))
        #expect(!p20.matches(mac("AA-BB-D0-01-02-03")))
        let exact = try MACAddressPattern.parse("aa:bb:cc:dd:ee:ff").get()
        #expect(exact.isExact && exact.description == "AA-BB-CC-DD-EE-FF")
        #expect(exact.matches(mac("AA-BB-CC-DD-EE-FF")) && !exact.matches(mac("AA-BB-CC-DD-EE-FE")))
        #expect(!exact.matches([0xAA, 0xBB]))   // short hardware address
        #expect(try MACAddressPattern.parse("AA-BB-CC-DD-EE-FF/48").get() == exact)
    }

    @Test func badMACKeysAndMasks() {
        func e(_ key: String) -> [String] { errors("[mac]\n\(key) = yes\n") }
        #expect(e("AA-BB-CC/0") == ["t.ini:2: [mac] AA-BB-CC/0: prefix length /0 in \"AA-BB-CC/0\" is outside 1...48"])
        #expect(e("AA-BB-CC/49") == ["t.ini:2: [mac] AA-BB-CC/49: prefix length /49 in \"AA-BB-CC/49\" is outside 1...48"])
        #expect(e("AA-BB-CC/x") == ["t.ini:2: [mac] AA-BB-CC/x: bad prefix length \"/x\" in \"AA-BB-CC/x\""])
        #expect(e("AA-BB/24") == ["t.ini:2: [mac] AA-BB/24: \"AA-BB/24\" gives 2 octets but /24 needs 3"])
        #expect(e("AA-BB-CC-DD/24") == ["t.ini:2: [mac] AA-BB-CC-DD/24: \"AA-BB-CC-DD/24\" gives 4 octets for /24: write 3 octets (or all 6)"])
        #expect(e("AA-BB-CF/20") == ["t.ini:2: [mac] AA-BB-CF/20: \"AA-BB-CF/20\" has bits set beyond the /20 prefix"])
        #expect(e("AA-BB-CC") == ["t.ini:2: [mac] AA-BB-CC: \"AA-BB-CC\" has 3 octets; a MAC address has 6 (or add a prefix length such as /24)"])
        #expect(e("AA-BB-CC-DD:EE:FF") == ["t.ini:2: [mac] AA-BB-CC-DD: \"AA-BB-CC-DD\" has 4 octets; a MAC address has 6 (or add a prefix length such as /32)"])
        #expect(MACAddressPattern.parse("AA-BB-CC:DD-EE-FF") == .failure(.init("\"AA-BB-CC:DD-EE-FF\" mixes '-' and ':' separators")))
        #expect(e("GG-BB-CC-DD-EE-FF") == ["t.ini:2: [mac] GG-BB-CC-DD-EE-FF: \"GG-BB-CC-DD-EE-FF\" is not a MAC address (expected hex octets such as AA-BB-CC-DD-EE-FF)"])
        #expect(e("A-BB-CC-DD-EE-FF") == ["t.ini:2: [mac] A-BB-CC-DD-EE-FF: \"A-BB-CC-DD-EE-FF\" is not a MAC address (expected hex octets such as AA-BB-CC-DD-EE-FF)"])
        #expect(errors("[mac]\nAA-BB-CC-DD-EE-FF = yes\naa:bb:cc:dd:ee:ff = no\n") ==
            ["t.ini:3: [mac] aa:bb:cc:dd:ee:ff: AA-BB-CC-DD-EE-FF is already listed at line 2"])
    }

    @Test func macRulesKeepOrderAndFirstMatchDecides() throws {
        let c = try load("[mac]\n00-50-56-11-22-33 = off\n00-50-56/24 = on\n[bootpd]\naccess = mac\n").configuration
        #expect(c.macRules.map(\.value) == [false, true])
        #expect(c.macAccess(mac("00-50-56-11-22-33")) == false)
        #expect(c.macAccess(mac("00-50-56-11-22-34")) == true)
        #expect(c.macAccess(mac("00-50-57-11-22-34")) == nil)
        #expect(try warnings("[bootpd]\naccess = mac\n") == ["t.ini:2: [bootpd] access: access = mac with an empty [mac] section denies every client"])
    }

    @Test func buggyClients() throws {
        let c = try load("[buggy_clients]\n00-0C-29/24 = yes\n00-0C-29-00-00-01 = no\n").configuration
        #expect(c.isBuggyClient(mac("00-0C-29-12-34-56")))
        #expect(!c.isBuggyClient(mac("00-0C-2A-12-34-56")))
        #expect(c.buggyClients.count == 2)
        #expect(errors("[buggy_clients]\n00-0C-29/24 = perhaps\n").count == 1)
    }

    @Test func uuids() throws {
        let c = try load("[uuid]\n12345678-ABCD-ef01-2345-6789abcdef01 = yes\n00000000-0000-0000-0000-000000000000 = no\n").configuration
        #expect(c.uuidRules.map(\.uuid.text) == ["12345678-abcd-ef01-2345-6789abcdef01", "00000000-0000-0000-0000-000000000000"])
        #expect(c.uuidAccess("12345678-abcd-EF01-2345-6789ABCDEF01") == true)
        #expect(c.uuidAccess("00000000-0000-0000-0000-000000000000") == false)
        #expect(c.uuidAccess("11111111-0000-0000-0000-000000000000") == nil)
        #expect(errors("[uuid]\n12345678-ABCD-EF01-2345 = yes\n") ==
            ["t.ini:2: [uuid] 12345678-ABCD-EF01-2345: \"12345678-ABCD-EF01-2345\" is not a UUID (8-4-4-4-12 hex digits)"])
        #expect(errors("[uuid]\n12345678-abcd-ef01-2345-6789abcdef0g = yes\n").count == 1)
        #expect(try warnings("[bootpd]\naccess = uuid\n") == ["t.ini:2: [bootpd] access: access = uuid with an empty [uuid] section denies every client"])
    }

    @Test func staticBindings() throws {
        let c = try load("[static_dhcp]\nAA-BB-CC-DD-EE-01 = 10.0.0.5\naa:bb:cc:dd:ee:02 = 10.0.0.6\n").configuration
        #expect(c.staticBindings == [StaticBinding(mac: MACAddress(mac("AA-BB-CC-DD-EE-01")), address: IPv4Address(10, 0, 0, 5)),
                                     StaticBinding(mac: MACAddress(mac("AA-BB-CC-DD-EE-02")), address: IPv4Address(10, 0, 0, 6))])
        #expect(errors("[static_dhcp]\nAA-BB-CC-DD-EE-01 = 10.0.0.5\nAA-BB-CC-DD-EE-02 = 10.0.0.5\n") ==
            ["t.ini:3: [static_dhcp] AA-BB-CC-DD-EE-02: 10.0.0.5 is already bound to AA-BB-CC-DD-EE-01 at line 2"])
        #expect(errors("[static_dhcp]\nAA-BB-CC-DD-EE-01 = 10.0.0.5\naa-bb-cc-dd-ee-01 = 10.0.0.6\n") ==
            ["t.ini:3: [static_dhcp] aa-bb-cc-dd-ee-01: duplicate key (first at line 2)"])
        #expect(errors("[static_dhcp]\nAA-BB-CC-DD-EE-01 = 10.0.0.5\naa:bb:cc:dd:ee:01 = 10.0.0.6\n") ==
            ["t.ini:3: [static_dhcp] aa:bb:cc:dd:ee:01: AA-BB-CC-DD-EE-01 is already bound at line 2"])
        #expect(errors("[static_dhcp]\nAA-BB-CC/24 = 10.0.0.5\n") ==
            ["t.ini:2: [static_dhcp] AA-BB-CC/24: \"AA-BB-CC/24\" is not a MAC address (static bindings need a full address such as AA-BB-CC-DD-EE-FF)"])
        #expect(errors("[static_dhcp]\nAA-BB-CC-DD-EE-01 = 10.0.0\n") == ["t.ini:2: [static_dhcp] AA-BB-CC-DD-EE-01: \"10.0.0\" is not an IPv4 address"])
    }

    @Test func staticBindingsAgainstTheServedNetwork() throws {
        let c = try load("""
            [static_dhcp]
            AA-BB-CC-DD-EE-01 = 10.0.0.5
            AA-BB-CC-DD-EE-02 = 10.0.1.5
            AA-BB-CC-DD-EE-03 = 10.0.0.0
            AA-BB-CC-DD-EE-04 = 10.0.0.255
            AA-BB-CC-DD-EE-05 = 10.0.0.1
            """).configuration
        let problems = c.staticBindingProblems(network: IPv4Address(10, 0, 0, 0), netmask: IPv4Address(255, 255, 255, 0), serverAddress: IPv4Address(10, 0, 0, 1))
        #expect(problems.map(\.description) == [
            "t.ini:3: [static_dhcp] AA-BB-CC-DD-EE-02: 10.0.1.5 is not on the served network 10.0.0.0/24",
            "t.ini:4: [static_dhcp] AA-BB-CC-DD-EE-03: 10.0.0.0 is the network address of the served network",
            "t.ini:5: [static_dhcp] AA-BB-CC-DD-EE-04: 10.0.0.255 is the broadcast address of the served network",
            "t.ini:6: [static_dhcp] AA-BB-CC-DD-EE-05: 10.0.0.1 is this server's own address",
        ])
    }
}

// MARK: - Filters

@Suite struct ConfigurationFilters {
    @Test func globSemantics() {
        #expect(globMatches("*", ""))
        #expect(globMatches("*", "a/b/c"))
        #expect(globMatches("pxelinux.cfg/*", "pxelinux.cfg/01-aa-bb"))
        #expect(!globMatches("pxelinux.cfg/*", "pxelinux.cfg"))
        #expect(globMatches("linux?.img", "linux2.img"))
        #expect(!globMatches("linux?.img", "linux.img"))
        #expect(!globMatches("linux?.img", "linux22.img"))
        #expect(globMatches("*.efi", "boot/x64.efi"))
        #expect(!globMatches("*.efi", "x64.efi.bak"))
        #expect(globMatches("a*b*c", "aXXbYYbZc"))
        #expect(!globMatches("Boot.*", "boot.0"))      // case-sensitive, as fnmatch on POSIX
        #expect(globMatches("[x]", "[x]"))             // brackets are literal
        #expect(!globMatches("[x]", "x"))
        #expect(!globMatches(String(repeating: "*a", count: 40) + "b", String(repeating: "a", count: 5000)))
    }

    @Test func templates() throws {
        #expect(try expandFilterTemplate("images/{filename}", filename: "a.img", authFile: nil) == "images/a.img")
        #expect(try expandFilterTemplate("{authfile}", filename: "a", authFile: "b") == "b")
        #expect(try expandFilterTemplate("{{x}}{FileName}", filename: "a", authFile: nil) == "{x}a")
        #expect(throws: FilterTemplateError.missingAuthFile) { try expandFilterTemplate("{authfile}", filename: "a", authFile: nil) }
        #expect(errors("[filters]\n* = {name}\n") == ["t.ini:2: [filters] *: unknown placeholder {name} (known: {filename}, {authfile})"])
        #expect(errors("[filters]\n* = a{b\n") == ["t.ini:2: [filters] *: unbalanced '{' or '}' (write {{ or }} for a literal brace)"])
        #expect(errors("[filters]\n* = []\n") == ["t.ini:2: [filters] *: empty file name in [ ]"])
    }

    @Test func fileOrderFirstMatchWins() throws {
        let c = try load("""
            [filters]
            pxelinux.cfg/01-* = pxelinux.cfg/known
            pxelinux.cfg/* = pxelinux.cfg/default
            *.ipxe = [scripts/menu.txt]
            by-auth/* = {authfile}
            * = mirror/{filename}
            """)
        #expect(c.warnings.isEmpty)
        let f = c.configuration
        #expect(f.filters.map(\.pattern) == ["pxelinux.cfg/01-*", "pxelinux.cfg/*", "*.ipxe", "by-auth/*", "*"])
        #expect(f.applyFilters(to: "pxelinux.cfg/01-aa", authFile: nil) == .name("pxelinux.cfg/known"))
        #expect(f.applyFilters(to: "pxelinux.cfg/C0A8", authFile: nil) == .name("pxelinux.cfg/default"))
        #expect(f.applyFilters(to: "boot.ipxe", authFile: nil) == .contentsOf(path: "scripts/menu.txt"))
        #expect(f.applyFilters(to: "by-auth/x", authFile: "vmlinuz-7") == .name("vmlinuz-7"))
        // {authfile} without a File: value: that rule does not apply, the next one does
        #expect(f.applyFilters(to: "by-auth/x", authFile: nil) == .name("mirror/by-auth/x"))
        #expect(f.filters[3].apply(to: "by-auth/x", authFile: nil) == nil)
        #expect(f.applyFilters(to: "kernel", authFile: nil) == .name("mirror/kernel"))
    }

    @Test func duplicatePatternIsAnError() {
        // configparser is strict about duplicate keys; the first would win silently otherwise.
        #expect(errors("[filters]\na* = x\nA* = y\n") == ["t.ini:3: [filters] A*: duplicate key (first at line 2)"])
    }
}

// MARK: - Warnings, collected errors, effective settings

@Suite struct ConfigurationReporting {
    @Test func unknownSectionsAndKeysWarnAndTheFileLoads() throws {
        let r = try load("[bootpd]\nport = 67\nfrobnicate = 1\n[extras]\nx = 1\n[tftpd]\nwindowsize = 4\n")
        #expect(r.configuration.bootpd.port == 67)
        #expect(r.warnings.map(\.description) == [
            "t.ini:3: [bootpd] frobnicate: unknown key, ignored (known: address, port, pool_start, pool_count, netmask, gateway, dns, domain, servername, lease_time, bootp_lease, boot_file, access, allow_simple_dhcp, notify, timeout)",
            "t.ini:4: [extras]: unknown section, ignored (known: logger, bootpd, bootfile, buggy_clients, mac, uuid, static_dhcp, http, tftpd, httpd, filters)",
            "t.ini:7: [tftpd] windowsize: unknown key, ignored (known: address, port, root, blocksize, timeout, retries, single_port, max_transfers, max_transfers_per_client, max_timeout, busy_poll, gso)",
        ])
    }

    @Test func everyErrorIsReportedNotJustTheFirst() {
        do {
            _ = try ConfigurationLoader.parse("[bootpd]\nport = x\naddress = y\nbogus = 1\n[tftpd]\nblocksize = 1\n[mac]\nzz = on\n", fileName: "/etc/bootd.ini", dhcpEnabled: true)
            Issue.record("loaded")
        } catch {
            #expect(error.errors.count == 5)
            #expect(error.errors.map { $0.location.line } == [2, 3, 6, 8, 1])
            #expect(error.errors.map(\.key) == ["port", "address", "blocksize", "zz", "pool_start"])
            #expect(error.warnings.count == 1)
            #expect(error.description.split(separator: "\n").first == "/etc/bootd.ini:2: [bootpd] port: \"x\" is not a whole number")
        }
    }

    @Test func effectiveSettingsRoundTrip() throws {
        let sample = try ConfigurationLoader.load(contentsOfFile: fixtures + "/pybootd-sample.ini").configuration
        let text = sample.effectiveSettingsDescription()
        var again = try ConfigurationLoader.parse(text, fileName: "effective.ini", baseDirectory: sample.baseDirectory).configuration
        #expect(again == sample)
        again = try load(BootConfiguration().effectiveSettingsDescription()).configuration
        #expect(again == BootConfiguration())
    }

    @Test func effectiveSettingsOfTheDefaults() {
        let text = BootConfiguration(bootpd: BOOTPSettings(poolStart: IPv4Address(10, 0, 0, 100))).effectiveSettingsDescription()
        #expect(text == """
            [logger]
            type = stderr
            level = info

            [bootpd]
            address = 0.0.0.0
            port = 67
            pool_start = 10.0.0.100
            pool_count = 10
            netmask =
            gateway =
            dns =
            domain =
            servername =
            lease_time = 86400
            bootp_lease =
            boot_file =
            access = none
            allow_simple_dhcp = off
            notify =

            [bootfile]
            default =
            ipxe =

            [buggy_clients]

            [mac]

            [uuid]

            [static_dhcp]

            [http]
            location =
            pxe =
            dhcp =
            timeout = 5
            always_check = off

            [tftpd]
            address = 0.0.0.0
            port = 69
            root = /srv/tftp
            blocksize = 512
            timeout = 2
            retries = 5
            single_port = no
            max_transfers = 4096
            max_transfers_per_client =
            max_timeout = 10
            busy_poll = 50
            gso = no

            [httpd]
            address = 0.0.0.0
            port = 80
            root = /srv/tftp
            check_ip = on

            [filters]

            """)
    }
}

// MARK: - Sample configurations

@Suite struct ConfigurationSamples {
    @Test func pybootdSampleLoads() throws {
        let r = try ConfigurationLoader.load(contentsOfFile: fixtures + "/pybootd-sample.ini")
        #expect(r.warnings.isEmpty)
        let c = r.configuration
        #expect(c.baseDirectory == fixtures)
        #expect(c.logger == LoggerSettings(output: .file("./pybootd.log"), level: .debug))
        #expect(c.resolvePath("./pybootd.log") == fixtures + "/pybootd.log")
        #expect(c.bootpd == BOOTPSettings(
            address: .any, port: 67, poolStart: IPv4Address(192, 168, 25, 100), poolCount: 5,
            netmask: IPv4Address(255, 255, 255, 0), gateway: IPv4Address(192, 168, 25, 1),
            dns: .servers([IPv4Address(192, 168, 25, 1), IPv4Address(8, 8, 8, 8)]), domain: "lab.example",
            serverName: "bootd", leaseTime: 3600, bootFile: "pxelinux.0", access: .uuid, allowSimpleDHCP: true,
            notify: [NotifyTarget(address: IPv4Address(192, 168, 25, 2), port: 5555), NotifyTarget(address: IPv4Address(192, 168, 25, 3), port: 6666)]))
        #expect(c.bootpd.poolEnd == IPv4Address(192, 168, 25, 104))
        #expect(c.bootFiles == BootFileSettings(defaultFile: "pxelinux.0",
                                                byArchitecture: [0: "pxelinux.0", 7: "bootx64.efi", 9: "bootx64.efi", 11: "bootaa64.efi"],
                                                iPXE: "http://192.168.25.1/boot.ipxe"))
        #expect(c.buggyClients == [MACRule(try MACAddressPattern.parse("00-0C-29/24").get(), true)])
        #expect(c.macRules.map(\.pattern.description) == ["AA-BB-CC-DD-EE-FF", "00-50-56/24", "00-50-56-11-22-33"])
        #expect(c.uuidAccess("12345678-abcd-ef01-2345-6789abcdef01") == true)
        #expect(c.uuidRules.count == 2)
        #expect(c.staticBindings.map(\.address) == [IPv4Address(192, 168, 25, 10)])
        #expect(c.staticBindingProblems(network: IPv4Address(192, 168, 25, 0), netmask: IPv4Address(255, 255, 255, 0)).isEmpty)
        #expect(c.http == HTTPAuthoritySettings(location: HTTPLocation(host: "localhost", port: 8000), pxePath: "/boot",
                                                dhcpPath: "/linux", timeout: .milliseconds(2500), alwaysCheck: false))
        #expect(c.tftpd == TFTPSettings(address: .any, port: 69, root: .local("./images"), blockSize: 1428, timeout: .milliseconds(1500), retries: 3))
        #expect(c.resolvedTFTPRoot == .local(fixtures + "/images"))
        #expect(c.httpd == HTTPDSettings(address: .any, port: 8080, root: "./www", checkIP: true))
        #expect(c.filters == [FilterRule(pattern: "pxelinux.cfg/*", replacement: .template("pxelinux.cfg/default")),
                              FilterRule(pattern: "*.ipxe", replacement: .file("ipxe-script.txt")),
                              FilterRule(pattern: "linux?.img", replacement: .template("images/{filename}"))])
        #expect(c.applyFilters(to: "linux3.img", authFile: nil) == .name("images/linux3.img"))
    }

    @Test func minimalLoads() throws {
        let r = try ConfigurationLoader.load(contentsOfFile: fixtures + "/minimal.ini")
        #expect(r.warnings.isEmpty)
        var expected = BootConfiguration(bootpd: BOOTPSettings(poolStart: IPv4Address(10, 0, 2, 100)))
        expected.baseDirectory = fixtures
        #expect(r.configuration == expected)
        #expect(r.configuration.bootpd.poolEnd == IPv4Address(10, 0, 2, 109))
    }

    @Test func missingFile() {
        #expect(throws: ConfigurationFailure.self) { try ConfigurationLoader.load(contentsOfFile: fixtures + "/does-not-exist.ini") }
    }
}
