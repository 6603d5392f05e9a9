#!/usr/bin/env bash
# Installs Reelscope's launcher, icons and AppStream metadata for the current user, so that it
# shows up in the desktop's application menu and as a choice for opening videos.
#
# Usage: install-desktop.sh [--uninstall] [EXECUTABLE]
#   EXECUTABLE  what the launcher runs (default: the `reelscope` binary beside this folder,
#               as in the unpacked Linux bundle; `make install-desktop` passes the venv's)
# Files go under ${XDG_DATA_HOME:-~/.local/share}; nothing needs root.
set -euo pipefail

app_id=io.github.reelscope.Reelscope
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}

sed_escape() { sed -e 's/[\\&|]/\\&/g'; }

if [[ "${1:-}" == "--uninstall" ]]; then
  rm -f "$data/applications/$app_id.desktop" "$data/metainfo/$app_id.metainfo.xml"
  find "$data/icons/hicolor" -path "*/apps/$app_id.*" -delete 2>/dev/null || true
  removed=1
else
  exe=$(realpath "${1:-$here/../reelscope}")
  if [[ ! -x "$exe" ]]; then
    echo "install-desktop: no Reelscope executable at $exe" >&2
    exit 1
  fi
  mkdir -p "$data/applications" "$data/metainfo"
  # The launcher names the executable by absolute path: the bundle and the venv are not on PATH.
  # In a quoted Exec argument a backslash, quote, backtick or dollar takes a backslash, and the
  # file's string escaping doubles every backslash; then each is escaped again for sed.
  exec_arg=$(printf '%s' "$exe" | sed -e 's/[\\"`$]/\\&/g' -e 's/\\/\\\\/g' | sed_escape)
  try_exec=$(printf '%s' "$exe" | sed -e 's/\\/\\\\/g' | sed_escape)
  sed -e "s|^Exec=reelscope |Exec=\"$exec_arg\" |" -e "s|^TryExec=.*|TryExec=$try_exec|" \
    "$here/$app_id.desktop" >"$data/applications/$app_id.desktop"
  cp "$here/$app_id.metainfo.xml" "$data/metainfo/"
  (cd "$here/icons" && find -L hicolor -name "$app_id.*" -print0) |
    while IFS= read -r -d '' icon; do
      mkdir -p "$data/icons/$(dirname "$icon")"
      cp -L "$here/icons/$icon" "$data/icons/$icon"
    done
  removed=0
fi

# Desktops read these caches; where the tools are missing the desktop rescans on its own.
command -v update-desktop-database >/dev/null && update-desktop-database -q "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
if [[ $removed -eq 1 ]]; then
  echo "Removed Reelscope's launcher and icons from $data"
else
  echo "Installed Reelscope's launcher ($data/applications/$app_id.desktop) for $exe"
fi
