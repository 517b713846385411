#!/usr/bin/env bash
# Installs the offline VS Code host harness: Debian packages, code-server (a real VS Code server + Node
# extension host), headless Chromium via playwright-core, test-electron and mocha.
# Idempotent: a second run on an installed machine finishes in well under a second.
# Only package registries are reachable here (npm, Debian), so every GitHub/Microsoft download that the
# install would normally do is either satisfied locally or built from source (see comments below).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

# --- Debian packages ------------------------------------------------------------------------------------
# build-essential/python3: node-gyp builds (kerberos, node-pty, argon2); libkrb5-dev: kerberos headers;
# ripgrep: stands in for @vscode/ripgrep's GitHub download; chromium: the browser playwright drives.
APT_PKGS=(build-essential python3 libkrb5-dev ripgrep chromium)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "[install] apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}" \
    || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; }
fi

# --- npm packages ---------------------------------------------------------------------------------------
# The stamp records the lock file it was built from, so a changed lock reinstalls and an unchanged one
# returns at once.
STAMP="node_modules/.fastweights-host-installed"
LOCK_SUM="$(sha256sum package-lock.json | cut -d' ' -f1)"
RG_BIN="node_modules/code-server/lib/vscode/node_modules/@vscode/ripgrep/bin/rg"
ARGON_BIN="node_modules/argon2/lib/binding/napi-v3/argon2.node"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$LOCK_SUM" ] && [ -x "$RG_BIN" ] && [ -f "$ARGON_BIN" ]; then
  echo "[install] vscode-host harness already installed"
  exit 0
fi

# node-gyp would download Node headers from the internet; Debian's nodejs ships them under /usr.
NODE_PREFIX="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
export npm_config_nodedir="${npm_config_nodedir:-$NODE_PREFIX}"
# node-pty's postinstall runs `npx node-gyp`, which waits for a yes without this.
export npm_config_yes=true
export npm_config_fund=false npm_config_audit=false
# A private TMPDIR holds the fake ripgrep download cache (os.tmpdir() follows TMPDIR).
export TMPDIR="$HERE/.cache/tmp"
mkdir -p "$TMPDIR"

echo "[install] npm ci (scripts deferred)"
npm ci --ignore-scripts --no-audit --no-fund

# @vscode/ripgrep's postinstall fetches rg from GitHub unless its cache already holds the tarball:
# $TMPDIR/vscode-ripgrep-cache-<pkg version>/ripgrep-<tag>-x86_64-unknown-linux-musl.tar.gz.
# The package version comes from code-server's shrinkwrap, the tag from that package's postinstall.js.
RG_PKG_VERSION="$(node -p "require('./node_modules/code-server/lib/vscode/npm-shrinkwrap.json').packages['node_modules/@vscode/ripgrep'].version")"
RG_CACHE="$TMPDIR/vscode-ripgrep-cache-$RG_PKG_VERSION"
if ! ls "$RG_CACHE"/ripgrep-*-x86_64-unknown-linux-musl.tar.gz >/dev/null 2>&1; then
  PACK_DIR="$(mktemp -d)"
  (cd "$PACK_DIR" && npm pack "@vscode/ripgrep@$RG_PKG_VERSION" --silent >/dev/null && tar xzf ./*.tgz)
  RG_TAG="$(node -e "const s=require('fs').readFileSync(process.argv[1],'utf8');console.log(s.match(/const VERSION = '([^']+)'/)[1])" "$PACK_DIR/package/lib/postinstall.js")"
  rm -rf "$PACK_DIR"
  mkdir -p "$RG_CACHE" "$TMPDIR/rg-stage"
  cp "$(command -v rg)" "$TMPDIR/rg-stage/rg"
  tar czf "$RG_CACHE/ripgrep-$RG_TAG-x86_64-unknown-linux-musl.tar.gz" -C "$TMPDIR/rg-stage" rg
  rm -rf "$TMPDIR/rg-stage"
  echo "[install] ripgrep cache: @vscode/ripgrep $RG_PKG_VERSION, tag $RG_TAG -> Debian rg"
fi

# Now the deferred install scripts: argon2 (its GitHub prebuild download fails, so it builds from source)
# and code-server, whose postinstall installs VS Code's own dependencies (native builds, ~1 min on 2 cores).
echo "[install] running install scripts (builds native modules)"
npm rebuild --unsafe-perm --foreground-scripts

[ -x "$RG_BIN" ] || { echo "[install] ripgrep missing after install: $RG_BIN" >&2; exit 1; }
[ -f "$ARGON_BIN" ] || { echo "[install] argon2 binding missing: $ARGON_BIN" >&2; exit 1; }
echo "$LOCK_SUM" > "$STAMP"
echo "[install] done"
