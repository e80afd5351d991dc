/**
 * The topology graph of a stack, offline: `graphData` reads a stack run (the program under the mock engine,
 * see `runStack` in tools/render-lib.ts) into plain data, and `toDot` draws that data as Graphviz text.
 * `npm run render -- --stack <name> --graph` writes both; `npm run graphs` regenerates docs/graphs/.
 *
 * Everything comes from the same plans the hosts' files are rendered from: the WireGuard overlay plan (or
 * the Tailscale plan), the k3s plan and the SSH connection of every host. Both functions are pure and
 * deterministic (locations, hosts, peers and LANs sorted by name), so committed graphs change only when
 * the topology does.
 */
import { spawnSync } from "node:child_process";
import { hybridClusterInternals, HostRole, IngressMode, OverlayKind, type ClusterHostArgs, type ClusterPlan } from "../components/src/cluster";
import { addressScope, AddressScope, type SshHostArgs } from "../components/src/host";
import { apiUrl, k3sClusterInternals } from "../components/src/k3s";
import { planTailscale } from "../components/src/tailscale";
import { Topology, wireGuardMeshInternals, type OverlayPlan, type WireGuardMesh } from "../components/src/wireguard";
import type { StackRun } from "./render-lib";
import { compact } from "../components/src/util/compact";

/** What a host does, in the order the graph lists them. */
export const GraphRole = {
    /** WireGuard hub (`hub` topology): every spoke peers with it and routes the whole overlay through it. */
    Hub: "hub",
    /** WireGuard relay (`mesh` topology): carries the pairs that are behind NAT at both ends. */
    Relay: "relay",
    /** Gateway of its location (`locations` topology): links its location to the others. */
    Gateway: "gateway",
    /** k3s server (control plane). */
    Server: "k3s server",
    /** k3s agent (worker). */
    Agent: "k3s agent",
    /** Takes public HTTP(S): the cloud-forward host, or a public k3s node under the `traefik` ingress. */
    Ingress: "ingress",
    /** Advertises a LAN to the overlay (forwards and masquerades into it). */
    SubnetRouter: "subnet router",
} as const;
export type GraphRole = (typeof GraphRole)[keyof typeof GraphRole];

const ROLE_ORDER: readonly GraphRole[] = Object.values(GraphRole);

/** One host of the cluster. */
export interface GraphHost {
    readonly name: string;
    /** The host's `location` (one Graphviz cluster per location). */
    readonly location: string;
    /** True when the host has no `publicEndpoint`: nothing on the internet can open a connection to it. */
    readonly nat: boolean;
    /** `publicEndpoint` as given (WireGuard: `host:port` with the listen port filled in). Absent behind NAT. */
    readonly publicEndpoint?: string;
    /** WireGuard overlay address (no prefix). Absent under Tailscale: the tailnet assigns it at join time. */
    readonly overlayAddress?: string;
    /** Roles, in `GraphRole` order. */
    readonly roles: readonly GraphRole[];
    /** What the host does with public 80/443, when it has the ingress role. */
    readonly ingress?: string;
}

/** One `[Peer]` section: what `host`'s wg0.conf says about the other end of the pair. */
export interface GraphPeerSide {
    /** The host whose wg0.conf holds this section. */
    readonly host: string;
    /** `Endpoint`: where `host` dials the other end. Absent when the other end is behind NAT. */
    readonly endpoint?: string;
    /** `AllowedIPs`: what `host` routes to the other end (its /32, LANs, relayed hosts, the whole overlay). */
    readonly allowedIps: readonly string[];
    /** `PersistentKeepalive` in seconds: `host` keeps the NAT mapping open. */
    readonly persistentKeepalive?: number;
}

