/**
 * Cross-key checks of a cluster spec: settings that have no effect in the chosen mode, settings that
 * contradict each other, and address plans that overlap. They run before anything is registered, in
 * `planCluster` (so the component used alone gets them) and in the stack-config validation
 * (`infra/config.ts`), and return every problem at once.
 *
 * Rules:
 * - a key that has no effect in the chosen mode is an error that says which mode uses it;
 * - a contradiction is an error that names both keys;
 * - every error names the key path, shows the value (never a secret's) and says the fix.
 */
import { HybridInfraConfigError, showValue } from "../util/errors";
import { cidrContains, formatIpv4, Ipv4Cidr, parseCidr, parseIpv4, prefixMask, usableHostCount } from "../util/cidr";
import { OVERLAY_DEFAULTS } from "../wireguard/model";
import { operatorNameProblems, parseEndpoint } from "../wireguard/validate";
import { planOverlayAddresses } from "../wireguard/plan";
import { DATASTORE_ENDPOINT_FIX, datastoreEndpointProblem } from "../k3s/validate";

/** The parts of a host the checks read (a cluster host or a parsed stack-config host). */
export interface ConsistencyHost {
    readonly name: string;
    readonly location: string;
    readonly publicEndpoint?: string;
    readonly roles: readonly string[];
    readonly ssh: { readonly address: string; readonly jumpHost?: string };
    readonly lan?: readonly string[];
    readonly overlayAddress?: string;
    readonly mtu?: number;
    readonly gateway?: boolean;
}

/** The parts of a cluster spec the checks read. `HybridClusterArgs` and the parsed stack config both fit. */
export interface ConsistencySpec {
    readonly hosts: readonly ConsistencyHost[];
    readonly overlay?: {
        readonly kind?: string;
        readonly topology?: string;
        readonly cidr?: string;
        readonly listenPort?: number;
        readonly interfaceName?: string;
        readonly keepalive?: number;
        readonly presharedKeys?: boolean;
        readonly mtu?: number;
        readonly loginServer?: string;
        readonly acceptRoutes?: boolean;
        readonly operators?: readonly { readonly name: string }[];
    };
    readonly k3s?: { readonly datastore?: string; readonly disable?: readonly string[]; readonly clusterCidr?: string; readonly serviceCidr?: string };
    readonly ingress?: {
        readonly mode?: string;
        readonly tls?: string;
        readonly tlsSecretName?: string;
        readonly forwardHost?: string;
        readonly cloudflare?: object;
        readonly traefikDashboard?: boolean;
        readonly certManager?: boolean;
        readonly acmeEmail?: string;
        readonly acmeServer?: string;
    };
    readonly apps?: readonly { readonly name: string }[];
    /** The external datastore URL, checked for its form only when it is a plain string (never shown). */
    readonly datastoreEndpoint?: unknown;
}

const WIREGUARD = "wireguard";
const TAILSCALE = "tailscale";

/** WireGuard-only overlay keys, with why Tailscale ignores each. */
const WIREGUARD_OVERLAY_KEYS = {
    topology: "Tailscale decides itself how nodes peer",
    cidr: "Tailscale assigns addresses from its own 100.64.0.0/10",
    listenPort: "tailscaled picks its own UDP port",
    interfaceName: "the interface is always tailscale0",
    keepalive: "tailscaled keeps NAT mappings open itself",
    presharedKeys: "Tailscale manages its own keys",
    mtu: "HybridInfra does not set the tailscale0 MTU",
    operators: "a machine joins a tailnet with Tailscale's own client (`tailscale up`), not with a WireGuard config from the stack",
} as const;
/** WireGuard-only host keys, with why Tailscale ignores each. */
const WIREGUARD_HOST_KEYS = {
    overlayAddress: "Tailscale assigns each host its address",
    mtu: "HybridInfra does not set the tailscale0 MTU",
    gateway: "location gateways belong to the WireGuard topology \"locations\"",
} as const;
/** Tailscale-only overlay keys, with why WireGuard ignores each. */
const TAILSCALE_OVERLAY_KEYS = {
    loginServer: "WireGuard has no coordination server",
    acceptRoutes: "WireGuard routes every advertised LAN itself",
} as const;

