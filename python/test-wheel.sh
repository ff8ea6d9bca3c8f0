#!/usr/bin/env bash
# Builds the `retort` wheel with maturin, installs it into a fresh virtualenv, and checks that
# the installed `retort` works: --version and the whole demo on a throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/build"
"$work/build/bin/pip" install -q --disable-pip-version-check "maturin>=1.5,<2.0"
"$work/build/bin/maturin" build --release -q -m crates/retort/Cargo.toml -o "$work/dist"
wheel=$(ls "$work"/dist/retort-*.whl)
echo "wheel: $(basename "$wheel")"
python3 -m venv "$work/fresh"
"$work/fresh/bin/pip" install -q --disable-pip-version-check "$wheel"
"$work/fresh/bin/retort" --version
"$work/fresh/bin/retort" demo > "$work/demo.txt"
grep -q "stopped every server" "$work/demo.txt"
echo "wheel ok: pip install gives a working retort (demo passed)"
