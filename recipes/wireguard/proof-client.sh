#!/bin/bash
# The real client of the wireguard recipe's proof (recipes/wireguard/proof.yml): a member's
# device joins the VPN with the configuration chaton wrote for it next to the description,
# then reaches the server through the tunnel.
#
# The device is a network namespace of its own, plugged into the network the server is on
# (as a laptop on the same network would be), running the userspace WireGuard
# (wireguard-go: the machines this runs on may have no WireGuard in their kernel). Nothing
# of this machine's own network changes, and everything is removed on exit.
#
# Usage: proof-client.sh PEER.conf SERVER_ADDRESS
set -euo pipefail

conf=$1
server=$2
device=wgp$$
namespace=chaton-wg-proof-$$
outside=cwp$$

cleanup() {
    ip netns pids "$namespace" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns delete "$namespace" 2>/dev/null || true
    ip link delete "$outside" 2>/dev/null || true
    rm -f "/var/run/wireguard/$device.sock"
}
trap cleanup EXIT

# The network the server is on: the interface this machine reaches it through, and a free
# address there for the device.
route=$(ip -o route get "$server")
bridge=$(sed -n 's/.* dev \([^ ]*\).*/\1/p' <<<"$route")
prefix=$(ip -o -4 addr show dev "$bridge" | awk '{print $4}' | head -n1)
[ -n "$prefix" ] || { echo "no network of this machine reaches $server directly (through $bridge)" >&2; exit 1; }
network_bits=${prefix#*/}
base=${server%.*}
device_address=
for last in $(seq 250 -1 200); do
    if ! ping -c 1 -W 1 "$base.$last" >/dev/null 2>&1; then
        device_address=$base.$last
        break
    fi
done
[ -n "$device_address" ] || { echo "no free address next to $server" >&2; exit 1; }

ip netns add "$namespace"
ip link add "$outside" type veth peer name eth0 netns "$namespace"
ip link set "$outside" master "$bridge" up
ip -n "$namespace" link set lo up
ip -n "$namespace" addr add "$device_address/$network_bits" dev eth0
ip -n "$namespace" link set eth0 up

# The tunnel, as wg-quick would bring it up from the file (its own keys, the server's key
# and endpoint), with the address and routes the file gives.
ip netns exec "$namespace" wireguard-go "$device" 2>/dev/null
ip netns exec "$namespace" wg setconf "$device" <(wg-quick strip "$conf")
address=$(sed -n 's/^Address *= *//p' "$conf" | head -n1)
ip -n "$namespace" addr add "$address" dev "$device"
ip -n "$namespace" link set "$device" up
# A split tunnel's network (the proof's; a full tunnel's default route would also carry
# the tunnel's own packets, which wg-quick avoids with policy routing this client lacks).
network=$(sed -n 's/^AllowedIPs *= *//p' "$conf" | tr ', ' '\n\n' | grep -v -e '^0.0.0.0/0$' -e '^$' | head -n1 || true)
[ -n "$network" ] || { echo "this client joins split tunnels only (AllowedIPs has no network)" >&2; exit 1; }
ip -n "$namespace" route add "$network" dev "$device"
# The server's own address in the tunnel: the first of its network.
first=${network%/*}
first=${first%.*}.$(( ${first##*.} + 1 ))
echo "device $device_address joins through $server; pinging $first through the tunnel"
ip netns exec "$namespace" ping -c 3 -W 2 "$first"
handshake=$(ip netns exec "$namespace" wg show "$device" latest-handshakes | awk '{print $2}')
if [ "${handshake:-0}" -gt 0 ]; then
    # Where its answers came from (WireGuard follows a peer that answers from elsewhere).
    echo "the server answered from $(ip netns exec "$namespace" wg show "$device" endpoints | awk '{print $2}')"
    echo "handshake done, the server answered through the tunnel"
else
    echo "no handshake with the server" >&2
    exit 1
fi
