import * as pulumi from "@pulumi/pulumi";
import * as cloudflare from "@pulumi/cloudflare";
import { validateSshHosts } from "../host/model";
import { setInternals, getInternals } from "../util/internals";
import { WireGuardMesh, WireGuardHostArgs, WireGuardMeshArgs, planOverlayAddresses, validateOverlay, OVERLAY_DEFAULTS, parseEndpoint } from "../wireguard";
import { TailscaleOverlay, TailscaleOverlayArgs, TAILSCALE_INTERFACE, tailscaleOverlayInternals, validateTailscale } from "../tailscale";
import { K3sCluster, K3sClusterArgs, K3sNodeArgs, NodeRole, k3sClusterInternals, k3sServerInternals, validateK3sCluster } from "../k3s";
import { ExposedApp, ExposedAppArgs, Exposure, TlsMode, validateApps, exposedAppInternals } from "../apps";
import { PrivateCa, privateCaInternals } from "../pki";
import { CloudflareTunnel } from "../cloudflare";
import { PublicIngressForward, PublicIngressForwardArgs } from "../ingress";
import { CertManager, TraefikDashboard } from "../addons";
import { HybridInfraConfigError, showValue, throwAll } from "../util/errors";
import { ClusterPlan, planCluster, sshOf } from "./plan";
import { clusterReachProblems, kubeconfigEndpointProblems } from "./reach";
import { clusterConsistencyProblems } from "./consistency";
import { removalProblems } from "./removal";
import { connectionFor, reconvergeTransformation, remoteStep, SshHostArgs } from "../host";
import { renderNodeRemoveScript } from "../k3s/scripts";
import { HostRole, HybridClusterArgs, IngressMode, OverlayKind } from "./types";

/** The domain arguments a spec turns into. Pure; computed before anything is registered. */
export interface ClusterComposition {
    readonly plan: ClusterPlan;
    readonly wireguard?: WireGuardMeshArgs;
    readonly tailscale?: Omit<TailscaleOverlayArgs, "authKey">;
    /** Overlay address of each host where it is known at plan time (WireGuard). */
    readonly plannedAddresses: Record<string, string>;
    readonly k3s: Omit<K3sClusterArgs, "nodes"> & { nodes: Omit<K3sNodeArgs, "overlayAddress">[] };
    readonly apps: ExposedAppArgs[];
    readonly forward?: Omit<PublicIngressForwardArgs, "targets">;
    /** Hosts marked `remove: true`, each with the first server that drains it (see removal.ts). */
    readonly removals: readonly { readonly name: string; readonly control: SshHostArgs }[];
}

/**
 * Turns a cluster spec into the arguments of each layer and runs every layer's validation, so that a bad
 * spec fails before any resource is registered. Pure.
 */
/** The host part of a public endpoint (`home.example.org:51821` → `home.example.org`, `[2001:db8::1]:51820` → `2001:db8::1`). */
export function endpointHost(endpoint: string): string {
    const e = parseEndpoint(endpoint);
    return e === undefined ? endpoint : e.host.replace(/^\[(.*)\]$/, "$1");
}

