import * as pulumi from "@pulumi/pulumi";
import { ProblemList, problemsOf, remapPaths, showValue } from "../util/errors";
import { SshHostArgs, validateSshHosts } from "../host/model";
import { WireGuardHostArgs, WireGuardMeshArgs, OverlayPlan, decideOverlay, planOverlayAddresses, validateOverlay, OVERLAY_DEFAULTS, parseEndpoint } from "../wireguard";
import { planTailscale, TailscaleHostPlan, TailscaleOverlayArgs, TAILSCALE_INTERFACE, validateTailscale } from "../tailscale";
import { K3sClusterArgs, K3sNodeArgs, K3sPlan, NodeRole, planK3s } from "../k3s";
import { ExposedAppArgs, Exposure, TlsMode, validateApps } from "../apps";
import { PublicIngressForwardArgs } from "../ingress";
import { clusterReachProblems, kubeconfigEndpointProblems } from "./reach";
import { clusterConsistencyProblems } from "./consistency";
import { removalProblems } from "./removal";
import { ClusterHostArgs, HostRole, HybridClusterArgs, IngressMode, OverlayKind } from "./types";
import { compact } from "../util/compact";

/** One host as every layer sees it, decided once. */
export interface ClusterNodeSpec {
    readonly name: string;
    /** How `pulumi up` reaches it: address, port, user, key, and its jump host resolved (see `sshOf`). */
    readonly ssh: SshHostArgs;
    readonly location: string;
    readonly roles: readonly HostRole[];
    /** Its k3s role; absent on a host that runs no k3s (e.g. a hub only). */
    readonly k3sRole?: NodeRole;
    /** Its overlay address where it is known at plan time (WireGuard); Tailscale's come from `tailscale up`. */
    readonly overlayAddress?: string;
}

/**
 * The whole cluster, decided once from a validated spec before anything is registered: the overlay plan,
 * the k3s arguments, the apps, the ingress forward and a spec per node. The components are registered
 * from it (`HybridCluster`); nothing in it is validated or defaulted again below. Pure data.
 */
export interface ClusterPlan {
    /** @default wireguard */
    readonly overlayKind: OverlayKind;
    /** @default traefik */
    readonly ingressMode: IngressMode;
    /** k3s nodes, servers first in config order, then agents. */
    readonly servers: readonly ClusterHostArgs[];
    readonly agents: readonly ClusterHostArgs[];
    /** The host that forwards 80/443 (cloud-forward). */
    readonly forwardHost?: ClusterHostArgs;
    /** Every location some k3s node is in. */
    readonly locations: readonly string[];
    /** Every host that stays in the cluster, in config order. */
    readonly nodes: readonly ClusterNodeSpec[];
    /** The WireGuard mesh's arguments (its component inputs) and its plan: addresses, peers, MTUs. */
    readonly wireguard?: WireGuardMeshArgs;
    readonly overlay?: OverlayPlan;
    readonly tailscale?: Omit<TailscaleOverlayArgs, "authKey">;
    /** What `tailscale up` runs with on each host (Tailscale overlay). */
    readonly tailscalePlan?: readonly TailscaleHostPlan[];
    /** Overlay address of each host where it is known at plan time (WireGuard). */
    readonly plannedAddresses: Record<string, string>;
    readonly k3s: Omit<K3sClusterArgs, "nodes"> & { nodes: Omit<K3sNodeArgs, "overlayAddress">[] };
    /** The k3s plan: servers and agents in order, batches, each node's settings (independent of overlay addresses). */
    readonly k3sPlan: K3sPlan;
    readonly apps: ExposedAppArgs[];
    readonly forward?: Omit<PublicIngressForwardArgs, "targets">;
    /** Hosts marked `remove: true`, each with the first server that drains it (see removal.ts). */
    readonly removals: readonly { readonly name: string; readonly control: SshHostArgs }[];
}

const has = (h: ClusterHostArgs, role: HostRole) => h.roles.includes(role);

/** The private key `pulumi up` connects to a host with: its own, else the cluster's `sshPrivateKey`. Secret. */
export function hostPrivateKey(h: ClusterHostArgs, args: HybridClusterArgs): pulumi.Input<string> {
    return h.ssh.privateKey ?? args.sshPrivateKey;
}

