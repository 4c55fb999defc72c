@testable import BootNIO
import Foundation
import NIOCore
import Testing

@Suite("AllowedCPUs: the affinity mask sizes bootd -H's event loops")
struct AllowedCPUsTests {
    @Test("Cpus_allowed masks of /proc/self/status: hex words, commas between 32-bit groups")
    func masks() {
        let status = "Name:\tbootd\nCpus_allowed:\t%@\nCpus_allowed_list:\t0-1\n"
        func count(_ mask: String) -> Int? { AllowedCPUs.maskCount(status.replacingOccurrences(of: "%@", with: mask)) }
        #expect(count("3") == 2)
        #expect(count("2") == 1)  // taskset -c 1
        #expect(count("ff") == 8)
        #expect(count("00000000,00000001") == 1)
        #expect(count("ffffffff,ffffffff") == 64)
        #expect(count("f0f0") == 8)
        #expect(count("zz") == nil)
        #expect(AllowedCPUs.maskCount("Name:\tx\n") == nil)
        #expect(AllowedCPUs.maskCount(nil) == nil)
    }

    @Test("This process: at least one CPU, at most the machine's")
    func thisProcess() {
        #expect(AllowedCPUs.count >= 1 && AllowedCPUs.count <= System.coreCount)
    }
}
