#!/bin/bash
# Fixtures/capture.sh - regenerate every capture in Fixtures/pcap/ from scratch (root, Linux).
#
# Real clients (QEMU's iPXE ROM in BIOS and UEFI mode, OVMF's native EDK2 PXE, isc dhclient,
# busybox udhcpc, tftp-hpa, atftp, curl, busybox tftp) against dnsmasq as the reference
# server, on an isolated layer-2 segment built from network namespaces. Nothing routes out:
#   ${PFX}srv: eth0 10.77.0.1/24 (+fd77::1/64 for the RA helper), dnsmasq, tcpdump
#      <- veth ->  ${PFX}cli: br0 = [vcli, tap0 (QEMU)]; Linux clients run on br0
# The topology and the dnsmasq/QEMU invocations follow the bootd lab scripts (lab.sh from
# the shared lab); this script is self-contained and needs nothing outside Fixtures/.
#
# usage: sudo Fixtures/capture.sh [OUTDIR]     (default OUTDIR: Fixtures/pcap)
#        ONLY="dhcp-udhcpc tftp-curl" Fixtures/capture.sh /tmp/x   (a subset)
#        SERVER=bootd Fixtures/capture.sh  (bootd itself is the server: Fixtures/bootd/capture.ini,
#          one `bootd --capture` per case into Fixtures/pcap-bootd/bootd-NAME.pcap; BOOTD=path,
#          default .build/debug/bootd. The same clients, so replay tests see what real clients
#          did with bootd's own answers.)
# env:   PFX=bfx (namespace prefix), QTIMEOUT=90 (seconds per QEMU boot), KEEP=1 (keep work dir)
# Debian 12 packages: qemu-system-x86 ipxe-qemu ovmf dnsmasq-base tcpdump isc-dhcp-client
#   udhcpc busybox tftp-hpa atftp curl iproute2 python3 (and tshark for Fixtures/facts.py)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SERVER=${SERVER:-dnsmasq}
case $SERVER in
  dnsmasq) DEFAULT_OUT=$HERE/pcap; NAMEPFX= ;;
  bootd)   DEFAULT_OUT=$HERE/pcap-bootd; NAMEPFX=bootd-
           BOOTD=${BOOTD:-$HERE/../.build/debug/bootd}
           [ -x "$BOOTD" ] || { echo "SERVER=bootd: $BOOTD not built (swift build --product bootd)" >&2; exit 1; }
           BOOTD=$(cd "$(dirname "$BOOTD")" && pwd)/$(basename "$BOOTD") ;;
  *) echo "SERVER must be dnsmasq or bootd" >&2; exit 2 ;;
esac
OUT=$(mkdir -p "${1:-$DEFAULT_OUT}" && cd "${1:-$DEFAULT_OUT}" && pwd)
PFX=${PFX:-bfx}; S=${PFX}srv; C=${PFX}cli
QTIMEOUT=${QTIMEOUT:-90}; ONLY=${ONLY:-}
SRVIP=10.77.0.1
OVMF=${OVMF:-/usr/share/ovmf/OVMF.fd}
# fixed work dir: dnsmasq puts the absolute path of its TFTP root into "file not found"
# errors, so the root must sit at the same path on every machine (/tmp/bootd-fixtures.bfx/tftproot)
WORK=/tmp/bootd-fixtures.$PFX
FILTER='ip and udp'   # IPv4 UDP only: DHCP, TFTP (ephemeral data ports); no ARP, IPv6, RA
log(){ echo "[capture $(date +%T.%3N)] $*" >&2; }
die(){ log "ERROR: $*"; exit 1; }

# --- prerequisites: check, never install ------------------------------------------------
[ "$(id -u)" = 0 ] || die "run as root (network namespaces, tap devices)"
missing=()
for pair in qemu-system-x86_64:qemu-system-x86 dnsmasq:dnsmasq-base tcpdump:tcpdump \
            dhclient:isc-dhcp-client udhcpc:udhcpc busybox:busybox tftp:tftp-hpa atftp:atftp \
            curl:curl ip:iproute2 python3:python3 timeout:coreutils; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
