#!/bin/bash
# Writes the deterministic boot files into DIR (default: Fixtures/tftproot beside this script).
#   payload-3000.bin, payload-2048.bin, bootx64.efi (5000 bytes): byte[i] = i mod 251
#   (every byte value incl. 0x00, CR, LF: a netascii mangling shows), boot.ipxe: an iPXE script.
set -eu
dir=${1:-$(cd "$(dirname "$0")/.." && pwd)/tftproot}
mkdir -p "$dir"
gen() { python3 -c 'import sys; n=int(sys.argv[1]); sys.stdout.buffer.write(bytes(i % 251 for i in range(n)))' "$1" > "$2"; }
gen 3000 "$dir/payload-3000.bin"
gen 2048 "$dir/payload-2048.bin"
gen 5000 "$dir/bootx64.efi"
cat > "$dir/boot.ipxe" <<'IPXE'
#!ipxe
echo FIXTURE: iPXE script on ${net0/mac} ip ${net0/ip} platform ${platform}
imgfetch tftp://10.77.0.1/payload-3000.bin || goto failed
imgfetch tftp://10.77.0.1/payload-2048.bin || goto failed
echo FIXTURE: TFTP-FETCH-OK
echo FIXTURE: padding so the line above reaches the serial log before reboot ......
reboot
:failed
echo FIXTURE: TFTP-FETCH-FAILED
IPXE
