/// The configuration `pxe-sim` uses when none is given: a PyBootd-style INI file for a lab
/// network 10.77.0.0/16 served from 10.77.0.1, with a boot file per firmware and an HTTP
/// script for iPXE so chain loading ends.
public let demoConfiguration = """
; pxe-sim's built-in demo configuration (a PyBootd INI file).
[logger]
type = none

[bootpd]
address = 0.0.0.0
pool_start = 10.77.1.0
pool_count = 4096
netmask = 255.255.0.0
lease_time = 3600
access = none
; The OS stage of an install is served once the same MAC booted through PXE.
allow_simple_dhcp = off

[bootfile]
default = pxelinux.0
00007 = bootx64.efi
00011 = bootaa64.efi
ipxe = http://10.77.0.1/boot.ipxe

[tftpd]
root = ./tftpboot
blocksize = 512
timeout = 2
retries = 5
"""

/// The address of the simulated server on the demo network.
public let demoServerAddress = "10.77.0.1"