[ -f "$OVMF" ] || missing+=(ovmf)
[ -f /usr/share/qemu/efi-virtio.rom ] || [ -f /usr/lib/ipxe/qemu/efi-virtio.rom ] || missing+=(ipxe-qemu)
[ ${#missing[@]} = 0 ] || die "missing commands/files; install: apt-get install ${missing[*]}"
ip netns list | grep -qE "^($S|$C)( |$)" && die "namespaces $S/$C exist (another run?); PFX=other or ip netns del"
[ -e "$WORK" ] && die "$WORK exists (another run?): remove it or use PFX=other"
mkdir -p "$WORK"; TFTPROOT=$WORK/tftproot

# --- teardown (always) -----------------------------------------------------------------
PIDS=()
down() {
  local p ns
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.3
  for ns in $S $C; do   # anything still inside OUR namespaces was started by this script
    p=$(ip netns pids $ns 2>/dev/null || true); [ -n "$p" ] && kill -KILL $p 2>/dev/null || true
    ip netns del $ns 2>/dev/null || true
  done
  [ "${KEEP:-0}" = 1 ] && log "work dir kept: $WORK" || rm -rf "$WORK"
}
trap down EXIT
trap 'exit 130' INT TERM

# --- topology --------------------------------------------------------------------------
ip netns add $S; ip netns add $C
ip link add vsrv netns $S type veth peer name vcli netns $C
ip -n $S link set vsrv name eth0
ip -n $S link set lo up; ip -n $C link set lo up
ip netns exec $C sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip netns exec $S sysctl -qw net.ipv6.conf.eth0.accept_ra=0
ip -n $S link set eth0 address 52:54:00:00:00:fe
ip -n $S addr add $SRVIP/24 dev eth0
ip -n $S addr add fd77::1/64 dev eth0 nodad
ip -n $S link set eth0 up
ip -n $C link add br0 type bridge stp_state 0 forward_delay 0
ip -n $C link set vcli master br0
ip -n $C tuntap add dev tap0 mode tap
ip -n $C link set tap0 master br0
for d in vcli tap0 br0; do ip -n $C link set $d up; done
log "namespaces $S/$C up; work dir $WORK"

# --- boot files (deterministic; identical to the committed ones) ------------------------
"$HERE/lab/gen-tftproot.sh" "$HERE/tftproot"   # the committed copies: must stay unchanged
"$HERE/lab/gen-tftproot.sh" "$TFTPROOT"        # what dnsmasq serves

# --- servers ---------------------------------------------------------------------------
srvbg() {  # srvbg NAME CMD...: daemon in the server namespace, log $WORK/NAME.log
  local name=$1; shift
  ip netns exec $S "$@" > "$WORK/$name.log" 2>&1 < /dev/null &
  PIDS+=($!)
}
if [ "$SERVER" = dnsmasq ]; then
  srvbg dnsmasq dnsmasq -k --conf-file="$HERE/dnsmasq/dnsmasq.conf" --tftp-root="$TFTPROOT" \
    --dhcp-leasefile="$WORK/dnsmasq.leases" --log-facility=-
fi
srvbg ra dnsmasq -k --conf-file="$HERE/dnsmasq/ra.conf" --dhcp-leasefile="$WORK/ra.leases" --log-facility=-
sleep 1
if [ "$SERVER" = dnsmasq ]; then
  grep -q 'TFTP root is' "$WORK/dnsmasq.log" || { cat "$WORK/dnsmasq.log"; die "dnsmasq did not start"; }
fi
# bootd: one run per case, its own --capture file (started by cap_start, SIGTERM in cap_stop)
cp "$HERE/bootd/capture.ini" "$WORK/bootd.ini"
BOOTD_PID=
bootd_start() {
  ip netns exec $S "$BOOTD" -c "$WORK/bootd.ini" --state-dir "$WORK/bootd-state" --capture "$OUT/$NAMEPFX$1.pcap" \
    >> "$WORK/bootd.log" 2>&1 < /dev/null &
  BOOTD_PID=$!; PIDS+=($BOOTD_PID)
  local i; for i in $(seq 50); do grep -q 'DHCP listening' "$WORK/bootd.log" 2>/dev/null && break; sleep 0.1; done
}
bootd_stop() {
  kill -TERM $BOOTD_PID 2>/dev/null || true; wait $BOOTD_PID 2>/dev/null || true
  sed -i 's/DHCP listening/DHCP was listening/' "$WORK/bootd.log"
}

# --- capture helpers -------------------------------------------------------------------
TCPDUMP_PID=
cap_start() {  # cap_start NAME: tcpdump on the server's eth0 into $OUT/NAME.pcap
  if [ "$SERVER" = bootd ]; then rm -f "$OUT/$NAMEPFX$1.pcap"; bootd_start "$1"; log "capture $1: bootd --capture"; return; fi
  rm -f "$OUT/$1.pcap"
  ip netns exec $S tcpdump -Z root -i eth0 -n -U -s 0 -w "$OUT/$1.pcap" "$FILTER" > "$WORK/tcpdump-$1.log" 2>&1 &
  TCPDUMP_PID=$!; PIDS+=($TCPDUMP_PID)
  local i; for i in $(seq 50); do grep -q 'listening on' "$WORK/tcpdump-$1.log" && break; sleep 0.1; done
  log "capture $1: started"
}
cap_stop() {  # cap_stop NAME: let tcpdump drain its buffer (~1.5 s), stop it, report packets
  if [ "$SERVER" = bootd ]; then sleep 0.5; bootd_stop; log "capture $1: -> $OUT/$NAMEPFX$1.pcap"; return; fi
  sleep 1.5
  kill -INT $TCPDUMP_PID 2>/dev/null || true; wait $TCPDUMP_PID 2>/dev/null || true
  log "capture $1: $(grep -E 'packets captured' "$WORK/tcpdump-$1.log" || echo '?') -> $OUT/$1.pcap"
}
want() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }
wait_for() {  # wait_for SECONDS CMD...: poll until CMD succeeds
  local t=$(( $1 * 5 )); shift
  while [ $t -gt 0 ]; do "$@" && return 0; sleep 0.2; t=$((t-1)); done; return 1
}
cli() { ip netns exec $C "$@"; }
br0_as() {  # br0_as MAC [ADDR/24]: make br0 the Linux client with that MAC (and address)
  cli ip -4 addr flush dev br0; cli ip link set br0 address "$1"
  [ -z "${2:-}" ] || cli ip addr add "$2" dev br0
}

# QEMU on tap0: qemu_boot NAME MODE(bios|uefi) NIC-ROM(ipxe|none) MAC UUID DONE-CMD...
# stops QEMU when DONE-CMD succeeds (or after QTIMEOUT s); returns DONE-CMD's verdict
qemu_boot() {
  local name=$1 mode=$2 rom=$3 mac=$4 uuid=$5; shift 5
  local serial=$WORK/serial-$name.log fw=() romopt="" rc=0
  [ "$mode" = uefi ] && fw=(-bios "$OVMF")
  [ "$uuid" = none ] || fw+=(-uuid "$uuid")   # "none": no -uuid (QEMU leaves the SMBIOS UUID unset)
  [ "$rom" = none ] && romopt=",romfile="    # no iPXE option ROM: OVMF's own virtio-net + PXE
  : > "$serial"
  ip netns exec $C timeout "$QTIMEOUT" qemu-system-x86_64 -accel tcg -nographic -m 256 -boot n -no-reboot \
    -nic none -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
    -device "virtio-net-pci,netdev=n0,mac=$mac$romopt" -serial file:"$serial" -monitor none "${fw[@]}" \
    > "$WORK/qemu-$name.out" 2>&1 &
  local qp=$!; PIDS+=($qp)
  SERIAL=$serial wait_for "$QTIMEOUT" "$@" || rc=1
  sleep 0.5; kill -TERM $qp 2>/dev/null || true; wait $qp 2>/dev/null || true
  [ $rc = 0 ] && log "qemu $name: done" || { log "qemu $name: FAILED (serial log below)"; tail -c 1500 "$serial" | tr -d '\033' >&2; }
  return $rc
}
serial_has() { grep -aq "$1" "$SERIAL"; }
dnsmasq_sent() {  # dnsmasq_sent FILE IP COUNT: the server logged COUNT completed sends of FILE to IP
  if [ "$SERVER" = bootd ]; then
    [ "$(grep -c "sent $1 to $2:" "$WORK/bootd.log")" -ge "$3" ]
  else
    [ "$(grep -c "sent $TFTPROOT/$1 to $2\$" "$WORK/dnsmasq.log")" -ge "$3" ]
  fi
}
FAIL=()

# --- 1. iPXE (QEMU's ROM), BIOS ---------------------------------------------------------
if want dhcp-ipxe-bios; then
  cap_start dhcp-ipxe-bios
  qemu_boot dhcp-ipxe-bios bios ipxe 52:54:00:00:00:01 5ce1ab00-7700-4a11-9e00-000000000001 \
    serial_has 'FIXTURE: TFTP-FETCH-OK' || FAIL+=(dhcp-ipxe-bios)
  cap_stop dhcp-ipxe-bios
fi
# --- 2. iPXE (QEMU's ROM), UEFI under OVMF ----------------------------------------------
if want dhcp-ipxe-uefi; then
  cap_start dhcp-ipxe-uefi
  qemu_boot dhcp-ipxe-uefi uefi ipxe 52:54:00:00:00:02 5ce1ab00-7700-4a11-9e00-000000000002 \
    serial_has 'FIXTURE: TFTP-FETCH-OK' || FAIL+=(dhcp-ipxe-uefi)
  cap_stop dhcp-ipxe-uefi
fi
# --- 3. OVMF's native EDK2 PXE (virtio-net without option ROM) --------------------------
# EDK2 reads the size (RRQ with tsize, then ERROR after the OACK), downloads bootx64.efi,
# fails to start it (not a PE image) and goes on to other boot options: stop after download.
if want dhcp-ovmf-uefi; then
  cap_start dhcp-ovmf-uefi
  qemu_boot dhcp-ovmf-uefi uefi none 52:54:00:00:00:03 5ce1ab00-7700-4a11-9e00-000000000003 \
    dnsmasq_sent bootx64.efi 10.77.0.103 1 || FAIL+=(dhcp-ovmf-uefi)
  cap_stop dhcp-ovmf-uefi
fi
# --- 3b. the same without -uuid: what option 97 EDK2 sends when QEMU sets no SMBIOS UUID --
if want dhcp-ovmf-uefi-nouuid; then
  cap_start dhcp-ovmf-uefi-nouuid
  qemu_boot dhcp-ovmf-uefi-nouuid uefi none 52:54:00:00:00:04 none \
    dnsmasq_sent bootx64.efi 10.77.0.104 1 || FAIL+=(dhcp-ovmf-uefi-nouuid)
  cap_stop dhcp-ovmf-uefi-nouuid
fi

# --- 4. isc dhclient: DORA, renew at T1 (4 s, unicast), release -------------------------
if want dhcp-dhclient; then
  br0_as 52:54:00:00:00:11
  cap_start dhcp-dhclient
  DC=(dhclient -cf "$HERE/lab/dhclient.conf" -sf "$HERE/lab/client-hook.sh" \
      -lf "$WORK/dhclient.leases" -pf "$WORK/dhclient.pid")
  HOOKLOG=$WORK/hook-dhclient.log ip netns exec $C "${DC[@]}" -d -v br0 > "$WORK/dhclient.log" 2>&1 &
  dp=$!; PIDS+=($dp)
  if wait_for 20 grep -q 'bound to' "$WORK/dhclient.log" &&
     wait_for 20 bash -c "[ \$(grep -c 'bound to' '$WORK/dhclient.log') -ge 2 ]"; then
    HOOKLOG=$WORK/hook-dhclient.log cli "${DC[@]}" -r -v br0 >> "$WORK/dhclient-r.log" 2>&1 || FAIL+=(dhcp-dhclient-release)
  else FAIL+=(dhcp-dhclient); cat "$WORK/dhclient.log" >&2; fi
  kill $dp 2>/dev/null || true; wait $dp 2>/dev/null || true
  cap_stop dhcp-dhclient
fi

# --- 5. busybox udhcpc: DORA, renew (SIGUSR1), release (SIGUSR2) ------------------------
if want dhcp-udhcpc; then
  br0_as 52:54:00:00:00:12
  cap_start dhcp-udhcpc
  HOOKLOG=$WORK/hook-udhcpc.log ip netns exec $C udhcpc -f -i br0 -t 5 -T 2 -s "$HERE/lab/client-hook.sh" \
    > "$WORK/udhcpc.log" 2>&1 &
  up=$!; PIDS+=($up)   # ip netns exec execs udhcpc: $up is udhcpc itself
  if wait_for 20 grep -q 'lease of .* obtained' "$WORK/udhcpc.log"; then
    kill -USR1 $up
    wait_for 10 bash -c "[ \$(grep -c 'lease of .* obtained' '$WORK/udhcpc.log') -ge 2 ]" || FAIL+=(dhcp-udhcpc-renew)
    kill -USR2 $up; sleep 1
  else FAIL+=(dhcp-udhcpc); cat "$WORK/udhcpc.log" >&2; fi
  kill $up 2>/dev/null || true; wait $up 2>/dev/null || true
  cap_stop dhcp-udhcpc
fi

# --- TFTP clients: br0 = 52:54:00:00:00:20, 10.77.0.20/24 (static) -----------------------
br0_as 52:54:00:00:00:20 10.77.0.20/24
sleep 0.5
tftp_case() {  # tftp_case NAME ok|fail "FILES" 'SHELL CMDS' (run in $WORK, in the client netns)
  local name=$1 expect=$2 files=$3 cmds=$4 f rc=0
  want "$name" || return 0
  cap_start "$name"
  cli timeout 30 bash -c "cd '$WORK' && $cmds" > "$WORK/$name.out" 2>&1 || rc=$?
  if [ "$expect" = ok ]; then
    [ $rc = 0 ] || { FAIL+=("$name:rc=$rc"); cat "$WORK/$name.out" >&2; }
    for f in $files; do cmp -s "$WORK/$name.$f" "$TFTPROOT/$f" || FAIL+=("$name:$f-differs"); done
  else
    # the client must have seen the server's ERROR (file not found)
    grep -qiE 'error|not found' "$WORK/$name.out" || FAIL+=("$name:no-error-seen")
  fi
  cap_stop "$name"
}
S3=payload-3000.bin; S2=payload-2048.bin
tftp_case tftp-hpa ok "$S3 $S2" \
  "tftp -m binary $SRVIP -c get $S3 tftp-hpa.$S3 && tftp -m binary $SRVIP -c get $S2 tftp-hpa.$S2"
tftp_case tftp-hpa-notfound fail "" \
  "tftp -v -m binary $SRVIP -c get missing.bin tftp-hpa-notfound.missing.bin"
tftp_case tftp-atftp-blksize ok "$S3 $S2" \
  "atftp --option 'blksize 1428' --option 'tsize 0' -g -r $S3 -l tftp-atftp-blksize.$S3 $SRVIP &&
   atftp --option 'blksize 1024' --option 'tsize 0' -g -r $S2 -l tftp-atftp-blksize.$S2 $SRVIP"
tftp_case tftp-atftp-windowsize ok "$S3" \
  "atftp --option 'windowsize 8' --option 'tsize 0' -g -r $S3 -l tftp-atftp-windowsize.$S3 $SRVIP"
tftp_case tftp-curl ok "$S3 $S2" \
  "curl -sS --tftp-blksize 1428 -o tftp-curl.$S3 tftp://$SRVIP/$S3 &&
   curl -sS -o tftp-curl.$S2 tftp://$SRVIP/$S2"
tftp_case tftp-busybox ok "$S3 $S2" \
  "busybox tftp -g -r $S3 -l tftp-busybox.$S3 $SRVIP && busybox tftp -b 1024 -g -r $S2 -l tftp-busybox.$S2 $SRVIP"

[ ${#FAIL[@]} = 0 ] || die "failed: ${FAIL[*]}"
log "all captures written to $OUT"