const q = (s: string): string => JSON.stringify(s);

function modeText(key: string, value: string | undefined, fallback: string): string {
    return value === undefined ? `${key} is ${q(fallback)} (the default)` : `${key} is ${q(value)}`;
}

/** The first block of `prefix` bits among `candidates` that holds none of `avoid` and overlaps none of `taken`. */
function freeBlock(candidates: readonly string[], prefix: number, avoid: readonly number[], taken: readonly Ipv4Cidr[]): string | undefined {
    for (const c of candidates) {
        const ip = parseIpv4(c);
        if (ip === undefined) continue;
        const block: Ipv4Cidr = { network: (ip & prefixMask(prefix)) >>> 0, prefix, text: `${formatIpv4((ip & prefixMask(prefix)) >>> 0)}/${prefix}` };
        if (avoid.some((a) => cidrContains(block, a))) continue;
        if (taken.some((t) => cidrContains(t, block.network) || cidrContains(block, t.network))) continue;
        return block.text;
    }
    return undefined;
}

/** Keys set for one overlay kind while the other is chosen. */
function overlayKindProblems(spec: ConsistencySpec, kind: string): HybridInfraConfigError[] {
    const out: HybridInfraConfigError[] = [];
    const overlay = (spec.overlay ?? {}) as Record<string, unknown>;
    const kindText = modeText("overlay.kind", spec.overlay?.kind, WIREGUARD);
    const unused = (path: string, value: unknown, why: string, user: string): HybridInfraConfigError =>
        new HybridInfraConfigError(
            path,
            `is ${showValue(value)}, but ${kindText}: ${why}, so it has no effect; only overlay.kind ${q(user)} uses it`,
            `remove ${path}, or set overlay.kind: ${user}`,
        );
    if (kind === TAILSCALE) {
        for (const [key, why] of Object.entries(WIREGUARD_OVERLAY_KEYS)) {
            if (overlay[key] !== undefined) out.push(unused(`overlay.${key}`, overlay[key], why, WIREGUARD));
        }
        spec.hosts.forEach((h, i) => {
            if (h.roles.includes("hub")) {
                out.push(new HybridInfraConfigError(`hosts[${i}].roles`, `has "hub", but overlay.kind is tailscale, which has no hub`, "remove `hub` from the roles, or use overlay.kind wireguard"));
            }
            const host = h as unknown as Record<string, unknown>;
            for (const [key, why] of Object.entries(WIREGUARD_HOST_KEYS)) {
                if (host[key] !== undefined) out.push(unused(`hosts[${i}].${key}`, host[key], why, WIREGUARD));
            }
        });
    } else {
        for (const [key, why] of Object.entries(TAILSCALE_OVERLAY_KEYS)) {
            if (overlay[key] !== undefined) out.push(unused(`overlay.${key}`, overlay[key], why, TAILSCALE));
        }
    }
    return out;
}