/**
 * The SSH part every domain component takes. A jump host is resolved to its connection, so a component
 * can be given only its own hosts (e.g. k3s nodes whose jump host is a hub that is no k3s node).
 */
export function sshOf(h: ClusterHostArgs, args: HybridClusterArgs): SshHostArgs {
    const jump = h.ssh.jumpHost !== undefined ? args.hosts.find((j) => j.name === h.ssh.jumpHost) : undefined;
    return {
        name: h.name,
        address: h.ssh.address,
        ...compact({ port: h.ssh.port, user: h.ssh.user }),
        privateKey: hostPrivateKey(h, args),
        ...compact({ hostKey: h.ssh.hostKey, jumpHost: h.ssh.jumpHost, dialErrorLimit: h.ssh.dialErrorLimit, perDialTimeout: h.ssh.perDialTimeout }),
        ...(jump !== undefined
            ? {
                  jump: {
                      address: jump.ssh.address,
                      ...compact({ port: jump.ssh.port, user: jump.ssh.user }),
                      privateKey: hostPrivateKey(jump, args),
                      ...compact({ hostKey: jump.ssh.hostKey, dialErrorLimit: jump.ssh.dialErrorLimit, perDialTimeout: jump.ssh.perDialTimeout }),
                  },
              }
            : {}),
    };
}

/** The host part of a public endpoint (`home.example.org:51821` → `home.example.org`, `[2001:db8::1]:51820` → `2001:db8::1`). */
export function endpointHost(endpoint: string): string {
    const e = parseEndpoint(endpoint);
    return e === undefined ? endpoint : e.host.replace(/^\[(.*)\]$/, "$1");
}

/**
 * A domain component's own arg paths as the spec's: `nodes[i]` (k3s) and the `hosts[i]` of a host list
 * without the leaving hosts become `hosts[j]` of the spec.
 */
function toSpecPaths(spec: HybridClusterArgs, list: string, names: readonly string[]): (text: string) => string {
    return (text) =>
        text.replace(new RegExp(`(?<![\\w.])${list}\\[(\\d+)\\]`, "g"), (whole, i: string) => {
            const j = spec.hosts.findIndex((h) => h.name === names[Number(i)]);
            return j < 0 ? whole : `hosts[${j}]`;
        });
}