export function composeCluster(spec: HybridClusterArgs): ClusterComposition {
    throwAll(removalProblems(spec.hosts));
    // Hosts marked `remove: true` leave: nothing of theirs is registered (so Pulumi deletes their steps in its
    // last phase), and the first server drains them first. The rest is the cluster from here on.
    const leaving = spec.hosts.filter((h) => h.remove === true);
    const args: HybridClusterArgs = leaving.length > 0 ? { ...spec, hosts: spec.hosts.filter((h) => h.remove !== true) } : spec;
    // The jump graph of the whole cluster, with locations, and every cross-key contradiction, all problems
    // at once (components see only their own hosts, with jump hosts already resolved).
    throwAll([...clusterReachProblems(args.hosts), ...kubeconfigEndpointProblems(args), ...clusterConsistencyProblems(args)]);
    validateSshHosts(args.hosts.map((h) => sshOf(h, args)));
    const plan = planCluster(args);
    const overlay = args.overlay ?? {};
    let wireguard: WireGuardMeshArgs | undefined;
    let tailscale: Omit<TailscaleOverlayArgs, "authKey"> | undefined;
    let plannedAddresses: Record<string, string> = {};
    let interfaceName: string;
    if (plan.overlayKind === OverlayKind.WireGuard) {
        // A leaving host still counts for the address plan in its last run: a host that probed past its
        // address keeps its own (pinned), so the removal moves no one.
        const withLeaving = planOverlayAddresses(spec.hosts.map((h) => ({ name: h.name, ...(h.overlayAddress !== undefined ? { overlayAddress: h.overlayAddress } : {}) })), overlay.cidr ?? OVERLAY_DEFAULTS.cidr);
        const withoutLeaving = planOverlayAddresses(args.hosts.map((h) => ({ name: h.name, ...(h.overlayAddress !== undefined ? { overlayAddress: h.overlayAddress } : {}) })), overlay.cidr ?? OVERLAY_DEFAULTS.cidr);
        const keep = (name: string) => (leaving.length > 0 && withLeaving[name] !== withoutLeaving[name] ? { overlayAddress: withLeaving[name] } : {});
        const hosts: WireGuardHostArgs[] = args.hosts.map((h) => ({
            ...sshOf(h, args),
            location: h.location,
            ...(h.publicEndpoint !== undefined ? { endpoint: h.publicEndpoint } : {}),
            hub: h.roles.includes(HostRole.Hub),
            ...(h.lan !== undefined ? { lan: h.lan } : {}),
            ...(h.overlayAddress !== undefined ? { overlayAddress: h.overlayAddress } : {}),
            ...keep(h.name),
            ...(h.mtu !== undefined ? { mtu: h.mtu } : {}),
            ...(h.gateway !== undefined ? { gateway: h.gateway } : {}),
        }));
        wireguard = {
            hosts,
            ...(overlay.topology !== undefined ? { topology: overlay.topology } : {}),
            ...(overlay.cidr !== undefined ? { cidr: overlay.cidr } : {}),
            ...(overlay.listenPort !== undefined ? { listenPort: overlay.listenPort } : {}),
            ...(overlay.interfaceName !== undefined ? { interfaceName: overlay.interfaceName } : {}),
            ...(overlay.keepalive !== undefined ? { keepalive: overlay.keepalive } : {}),
            ...(overlay.presharedKeys !== undefined ? { presharedKeys: overlay.presharedKeys } : {}),
            ...(overlay.mtu !== undefined ? { mtu: overlay.mtu } : {}),
            ...(overlay.operators !== undefined ? { operators: overlay.operators } : {}),
            ...(args.k3s?.clusterCidr !== undefined ? { podCidr: args.k3s.clusterCidr } : {}),
            ...(args.k3s?.serviceCidr !== undefined ? { serviceCidr: args.k3s.serviceCidr } : {}),
        };
        validateOverlay(wireguard);
        plannedAddresses = planOverlayAddresses(hosts, wireguard.cidr ?? OVERLAY_DEFAULTS.cidr);
        interfaceName = wireguard.interfaceName ?? OVERLAY_DEFAULTS.interfaceName;
    } else {
        tailscale = {
            hosts: args.hosts.map((h) => ({ ...sshOf(h, args), location: h.location, ...(h.lan !== undefined ? { lan: h.lan } : {}) })),
            ...(overlay.loginServer !== undefined ? { loginServer: overlay.loginServer } : {}),
            ...(overlay.acceptRoutes !== undefined ? { acceptRoutes: overlay.acceptRoutes } : {}),
        };
        validateTailscale(tailscale, args.tailscaleAuthKey !== undefined);
        interfaceName = TAILSCALE_INTERFACE;
    }
    const k3sArgs = args.k3s ?? {};
    const nodes = [...plan.servers, ...plan.agents].map((h) => ({
        ...sshOf(h, args),
        role: plan.servers.includes(h) ? NodeRole.Server : NodeRole.Agent,
        location: h.location,
        // k3s gets the address only: the port of `home.example.org:51821` is WireGuard's.
        ...(h.publicEndpoint !== undefined ? { publicAddress: endpointHost(h.publicEndpoint) } : {}),
        ...(h.labels !== undefined ? { labels: h.labels } : {}),
        ...(h.taints !== undefined ? { taints: h.taints } : {}),
        // WireGuard's MTU is ours to set: k3s must restart when it changes (flannel reads it at start).
        ...(plan.overlayKind === OverlayKind.WireGuard ? { overlayMtu: h.mtu ?? overlay.mtu ?? OVERLAY_DEFAULTS.mtu } : {}),
    }));
    const k3s = {
        ...k3sArgs,
        nodes,
        interfaceName,
        ...(args.datastoreEndpoint !== undefined ? { datastoreEndpoint: args.datastoreEndpoint } : {}),
        ...(args.deployedHosts !== undefined ? { deployedNodes: args.deployedHosts } : {}),
    };
    // Validated with placeholder addresses: Tailscale addresses are only known after `tailscale up`.
    validateK3sCluster({ ...k3s, nodes: nodes.map((n) => ({ ...n, overlayAddress: plannedAddresses[n.name] ?? "100.64.0.1" })) });
    const tunnel = plan.ingressMode === IngressMode.CloudflareTunnel;
    const tlsMode = args.ingress?.tls ?? (tunnel ? TlsMode.None : TlsMode.PrivateCa);
    const apps: ExposedAppArgs[] = (args.apps ?? []).map((a) => ({
        appName: a.name,
        image: a.image,
        ports: a.ports,
        hostnames: a.hostnames,
        ...(a.namespace !== undefined ? { namespace: a.namespace } : {}),
        ...(a.replicas !== undefined ? { replicas: a.replicas } : {}),
        ...(a.paths !== undefined ? { paths: a.paths } : {}),
        ...(a.env !== undefined ? { env: a.env } : {}),
        ...(a.secretEnv !== undefined ? { secretEnv: a.secretEnv } : {}),
        ...(a.resources !== undefined ? { resources: a.resources } : {}),
        ...(a.livenessProbe !== undefined ? { livenessProbe: a.livenessProbe } : {}),
        ...(a.readinessProbe !== undefined ? { readinessProbe: a.readinessProbe } : {}),
        ...(a.placement !== undefined ? { placement: a.placement } : {}),
        ...(a.spreadAcrossLocations !== undefined ? { spreadAcrossLocations: a.spreadAcrossLocations } : {}),
        tls: { mode: tlsMode, ...(args.ingress?.tlsSecretName !== undefined ? { secretName: args.ingress.tlsSecretName } : {}) },
        exposure: tunnel ? Exposure.Tunnel : Exposure.Ingress,
        knownLocations: [...plan.locations],
    }));
    validateApps(apps, {
        knownLocations: [...plan.locations],
        ...(tunnel ? { cloudflare: { accountId: args.ingress?.cloudflare?.accountId, zoneId: args.ingress?.cloudflare?.zoneId } } : {}),
    });
    let forward: Omit<PublicIngressForwardArgs, "targets"> | undefined;
    if (plan.forwardHost !== undefined) {
        forward = { ...sshOf(plan.forwardHost, args), overlayInterface: interfaceName };
    }
    return {
        plan,
        ...(wireguard !== undefined ? { wireguard } : {}),
        ...(tailscale !== undefined ? { tailscale } : {}),
        plannedAddresses,
        k3s,
        apps,
        ...(forward !== undefined ? { forward } : {}),
        removals: leaving.map((h) => ({ name: h.name, control: sshOf(plan.servers[0], args) })),
    };
}