/** Ingress keys and roles that the chosen ingress mode does not use, and packaged components it needs. */
function ingressProblems(spec: ConsistencySpec, kind: string): HybridInfraConfigError[] {
    const out: HybridInfraConfigError[] = [];
    const ingress = spec.ingress ?? {};
    const mode = ingress.mode ?? "traefik";
    const modeIs = modeText("ingress.mode", ingress.mode, "traefik");
    if (mode !== "cloud-forward") {
        const why = mode === "traefik" ? "Traefik serves on the k3s nodes themselves" : "cloudflared reaches Traefik from inside the cluster";
        spec.hosts.forEach((h, i) => {
            if (!h.roles.includes("ingress")) return;
            out.push(
                new HybridInfraConfigError(
                    `hosts[${i}].roles`,
                    `has "ingress" (host ${q(h.name)}), but ${modeIs}: ${why}, so the role has no effect; only ingress.mode "cloud-forward" uses the ingress role`,
                    `remove "ingress" from hosts[${i}].roles, or set ingress.mode: cloud-forward`,
                ),
            );
        });
        if (ingress.forwardHost !== undefined) {
            out.push(
                new HybridInfraConfigError(
                    "ingress.forwardHost",
                    `is ${showValue(ingress.forwardHost)}, but ${modeIs}: nothing is forwarded, so it has no effect; only ingress.mode "cloud-forward" uses it`,
                    "remove ingress.forwardHost, or set ingress.mode: cloud-forward",
                ),
            );
        }
    } else if (ingress.forwardHost !== undefined && spec.hosts.some((h) => h.name === ingress.forwardHost)) {
        spec.hosts.forEach((h, i) => {
            if (!h.roles.includes("ingress") || h.name === ingress.forwardHost) return;
            out.push(
                new HybridInfraConfigError(
                    `hosts[${i}].roles`,
                    `has "ingress" (host ${q(h.name)}), but ingress.forwardHost is ${q(ingress.forwardHost!)}, the one host that forwards, so the role has no effect here`,
                    `remove "ingress" from hosts[${i}].roles (one host forwards 80/443), or set ingress.forwardHost: ${h.name}`,
                ),
            );
        });
    }
    if (mode !== "cloudflare-tunnel" && ingress.cloudflare !== undefined) {
        out.push(
            new HybridInfraConfigError(
                "ingress.cloudflare",
                `is ${showValue(ingress.cloudflare)}, but ${modeIs}: no Cloudflare Tunnel is made, so it has no effect; only ingress.mode "cloudflare-tunnel" uses it`,
                "remove ingress.cloudflare, or set ingress.mode: cloudflare-tunnel",
            ),
        );
    }
    const tls = ingress.tls ?? (mode === "cloudflare-tunnel" ? "none" : "private-ca");
    if (tls === "none" && ingress.tlsSecretName !== undefined) {
        out.push(
            new HybridInfraConfigError(
                "ingress.tlsSecretName",
                `is ${showValue(ingress.tlsSecretName)}, but ${modeText("ingress.tls", ingress.tls, "none")}: apps serve no TLS, so it has no effect; ingress.tls "existing-secret", "private-ca", "cloudflare-origin-ca" and "cert-manager" use it`,
                "remove ingress.tlsSecretName, or set ingress.tls: existing-secret",
            ),
        );
    }
    if (tls === "cloudflare-origin-ca" && mode !== "cloudflare-tunnel") {
        out.push(
            new HybridInfraConfigError(
                "ingress.tls",
                `is "cloudflare-origin-ca", but ${modeIs}: an Origin CA certificate is trusted only by Cloudflare's proxy, and in this mode browsers reach Traefik directly (HybridInfra makes no proxied DNS record here), so every browser would reject it`,
                `use ingress.tls cert-manager (a publicly trusted ACME certificate, renewed in the cluster), private-ca or existing-secret; or ingress.mode cloudflare-tunnel, where Cloudflare's edge is in front`,
            ),
        );
    }
    // cert-manager: the chart is installed when asked for or when the apps need it; the ACME issuer needs an email.
    const certManagerUsed = tls === "cert-manager" || ingress.certManager === true;
    if (tls === "cert-manager" && ingress.acmeEmail === undefined) {
        out.push(
            new HybridInfraConfigError(
                "ingress.acmeEmail",
                `is not set, but ingress.tls is "cert-manager": the apps' certificates come from the "letsencrypt" ACME ClusterIssuer, whose account needs an email`,
                "set ingress.acmeEmail to the address Let's Encrypt sends expiry notices to",
            ),
        );
    }
    for (const key of ["acmeEmail", "acmeServer"] as const) {
        if (ingress[key] !== undefined && !certManagerUsed) {
            out.push(
                new HybridInfraConfigError(
                    `ingress.${key}`,
                    `is ${showValue(ingress[key])}, but ${modeText("ingress.tls", ingress.tls, tls)} and ingress.certManager is not true: no ACME issuer is made, so it has no effect`,
                    `remove ingress.${key}, or set ingress.tls: cert-manager (or ingress.certManager: true for the issuer alone)`,
                ),
            );
        }
    }
    if (kind === TAILSCALE && mode === "cloud-forward") {
        out.push(
            new HybridInfraConfigError(
                "ingress.mode",
                `is "cloud-forward", but overlay.kind is "tailscale": the forward's rules need the servers' overlay addresses when the plan is made, and Tailscale assigns them only when each host joins the tailnet`,
                "use overlay.kind wireguard with cloud-forward, or keep Tailscale with ingress.mode cloudflare-tunnel, or with ingress.mode traefik and a k3s node that has a publicEndpoint",
            ),
        );
    }
    // Every mode routes to k3s's packaged Traefik; without apps, an explicit mode or the dashboard, nothing does.
    const routed = (spec.apps ?? []).length > 0 || ingress.mode !== undefined || ingress.traefikDashboard === true;
    (spec.k3s?.disable ?? []).forEach((d, i) => {
        if (!routed) return;
        if (d === "traefik") {
            const how =
                mode === "cloudflare-tunnel"
                    ? "which sends every tunnel route to k3s's packaged Traefik (traefik.kube-system.svc)"
                    : mode === "cloud-forward"
                      ? "which forwards ports 80 and 443 to k3s's packaged Traefik on the servers"
                      : "which serves every app through k3s's packaged Traefik";
            out.push(
                new HybridInfraConfigError(
                    `k3s.disable[${i}]`,
                    `is "traefik", but ${modeIs}, ${how}: with Traefik disabled every app answers 404 or 502`,
                    `remove "traefik" from k3s.disable (every ingress.mode routes through the packaged Traefik)`,
                ),
            );
        }
        if (d === "servicelb" && mode !== "cloudflare-tunnel") {
            out.push(
                new HybridInfraConfigError(
                    `k3s.disable[${i}]`,
                    `is "servicelb", but ${modeIs}, which needs k3s's ServiceLB to bind Traefik to ports 80 and 443 of the nodes: without it nothing answers there`,
                    `remove "servicelb" from k3s.disable, or use ingress.mode cloudflare-tunnel, which reaches Traefik inside the cluster`,
                ),
            );
        }
    });
    return out;
}

