import Foundation
import Testing
import BootWire
@testable import BootCore

/// Every example under Fixtures/config/examples loads without errors and means what its
/// comment says.
@Suite("Example configurations")
struct ExampleConfigurationTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/config/examples")

    static var files: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".ini") }.sorted()
    }

    func load(_ name: String) throws -> BootConfiguration {
        try ConfigurationLoader.load(contentsOfFile: Self.directory.appendingPathComponent(name).path).configuration
    }

    @Test("there is an example for each documented use")
    func examplesExist() {
        #expect(Set(Self.files) == ["local-tftp.ini", "remote-http-root.ini", "mac-and-uuid-lists.ini",
                                    "http-authority.ini", "uefi-bios-ipxe.ini", "http-server.ini"])
    }

    @Test("each example loads with no error and no warning", arguments: files)
    func loads(_ name: String) throws {
        let loaded = try ConfigurationLoader.load(contentsOfFile: Self.directory.appendingPathComponent(name).path)
        #expect(loaded.warnings.isEmpty, "\(name): \(loaded.warnings)")
    }

    @Test("the examples mean what they say")
    func meanings() throws {
        let local = try load("local-tftp.ini")
        #expect(local.resolvedTFTPRoot == .local(Self.directory.appendingPathComponent("tftpboot").path))
        #expect(local.bootFile(architecture: 0) == "pxelinux.0")
        let remote = try load("remote-http-root.ini")
        #expect(remote.tftpd.root == .remote("http://images.lab.example:8080/tftpboot"))
        let lists = try load("mac-and-uuid-lists.ini")
        #expect(lists.bootpd.access == .mac)
        #expect(lists.macAccess([0x52, 0x54, 0, 0, 0, 0x66]) == false)
        #expect(lists.macAccess([0x52, 0x54, 0, 0x12, 0x34, 0x56]) == true)
        #expect(lists.macAccess([0x00, 0x11, 0x22, 0x33, 0x44, 0x55]) == nil)
        #expect(lists.uuidAccess("5CE1AB00-7700-4A11-9E00-000000000001") == true)
        let authority = try load("http-authority.ini")
        #expect(authority.http.location?.description == "http://127.0.0.1:8000")
        #expect(authority.http.timeout == .seconds(3))
        let multi = try load("uefi-bios-ipxe.ini")
        #expect(multi.bootFile(architecture: 0) == "undionly.kpxe")
        #expect(multi.bootFile(architecture: 7) == "ipxe.efi")
        #expect(multi.bootFile(architecture: 11) == "ipxe-arm64.efi")
        #expect(multi.bootFile(architecture: 7, isIPXE: true) == "http://192.168.50.1/boot.ipxe")
        let http = try load("http-server.ini")
        #expect(http.httpd.port == 8080 && http.httpd.checkIP)
    }
}
