#!/usr/bin/env bash
# The whole training path on your own talking-head clips, at the 64-pixel
# 'tiny' size: prepare a dataset, train the coefficient regressor, train the
# generator, then drive a photo with the result.
#   bash examples/train_tiny.sh CLIPS_DIR [VGG19_WEIGHTS.pth]
# CLIPS_DIR holds videos (or folders of frames), one person per clip. Without
# VGG19 weights the perceptual loss runs on a RANDOM VGG: a smoke test of the
# machinery, not a model worth using (the command says so loudly).
set -euo pipefail
clips=${1:?usage: bash examples/train_tiny.sh CLIPS_DIR [VGG19_WEIGHTS.pth]}
vgg=${2:-}
work=${WORK:-$(mktemp -d)}
reenact prepare "$clips" -o "$work/data64" --size 64 --every 3 --max-frames 40
reenact train "$work/data64" --config tiny --stage regressor -o "$work/reg" --steps "${REG_STEPS:-600}" --batch-size 16
if [ -n "$vgg" ]; then perceptual=(--vgg-weights "$vgg"); else perceptual=(--perceptual random); fi
reenact train "$work/data64" --config tiny -o "$work/gen" --steps "${GEN_STEPS:-400}" \
  --regressor "$work/reg/last.pt" "${perceptual[@]}" --sample-every 200
reenact info "$work/gen/last.pt"
portrait=$(python -c "from reenact_cli.tasks.demo import demo_portrait; print(demo_portrait())")
python -c "import sys, cv2; cv2.imwrite(sys.argv[2], cv2.imread(sys.argv[1])[:, ::-1])" "$portrait" "$work/mirrored.png"
reenact drive "$portrait" "$work/mirrored.png" --checkpoint "$work/gen/last.pt" -o "$work/learned.png"
echo "run folder:  $work/gen (last.pt, log.jsonl, samples/)"
echo "result:      $work/learned.png"
