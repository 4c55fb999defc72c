// PcapKit: reading and writing captures through libpcap (being written).
