// Command helmcrds prints the CustomResourceDefinitions of k3s's helm-controller (HelmChart, HelmChartConfig
// in helm.cattle.io), as the pinned module defines them, as one multi-document YAML stream on stdout.
// tools/kube/build.sh runs it into .tools/share/helm-controller/crds.yaml; tests/engine/addons.test.ts
// installs them into the test control plane before applying our HelmChartConfig. Nothing upstream is copied
// into this repository: the definitions come from the module (github.com/k3s-io/helm-controller/pkg/crds).
package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/k3s-io/helm-controller/pkg/crds"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

func main() {
	list, err := crds.List()
	if err != nil {
		fmt.Fprintf(os.Stderr, "helmcrds: %v\n", err)
		os.Exit(1)
	}
	if len(list) == 0 {
		fmt.Fprintln(os.Stderr, "helmcrds: the module defines no CRD")
		os.Exit(1)
	}
	// The package returns them from a map: sort for a stable output.
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	for _, crd := range list {
		// The objects decoded from the embedded YAML may lack apiVersion/kind (TypeMeta); state them.
		crd.APIVersion = "apiextensions.k8s.io/v1"
		crd.Kind = "CustomResourceDefinition"
		// The empty status (a Go struct's zero value) is not part of a definition one installs: leave it out.
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(crd)
		if err != nil {
			fmt.Fprintf(os.Stderr, "helmcrds: %s: %v\n", crd.Name, err)
			os.Exit(1)
		}
		delete(obj, "status")
		out, err := yaml.Marshal(obj)
		if err != nil {
			fmt.Fprintf(os.Stderr, "helmcrds: %s: %v\n", crd.Name, err)
			os.Exit(1)
		}
		fmt.Printf("---\n%s", out)
	}
}
