import * as pulumi from "@pulumi/pulumi";
import * as cloudflare from "@pulumi/cloudflare";
import { setInternals, getInternals } from "../util/internals";
import { WireGuardMesh } from "../wireguard";
import { TailscaleOverlay, tailscaleOverlayInternals } from "../tailscale";
import { K3sCluster, k3sClusterInternals, k3sServerInternals } from "../k3s";
import { ExposedApp, TlsMode, exposedAppInternals } from "../apps";
import { PrivateCa, privateCaInternals } from "../pki";
import { CloudflareTunnel } from "../cloudflare";
import { PublicIngressForward } from "../ingress";
import { CertManager, TraefikDashboard } from "../addons";
import { ClusterPlan, planCluster } from "./plan";
import { connectionFor, reconvergeTransformation, remoteStep } from "../host";
import { renderNodeRemoveScript } from "../k3s/scripts";
import { HybridClusterArgs, IngressMode } from "./types";
import { compact } from "../util/compact";

export interface HybridClusterInternals {
    /** The plan the cluster was registered from (`planCluster`). */
    readonly plan: ClusterPlan;
    readonly overlay: WireGuardMesh | TailscaleOverlay;
    readonly k3s: K3sCluster;
    readonly apps: Record<string, ExposedApp>;
}

/**
 * A whole hybrid cluster from one declarative spec: the overlay (WireGuard or Tailscale) on every host,
 * k3s servers then agents on it, a Kubernetes provider from the cluster's kubeconfig, the ingress (Traefik,
 * a Cloudflare Tunnel, or a cloud node forwarding to a private cluster) and the apps.
 */
export class HybridCluster extends pulumi.ComponentResource {
    /** Admin kubeconfig, its server URL rewritten to a reachable address. Secret. */
    public readonly kubeconfig: pulumi.Output<string>;
    /** The Kubernetes API URL. */
    public readonly apiEndpoint: pulumi.Output<string>;
    /** Each host's overlay address. */
    public readonly overlayAddresses: pulumi.Output<Record<string, string>>;
    /** Public URLs of the apps, by app name. */
    public readonly appUrls: pulumi.Output<Record<string, string[]>>;
    /** Worst-case seconds before a dark node's pods run elsewhere (the failover profile's bound). */
    public readonly failoverBoundSeconds: pulumi.Output<number>;
    /**
     * Per app with TLS: when its certificate expires (RFC 3339) where Pulumi issues it (`private-ca`: renewed
     * only by a `pulumi up` within 30 days of that date; `cloudflare-origin-ca`), or who renews it
     * (`renewed in the cluster by cert-manager`, `existing Secret: renewed by its owner`).
     */
    public readonly certificateExpiry: pulumi.Output<Record<string, string>>;
    /**
     * The wg-quick config of each operator peer (`overlay.operators`), by name: a WireGuard client of the
     * overlay for the machine that runs Pulumi or a laptop, holding its private key. Secret; empty without
     * operators.
     */
    public readonly operatorConfigs: pulumi.Output<Record<string, string>>;