/** Two apps with one name: their Kubernetes objects and Pulumi resources are named after it. */
function appNameProblems(spec: ConsistencySpec): HybridInfraConfigError[] {
    const out: HybridInfraConfigError[] = [];
    const first = new Map<string, number>();
    (spec.apps ?? []).forEach((a, i) => {
        const prev = first.get(a.name);
        if (prev === undefined) {
            first.set(a.name, i);
            return;
        }
        out.push(
            new HybridInfraConfigError(
                `apps[${i}].name`,
                `is ${q(a.name)}, the name of apps[${prev}] too; each app's Pulumi resources and Kubernetes objects are named after it, in any namespace, so the second would replace the first`,
                `give apps[${i}] a name no other app has`,
            ),
        );
    });
    return out;
}

/**
 * A pinned overlay address that an earlier host derived from its name: the pin is reserved first, so that
 * host would move, which breaks the promise that adding a machine never moves another's address.
 */
function pinProblems(spec: ConsistencySpec, overlay: Ipv4Cidr): HybridInfraConfigError[] {
    const hosts = spec.hosts;
    const lastPinned = hosts.map((h) => h.overlayAddress !== undefined).lastIndexOf(true);
    if (lastPinned < 0) return [];
    let full: Record<string, string>;
    try {
        full = planOverlayAddresses(hosts, overlay.text);
    } catch {
        return []; // a bad pin or a full block is reported by the overlay's own validation
    }
    // The address each host had when it was appended: only the pins of hosts before it existed.
    const own = new Map<number, string>();
    for (let x = 0; x < lastPinned; x++) {
        if (hosts[x].overlayAddress !== undefined) continue;
        try {
            own.set(x, planOverlayAddresses(hosts.slice(0, x + 1), overlay.text)[hosts[x].name]);
        } catch {
            return [];
        }
    }
    const used = new Set<number>([...Object.values(full), ...own.values()].map((a) => parseIpv4(a)!));
    const usable = usableHostCount(overlay);
    let free: string | undefined;
    for (let off = 1; off <= usable && free === undefined; off++) if (!used.has(overlay.network + off)) free = formatIpv4(overlay.network + off);
    const out: HybridInfraConfigError[] = [];
    hosts.forEach((p, pi) => {
        if (p.overlayAddress === undefined) return;
        for (const [x, addr] of own) {
            if (x >= pi || parseIpv4(addr) !== parseIpv4(p.overlayAddress)) continue;
            const moved = hosts[x].name;
            out.push(
                new HybridInfraConfigError(
                    `hosts[${pi}].overlayAddress`,
                    `is ${q(p.overlayAddress)}, the address hosts[${x}] (${q(moved)}) derives from its name; pinning it on ${q(p.name)} moves ${q(moved)} from ${addr} to ${full[moved]}, and adding a machine must never move another`,
                    `${free !== undefined ? `pin a free address such as ${free}` : "pin another address"}, or remove hosts[${pi}].overlayAddress`,
                ),
            );
        }
    });
    return out;
}

