#!/usr/bin/env bash
# Makes sure the Debian packages Reelscope needs are installed.
#
# Usage: packaging/system-deps.sh run|test|bundle
#   run    - libVLC with its plugins (video output included) and Qt's xcb libraries
#   test   - the same, plus Xvfb for the tests that need a real X display, the validators
#            of the desktop file and AppStream metadata, and Chromium for the dashboard's test
#   bundle - what the Linux bundle is built from: the run set (its libVLC is what gets bundled;
#            libvlc-bin's vlc-cache-gen builds the plugin cache) and the same validators
#
# As root on a Debian-like system the missing packages are installed with apt-get;
# anywhere else the script stops and names exactly what to install.
set -euo pipefail

runtime=(
  libvlc5 libvlc-bin vlc-plugin-base vlc-plugin-video-output
  libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-cursor0
  libxkbcommon-x11-0 libxcb-xkb1 libxcb-randr0 libxcb-shape0
  libegl1 libgl1 libfontconfig1 libdbus-1-3
)
testing=(xvfb desktop-file-utils appstream openssl ffmpeg)  # openssl: the collector TLS test's certificate; ffmpeg: fixture media
testing+=(dbus-daemon dbus-bin)  # the MPRIS tests start a private session bus, spoken to with dbus-send
testing+=(chromium chromium-driver)  # the dashboard's test opens it in headless Chromium
bundling=(desktop-file-utils appstream)

wanted=("${runtime[@]}")
if [[ "${1:-run}" == "test" ]]; then
  wanted+=("${testing[@]}")
elif [[ "${1:-run}" == "bundle" ]]; then
  wanted+=("${bundling[@]}")
elif [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" ]]; then
  wanted+=(xvfb)  # `make run` without a display runs the app under Xvfb
fi

# A Python without venv/ensurepip (Debian's own python3) needs python3-venv.
python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
  wanted+=(python3 python3-venv)
elif ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  wanted+=(python3-venv)
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "Reelscope's set-up installs packages on Debian and Ubuntu only." >&2
  echo "On this system, install libVLC 3 with its plugins (VLC media player), Python 3.11+," >&2
  echo "and for the tests Xvfb; then run 'make' again." >&2
  exit 1
fi

missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "Reelscope needs these Debian packages, which are not installed:" >&2
  echo "  sudo apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