    /**
     * @param planned `planCluster(args)`, when the caller already made it (the stack program does, to record
     * the k3s settings from the same plan): the cluster is registered from it without planning again.
     */
    constructor(name: string, args: HybridClusterArgs, opts?: pulumi.ComponentResourceOptions, planned?: ClusterPlan) {
        // Everything is validated before the first registration, so a bad spec registers nothing.
        const c = planned ?? planCluster(args);
        // reconverge: every host step under the cluster carries the generation, so raising it re-runs them all.
        const transformations = [...(opts?.transformations ?? []), ...(args.reconverge !== undefined ? [reconvergeTransformation(args.reconverge)] : [])];
        super("hybridinfra:index:HybridCluster", name, {}, { ...opts, transformations });

        // Leaving hosts are drained first, while the overlay still reaches them; every overlay step (and so
        // everything after it) waits for that, and Pulumi deletes their own steps last (see removal.ts).
        const removals = c.removals.map((r) =>
            remoteStep(
                `${name}-node-removal-${r.name}`,
                {
                    host: r.control.name,
                    step: `node-removal-${r.name}`,
                    connection: connectionFor(r.control, new Map()),
                    create: renderNodeRemoveScript({ nodeName: r.name, onDrainTimeout: "fail" }),
                },
                { parent: this },
            ),
        );
        const overlayOpts = { parent: this, ...(removals.length > 0 ? { dependsOn: removals } : {}) };
        let overlay: WireGuardMesh | TailscaleOverlay;
        let addresses: Record<string, pulumi.Input<string>>;
        if (c.wireguard !== undefined) {
            // The mesh gets the plan made above: nothing is validated or planned twice.
            overlay = new WireGuardMesh(`${name}-wg`, c.wireguard, overlayOpts, c.overlay);
            addresses = c.plannedAddresses;
        } else {
            const ts = new TailscaleOverlay(`${name}-ts`, { ...c.tailscale!, authKey: args.tailscaleAuthKey! }, overlayOpts, { sshChecked: true, ...compact({ planned: c.tailscalePlan }) });
            overlay = ts;
            addresses = Object.fromEntries(Object.entries(tailscaleOverlayInternals(ts).nodes).map(([h, n]) => [h, n.address]));
        }

        const k3s = new K3sCluster(
            `${name}-k3s`,
            { ...c.k3s, nodes: c.k3s.nodes.map((n) => ({ ...n, overlayAddress: addresses[n.name] })) },
            { parent: this, dependsOn: [overlay] },
            // planCluster validated and planned k3s once (every host's SSH settings too, with their stack-config paths).
            { sshChecked: true, planned: c.k3sPlan },
        );
        const provider = k3sClusterInternals(k3s).provider;
        const k8sOpts = { parent: this, providers: { kubernetes: provider } };

        if (c.forward !== undefined) {
            // Planned WireGuard addresses: cloud-forward under Tailscale, whose addresses are Outputs, is
            // rejected by clusterConsistencyProblems before anything is registered.
            const targets = c.servers.map((h) => c.plannedAddresses[h.name]);
            // Traefik runs on the servers: forward once the overlay is up and k3s runs there, without waiting
            // for every agent to be Ready (that would put the forward at the end of the longest chain).
            const serverInstalls = Object.values(k3sClusterInternals(k3s).servers).map((srv) => k3sServerInternals(srv).install);
            new PublicIngressForward(`${name}-forward`, { ...c.forward, targets }, { parent: this, dependsOn: [overlay, ...serverInstalls] }, { sshChecked: true });
        }

        const tlsMode = c.apps[0]?.tls?.mode;
        let caArgs: { caCertPem: pulumi.Output<string>; caPrivateKeyPem: pulumi.Output<string> } | undefined;
        if (tlsMode === TlsMode.PrivateCa) {
            const ca = new PrivateCa(`${name}-ca`, { commonName: `${name} private CA` }, { parent: this });
            const internals = privateCaInternals(ca);
            caArgs = { caCertPem: internals.certPem, caPrivateKeyPem: internals.privateKeyPem };
        }
        let cfProvider: cloudflare.Provider | undefined;
        if (c.ingressMode === IngressMode.CloudflareTunnel) {
            cfProvider = new cloudflare.Provider(`${name}-cloudflare`, { apiToken: pulumi.secret(args.cloudflareApiToken!) }, { parent: this });
        }
        // The apps' Certificates need cert-manager's CRDs and the issuer: the add-on comes first.
        const certManager =
            tlsMode === TlsMode.CertManager
                ? new CertManager(
                      `${name}-cert-manager`,
                      { install: args.ingress?.certManager !== false, acmeEmail: args.ingress!.acmeEmail!, ...(args.ingress?.acmeServer !== undefined ? { acmeServer: args.ingress.acmeServer } : {}) },
                      k8sOpts,
                  )
                : undefined;
        const apps: Record<string, ExposedApp> = {};
        for (const a of c.apps) {
            const tlsArgs = a.tls !== undefined ? { ...a.tls, ...(caArgs ?? {}), ...(certManager !== undefined ? { issuerName: certManager.clusterIssuerName } : {}) } : undefined;
            apps[a.appName!] = new ExposedApp(
                `${name}-${a.appName}`,
                { ...a, ...compact({ tls: tlsArgs }) },
                { ...k8sOpts, ...(cfProvider !== undefined ? { providers: { kubernetes: provider, cloudflare: cfProvider } } : {}) },
            );
        }
        if (cfProvider !== undefined) {
            const cf = args.ingress!.cloudflare!;
            // Each app's routes go to Traefik, so its Ingress (and TLS) applies to tunnel traffic too.
            const routes = Object.values(apps).flatMap((app) => exposedAppInternals(app).tunnelRoutes.map((r) => ({ ...r })));
            new CloudflareTunnel(
                `${name}-tunnel`,
                { accountId: cf.accountId, zoneId: cf.zoneId, tunnelName: cf.tunnelName ?? name, ingress: routes },
                { parent: this, providers: { kubernetes: provider, cloudflare: cfProvider } },
            );
        }
        if (args.ingress?.traefikDashboard) new TraefikDashboard(`${name}-traefik-dashboard`, {}, k8sOpts);
        if (certManager === undefined && args.ingress?.certManager === true) {
            new CertManager(`${name}-cert-manager`, compact({ acmeEmail: args.ingress.acmeEmail, acmeServer: args.ingress.acmeServer }), k8sOpts);
        }

        this.operatorConfigs = c.wireguard !== undefined ? (overlay as WireGuardMesh).operatorConfigs : pulumi.secret(pulumi.output({} as Record<string, string>));
        this.kubeconfig = pulumi.secret(k3s.kubeconfig);
        this.apiEndpoint = k3s.apiEndpoint;
        this.failoverBoundSeconds = k3s.failoverBoundSeconds;
        this.overlayAddresses = pulumi.output(addresses).apply((a) => a as Record<string, string>);
        this.appUrls = pulumi
            .all(Object.fromEntries(Object.entries(apps).map(([n, app]) => [n, app.urls])))
            .apply((u) => u as Record<string, string[]>);
        this.certificateExpiry = pulumi
            .all(
                Object.fromEntries(
                    Object.entries(apps).flatMap(([n, app]): [string, pulumi.Input<string>][] => {
                        const i = exposedAppInternals(app);
                        if (i.certificateExpiry !== undefined) return [[n, i.certificateExpiry]];
                        if (i.plan.tlsMode === TlsMode.CertManager) return [[n, "renewed in the cluster by cert-manager"]];
                        if (i.plan.tlsMode === TlsMode.ExistingSecret) return [[n, "existing Secret: renewed by its owner"]];
                        return [];
                    }),
                ),
            )
            .apply((e) => e as Record<string, string>);
        setInternals<HybridClusterInternals>(this, { plan: c, overlay, k3s, apps });
        this.registerOutputs({
            kubeconfig: this.kubeconfig,
            apiEndpoint: this.apiEndpoint,
            overlayAddresses: this.overlayAddresses,
            appUrls: this.appUrls,
            failoverBoundSeconds: this.failoverBoundSeconds,
            certificateExpiry: this.certificateExpiry,
            operatorConfigs: this.operatorConfigs,
        });
    }
}

export function hybridClusterInternals(c: HybridCluster): HybridClusterInternals {
    return getInternals<HybridClusterInternals>(c);
}
