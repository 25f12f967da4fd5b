#!/usr/bin/env bash
# Drive every photo in a folder with the same driver, one output per source.
#   bash examples/folder_of_sources.sh PHOTOS_DIR DRIVER OUT_DIR
# Photos without a face are reported and skipped (exit code 3), the loop goes on.
set -uo pipefail
dir=${1:?usage: folder_of_sources.sh PHOTOS_DIR DRIVER OUT_DIR}
drv=${2:?driver photo}
out=${3:?output folder}
mkdir -p "$out"
ok=0; failed=0
for src in "$dir"/*.{jpg,jpeg,png,JPG,JPEG,PNG}; do
  [ -e "$src" ] || continue
  name=$(basename "${src%.*}")
  if reenact drive "$src" "$drv" -o "$out/${name}.png" --overwrite; then
    ok=$((ok + 1))
  else
    failed=$((failed + 1))
  fi
done
echo "reenacted $ok photos, $failed skipped; results in $out/"