/** A WireGuard peer pair: both hosts list each other. */
export interface GraphPeer {
    /** The two hosts, sorted by name. */
    readonly hosts: readonly [string, string];
    /** `sides[i]` is the `[Peer]` section in `hosts[i]`'s config. */
    readonly sides: readonly [GraphPeerSide, GraphPeerSide];
    /** Hosts that can open the tunnel: those that know the other end's endpoint. Sorted. */
    readonly initiators: readonly string[];
}

/** A LAN advertised to the overlay and the subnet router that carries it. */
export interface GraphLan {
    readonly cidr: string;
    readonly router: string;
    readonly location: string;
}

/** How the machine that runs `pulumi up` reaches a host over SSH. */
export const SshPathKind = {
    /** Straight to the host's SSH address (its public IP, its LAN address from the same LAN, or a DNS name). */
    Direct: "direct",
    /** To a public address the host does not own (it is behind NAT): a port forwarded by its router. */
    ForwardedPort: "forwarded port",
    /** Through another host (`ssh.jumpHost`, pulumi-command's `connection.proxy`). */
    Jump: "jump",
} as const;
export type SshPathKind = (typeof SshPathKind)[keyof typeof SshPathKind];

/** One host's SSH path, as its `remote.Command` connections carry it. */
export interface GraphSshPath {
    readonly host: string;
    readonly kind: SshPathKind;
    /** `connection.host`. */
    readonly address: string;
    /** `connection.port`. @default 22 */
    readonly port: number;
    /** `connection.user`. @default "root" */
    readonly user: string;
    /** Scope of `address` (private, public, loopback, DNS name). */
    readonly scope: AddressScope;
    /** The jump host (`connection.proxy`), for kind `jump`. */
    readonly jumpHost?: string;
}

/** Where the Kubernetes API (the kubeconfig's `server`) is, and from where it can be reached. */
export interface GraphApi {
    /** The kubeconfig's server URL, e.g. `https://203.0.113.10:6443`. */
    readonly url: string;
    /** Host part of the URL. */
    readonly address: string;
    /** The k3s server that answers at `address`; absent for an external endpoint (a load balancer). */
    readonly server?: string;
    /** Which of the server's addresses it is. */
    readonly via: "public address" | "SSH address" | "overlay address" | "tailnet address" | "external";
    /** Where a client (kubectl, the Kubernetes provider of `pulumi up`) must be to reach it. */
    readonly reachableFrom: string;
}

/** The overlay as a whole. */
export type GraphOverlay =
    | { readonly kind: "wireguard"; readonly topology: Topology; readonly cidr: string; readonly listenPort: number; readonly interfaceName: string }
    | { readonly kind: "tailscale"; readonly loginServer?: string; readonly acceptRoutes: boolean };

/** The whole topology of a stack. Plain, JSON-serializable data. */
export interface GraphData {
    /** The stack (the HybridCluster's name). */
    readonly stack: string;
    readonly overlay: GraphOverlay;
    /** The ingress mode (`traefik`, `cloud-forward`, `cloudflare-tunnel`). */
    readonly ingressMode: IngressMode;
    /** Locations, sorted. */
    readonly locations: readonly string[];
    /** Hosts sorted by location, then name. */
    readonly hosts: readonly GraphHost[];
    /** WireGuard peer pairs sorted by host names; empty under Tailscale. */
    readonly peers: readonly GraphPeer[];
    /** Advertised LANs, sorted by CIDR then router. */
    readonly lans: readonly GraphLan[];
    /** SSH paths sorted by host name. */
    readonly ssh: readonly GraphSshPath[];
    /**
     * Locations whose private addresses `pulumi up` reaches directly: it must run on that LAN. Empty when it
     * can run anywhere on the internet.
     */
    readonly pulumiRunsIn: readonly string[];
    readonly api: GraphApi;
}

const byName = <T extends { name: string }>(a: T, b: T): number => cmp(a.name, b.name);
function cmp(a: string, b: string): number {
    return a < b ? -1 : a > b ? 1 : 0;
}

