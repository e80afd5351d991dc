import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { requireKubernetesProvider } from "../kube/provider";
import { DEFAULT_CLUSTER_ISSUER } from "../kube/certManager";
import { acmeClusterIssuer, CERT_MANAGER_REPO, CERT_MANAGER_VERSION, certManagerValues, LETS_ENCRYPT_PRODUCTION, validateCertManager } from "./plan";

export interface CertManagerArgs {
    /**
     * Namespace of the release.
     * @default "cert-manager"
     */
    readonly namespace?: string;
    /**
     * cert-manager chart version.
     * @default CERT_MANAGER_VERSION (pinned)
     */
    readonly version?: string;
    /**
     * With an email, an ACME ClusterIssuer named `letsencrypt` is created (HTTP-01 through Traefik).
     * @default no ClusterIssuer
     */
    readonly acmeEmail?: string;
    /**
     * ACME directory URL.
     * @default Let's Encrypt production
     */
    readonly acmeServer?: string;
    /**
     * Install cert-manager's chart. `false` uses a cert-manager already in the cluster (its CRDs must be
     * there): only the ClusterIssuer is created.
     * @default true
     */
    readonly install?: boolean;
}

/** cert-manager from jetstack's Helm chart, CRDs included. Needs the cluster's kubernetes provider. */
export class CertManager extends pulumi.ComponentResource {
    public readonly namespace: pulumi.Output<string>;
    /** Name of the ACME ClusterIssuer, or "" when none was asked for. */
    public readonly clusterIssuerName: pulumi.Output<string>;

    constructor(name: string, args: CertManagerArgs, opts?: pulumi.ComponentResourceOptions) {
        validateCertManager(args);
        requireKubernetesProvider(opts, "CertManager", name);
        super("hybridinfra:index:CertManager", name, {}, opts);
        const namespace = args.namespace ?? "cert-manager";
        const release = args.install === false ? undefined : new k8s.helm.v3.Release(
            `${name}-release`,
            {
                name: "cert-manager",
                chart: "cert-manager",
                version: args.version ?? CERT_MANAGER_VERSION,
                repositoryOpts: { repo: CERT_MANAGER_REPO },
                namespace,
                createNamespace: true,
                values: certManagerValues(),
                // Issuers need the webhook to be up: wait for the release's workloads.
                skipAwait: false,
            },
            { parent: this },
        );
        let issuerName: pulumi.Output<string> = pulumi.output("");
        if (args.acmeEmail !== undefined) {
            const issuer = new k8s.apiextensions.CustomResource(
                `${name}-issuer`,
                { apiVersion: "cert-manager.io/v1", kind: "ClusterIssuer", metadata: { name: DEFAULT_CLUSTER_ISSUER }, spec: acmeClusterIssuer(DEFAULT_CLUSTER_ISSUER, args.acmeEmail, args.acmeServer ?? LETS_ENCRYPT_PRODUCTION) },
                { parent: this, ...(release !== undefined ? { dependsOn: [release] } : {}) },
            );
            // The name as the issuer's output, so whatever uses it (an app's Certificate) waits for the issuer.
            issuerName = issuer.metadata.apply((m) => m.name);
        }
        this.namespace = pulumi.output(namespace);
        this.clusterIssuerName = issuerName;
        this.registerOutputs({ namespace: this.namespace, clusterIssuerName: this.clusterIssuerName });
    }
}
