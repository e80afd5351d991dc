#!/usr/bin/env bash
# Builds the real Pulumi engine parts this project can have here, from Go modules pinned in this folder:
#   - the Pulumi CLI (github.com/pulumi/pulumi/pkg/v3, tools/engine/cli/go.mod);
#   - the pulumi-kubernetes provider plugin (tools/engine/kubernetes/go.mod, with a small main of ours,
#     because upstream's main embeds generated files the served module does not contain).
# Output: .tools/bin/ (gitignored). The kubernetes plugin is also installed into PULUMI_HOME
# (.tools/pulumi-home by default) with `pulumi plugin install --file`, so no download is ever tried.
# A second run with the Go build cache warm rebuilds nothing and takes seconds.
#
# What cannot be built here (the Go module proxy refuses it; see README "What cannot run here"):
#   github.com/pulumi/pulumi-command/provider (the @pulumi/command 1.2.1 plugin) and
#   github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 (the Node.js language host).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$root/.tools/bin"
export PULUMI_HOME="${PULUMI_HOME:-$root/.tools/pulumi-home}"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
mkdir -p "$bin" "$PULUMI_HOME"

# The versions, read from the go.mod files so they are written down once.
modversion() { # <dir> <module>
    (cd "$1" && go list -m -f '{{.Version}}' "$2")
}
PULUMI_VERSION="$(modversion "$here/cli" github.com/pulumi/pulumi/pkg/v3)"
# provider/v4 is served only as a pseudo-version of the commit that is pulumi-kubernetes v4.25.0.
KUBERNETES_PLUGIN_VERSION="4.25.0"

# Download first, so a version the proxy refuses is named instead of buried in a build log.
fetch() { # <dir> <label>
    local log
    if ! log="$(cd "$1" && go mod download 2>&1)"; then
        echo "tools/engine: the Go module proxy refused a module that $2 needs:" >&2
        echo "$log" | grep -E 'go: |403|404|410|not available|invalid version' | head -5 >&2
        echo "fix: pin a version the proxy serves in $1/go.mod (see README, 'Building the engine')" >&2
        exit 1
    fi
}

step() { printf '== %s\n' "$*"; }

step "pulumi CLI $PULUMI_VERSION"
fetch "$here/cli" "the Pulumi CLI"
(cd "$here/cli" && go build -trimpath -o "$bin/pulumi" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)

step "pulumi-resource-kubernetes $KUBERNETES_PLUGIN_VERSION"
fetch "$here/kubernetes" "pulumi-kubernetes"
kdir="$(cd "$here/kubernetes" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi-kubernetes/provider/v4)"
main="$here/kubernetes/cmd/pulumi-resource-kubernetes"
# The same transformation as upstream's generate.go: the schema with its version set, and the
# terraform mapping re-serialised. Written only when different, so the Go build cache stays warm.
node - "$kdir/cmd/pulumi-resource-kubernetes" "$main" "$KUBERNETES_PLUGIN_VERSION" <<'JS'
const fs = require("node:fs");
const path = require("node:path");
const [src, dst, version] = process.argv.slice(2);
function put(name, text) {
    const p = path.join(dst, name);
    if (fs.existsSync(p) && fs.readFileSync(p, "utf8") === text) return;
    fs.writeFileSync(p, text);
}
const schema = JSON.parse(fs.readFileSync(path.join(src, "schema.json"), "utf8"));
schema.version = version;
put("schema-embed.json", JSON.stringify(schema));
put("terraform-mapping-embed.json", JSON.stringify(JSON.parse(fs.readFileSync(path.join(src, "terraform-mapping.json"), "utf8"))));
JS
(cd "$here/kubernetes" && go build -trimpath -o "$bin/pulumi-resource-kubernetes" \
    -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$KUBERNETES_PLUGIN_VERSION" \
    ./cmd/pulumi-resource-kubernetes)

step "install the kubernetes plugin into $PULUMI_HOME"
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
"$bin/pulumi" plugin install resource kubernetes "$KUBERNETES_PLUGIN_VERSION" --file "$bin/pulumi-resource-kubernetes" --reinstall >/dev/null
"$bin/pulumi" version
"$bin/pulumi" plugin ls