/** The host part of `host:port` / `[v6]:port` / a bare address. */
function hostPart(endpoint: string): string {
    const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(endpoint);
    if (v6) return v6[1];
    const m = /^([^:]+):\d+$/.exec(endpoint);
    return m ? m[1] : endpoint;
}

/**
 * The SSH path of one host, from its SSH args (the same args its `remote.Command` connection is built from)
 * and its `publicEndpoint`: `jump` when it has a jump host; `forwarded port` when it is behind NAT (no public
 * endpoint) but reached at a public IP, which can only be its router's; `direct` otherwise (a public host at
 * its address, a LAN address from the same LAN, a DNS name). Port defaults to 22, user to root.
 */
export function sshPathOf(h: SshHostArgs, publicEndpoint: string | undefined): GraphSshPath {
    const scope = addressScope(h.address).scope;
    const base = { host: h.name, address: h.address, port: h.port ?? 22, user: h.user ?? "root", scope };
    if (h.jumpHost !== undefined) return { ...base, kind: SshPathKind.Jump, jumpHost: h.jumpHost };
    // Behind NAT (no public endpoint) yet reached at a public IP: that IP is its router's, which forwards a port.
    if (scope === AddressScope.Public && publicEndpoint === undefined) return { ...base, kind: SshPathKind.ForwardedPort };
    return { ...base, kind: SshPathKind.Direct };
}

interface HostSource {
    readonly ssh: SshHostArgs;
    readonly location: string;
    readonly publicEndpoint?: string;
    readonly lan: readonly string[];
    readonly cluster?: ClusterHostArgs;
}

function hostSources(c: ClusterPlan): HostSource[] {
    const clusterHosts = new Map<string, ClusterHostArgs>();
    for (const h of [...c.servers, ...c.agents, ...(c.forwardHost !== undefined ? [c.forwardHost] : [])]) clusterHosts.set(h.name, h);
    if (c.wireguard !== undefined) {
        return c.wireguard.hosts.map((h) => ({
            ssh: h,
            location: h.location,
            ...compact({ publicEndpoint: h.publicEndpoint }),
            lan: h.lan ?? [],
            ...(clusterHosts.has(h.name) ? { cluster: clusterHosts.get(h.name)! } : {}),
        }));
    }
    return c.tailscale!.hosts.map((h) => {
        const ch = clusterHosts.get(h.name);
        return {
            ssh: h,
            location: h.location,
            ...(ch?.publicEndpoint !== undefined ? { publicEndpoint: ch.publicEndpoint } : {}),
            lan: h.lan ?? [],
            ...compact({ cluster: ch }),
        };
    });
}

/** The WireGuard overlay plan of a run, or undefined under Tailscale. */
export function overlayPlanOf(run: StackRun): OverlayPlan | undefined {
    const internals = hybridClusterInternals(run.cluster);
    if (internals.plan.wireguard === undefined) return undefined;
    return wireGuardMeshInternals(internals.overlay as WireGuardMesh).plan;
}

function peersOf(plan: OverlayPlan): GraphPeer[] {
    const side = (host: string, other: string): GraphPeerSide => {
        const p = plan.nodes.find((n) => n.name === host)!.peers.find((x) => x.name === other);
        if (p === undefined) throw new Error(`${host} has no [Peer] for ${other}, but ${other} has one for ${host}`);
        return {
            host,
            ...compact({ endpoint: p.endpoint }),
            allowedIps: [...p.allowedIps],
            ...compact({ persistentKeepalive: p.persistentKeepalive }),
        };
    };
    return [...plan.pairs]
        .map(([a, b]) => (a < b ? [a, b] : [b, a]) as [string, string])
        .sort((x, y) => cmp(x[0], y[0]) || cmp(x[1], y[1]))
        .map(([a, b]) => {
            const sides: [GraphPeerSide, GraphPeerSide] = [side(a, b), side(b, a)];
            return { hosts: [a, b], sides, initiators: sides.filter((s) => s.endpoint !== undefined).map((s) => s.host) };
        });
}

