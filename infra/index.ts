// Entry point for `pulumi up` / `pulumi preview` (Pulumi.yaml: main: infra/).
// The program is async: it reads this stack's previous `k3sSettings` output before registering anything
// (see runCheckedProgram). Its outputs:
//   kubeconfig            admin kubeconfig (secret): `pulumi stack output kubeconfig --show-secrets > kubeconfig`
//   apiEndpoint           the Kubernetes API URL written into the kubeconfig
//   overlayAddresses      each host's overlay address
//   appUrls               public URLs of the exposed apps, by app
//   failoverBoundSeconds  worst-case seconds before pods of a dark node are rescheduled (the profile's bound)
//   certificateExpiry     per app with TLS: the certificate's expiry (private-ca renews only on a pulumi up within
//                         30 days of it), or who renews it (cert-manager, the owner of an existing Secret)
//   operatorConfigs       per operator peer (overlay.operators): its wg-quick config, holding its private key
//                         (secret): `pulumi stack output operatorConfigs --show-secrets | jq -r .laptop > wg-laptop.conf`
//   k3sSettings           the k3s settings this run deployed, compared by the next run (creation-only settings,
//                         version, secrets encryption)
import { main } from "./program";

export = () => main();
