#!/usr/bin/env bash
# The main job: GASSL pre-training (temporal positives + geo-location) on the generated
# demo data with TorchGeo's CLI (ending with the held-out comparison of the pre-trained
# backbone with its random initialisation), then export of the backbone. A re-run
# replaces outputs/demo/checkpoints/last.ckpt, so the export is always this run's.
# Sets up .venv on first use.
# Extra arguments go to `torchgeo fit` (for example --trainer.accelerator gpu).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$(bash "$root/scripts/bootstrap.sh")"
cd "$root"
"$venv/bin/torchgeo" fit --config configs/demo.yaml "$@"
"$venv/bin/geossl-export" outputs/demo/checkpoints/last.ckpt --out outputs/demo/export
echo "Training logs (CSV): outputs/demo/gassl/; TensorBoard: tensorboard --logdir outputs/demo; checkpoint of this run: outputs/demo/checkpoints/last.ckpt"