const OVERLAY_REACH = "a machine on the overlay (a WireGuard peer)";

function apiOf(c: ClusterPlan, run: StackRun, hosts: readonly GraphHost[], sources: readonly HostSource[]): GraphApi {
    const k3s = k3sClusterInternals(hybridClusterInternals(run.cluster).k3s).plan;
    const source = (name: string): HostSource => sources.find((s) => s.ssh.name === name)!;
    const overlayAddress = (name: string): string | undefined => hosts.find((h) => h.name === name)?.overlayAddress;
    if (k3s.kubeconfigEndpoint === undefined) {
        // Every server is private and behind a jump host: the first server's overlay address.
        const server = k3s.firstServer;
        const address = overlayAddress(server);
        if (address === undefined) {
            return { url: apiUrl("<tailnet address>"), address: "<tailnet address>", server, via: "tailnet address", reachableFrom: "a machine on the tailnet" };
        }
        return { url: apiUrl(address), address, server, via: "overlay address", reachableFrom: OVERLAY_REACH };
    }
    const address = k3s.kubeconfigEndpoint;
    const url = apiUrl(address);
    if (c.k3s.kubeconfigEndpointIsExternal === true) {
        return { url, address, via: "external", reachableFrom: `wherever your load balancer or DNS name ${address} is reachable` };
    }
    const wanted = address.toLowerCase();
    const candidates = k3s.kubeconfigEndpointOwner !== undefined ? [k3s.kubeconfigEndpointOwner] : [...k3s.servers];
    for (const server of candidates) {
        const s = source(server);
        if (s.publicEndpoint !== undefined && hostPart(s.publicEndpoint).toLowerCase() === wanted) {
            return { url, address, server, via: "public address", reachableFrom: "the internet" };
        }
        if (s.ssh.address.toLowerCase() === wanted) {
            const scope = addressScope(address).scope;
            const reachableFrom =
                scope === AddressScope.Public
                    ? "the internet"
                    : scope === AddressScope.Private
                      ? `the LAN of location ${s.location} (where pulumi up runs)`
                      : scope === AddressScope.Loopback
                        ? `${server} itself`
                        : `wherever ${address} resolves`;
            return { url, address, server, via: "SSH address", reachableFrom };
        }
        if (overlayAddress(server) === address) return { url, address, server, via: "overlay address", reachableFrom: OVERLAY_REACH };
    }
    throw new Error(`the kubeconfig endpoint ${address} is no address of a k3s server (kubeconfigEndpointProblems was not called)`);
}

/**
 * The topology of a stack run, as plain data (see `GraphData`): hosts with location, NAT, roles and overlay
 * address; WireGuard peer pairs with both `[Peer]` sections (endpoint, AllowedIPs, keepalive) and the ends
 * that can initiate; advertised LANs and their subnet routers; every host's SSH path from the machine that
 * runs `pulumi up`; and the Kubernetes API endpoint with the server behind it. Under Tailscale `peers` is
 * empty (the tailnet decides who talks to whom) and hosts have no overlay address (assigned at join time).
 * Pure: reads only the plans the run composed.
 */
