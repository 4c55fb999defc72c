import Testing
import BootCore
import BootWire
import SimNet

@Suite("SimNet lease store")
struct SimLeaseStoreTests {
    /// The simulator's store keeps what the journal keeps: one client an address, the
    /// last stored. It loaded in MAC order, so A (released, lower MAC) took C's address
    /// back at every simulated restart.
    @Test func theLastClientStoredForAnAddressIsTheOneLoaded() {
        let a: [UInt8] = [0xAA, 0, 0, 0, 0, 1], c: [UInt8] = [0xCC, 0, 0, 0, 0, 3]
        let addr = IPv4Address(10, 77, 0, 100)
        for autoFlush in [true, false] {
            let store = SimLeaseStore()
            store.autoFlush = autoFlush
            store.store(LeaseRecord(mac: a, address: addr, expires: Instant(nanoseconds: 1)))
            store.store(LeaseRecord(mac: c, address: addr, expires: Instant(nanoseconds: 1_000_000_000_000)))
            #expect(store.load().map(\.mac) == [c])
            store.crash(losingUnflushed: 0)
            #expect(store.load().map(\.mac) == [c])
        }
    }

    @Test func aFullDiskFailsTheSyncAndKeepsTheWrites() {
        let store = SimLeaseStore()
        store.autoFlush = false
        store.failingSyncs = 1
        store.store(LeaseRecord(mac: [1, 2, 3, 4, 5, 6], address: IPv4Address(10, 0, 0, 1), expires: nil))
        #expect(!store.sync())
        #expect(store.hasUnsyncedChanges)
        #expect(store.sync())
        #expect(!store.hasUnsyncedChanges)
        #expect(store.crash() == 0)
        #expect(store.load().count == 1)
    }
}
