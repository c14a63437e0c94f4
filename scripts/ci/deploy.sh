#!/usr/bin/env bash
# Deploys one image to one environment with the Kustomize overlay in deploy/k8s/overlays/ENV:
#
#   scripts/ci/deploy.sh staging ghcr.io/OWNER/beauty-crafter-platform:TAG@sha256:DIGEST
#   scripts/ci/deploy.sh --dry-run production ghcr.io/...:TAG@sha256:...   # print, apply nothing
#
# The image is pinned by digest (Kustomize `images`), so production runs exactly the bytes that
# passed staging. The tag rides along (`name:tag@digest`): the ServiceMonitor labels series with
# it (image_tag) and canary analysis selects the new version by it. After `kubectl apply` it waits
# for every Deployment, StatefulSet and Argo Rollout of the overlay to finish rolling out
# (DEPLOY_TIMEOUT, default 10m) and fails if one does not. Uses the current kubectl context
# (KUBECONFIG).
#
# Rendering needs kustomize 4.5+ only, never kubectl: KUSTOMIZE names the binary (default
# scripts/ci/kustomize.sh, the pinned kustomize 4.5.4). --dry-run needs no kubectl at all. MANIFEST_IMAGE is the image name the manifests use as a placeholder (default
# ghcr.io/beauty-crafter/platform, as in deploy/k8s/base); K8S_OVERLAYS overrides the folder of
# overlays.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
dry_run=false
if [[ "${1:-}" == "--dry-run" ]]; then
  dry_run=true
  shift
fi
if [[ $# -ne 2 ]]; then
  echo "usage: $0 [--dry-run] ENVIRONMENT IMAGE@sha256:DIGEST" >&2
  exit 2
fi
environment="$1"
image="$2"
overlays="${K8S_OVERLAYS:-$root/deploy/k8s/overlays}"
overlay="$overlays/$environment"
placeholder="${MANIFEST_IMAGE:-ghcr.io/beauty-crafter/platform}"
timeout="${DEPLOY_TIMEOUT:-10m}"
kustomize="${KUSTOMIZE:-$root/scripts/ci/kustomize.sh}"

if [[ ! -f "$overlay/kustomization.yaml" && ! -f "$overlay/kustomization.yml" && ! -f "$overlay/Kustomization" ]]; then
  echo "no Kustomize overlay for '$environment' in $overlays" >&2
  exit 2
fi
# A tag can be moved after the tests ran; a digest cannot.
if [[ ! "$image" =~ ^([^@[:space:]]+)@(sha256:[0-9a-f]{64})$ ]]; then
  echo "image must be pinned by digest (NAME[:TAG]@sha256:...), got '$image'" >&2
  exit 2
fi
name="${BASH_REMATCH[1]}"
digest="${BASH_REMATCH[2]}"
tag=""
# A colon after the last slash starts the tag (a registry's port comes before a slash).
if [[ "${name##*/}" == *:* ]]; then
  tag="${name##*:}"
  name="${name%:*}"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A throwaway overlay on top of the environment's: the checked-in files are never edited.
cat >"$work/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$work" "$overlay")
images:
  - name: $placeholder
    newName: $name
${tag:+    newTag: $tag
}    digest: $digest
YAML
"$kustomize" build "$work" >"$work/rendered.yaml"

if ! grep -qF "image: $name${tag:+:$tag}@$digest" "$work/rendered.yaml"; then
  echo "no container in $overlay uses the image '$placeholder': nothing would be deployed" >&2
  exit 1
fi

# Workloads to wait for, read offline from the rendered objects (no cluster, no kubectl): one
# "KIND NAMESPACE NAME" line per object ("-" for no namespace). kustomize writes each object as a
# YAML document with kind at the top level and name and namespace two spaces in under metadata.
awk '
  function flush() {
    if (kind != "") print kind, (namespace == "" ? "-" : namespace), name
    kind = namespace = name = ""
  }
  function value(line) { sub(/^[^:]*:[ \t]*/, "", line); gsub(/^["\047]|["\047][ \t]*$/, "", line); return line }
  /^---/ { flush(); next }
  /^[^ #]/ { in_metadata = ($0 ~ /^metadata:/) }
  /^kind:/ { kind = value($0) }
  in_metadata && /^  name:/ { name = value($0) }
  in_metadata && /^  namespace:/ { namespace = value($0) }
  END { flush() }
' "$work/rendered.yaml" >"$work/targets"

if $dry_run; then
  cat "$work/rendered.yaml"
  echo "# would wait for:" && sed -n 's/^\(Deployment\|StatefulSet\|Rollout\) /#   \1 /p' "$work/targets"
  exit 0
fi

kubectl apply --server-side --force-conflicts -f "$work/rendered.yaml"

while read -r kind namespace object; do
  ns_flag=()
  [[ "$namespace" != "-" ]] && ns_flag=(--namespace "$namespace")
  case "$kind" in
    Deployment | StatefulSet)
      kubectl "${ns_flag[@]}" rollout status "$kind/$object" --timeout="$timeout"
      ;;
    Rollout)
      # Argo Rollouts reports Healthy once every canary step and analysis passed; Degraded means
      # it aborted (and scaled the canary back), which fails the deploy.
      kubectl "${ns_flag[@]}" wait "rollout.argoproj.io/$object" \
        --for=jsonpath='{.status.phase}'=Healthy --timeout="$timeout"
      ;;
  esac
done <"$work/targets"
echo "deployed $image to $environment"