/** Address plans that overlap: SSH addresses inside routed blocks, public endpoints inside routed LANs. */
function addressProblems(spec: ConsistencySpec, kind: string, overlay: Ipv4Cidr | undefined): HybridInfraConfigError[] {
    const out: HybridInfraConfigError[] = [];
    const sshIps = spec.hosts.map((h) => parseIpv4(h.ssh.address));
    const avoid = sshIps.filter((ip): ip is number => ip !== undefined);
    const pod = parseCidr(spec.k3s?.clusterCidr ?? OVERLAY_DEFAULTS.podCidr);
    const svc = parseCidr(spec.k3s?.serviceCidr ?? OVERLAY_DEFAULTS.serviceCidr);
    const lans = spec.hosts.flatMap((h) => (h.lan ?? []).map((l) => parseCidr(l)).filter((c): c is NonNullable<typeof c> => c !== undefined));
    const blocks: { path: string; given: boolean; block: Ipv4Cidr | undefined; after: string; candidates: string[] }[] = [
        ...(kind === WIREGUARD
            ? [{ path: "overlay.cidr", given: spec.overlay?.cidr !== undefined, block: overlay, after: "the overlay is up, that address is routed into the WireGuard tunnel", candidates: ["10.100.0.0", "10.101.0.0", "10.200.0.0", "172.29.0.0"] }]
            : []),
        { path: "k3s.clusterCidr", given: spec.k3s?.clusterCidr !== undefined, block: pod, after: "k3s runs, that address is routed to pods", candidates: ["10.42.0.0", "10.52.0.0", "10.62.0.0", "172.26.0.0"] },
        { path: "k3s.serviceCidr", given: spec.k3s?.serviceCidr !== undefined, block: svc, after: "k3s runs, that address is routed to services", candidates: ["10.43.0.0", "10.53.0.0", "10.63.0.0", "172.27.0.0"] },
    ];
    // A host's own overlay address is a valid SSH address once the overlay is up, for pulumi up run from a
    // machine on the overlay (README, "How `pulumi up` reaches your hosts"); any other address in the block is not.
    let planned: Record<string, string> = {};
    if (overlay !== undefined) {
        try {
            planned = planOverlayAddresses(spec.hosts, overlay.text);
        } catch {
            // a bad pin or a full block is reported by the overlay's own validation
        }
    }
    for (const b of blocks) {
        if (b.block === undefined) continue;
        const block = b.block;
        const isOverlay = b.path === "overlay.cidr";
        spec.hosts.forEach((h, i) => {
            const ip = sshIps[i];
            if (ip === undefined || !cidrContains(block, ip)) return;
            const own = isOverlay ? planned[h.name] : undefined;
            if (own !== undefined && parseIpv4(own) === ip) return;
            const others = [overlay, pod, svc, ...lans].filter((c): c is Ipv4Cidr => c !== undefined && c.text !== block.text);
            const free = freeBlock(b.candidates, block.prefix, avoid, others);
            out.push(
                new HybridInfraConfigError(
                    `hosts[${i}].ssh.address`,
                    `is ${q(h.ssh.address)}, inside ${b.path} (${block.text}${b.given ? "" : ", the default"})${own !== undefined ? ` but not the overlay address of ${q(h.name)} (${own})` : ""}: once ${b.after}, so pulumi up can no longer reach ${q(h.name)} over SSH`,
                    `set ${b.path} to a block that holds no SSH address${free !== undefined ? `, e.g. ${free}` : ""}, or reach the host at another address` +
                        (own !== undefined ? ` (from a machine on the overlay: its overlay address ${own})` : ""),
                ),
            );
        });
    }
    if (kind === WIREGUARD) {
        spec.hosts.forEach((h, i) => {
            (h.lan ?? []).forEach((l, j) => {
                const lan = parseCidr(l);
                if (lan === undefined) return;
                spec.hosts.forEach((e, k) => {
                    if (e.publicEndpoint === undefined) return;
                    const parsed = parseEndpoint(e.publicEndpoint);
                    const ip = parsed !== undefined ? parseIpv4(parsed.host) : undefined;
                    if (ip === undefined || !cidrContains(lan, ip)) return;
                    out.push(
                        new HybridInfraConfigError(
                            `hosts[${i}].lan[${j}]`,
                            `is ${q(l)}, which contains hosts[${k}].publicEndpoint ${q(e.publicEndpoint)}, the public endpoint of ${e.roles.includes("hub") ? "hub" : "host"} ${q(e.name)}: peers would route their WireGuard packets for ${q(e.name)} into the tunnel itself, so the overlay never comes up`,
                            `advertise only the LAN's own private block, without ${formatIpv4(ip)}, or correct hosts[${k}].publicEndpoint`,
                        ),
                    );
                });
            });
        });
    }
    return out;
}

