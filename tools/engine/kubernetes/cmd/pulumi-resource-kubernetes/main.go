// Command pulumi-resource-kubernetes serves the upstream pulumi-kubernetes provider.
//
// Upstream's own main package embeds two generated, gitignored files (schema-embed.json and
// terraform-mapping-embed.json), so it cannot be built from the module as served. This main does the same
// thing as upstream's: tools/engine/build.sh generates those two files from the schema.json and
// terraform-mapping.json that the module does contain, with the schema's version set, then builds this.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
