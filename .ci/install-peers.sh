#!/usr/bin/env bash
# Installs the real protocol peers the tests run against (Debian packages):
# Prosody (XMPP server), SIPp (package sip-tester) and Kamailio with its
# presence modules (the SIP presence server of issue 4). Already-installed
# peers are left alone. The packages' own system services are kept from
# starting (policy-rc.d), so they do not hold the ports the tests use; the
# tests start their own copies on loopback.
set -euo pipefail

need=()
command -v prosody >/dev/null 2>&1 || need+=(prosody)
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
# kamailio lives in /usr/sbin (not on a non-root PATH); the modules under the
# multiarch directory.
[ -x /usr/sbin/kamailio ] || need+=(kamailio)
compgen -G '/usr/lib/*/kamailio/modules/presence_xml.so' >/dev/null || need+=(kamailio-presence-modules)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-peers: missing ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
  # Not fatal here: the tests fail (CI=true) or skip (otherwise) on their own.
  exit 0
fi

created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  created_policy=1
fi
trap '[ $created_policy -eq 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT

export DEBIAN_FRONTEND=noninteractive
echo "install-peers: apt-get install ${need[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
