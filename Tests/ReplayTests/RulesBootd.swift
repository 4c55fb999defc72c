import PXESimKit

// Rules for Fixtures/pcap-bootd: the same real clients as Fixtures/pcap, served by bootd
// itself (`SERVER=bootd Fixtures/capture.sh`, Fixtures/bootd/capture.ini). The clients'
// later packets there follow bootd's own earlier answers (its transfer ports, the windows
// it granted, the addresses it offered), so these replays catch a change that breaks what a
// real client did with bootd. The checks are the dnsmasq fixtures' checks; "same as the
// reference" now means "same as bootd answered when the capture was made". Differences:
// lease_time = 8 in capture.ini (renewal after 4 s, as dnsmasq's T1 = 4 for dhclient and
// udhcpc), so T1 = 4 and T2 = 7 for the Linux clients.

let bootdFixtureRules: [String: FixtureRules] = {
    var out: [String: FixtureRules] = [:]
    for (name, rules) in pxeFixtureRules.merging(tftpFixtureRules, uniquingKeysWith: { a, _ in a }) {
        out["bootd-" + name] = FixtureRules(capture: "bootd-" + name, dhcp: rules.dhcp, tftp: rules.tftp)
    }
    out["bootd-dhcp-dhclient"] = linuxRules("bootd-dhcp-dhclient", address: "10.77.0.111", t1: 4, t2: 7)
    out["bootd-dhcp-udhcpc"] = linuxRules("bootd-dhcp-udhcpc", address: "10.77.0.112", t1: 4, t2: 7)
    return out
}()
