// PcapKitTests
