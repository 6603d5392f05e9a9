#!/usr/bin/env bash
# Renders the app icon's PNG sizes (hicolor theme) and the Windows .ico from the one SVG.
#
# Usage: packaging/render-icons.sh   (needs rsvg-convert from librsvg2-bin, and ImageMagick)
# The outputs are committed: run this again only after changing the SVG.
set -euo pipefail
cd "$(dirname "$0")/.."

app_id=io.github.reelscope.Reelscope
svg=resources/icons/$app_id.svg
hicolor=packaging/linux/icons/hicolor
sizes=(16 24 32 48 64 128 256 512)

for size in "${sizes[@]}"; do
  mkdir -p "$hicolor/${size}x${size}/apps"
  rsvg-convert -w "$size" -h "$size" "$svg" -o "$hicolor/${size}x${size}/apps/$app_id.png"
done
# Windows picks the nearest size from the .ico; 256 is the largest it shows.
convert "$hicolor"/{16x16,24x24,32x32,48x48,64x64,128x128,256x256}/apps/$app_id.png \
  packaging/windows/reelscope.ico
