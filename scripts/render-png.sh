#!/usr/bin/env bash
# Render an SVG (e.g. a spanprof flame graph) to a PNG with headless chromium.
#   scripts/render-png.sh SVG PNG [WIDTHxHEIGHT]
# The window defaults to 1400x900, grown to the SVG's height so the root of a
# tall flame graph is not cut off. Append ?x=N&s=REGEX to SVG (a file path)
# to capture a zoomed / searched state (the page script reads them).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 SVG PNG [WIDTHxHEIGHT]" >&2
  exit 2
fi
svg=$1 png=$2 size=${3:-}
query=
case "$svg" in *\?*) query="?${svg#*\?}"; svg=${svg%%\?*} ;; esac
[ -f "$svg" ] || { echo "render-png: $svg: no such file" >&2; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "render-png: chromium is not installed (scripts/install-deps.sh render)" >&2
  exit 1
fi
if [ -z "$size" ]; then
  h=$(sed -n 's/.*<svg[^>]* height="\([0-9.]*\)".*/\1/p' "$svg" | head -1)
  h=${h%.*}
  [ -n "$h" ] && [ "$h" -gt 880 ] && size="1400,$((h + 20))" || size="1400,900"
else
  size=${size/x/,}
fi
profile_dir=$(mktemp -d)
trap 'rm -rf "$profile_dir"' EXIT
abs=$(cd "$(dirname "$svg")" && pwd)/$(basename "$svg")
out_abs=$(cd "$(dirname "$png")" && pwd)/$(basename "$png")
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --hide-scrollbars --user-data-dir="$profile_dir" --screenshot="$out_abs" \
  --window-size="$size" "file://$abs$query" >/dev/null 2>&1 || true
if [ ! -s "$out_abs" ]; then
  echo "render-png: chromium wrote no screenshot for $svg" >&2
  exit 1
fi
echo "$png"