/** The checks across the whole spec that no single component sees (what hosts do, the ingress, secrets). */
function clusterRoleProblems(args: HybridClusterArgs, servers: readonly ClusterHostArgs[], agents: readonly ClusterHostArgs[], ingressMode: IngressMode, overlayKind: OverlayKind, problems: ProblemList): ClusterHostArgs | undefined {
    if (servers.length === 0) {
        problems.add(
            "hosts",
            `no host has the role "server" (roles given: ${args.hosts.map((h) => `${h.name}=[${h.roles.join(",")}]`).join(" ")})`,
            "add `server` to the roles of the machine that should run the control plane (usually the most reliable one)",
        );
    }
    args.hosts.forEach((h, i) => {
        // A hub role under Tailscale is reported with the other keys of the other overlay kind (consistency.ts).
        if (has(h, HostRole.Ingress) && h.publicEndpoint === undefined) {
            problems.add(`hosts[${i}].publicEndpoint`, `is missing on ${showValue(h.name)}, which has the role "ingress"`, "set the machine's public IP or DNS name, or remove the ingress role");
        }
    });
    let forwardHost: ClusterHostArgs | undefined;
    if (ingressMode === IngressMode.CloudForward) {
        const wanted = args.ingress?.forwardHost;
        const candidates = wanted !== undefined ? args.hosts.filter((h) => h.name === wanted) : args.hosts.filter((h) => has(h, HostRole.Ingress));
        if (wanted !== undefined && candidates.length === 0) {
            problems.add("ingress.forwardHost", `names an unknown host ${showValue(wanted)}`, `use one of: ${args.hosts.map((h) => h.name).join(", ")}`);
        } else if (candidates.length !== 1) {
            problems.add(
                "ingress.forwardHost",
                wanted === undefined ? `is not set and ${candidates.length} hosts have the role "ingress"` : "is ambiguous",
                "set ingress.forwardHost to the public cloud node that forwards 80/443",
            );
        } else if (candidates[0].publicEndpoint === undefined) {
            problems.add("ingress.forwardHost", `names ${showValue(candidates[0].name)}, which has no publicEndpoint`, "forward from a machine with a public IP, and set its publicEndpoint");
        } else {
            forwardHost = candidates[0];
        }
    }
    if (ingressMode === IngressMode.Traefik && servers.length > 0 && [...servers, ...agents].every((h) => h.publicEndpoint === undefined)) {
        problems.add(
            "ingress.mode",
            `is "traefik", but no k3s node has a publicEndpoint, so nothing on the internet can reach Traefik`,
            "use `cloud-forward` with a public cloud node, or `cloudflare-tunnel`, or give a k3s node a publicEndpoint",
        );
    }
    if (ingressMode === IngressMode.CloudflareTunnel) {
        if (args.ingress?.cloudflare === undefined) {
            problems.add("ingress.cloudflare", "is missing; the tunnel needs the Cloudflare account and zone", "set ingress.cloudflare.accountId and ingress.cloudflare.zoneId");
        }
        if (args.cloudflareApiToken === undefined) {
            problems.add("cloudflareApiToken", "is not set; the tunnel, its config and DNS records are created with it", "run `pulumi config set --secret cloudflareApiToken <token>`");
        }
    }
    if (overlayKind === OverlayKind.Tailscale && args.tailscaleAuthKey === undefined) {
        problems.add("tailscaleAuthKey", "is not set; hosts join the tailnet with it", "run `pulumi config set --secret tailscaleAuthKey <reusable auth key>`");
    }
    if (args.reconverge !== undefined && (!Number.isInteger(args.reconverge) || args.reconverge < 0)) {
        problems.add("reconverge", `must be a whole number from 0 up, got ${showValue(args.reconverge)}`, "raise it by one to run every host step again");
    }
    return forwardHost;
}

/**
 * Validates a whole cluster spec and decides it: every layer's checks run, each on its own part, and every
 * problem they find is reported at once (`HybridInfraConfigErrors`), each with its path in the spec
 * (`hosts[3].labels`, `apps[0].placement`), the value received and the fix. Then the overlay is planned
 * once and each layer gets its arguments. Pure; a bad spec registers nothing.
 */
