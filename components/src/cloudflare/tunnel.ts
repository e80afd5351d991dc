import * as pulumi from "@pulumi/pulumi";
import * as cloudflare from "@pulumi/cloudflare";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { getInternals, setInternals } from "../util/internals";
import { requireKubernetesProvider } from "../kube/provider";
import { selectorLabels } from "../kube/labels";
import type { CloudflareTunnelArgs } from "./model";
import { CLOUDFLARED_IMAGE, cloudflaredDeploymentSpec, cloudflaredLabels, hostnameSlug, TOKEN_KEY, tunnelCname, tunnelHostnames, tunnelIngressRules, validateTunnel } from "./plan";
import { compact } from "../util/compact";

export interface CloudflareTunnelInternals {
    readonly tunnel: cloudflare.ZeroTrustTunnelCloudflared;
    readonly config: cloudflare.ZeroTrustTunnelCloudflaredConfig;
    readonly dnsRecords: readonly cloudflare.DnsRecord[];
    readonly deployment: k8s.apps.v1.Deployment;
    readonly namespace: string;
}

/**
 * A remotely managed Cloudflare Tunnel: the tunnel, its ingress rules and a proxied CNAME per hostname in
 * Cloudflare, and cloudflared pods in the cluster that dial out to Cloudflare (no public IP needed).
 * Needs the cluster's kubernetes provider; Cloudflare resources use the Cloudflare provider given in
 * `opts.providers` (or the default one, configured with `cloudflare:apiToken`).
 */
export class CloudflareTunnel extends pulumi.ComponentResource {
    public readonly tunnelId: pulumi.Output<string>;
    /** `<tunnelId>.cfargotunnel.com`, the target of every hostname's CNAME. */
    public readonly cname: pulumi.Output<string>;
    public readonly hostnames: pulumi.Output<string[]>;

    constructor(name: string, args: CloudflareTunnelArgs, opts?: pulumi.ComponentResourceOptions) {
        validateTunnel(args);
        requireKubernetesProvider(opts, "CloudflareTunnel", name);
        super("hybridinfra:index:CloudflareTunnel", name, {}, opts);
        const tunnelName = args.tunnelName ?? name;
        const namespace = args.namespace ?? "cloudflared";
        const hostnames = tunnelHostnames(args.ingress);

        // Only used for locally managed tunnels, but the API keeps it: make it ours, random and secret
        // (the random SDK marks base64/hex as secret outputs).
        const secret = new random.RandomBytes(`${name}-secret`, { length: 32 }, { parent: this });
        const tunnel = new cloudflare.ZeroTrustTunnelCloudflared(
            `${name}-tunnel`,
            { accountId: args.accountId, name: tunnelName, configSrc: "cloudflare", tunnelSecret: pulumi.secret(secret.base64) },
            { parent: this },
        );
        const config = new cloudflare.ZeroTrustTunnelCloudflaredConfig(
            `${name}-config`,
            { accountId: args.accountId, tunnelId: tunnel.id, source: "cloudflare", config: { ingresses: tunnelIngressRules(args.ingress) } },
            { parent: this },
        );
        const cname = tunnel.id.apply(tunnelCname);
        const dnsRecords = hostnames.map(
            (hostname) =>
                new cloudflare.DnsRecord(
                    `${name}-dns-${hostnameSlug(hostname)}`,
                    { zoneId: args.zoneId, name: hostname, type: "CNAME", content: cname, proxied: true, ttl: 1, comment: `hybridinfra tunnel ${tunnelName}` },
                    { parent: this },
                ),
        );

        const token = pulumi.secret(cloudflare.getZeroTrustTunnelCloudflaredTokenOutput({ accountId: args.accountId, tunnelId: tunnel.id }, { parent: this }).token);
        // The config goes first, so that new connectors never serve an empty tunnel.
        const { deployment } = createCloudflaredConnector(
            name,
            { tunnelName, namespace, token, replicas: args.replicas ?? 2, image: args.image ?? CLOUDFLARED_IMAGE, after: [config] },
            { parent: this },
        );

        this.tunnelId = tunnel.id;
        this.cname = cname;
        this.hostnames = pulumi.output(hostnames);
        setInternals<CloudflareTunnelInternals>(this, { tunnel, config, dnsRecords, deployment, namespace });
        this.registerOutputs({ tunnelId: this.tunnelId, cname: this.cname, hostnames: this.hostnames });
    }
}

/** What `createCloudflaredConnector` registers. */
export interface CloudflaredConnector {
    readonly namespace: k8s.core.v1.Namespace;
    readonly tokenSecret: k8s.core.v1.Secret;
    readonly deployment: k8s.apps.v1.Deployment;
    /** Only with more than one replica. */
    readonly pdb?: k8s.policy.v1.PodDisruptionBudget;
}

/**
 * The cluster side of a tunnel: a namespace, the tunnel token as a Secret, the cloudflared Deployment that
 * dials out with it and, with several replicas, a PodDisruptionBudget. `CloudflareTunnel` registers it with
 * the token Cloudflare issues; the tests register it alone against a real API server (no Cloudflare API
 * here). `opts` carries the parent and the kubernetes provider; `after` are resources the Deployment waits
 * for (the tunnel's config).
 */
export function createCloudflaredConnector(
    name: string,
    args: { tunnelName: string; namespace: string; token: pulumi.Input<string>; replicas: number; image: string; after?: pulumi.Resource[] },
    opts: pulumi.CustomResourceOptions,
): CloudflaredConnector {
    const { namespace, tunnelName, replicas } = args;
    const labels = cloudflaredLabels(tunnelName);
    const ns = new k8s.core.v1.Namespace(`${name}-ns`, { metadata: { name: namespace, labels: { "app.kubernetes.io/part-of": "hybridinfra", "app.kubernetes.io/managed-by": "pulumi" } } }, opts);
    const tokenSecretName = `${tunnelName.toLowerCase().replace(/[^a-z0-9-]/g, "-")}-tunnel-token`.replace(/^-+/, "");
    const tokenSecret = new k8s.core.v1.Secret(
        `${name}-token`,
        { metadata: { name: tokenSecretName, namespace, labels }, type: "Opaque", stringData: pulumi.secret(pulumi.output(args.token).apply((t) => ({ [TOKEN_KEY]: t }))) },
        { ...opts, dependsOn: [ns] },
    );
    const deployment = new k8s.apps.v1.Deployment(
        `${name}-cloudflared`,
        { metadata: { name: "cloudflared", namespace, labels }, spec: cloudflaredDeploymentSpec({ replicas, image: args.image, tokenSecretName, labels }) },
        { ...opts, dependsOn: [ns, tokenSecret, ...(args.after ?? [])] },
    );
    const pdb =
        replicas > 1
            ? new k8s.policy.v1.PodDisruptionBudget(
                  `${name}-pdb`,
                  { metadata: { name: "cloudflared", namespace, labels }, spec: { minAvailable: 1, selector: { matchLabels: selectorLabels(labels) } } },
                  { ...opts, dependsOn: [ns] },
              )
            : undefined;
    return { namespace: ns, tokenSecret, deployment, ...compact({ pdb }) };
}

export function cloudflareTunnelInternals(t: CloudflareTunnel): CloudflareTunnelInternals {
    return getInternals<CloudflareTunnelInternals>(t);
}