export interface HybridClusterInternals {
    readonly composition: ClusterComposition;
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

    constructor(name: string, args: HybridClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        // Everything is validated before the first registration, so a bad spec registers nothing.
        const c = composeCluster(args);
        if (args.reconverge !== undefined && (!Number.isInteger(args.reconverge) || args.reconverge < 0)) {
            throw new HybridInfraConfigError("reconverge", `must be a whole number from 0 up, got ${showValue(args.reconverge)}`, "raise it by one to run every host step again");
        }
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
            overlay = new WireGuardMesh(`${name}-wg`, c.wireguard, overlayOpts);
            addresses = c.plannedAddresses;
        } else {
            const ts = new TailscaleOverlay(`${name}-ts`, { ...c.tailscale!, authKey: args.tailscaleAuthKey! }, overlayOpts);
            overlay = ts;
            addresses = Object.fromEntries(Object.entries(tailscaleOverlayInternals(ts).nodes).map(([h, n]) => [h, n.address]));
        }

        const k3s = new K3sCluster(
            `${name}-k3s`,
            { ...c.k3s, nodes: c.k3s.nodes.map((n) => ({ ...n, overlayAddress: addresses[n.name] })) },
            { parent: this, dependsOn: [overlay] },
        );
        const provider = k3sClusterInternals(k3s).provider;
        const k8sOpts = { parent: this, providers: { kubernetes: provider } };

        if (c.forward !== undefined) {
            // Planned WireGuard addresses: cloud-forward under Tailscale, whose addresses are Outputs, is
            // rejected by clusterConsistencyProblems before anything is registered.
            const targets = c.plan.servers.map((h) => c.plannedAddresses[h.name]);
            // Traefik runs on the servers: forward once the overlay is up and k3s runs there, without waiting
            // for every agent to be Ready (that would put the forward at the end of the longest chain).
            const serverInstalls = Object.values(k3sClusterInternals(k3s).servers).map((srv) => k3sServerInternals(srv).install);
            new PublicIngressForward(`${name}-forward`, { ...c.forward, targets }, { parent: this, dependsOn: [overlay, ...serverInstalls] });
        }

        const tlsMode = c.apps[0]?.tls?.mode;
        let caArgs: { caCertPem: pulumi.Output<string>; caPrivateKeyPem: pulumi.Output<string> } | undefined;
        if (tlsMode === TlsMode.PrivateCa) {
            const ca = new PrivateCa(`${name}-ca`, { commonName: `${name} private CA` }, { parent: this });
            const internals = privateCaInternals(ca);
            caArgs = { caCertPem: internals.certPem, caPrivateKeyPem: internals.privateKeyPem };
        }
        let cfProvider: cloudflare.Provider | undefined;
        if (c.plan.ingressMode === IngressMode.CloudflareTunnel) {
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
                { ...a, ...(tlsArgs !== undefined ? { tls: tlsArgs } : {}) },
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
            new CertManager(`${name}-cert-manager`, { ...(args.ingress.acmeEmail !== undefined ? { acmeEmail: args.ingress.acmeEmail } : {}), ...(args.ingress.acmeServer !== undefined ? { acmeServer: args.ingress.acmeServer } : {}) }, k8sOpts);
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
        setInternals<HybridClusterInternals>(this, { composition: c, overlay, k3s, apps });
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
