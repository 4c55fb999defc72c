#!/bin/sh
# Hook for dhclient (-sf) and udhcpc (-s) in Fixtures/capture.sh (adapted from the lab's
# cli-hook.sh): configure the leased address only, never resolv.conf or routes, so the
# client can unicast its renewal. Logs the variables to $HOOKLOG.
env | grep -E '^(reason|new_|interface|ip|subnet|router|siaddr|boot_file|serverid|lease|mask)=?' | sort >> "${HOOKLOG:-/dev/null}"
echo "--- $reason$1" >> "${HOOKLOG:-/dev/null}"
case "$reason$1" in
  BOUND*|REBOOT*|RENEW*|REBIND*) ip addr replace "$new_ip_address/24" dev "$interface" ;;
  bound|renew) ip addr replace "$ip/${mask:-24}" dev "$interface" ;;
  deconfig|EXPIRE*|RELEASE*|STOP*) ip -4 addr flush dev "$interface" ;;
esac
exit 0