/**
 * Every cross-key problem of a cluster spec (see the module comment), in config order. Pure; shapes that
 * are wrong on their own (a bad CIDR, an unknown mode) are left to the domain validators.
 */
export function clusterConsistencyProblems(spec: ConsistencySpec): HybridInfraConfigError[] {
    const kind = spec.overlay?.kind ?? WIREGUARD;
    const overlayCidr = parseCidr(spec.overlay?.cidr ?? OVERLAY_DEFAULTS.cidr);
    const overlay = kind === WIREGUARD && overlayCidr !== undefined && !overlayCidr.hostBitsSet ? overlayCidr : undefined;
    const out = [...overlayKindProblems(spec, kind), ...ingressProblems(spec, kind), ...appNameProblems(spec)];
    // Operator names that clash with a host's or another operator's (WireGuard: under Tailscale the key itself is the problem).
    if (kind === WIREGUARD && Array.isArray(spec.overlay?.operators)) out.push(...operatorNameProblems(spec.hosts, spec.overlay.operators));
    if (overlay !== undefined) out.push(...pinProblems(spec, overlay));
    out.push(...addressProblems(spec, kind, overlay));
    if (spec.k3s?.datastore === "external" && typeof spec.datastoreEndpoint === "string") {
        const problem = datastoreEndpointProblem(spec.datastoreEndpoint);
        if (problem !== undefined) out.push(new HybridInfraConfigError("datastoreEndpoint", `${problem} (the value is a secret and is not shown)`, DATASTORE_ENDPOINT_FIX));
    }
    return out;
}
