#!/usr/bin/env bash
# Reenact one photo with another, keep every intermediate stage for a look.
#   bash examples/one_photo.sh SOURCE DRIVER
# With no arguments, the built-in portrait drives itself mirrored.
set -euo pipefail
src=${1:-}
drv=${2:-}
work=$(mktemp -d)
if [ -z "$src" ]; then
  src=$(python -c "from reenact_cli.tasks.demo import demo_portrait; print(demo_portrait())")
  drv="$work/mirrored.png"
  python -c "import sys, cv2; cv2.imwrite(sys.argv[2], cv2.imread(sys.argv[1])[:, ::-1])" "$src" "$drv"
fi
reenact drive "$src" "$drv" -o "$work/result.png" --save-stages "$work/stages"
reenact drive "$src" "$drv" -o "$work/result_crop.png" --no-paste-back
echo "result:      $work/result.png (full photo) and $work/result_crop.png (face crop)"
echo "stages:      $work/stages/ (crops, meshes as .obj, wireframes, flow, masks, fits.json)"