export function graphData(run: StackRun): GraphData {
    const internals = hybridClusterInternals(run.cluster);
    const c = internals.plan;
    const stack = run.recording.byType("hybridinfra:index:HybridCluster")[0]?.name ?? "stack";
    const sources = hostSources(c);
    const plan = overlayPlanOf(run);
    const k3s = k3sClusterInternals(internals.k3s).plan;
    const servers = new Set(k3s.servers);
    const agents = new Set(k3s.agents);

    const ingressOf = (s: HostSource): string | undefined => {
        if (c.ingressMode === IngressMode.CloudForward && c.forwardHost?.name === s.ssh.name) {
            return "forwards public 80/443 over the overlay to Traefik on the k3s servers";
        }
        const k3sNode = servers.has(s.ssh.name) || agents.has(s.ssh.name);
        if (c.ingressMode === IngressMode.Traefik && k3sNode && s.publicEndpoint !== undefined) return "Traefik on public 80/443";
        return undefined;
    };

    const hosts: GraphHost[] = sources
        .map((s) => {
            const node = plan?.nodes.find((n) => n.name === s.ssh.name);
            const roles = new Set<GraphRole>();
            if (node?.hub === true) roles.add(plan!.topology === Topology.Mesh ? GraphRole.Relay : GraphRole.Hub);
            if (node?.gateway === true) roles.add(GraphRole.Gateway);
            if (servers.has(s.ssh.name)) roles.add(GraphRole.Server);
            if (agents.has(s.ssh.name)) roles.add(GraphRole.Agent);
            const ingress = ingressOf(s);
            if (ingress !== undefined || s.cluster?.roles.includes(HostRole.Ingress) === true) roles.add(GraphRole.Ingress);
            if (s.lan.length > 0) roles.add(GraphRole.SubnetRouter);
            const publicEndpoint = node?.endpoint ?? s.publicEndpoint;
            return {
                name: s.ssh.name,
                location: s.location,
                nat: publicEndpoint === undefined,
                ...compact({ publicEndpoint }),
                ...(node !== undefined ? { overlayAddress: node.address } : {}),
                roles: ROLE_ORDER.filter((r) => roles.has(r)),
                ...compact({ ingress }),
            };
        })
        .sort((a, b) => cmp(a.location, b.location) || byName(a, b));

    let lans: GraphLan[];
    if (plan !== undefined) {
        lans = plan.nodes.flatMap((n) => n.lan.map((cidr) => ({ cidr, router: n.name, location: n.location })));
    } else {
        const tsHosts = c.tailscale!.hosts;
        lans = planTailscale({ hosts: tsHosts }).flatMap((p) =>
            p.advertiseRoutes.map((cidr) => ({ cidr, router: p.name, location: tsHosts.find((h) => h.name === p.name)!.location })),
        );
    }
    lans.sort((a, b) => cmp(a.cidr, b.cidr) || cmp(a.router, b.router));

    const ssh = sources.map((s) => sshPathOf(s.ssh, s.publicEndpoint)).sort((a, b) => cmp(a.host, b.host));
    const locationOf = new Map(hosts.map((h) => [h.name, h.location]));
    const pulumiRunsIn = [...new Set(ssh.filter((p) => p.kind === SshPathKind.Direct && p.scope === AddressScope.Private).map((p) => locationOf.get(p.host)!))].sort();

    const overlay: GraphOverlay =
        plan !== undefined
            ? { kind: OverlayKind.WireGuard, topology: plan.topology, cidr: plan.cidr, listenPort: plan.listenPort, interfaceName: plan.interfaceName }
            : {
                  kind: OverlayKind.Tailscale,
                  ...compact({ loginServer: c.tailscale!.loginServer }),
                  acceptRoutes: c.tailscale!.acceptRoutes ?? true,
              };

    return {
        stack,
        overlay,
        ingressMode: c.ingressMode,
        locations: [...new Set(hosts.map((h) => h.location))].sort(),
        hosts,
        peers: plan !== undefined ? peersOf(plan) : [],
        lans,
        ssh,
        pulumiRunsIn,
        api: apiOf(c, run, hosts, sources),
    };
}

// ---------------------------------------------------------------------------------------------------------
// Graphviz

