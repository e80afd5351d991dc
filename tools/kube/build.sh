#!/usr/bin/env bash
# Builds the real Kubernetes control plane used by tests/controlplane from Go modules pinned in this folder:
#   k8s/   k8s.io/kubernetes  -> kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (tests/controlplane/drain
#          runs our node-removal drain with it; its code is the staging module k8s.io/kubectl, restated in k8s/go.mod),
#          kubelet (never run: its --help checks the kubelet-arg names in components/src/k3s/flags.ts)
#   etcd/  go.etcd.io/etcd/server/v3 -> etcd
#   kwok/  sigs.k8s.io/kwok   -> kwok (fakes kubelets: node heartbeats, pod status)
#   helmcrds/ github.com/k3s-io/helm-controller -> helmcrds, our program that prints helm-controller's own CRDs
#          (HelmChart, HelmChartConfig) into .tools/share/helm-controller/crds.yaml for tests/engine/addons
#   certmanager: cert-manager's CRDs of the pinned CERT_MANAGER_VERSION (downloaded, not built) into
#          .tools/share/cert-manager/crds.yaml for tests/engine/certManager
# They are separate modules so that Go's minimal version selection cannot raise one graph's shared
# dependencies (grpc, otel, etcd client, k8s.io/*) because of another.
#
# Output: <repo>/.tools/bin, <repo>/.tools/share/kwok/stages, <repo>/.tools/share/helm-controller and <repo>/.tools/share/cert-manager (gitignored). Always runs `go build`: Go's build cache makes a warm run cheap,
# and a changed go.mod rebuilds exactly what changed. Only the Go module proxy is needed (go mod download).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$root/.tools/bin"
mkdir -p "$bin"

export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:-} -buildvcs=false -mod=readonly"

# version_of <module dir> <module path>: the version go.mod pins (from the require line).
version_of() {
  awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1/go.mod"
}

# build <module dir> <module path> <package> <output name> [ldflags]
build() {
  local dir="$here/$1" mod="$2" pkg="$3" out="$4" ldflags="${5:-}"
  local ver
  ver="$(version_of "$dir" "$mod")"
  [ -n "$ver" ] || { echo "build.sh: $mod is not required in $dir/go.mod" >&2; exit 1; }
  echo "== $out ($pkg from $mod $ver)"
  local start=$SECONDS
  if ! (cd "$dir" && go mod download "$mod" && go build -trimpath -ldflags "-s -w $ldflags" -o "$bin/$out.tmp" "$pkg"); then
    rm -f "$bin/$out.tmp"
    echo "build.sh: FAILED to build $pkg from $mod $ver (module $dir)" >&2
    exit 1
  fi
  mv -f "$bin/$out.tmp" "$bin/$out"
  echo "   $bin/$out ($((SECONDS - start))s)"
}

only="${1:-all}"
want() { [ "$only" = all ] || [ "$only" = "$1" ]; }

if want etcd; then
  build etcd go.etcd.io/etcd/server/v3 go.etcd.io/etcd/server/v3 etcd
fi

if want kwok; then
  build kwok sigs.k8s.io/kwok sigs.k8s.io/kwok/cmd/kwok kwok
  # kwok run on its own (without kwokctl) needs Stage objects in its --config. Take kwokctl's defaults
  # (node initialize + heartbeat with lease, pod ready/complete/delete) from the pinned module, unmodified.
  kwok_src="$(cd "$here/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
  stages="$root/.tools/share/kwok/stages"
  rm -rf "$stages"
  mkdir -p "$stages"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    install -m 0644 "$kwok_src/kustomize/stage/$f" "$stages/$(basename "$f")"
  done
  echo "   $stages"
fi

kube_ver="$(version_of "$here/k8s" k8s.io/kubernetes)"
kube_major="${kube_ver#v}"; kube_major="${kube_major%%.*}"
kube_minor="${kube_ver#v*.}"; kube_minor="${kube_minor%%.*}"
kube_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X '$pkg.gitVersion=$kube_ver' -X '$pkg.gitMajor=$kube_major' -X '$pkg.gitMinor=$kube_minor'"
  kube_ldflags+=" -X '$pkg.gitTreeState=clean' -X '$pkg.buildDate=1970-01-01T00:00:00Z'"
done
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet; do
  if want "$c"; then
    build k8s k8s.io/kubernetes "k8s.io/kubernetes/cmd/$c" "$c" "$kube_ldflags"
  fi
done

if want helmcrds; then
  build helmcrds github.com/k3s-io/helm-controller hybridinfra.local/tools/kube/helmcrds helmcrds
  share="$root/.tools/share/helm-controller"
  mkdir -p "$share"
  "$bin/helmcrds" >"$share/crds.yaml.tmp" || { rm -f "$share/crds.yaml.tmp"; echo "build.sh: helmcrds failed" >&2; exit 1; }
  mv -f "$share/crds.yaml.tmp" "$share/crds.yaml"
  echo "   $share/crds.yaml"
fi

if want certmanager; then
  # cert-manager's own CRDs (Certificate, ClusterIssuer, ...), of the release components/src/addons/plan.ts
  # pins as CERT_MANAGER_VERSION, from the github.com/cert-manager/cert-manager module's deploy/crds, unmodified.
  # Nothing is built: the module is only downloaded (and checked against the Go checksum database).
  cm_ver="$(sed -n 's/^export const CERT_MANAGER_VERSION = "\(v[0-9.]*\)";$/\1/p' "$root/components/src/addons/plan.ts")"
  [ -n "$cm_ver" ] || { echo "build.sh: CERT_MANAGER_VERSION not found in components/src/addons/plan.ts" >&2; exit 1; }
  echo "== cert-manager CRDs (github.com/cert-manager/cert-manager $cm_ver deploy/crds)"
  cm_dir="$(cd "$here" && GOFLAGS=-mod=mod go mod download -json "github.com/cert-manager/cert-manager@$cm_ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -n "$cm_dir" ] && [ -d "$cm_dir/deploy/crds" ] || { echo "build.sh: FAILED to download github.com/cert-manager/cert-manager@$cm_ver" >&2; exit 1; }
  share="$root/.tools/share/cert-manager"
  mkdir -p "$share"
  for f in "$cm_dir"/deploy/crds/*.yaml; do printf -- '---\n'; cat "$f"; done >"$share/crds.yaml.tmp"
  mv -f "$share/crds.yaml.tmp" "$share/crds.yaml"
  echo "   $share/crds.yaml ($cm_ver)"
fi