export function planCluster(spec: HybridClusterArgs): ClusterPlan {
    const problems = new ProblemList();
    problems.push(...removalProblems(spec.hosts));
    // Hosts marked `remove: true` leave: nothing of theirs is registered (so Pulumi deletes their steps in its
    // last phase), and the first server drains them first. The rest is the cluster from here on.
    const leaving = spec.hosts.filter((h) => h.remove === true);
    const args: HybridClusterArgs = leaving.length > 0 ? { ...spec, hosts: spec.hosts.filter((h) => h.remove !== true) } : spec;
    const names = args.hosts.map((h) => h.name);
    const hostPaths = toSpecPaths(spec, "hosts", names);
    // The checks below see the hosts that stay, so their `hosts[i]` are mapped back to the spec's (`hostPaths`).
    const staying = new ProblemList();
    // The jump graph of the whole cluster, with locations, and every cross-key contradiction (components see
    // only their own hosts, with jump hosts already resolved).
    staying.push(...clusterReachProblems(args.hosts), ...kubeconfigEndpointProblems(args), ...clusterConsistencyProblems(args));
    // Each host's SSH settings are checked here, once; no layer below checks them again.
    const ssh = new Map(args.hosts.map((h) => [h.name, sshOf(h, args)]));
    staying.collect(() => validateSshHosts([...ssh.values()]));
    const overlayKind = args.overlay?.kind ?? OverlayKind.WireGuard;
    const ingressMode = args.ingress?.mode ?? IngressMode.Traefik;
    const servers = args.hosts.filter((h) => has(h, HostRole.Server));
    const agents = args.hosts.filter((h) => has(h, HostRole.Agent) && !has(h, HostRole.Server));
    const forwardHost = clusterRoleProblems(args, servers, agents, ingressMode, overlayKind, staying);
    problems.push(...remapPaths(staying.problems, hostPaths));
    // These checks span layers, and each layer's own validator below would say some of the same things again
    // in its own words (a tunnel without its zone, a missing auth key): they are reported first, all together.
    problems.throwIfAny();
    const locations = [...new Set([...servers, ...agents].map((h) => h.location))].sort();

    const overlay = args.overlay ?? {};
    let wireguard: WireGuardMeshArgs | undefined;
    let overlayPlan: OverlayPlan | undefined;
    let tailscale: Omit<TailscaleOverlayArgs, "authKey"> | undefined;
    let tailscalePlan: TailscaleHostPlan[] | undefined;
    let plannedAddresses: Record<string, string> = {};
    let interfaceName: string;
    if (overlayKind === OverlayKind.WireGuard) {
        // A leaving host still counts for the address plan in its last run: a host that probed past its
        // address keeps its own (pinned), so the removal moves no one.
        const pinned = (h: ClusterHostArgs) => ({ name: h.name, ...compact({ overlayAddress: h.overlayAddress }) });
        const cidr = overlay.cidr ?? OVERLAY_DEFAULTS.cidr;
        const overlayProblems = problemsOf(() => {
            const withLeaving = planOverlayAddresses(spec.hosts.map(pinned), cidr);
            const withoutLeaving = planOverlayAddresses(args.hosts.map(pinned), cidr);
            const keep = (name: string) => (leaving.length > 0 && withLeaving[name] !== withoutLeaving[name] ? { overlayAddress: withLeaving[name] } : {});
            const hosts: WireGuardHostArgs[] = args.hosts.map((h) => ({
                ...ssh.get(h.name)!,
                location: h.location,
                ...compact({ publicEndpoint: h.publicEndpoint }),
                hub: h.roles.includes(HostRole.Hub),
                ...compact({ lan: h.lan, overlayAddress: h.overlayAddress }),
                ...keep(h.name),
                ...compact({ mtu: h.mtu, gateway: h.gateway }),
            }));
            wireguard = {
                hosts,
                ...compact({
                    topology: overlay.topology,
                    cidr: overlay.cidr,
                    listenPort: overlay.listenPort,
                    interfaceName: overlay.interfaceName,
                    keepalive: overlay.keepalive,
                    presharedKeys: overlay.presharedKeys,
                    mtu: overlay.mtu,
                    operators: overlay.operators,
                }),
                ...(args.k3s?.clusterCidr !== undefined ? { podCidr: args.k3s.clusterCidr } : {}),
                ...(args.k3s?.serviceCidr !== undefined ? { serviceCidr: args.k3s.serviceCidr } : {}),
            };
            validateOverlay(wireguard, { sshChecked: true });
        });
        problems.push(...remapPaths(overlayProblems, hostPaths));
        if (overlayProblems.length === 0 && wireguard !== undefined) {
            overlayPlan = decideOverlay(wireguard);
            plannedAddresses = Object.fromEntries(overlayPlan.nodes.map((n) => [n.name, n.address]));
        }
        interfaceName = overlay.interfaceName ?? OVERLAY_DEFAULTS.interfaceName;
    } else {
        tailscale = {
            hosts: args.hosts.map((h) => ({ ...ssh.get(h.name)!, location: h.location, ...compact({ lan: h.lan }) })),
            ...compact({ loginServer: overlay.loginServer, acceptRoutes: overlay.acceptRoutes }),
        };
        const ts = tailscale;
        const tsProblems = problemsOf(() => validateTailscale(ts, args.tailscaleAuthKey !== undefined, undefined, { sshChecked: true }));
        problems.push(...remapPaths(tsProblems, hostPaths));
        if (tsProblems.length === 0) tailscalePlan = planTailscale(ts);
        interfaceName = TAILSCALE_INTERFACE;
    }

    const nodeHosts = [...servers, ...agents];
    const nodes = nodeHosts.map((h) => ({
        ...ssh.get(h.name)!,
        role: servers.includes(h) ? NodeRole.Server : NodeRole.Agent,
        location: h.location,
        // k3s gets the address only: the port of `home.example.org:51821` is WireGuard's.
        ...(h.publicEndpoint !== undefined ? { publicAddress: endpointHost(h.publicEndpoint) } : {}),
        ...compact({ labels: h.labels, taints: h.taints }),
        // WireGuard's MTU is ours to set: k3s must restart when it changes (flannel reads it at start).
        // The overlay plan decided it (the host's own, else overlay.mtu, else 1420): no second default here.
        ...(overlayPlan !== undefined ? { overlayMtu: overlayPlan.nodes.find((n) => n.name === h.name)!.mtu } : {}),
    }));
    const k3s = {
        ...(args.k3s ?? {}),
        nodes,
        interfaceName,
        ...compact({ datastoreEndpoint: args.datastoreEndpoint, deployedNodes: args.deployedHosts }),
    };
    // Validated and planned once, with placeholder addresses where they are not known yet (Tailscale's come from
    // `tailscale up`): the k3s plan does not depend on them, and K3sCluster is registered from it.
    let k3sPlan: K3sPlan | undefined;
    const k3sProblems = problemsOf(() => {
        k3sPlan = planK3s({ ...k3s, nodes: nodes.map((n) => ({ ...n, overlayAddress: plannedAddresses[n.name] ?? "100.64.0.1" })) }, { sshChecked: true });
    });
    problems.push(...remapPaths(k3sProblems, toSpecPaths(spec, "nodes", nodeHosts.map((h) => h.name))));

    const tunnel = ingressMode === IngressMode.CloudflareTunnel;
    const tlsMode = args.ingress?.tls ?? (tunnel ? TlsMode.None : TlsMode.PrivateCa);
    const apps: ExposedAppArgs[] = (args.apps ?? []).map((a) => ({
        appName: a.name,
        image: a.image,
        ports: a.ports,
        hostnames: a.hostnames,
        ...compact({
            namespace: a.namespace,
            replicas: a.replicas,
            paths: a.paths,
            env: a.env,
            secretEnv: a.secretEnv,
            resources: a.resources,
            livenessProbe: a.livenessProbe,
            readinessProbe: a.readinessProbe,
            placement: a.placement,
            spreadAcrossLocations: a.spreadAcrossLocations,
        }),
        tls: { mode: tlsMode, ...(args.ingress?.tlsSecretName !== undefined ? { secretName: args.ingress.tlsSecretName } : {}) },
        exposure: tunnel ? Exposure.Tunnel : Exposure.Ingress,
        knownLocations: [...locations],
    }));
    problems.collect(() =>
        validateApps(apps, {
            knownLocations: [...locations],
            ...(tunnel ? { cloudflare: { accountId: args.ingress?.cloudflare?.accountId, zoneId: args.ingress?.cloudflare?.zoneId } } : {}),
        }),
    );
    problems.throwIfAny();

    const forward = forwardHost !== undefined ? { ...ssh.get(forwardHost.name)!, overlayInterface: interfaceName } : undefined;
    const k3sRoleOf = new Map(nodes.map((n) => [n.name, n.role]));
    return {
        overlayKind,
        ingressMode,
        servers,
        agents,
        ...compact({ forwardHost }),
        locations,
        nodes: args.hosts.map((h) => {
            const role = k3sRoleOf.get(h.name);
            return {
                name: h.name,
                ssh: ssh.get(h.name)!,
                location: h.location,
                roles: [...h.roles],
                ...compact({ k3sRole: role, overlayAddress: plannedAddresses[h.name] }),
            };
        }),
        ...compact({ wireguard, overlay: overlayPlan, tailscale, tailscalePlan }),
        plannedAddresses,
        k3s,
        k3sPlan: k3sPlan!,
        apps,
        ...compact({ forward }),
        removals: leaving.map((h) => ({ name: h.name, control: sshOf(servers[0], args) })),
    };
}

/**
 * The plan with the hosts the cluster already runs on (`HybridClusterArgs.deployedHosts`, known only once the
 * last run's outputs are read): the same as planning the args with them, without planning again.
 */
export function withDeployedHosts(plan: ClusterPlan, deployedHosts: string[]): ClusterPlan {
    return { ...plan, k3s: { ...plan.k3s, deployedNodes: deployedHosts } };
}