/** A DOT double-quoted string; newlines become centered line breaks. */
function q(text: string): string {
    return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

function attrs(a: Record<string, string | number | undefined>): string {
    const parts = Object.entries(a)
        .filter((e): e is [string, string | number] => e[1] !== undefined)
        .map(([k, v]) => `${k}=${typeof v === "number" ? String(v) : q(v)}`);
    return parts.length > 0 ? ` [${parts.join(", ")}]` : "";
}

const hostId = (name: string): string => `host:${name}`;
const lanId = (lan: GraphLan): string => `lan:${lan.cidr}@${lan.router}`;

/** Colors and shapes, named so the README legend and the drawing agree. */
export const DOT_STYLE = {
    server: "#cfe0fc",
    agent: "#d9f2d9",
    plainHost: "#ffffff",
    peer: "#1f5fbf",
    lan: "#2e7d32",
    ssh: "#6d6d6d",
    api: "#7b1fa2",
} as const;

const INGRESS_TITLE: Record<IngressMode, string> = {
    [IngressMode.Traefik]: "ingress: Traefik on the public k3s nodes",
    [IngressMode.CloudForward]: "ingress: a public host forwards 80/443 over the overlay",
    [IngressMode.CloudflareTunnel]: "ingress: Cloudflare Tunnel (no inbound port)",
};

function peerLabel(p: GraphPeer, hosts: ReadonlyMap<string, GraphHost>): string {
    const lines: string[] = [];
    for (const s of p.sides) if (s.endpoint !== undefined) lines.push(`${s.host} dials ${s.endpoint}`);
    if (p.initiators.length === 0) lines.push("neither end has an endpoint");
    const kas = p.sides.filter((s) => s.persistentKeepalive !== undefined);
    if (kas.length === 2 && kas[0].persistentKeepalive === kas[1].persistentKeepalive) {
        lines.push(`keepalive ${kas[0].persistentKeepalive} s (both)`);
    } else {
        for (const s of kas) lines.push(`keepalive ${s.persistentKeepalive} s (${s.host})`);
    }
    p.sides.forEach((s, i) => {
        const other = p.hosts[1 - i];
        const own = hosts.get(other)?.overlayAddress;
        const routed = s.allowedIps.filter((ip) => ip !== `${own}/32`);
        if (routed.length > 0) lines.push(`${s.host} routes ${routed.join(", ")} via ${other}`);
    });
    return lines.join("\n");
}

function sshLabel(p: GraphSshPath): string {
    const target = `${p.user}@${p.address}:${p.port}`;
    switch (p.kind) {
        case SshPathKind.Jump:
            return `ssh ${target}\n(jump via ${p.jumpHost})`;
        case SshPathKind.ForwardedPort:
            return `ssh ${target}\n(forwarded port on the router)`;
        default:
            return `ssh ${target}\n(direct, ${p.scope === AddressScope.Private ? "LAN" : p.scope === AddressScope.Public ? "internet" : p.scope})`;
    }
}

/**
 * Graphviz DOT text for `graphData`'s result. Left to right: a "pulumi up" node, one cluster per location
 * holding its hosts and LANs, the overlay between them, the Kubernetes API node.
 * - Host: a rounded box, filled by k3s role (server blue, agent green, neither white); a double border for
 *   the hub, relay or gateway; a dashed border when behind NAT. Its label lists roles, overlay address and
 *   public endpoint, or "behind NAT".
 * - WireGuard peer: a solid blue edge from the end that can initiate (it has the other's endpoint) to the
 *   other; both arrowheads when either can. Labeled with the dialed endpoint, the keepalive and the
 *   AllowedIPs beyond the peer's own /32.
 * - LAN: a note shape in its location, joined to its subnet router by a thick green line.
 * - Tailscale: a "tailnet" ellipse joined to every host by a blue line (no per-pair edges: the tailnet
 *   decides who talks to whom).
 * - SSH: dashed grey edges from "pulumi up" to hosts reached directly or through a forwarded port, and from
 *   the jump host to the hosts reached through it.
 * - Kubernetes API: a purple component shape with the kubeconfig's URL, dotted edges from "pulumi up" (the
 *   Kubernetes provider) and to the server that answers.
 * Deterministic: the same data gives the same text.
 */
export function toDot(g: GraphData): string {
    const out: string[] = [];
    const hostsByName = new Map(g.hosts.map((h) => [h.name, h]));
    const title =
        g.overlay.kind === OverlayKind.WireGuard
            ? `${g.stack}: WireGuard ${g.overlay.topology} topology, overlay ${g.overlay.cidr} on ${g.overlay.interfaceName}, UDP ${g.overlay.listenPort}`
            : `${g.stack}: Tailscale overlay${g.overlay.loginServer !== undefined ? ` (Headscale ${g.overlay.loginServer})` : ""}`;
    out.push(`digraph ${q(g.stack)} {`);
    out.push(
        `    graph${attrs({ rankdir: "LR", fontname: "Helvetica", fontsize: 13, labelloc: "t", label: `${title}\n${INGRESS_TITLE[g.ingressMode]}`, nodesep: 0.35, ranksep: 1.1 })};`,
    );
    out.push(`    node${attrs({ fontname: "Helvetica", fontsize: 10, shape: "box", style: "rounded,filled", fillcolor: DOT_STYLE.plainHost })};`);
    out.push(`    edge${attrs({ fontname: "Helvetica", fontsize: 9 })};`);
    out.push("");
    const runs = g.pulumiRunsIn.length > 0 ? `on the LAN of ${g.pulumiRunsIn.join(", ")}` : "anywhere with internet";
    out.push(`    "pulumi"${attrs({ label: `pulumi up\n(runs ${runs})`, shape: "box", style: "filled", fillcolor: "#eeeeee" })};`);
    out.push(
        `    "api"${attrs({
            label: `Kubernetes API\n${g.api.url}\n${g.api.via}${g.api.server !== undefined ? ` of ${g.api.server}` : ""}\nreachable from\n${g.api.reachableFrom}`,
            shape: "component",
            style: "filled",
            fillcolor: "#f3e5f5",
            color: DOT_STYLE.api,
        })};`,
    );
    if (g.overlay.kind === OverlayKind.Tailscale) {
        const lines = ["tailnet (every host joins on tailscale0)", g.overlay.loginServer !== undefined ? `login server ${g.overlay.loginServer}` : "Tailscale coordination server", g.overlay.acceptRoutes ? "subnet routes accepted" : "subnet routes not accepted"];
        out.push(`    "tailnet"${attrs({ label: lines.join("\n"), shape: "ellipse", style: "filled", fillcolor: "#e3f2fd", color: DOT_STYLE.peer })};`);
    }
    g.locations.forEach((loc, i) => {
        out.push("");
        out.push(`    subgraph ${q(`cluster_${i}_${loc}`)} {`);
        out.push(`        graph${attrs({ label: `location ${loc}`, style: "rounded", color: "#999999" })};`);
        for (const h of g.hosts.filter((x) => x.location === loc)) {
            const lines = [h.name, h.roles.join(" · ")];
            if (h.overlayAddress !== undefined) lines.push(`overlay ${h.overlayAddress}`);
            lines.push(h.nat ? "behind NAT" : `public ${h.publicEndpoint}`);
            if (h.ingress !== undefined) lines.push(h.ingress);
            const fill = h.roles.includes(GraphRole.Server) ? DOT_STYLE.server : h.roles.includes(GraphRole.Agent) ? DOT_STYLE.agent : DOT_STYLE.plainHost;
            const forwarder = h.roles.includes(GraphRole.Hub) || h.roles.includes(GraphRole.Relay) || h.roles.includes(GraphRole.Gateway);
            out.push(
                `        ${q(hostId(h.name))}${attrs({ label: lines.join("\n"), fillcolor: fill, style: h.nat ? "rounded,filled,dashed" : "rounded,filled", peripheries: forwarder ? 2 : undefined })};`,
            );
        }
        for (const lan of g.lans.filter((l) => l.location === loc)) {
            out.push(`        ${q(lanId(lan))}${attrs({ label: `LAN ${lan.cidr}`, shape: "note", style: "filled", fillcolor: "#f1f8e9", color: DOT_STYLE.lan })};`);
        }
        out.push("    }");
    });
    if (g.peers.length > 0) {
        out.push("");
        out.push("    // WireGuard peers: the arrow points from the end that can initiate");
        for (const p of g.peers) {
            const [a, b] = p.hosts;
            const both = p.initiators.length === 2;
            const from = both || p.initiators.length === 0 || p.initiators[0] === a ? a : b;
            const to = from === a ? b : a;
            out.push(
                `    ${q(hostId(from))} -> ${q(hostId(to))}${attrs({ label: peerLabel(p, hostsByName), color: DOT_STYLE.peer, fontcolor: DOT_STYLE.peer, penwidth: 1.6, dir: both ? "both" : p.initiators.length === 0 ? "none" : undefined })};`,
            );
        }
    }
    if (g.overlay.kind === OverlayKind.Tailscale) {
        out.push("");
        out.push("    // tailnet members");
        for (const h of g.hosts) out.push(`    ${q(hostId(h.name))} -> "tailnet"${attrs({ color: DOT_STYLE.peer, penwidth: 1.6, dir: "none" })};`);
    }
    if (g.lans.length > 0) {
        out.push("");
        out.push("    // advertised LANs and their subnet routers");
        for (const lan of g.lans) {
            out.push(`    ${q(hostId(lan.router))} -> ${q(lanId(lan))}${attrs({ label: "subnet router", color: DOT_STYLE.lan, fontcolor: DOT_STYLE.lan, penwidth: 2.5, dir: "none" })};`);
        }
    }
    out.push("");
    out.push("    // SSH from the machine that runs pulumi up");
    for (const p of g.ssh) {
        const from = p.kind === SshPathKind.Jump ? hostId(p.jumpHost!) : "pulumi";
        out.push(`    ${q(from)} -> ${q(hostId(p.host))}${attrs({ label: sshLabel(p), style: "dashed", color: DOT_STYLE.ssh, fontcolor: DOT_STYLE.ssh })};`);
    }
    out.push("");
    out.push("    // the Kubernetes API");
    out.push(`    "pulumi" -> "api"${attrs({ label: "kubeconfig\n(Kubernetes provider)", style: "dotted", color: DOT_STYLE.api, fontcolor: DOT_STYLE.api })};`);
    if (g.api.server !== undefined) {
        out.push(`    "api" -> ${q(hostId(g.api.server))}${attrs({ label: "6443", style: "dotted", color: DOT_STYLE.api, fontcolor: DOT_STYLE.api })};`);
    }
    out.push("}");
    return `${out.join("\n")}\n`;
}

/** `dot -Tsvg` output made stable: without the "Generated by graphviz version" comment. */
export function stableSvg(svg: string): string {
    return svg.replace(/<!-- Generated by graphviz version[\s\S]*?-->\n/, "");
}

/**
 * Runs Graphviz `dot -Tsvg` on DOT text. Returns the SVG (see `stableSvg`), or undefined when `dot` is not
 * on PATH (Debian/Ubuntu: `apt-get install graphviz`). Throws when dot fails on the input.
 */
export function dotToSvg(dot: string): string | undefined {
    const r = spawnSync("dot", ["-Tsvg"], { input: dot, encoding: "utf8" });
    if (r.error !== undefined) {
        if ((r.error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw r.error;
    }
    if (r.status !== 0) throw new Error(`dot -Tsvg failed (exit ${String(r.status)}): ${r.stderr}`);
    return stableSvg(r.stdout);
}

/** How to get `dot` when `dotToSvg` found none. */
export const DOT_MISSING = "Graphviz `dot` is not on PATH, so no SVG was written; install it (Debian/Ubuntu: `apt-get install graphviz`) and run again";
