#!/usr/bin/env bash
# Installs the real clients the lab tests talk to (nmap, curl, mosquitto_sub, snmpget,
# openssl, ncat, dig, ip) from Debian when some are missing and we are root. Without
# root it only reports what is missing: the tests then skip locally (and fail in CI).
set -euo pipefail

declare -A PACKAGE=(
    [nmap]=nmap [curl]=curl [mosquitto_sub]=mosquitto-clients [snmpget]=snmp
    [openssl]=openssl [ncat]=ncat [dig]=bind9-dnsutils [ip]=iproute2
)
missing=()
for tool in "${!PACKAGE[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${PACKAGE[$tool]}")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "lab-clients: missing packages: ${missing[*]}" >&2
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "lab-clients: not root or no apt-get; lab client tests will skip" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}
echo "lab-clients: installed ${missing[*]}" >&2
