import { SshCheckOptions, validateSshHosts } from "../host/model";
import { cidrContains, cidrLast, cidrOverlaps, formatIpv4, Ipv4Cidr, parseCidr, parseIpv4, usableHostCount } from "../util/cidr";
import { HybridInfraConfigError, nearest, ProblemList, problemsOf, showValue, throwAll } from "../util/errors";
import { MAX_KEEPALIVE, MAX_MTU, MIN_KEEPALIVE, MIN_MTU, OVERLAY_DEFAULTS, Topology, WireGuardHostArgs, WireGuardMeshArgs, WireGuardOperatorArgs } from "./model";

const TOPOLOGIES: readonly string[] = Object.values(Topology);
const LOCATION_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
// wg-quick's own rule for interface names.
const INTERFACE_RE = /^[a-zA-Z0-9_=+.-]{1,15}$/;
const DNS_NAME_RE = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** An endpoint split into host and optional port. `undefined` when the text is not a valid endpoint. */
export function parseEndpoint(text: string): { host: string; port?: number } | undefined {
    if (typeof text !== "string") return undefined;
    const t = text.trim();
    let host: string;
    let portText: string | undefined;
    const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(t);
    if (v6) {
        host = `[${v6[1]}]`;
        portText = v6[2];
        if (!v6[1].includes(":")) return undefined;
    } else if ((t.match(/:/g) ?? []).length >= 2) {
        if (!/^[0-9A-Fa-f:.]+$/.test(t)) return undefined;
        host = `[${t}]`;
    } else {
        const m = /^([^:]+)(?::(\d+))?$/.exec(t);
        if (!m) return undefined;
        host = m[1];
        portText = m[2];
        const looksNumeric = /^[\d.]+$/.test(host);
        if (looksNumeric ? parseIpv4(host) === undefined : !DNS_NAME_RE.test(host)) return undefined;
    }
    if (portText === undefined) return { host };
    const port = Number(portText);
    if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
    return { host, port };
}

function checkInt(p: ProblemList, path: string, value: unknown, min: number, max: number, what: string, fix: string): void {
    if (value === undefined) return;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
        p.add(path, `must be an integer from ${min} to ${max}${what}, got ${showValue(value)}`, fix);
    }
}

/** How to fix an MTU out of range (shared with the stack-config schema). */
export const MTU_FIX = `use ${OVERLAY_DEFAULTS.mtu} (the default), or a lower value such as 1412 or 1400 behind PPPoE or DS-Lite links; below ${MIN_MTU} IPv6 cannot cross the tunnel, above ${MAX_MTU} no 9000-byte jumbo frame can carry it`;

/** How to fix a keepalive out of range (shared with the stack-config schema). */
export const KEEPALIVE_FIX = `use ${OVERLAY_DEFAULTS.keepalive} (keeps NAT mappings open on common routers), or leave overlay.keepalive out to send keepalives from hosts behind NAT only`;

/** The CIDR, or `undefined` after adding its problem. */
function checkCidr(p: ProblemList, path: string, value: unknown, example: string): Ipv4Cidr | undefined {
    const c = typeof value === "string" ? parseCidr(value) : undefined;
    if (c === undefined) {
        p.add(path, `is not an IPv4 CIDR, got ${showValue(value)}`, `write it as network/prefix, e.g. ${JSON.stringify(example)}`);
        return undefined;
    }
    if (c.hostBitsSet) {
        p.add(path, `has host bits set, got ${showValue(value)}`, `use the network address ${JSON.stringify(c.text)}`);
        return undefined;
    }
    return c;
}

/** The smallest prefix whose block has room for `n` hosts. */
function prefixFor(n: number): number {
    let p = 30;
    while (p > 0 && 2 ** (32 - p) - 2 < n) p--;
    return p;
}

interface NamedCidr {
    readonly path: string;
    readonly what: string;
    readonly cidr: Ipv4Cidr;
    readonly host?: string;
}

/**
 * Every problem of the overlay arguments, found before any resource is registered: hosts (SSH, names,
 * locations, endpoints, pinned addresses, MTUs), the overlay settings, overlaps between the overlay, every
 * advertised LAN, the pod and the service CIDR, and that every host has a path to every other one. Each
 * problem names its config path (`hosts[2].lan[0]`, `overlay.cidr`, …). Checks that depend on a value already
 * reported as invalid (addresses against an overlay CIDR that does not parse, gateways and paths under an
 * unknown topology) are skipped rather than reported as noise.
 */
export function overlayProblems(args: WireGuardMeshArgs, options: SshCheckOptions = {}): HybridInfraConfigError[] {
    const hosts = args.hosts;
    if (!Array.isArray(hosts) || hosts.length === 0) {
        return [new HybridInfraConfigError("hosts", `is empty, got ${showValue(hosts)}`, "list at least one machine under hosts")];
    }
    const p = new ProblemList();
    const sshProblems = options.sshChecked === true ? [] : problemsOf(() => validateSshHosts(hosts, "hosts"));
    p.push(...sshProblems);

    const topology = args.topology ?? OVERLAY_DEFAULTS.topology;
    const topologyKnown = TOPOLOGIES.includes(topology);
    if (!topologyKnown) {
        const near = nearest(String(topology), TOPOLOGIES);
        p.add(
            "overlay.topology",
            `must be one of ${TOPOLOGIES.map((t) => JSON.stringify(t)).join(", ")}, got ${showValue(topology)}`,
            near !== undefined ? `use ${JSON.stringify(near)}` : `use "hub" (the default) unless every pair of hosts can reach each other`,
        );
    }
    const overlay = checkCidr(p, "overlay.cidr", args.cidr ?? OVERLAY_DEFAULTS.cidr, OVERLAY_DEFAULTS.cidr);
    checkInt(p, "overlay.listenPort", args.listenPort, 1, 65535, "", `use a free UDP port, e.g. ${OVERLAY_DEFAULTS.listenPort}`);
    const iface = args.interfaceName ?? OVERLAY_DEFAULTS.interfaceName;
    if (typeof iface !== "string" || !INTERFACE_RE.test(iface)) {
        p.add("overlay.interfaceName", `must be 1 to 15 letters, digits or "_=+.-", got ${showValue(iface)}`, `use a short name such as "${OVERLAY_DEFAULTS.interfaceName}"`);
    }
    checkInt(p, "overlay.keepalive", args.keepalive, MIN_KEEPALIVE, MAX_KEEPALIVE, " seconds", KEEPALIVE_FIX);
    checkInt(p, "overlay.mtu", args.mtu, MIN_MTU, MAX_MTU, "", MTU_FIX);
    const pod = checkCidr(p, "overlay.podCidr", args.podCidr ?? OVERLAY_DEFAULTS.podCidr, OVERLAY_DEFAULTS.podCidr);
    const svc = checkCidr(p, "overlay.serviceCidr", args.serviceCidr ?? OVERLAY_DEFAULTS.serviceCidr, OVERLAY_DEFAULTS.serviceCidr);

    const operatorArg = args.operators ?? [];
    const operatorsAreList = Array.isArray(operatorArg);
    if (!operatorsAreList) p.add("overlay.operators", `must be a list, got ${showValue(operatorArg)}`, 'write e.g. [{ name: "laptop" }]');
    const operators = operatorsAreList ? operatorArg : [];
    const operatorNames = operatorNameProblems(hosts, operators);
    p.push(...operatorNames);
    const members = hosts.length + operators.length;
    if (overlay !== undefined && usableHostCount(overlay) < members) {
        const ops = operators.length > 0 ? ` and ${operators.length} operator${operators.length === 1 ? "" : "s"}` : "";
        p.add("overlay.cidr", `${overlay.text} has room for ${usableHostCount(overlay)} hosts, got ${hosts.length} hosts${ops}`, `use a larger block: a /${prefixFor(members)} or shorter prefix`);
    }

    // Blocks are compared with those checked before them; one that overlaps is reported once and not kept.
    const blocks: NamedCidr[] = [];
    const checkOverlap = (b: NamedCidr): void => {
        const other = blocks.find((o) => cidrOverlaps(b.cidr, o.cidr));
        if (other === undefined) {
            blocks.push(b);
            return;
        }
        const fix =
            b.host !== undefined && other.host !== undefined
                ? "advertise each LAN from one host only (one subnet router per LAN)"
                : b.host !== undefined
                  ? `advertise only the LAN's own block, outside ${other.cidr.text}, or move ${other.path}`
                  : "choose blocks that do not overlap, e.g. the overlay in 10.100.0.0/24, pods in 10.42.0.0/16, services in 10.43.0.0/16";
        const owner = other.host !== undefined ? ` of host ${JSON.stringify(other.host)}` : "";
        p.add(b.path, `${b.cidr.text} overlaps ${other.what} ${other.path} (${other.cidr.text})${owner}`, fix);
    };
    // The three cluster blocks first, so that their own overlaps are reported on the later key.
    if (overlay !== undefined) checkOverlap({ path: "overlay.cidr", what: "the overlay CIDR", cidr: overlay });
    if (pod !== undefined) checkOverlap({ path: "overlay.podCidr", what: "the pod CIDR", cidr: pod });
    if (svc !== undefined) checkOverlap({ path: "overlay.serviceCidr", what: "the service CIDR", cidr: svc });

    const pinned = new Map<number, number>();
    const gateways = new Map<string, number>();
    hosts.forEach((h: WireGuardHostArgs, i) => {
        const at = `hosts[${i}]`;
        if (typeof h.location !== "string" || !LOCATION_RE.test(h.location)) {
            p.add(`${at}.location`, `must be a lowercase name (letters, digits, '-'), got ${showValue(h.location)}`, `name where the machine is, e.g. "tokyo" or "home"`);
        }
        if (h.publicEndpoint !== undefined && parseEndpoint(h.publicEndpoint) === undefined) {
            p.add(
                `${at}.publicEndpoint`,
                `is not an IP address or DNS name with an optional :port, got ${showValue(h.publicEndpoint)}`,
                `use the public IP or DNS name only, e.g. "203.0.113.10" or "vpn.example.org:51820"`,
            );
        }
        if (h.hub === true && h.publicEndpoint === undefined) {
            p.add(
                `${at}.publicEndpoint`,
                `is missing, but host ${JSON.stringify(h.name)} is a hub (hub: true) that other hosts must reach from the internet`,
                "set publicEndpoint to its public IP or DNS name, or remove hub: true",
            );
        }
        checkInt(p, `${at}.mtu`, h.mtu, MIN_MTU, MAX_MTU, "", MTU_FIX);
        // Whether a gateway is allowed, and where, depends on a known topology.
        if (h.gateway === true && topologyKnown) {
            const prev = gateways.get(h.location);
            if (topology !== Topology.Locations) {
                p.add(`${at}.gateway`, `only applies to topology "locations", got topology ${JSON.stringify(topology)}`, `remove gateway, or set overlay.topology to "locations"`);
            } else if (prev !== undefined) {
                p.add(
                    `${at}.gateway`,
                    `location ${JSON.stringify(h.location)} already has hosts[${prev}] (${JSON.stringify(hosts[prev].name)}) as gateway`,
                    "mark at most one host per location as gateway",
                );
            } else {
                gateways.set(h.location, i);
            }
        }
        // A pinned address is checked against the overlay CIDR, so only when that parsed.
        if (h.overlayAddress !== undefined && overlay !== undefined) checkPinned(p, `${at}.overlayAddress`, h.overlayAddress, overlay, pinned, i, hosts);
        if (h.lan !== undefined) {
            if (!Array.isArray(h.lan)) {
                p.add(`${at}.lan`, `must be a list of CIDRs, got ${showValue(h.lan)}`, `write e.g. ["192.168.50.0/24"]`);
            } else {
                h.lan.forEach((l, j) => {
                    const c = checkCidr(p, `${at}.lan[${j}]`, l, "192.168.50.0/24");
                    if (c !== undefined) checkOverlap({ path: `${at}.lan[${j}]`, what: "the LAN", cidr: c, host: h.name });
                });
            }
        }
    });
    // Paths follow the topology; the SSH addresses they may use were checked by validateSshHosts.
    if (topologyKnown) {
        pathProblems(p, hosts, topology, sshProblems.length === 0);
        if (operatorNames.length === 0) operatorPathProblems(p, hosts, operators, topology);
    }
    return [...p.problems];
}

/**
 * Checks the overlay arguments before any resource is registered and throws every problem at once (one as a
 * `HybridInfraConfigError`, several as `HybridInfraConfigErrors`): see `overlayProblems`.
 */
export function validateOverlay(args: WireGuardMeshArgs, options: SshCheckOptions = {}): void {
    throwAll(overlayProblems(args, options));
}

/** A pinned overlay address: an IPv4 host address inside the overlay, pinned by no earlier host. */
function checkPinned(p: ProblemList, path: string, address: string, overlay: Ipv4Cidr, pinned: Map<number, number>, i: number, hosts: readonly WireGuardHostArgs[]): void {
    const ip = parseIpv4(address);
    if (ip === undefined) {
        p.add(path, `is not an IPv4 address, got ${showValue(address)}`, `pin a bare address inside ${overlay.text}, e.g. "${formatIpv4(overlay.network + 10)}", or remove overlayAddress`);
        return;
    }
    const range = `${formatIpv4(overlay.network + 1)} to ${formatIpv4(cidrLast(overlay) - 1)}`;
    if (!cidrContains(overlay, ip)) {
        p.add(path, `${address} is outside the overlay overlay.cidr (${overlay.text})`, `pin an address from ${range}, or remove overlayAddress`);
        return;
    }
    if (ip === overlay.network || ip === cidrLast(overlay)) {
        p.add(path, `${address} is the ${ip === overlay.network ? "network" : "broadcast"} address of ${overlay.text}`, `pin a host address from ${range}`);
        return;
    }
    const prev = pinned.get(ip);
    if (prev !== undefined) {
        p.add(path, `${address} is already pinned by hosts[${prev}] (${JSON.stringify(hosts[prev].name)})`, "give every host its own address, or remove overlayAddress to derive one");
        return;
    }
    pinned.set(ip, i);
}

const OPERATOR_NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Operator names: DNS labels, unique, and none a host's name (both share the overlay's address plan, the peer
 * names in every wg0.conf and the keys of `operatorConfigs`). Every problem, each naming both keys. Pure;
 * shared with the cluster's consistency checks.
 */
export function operatorNameProblems(hosts: readonly { readonly name: string }[], operators: readonly { readonly name: string }[]): HybridInfraConfigError[] {
    const out: HybridInfraConfigError[] = [];
    const hostAt = new Map<string, number>();
    hosts.forEach((h, i) => {
        if (!hostAt.has(h.name)) hostAt.set(h.name, i);
    });
    const opAt = new Map<string, number>();
    operators.forEach((o, i) => {
        const at = `overlay.operators[${i}].name`;
        if (typeof o?.name !== "string" || !OPERATOR_NAME_RE.test(o.name)) {
            out.push(new HybridInfraConfigError(at, `must be a lowercase name (letters, digits, '-'), got ${showValue(o?.name)}`, 'name the machine, e.g. "laptop"'));
            return;
        }
        const host = hostAt.get(o.name);
        if (host !== undefined) {
            out.push(
                new HybridInfraConfigError(
                    at,
                    `is ${JSON.stringify(o.name)}, the name of hosts[${host}] too: an operator and a host share the overlay's address plan and the peer names in every WireGuard config, so one would take the other's place`,
                    `give the operator a name no host has, e.g. ${JSON.stringify(`${o.name}-op`)}`,
                ),
            );
        }
        const prev = opAt.get(o.name);
        if (prev !== undefined) {
            out.push(
                new HybridInfraConfigError(
                    at,
                    `is ${JSON.stringify(o.name)}, the name of overlay.operators[${prev}] too: each operator gets its own key, address and config under its name`,
                    `give overlay.operators[${i}] a name no other operator has`,
                ),
            );
        } else {
            opAt.set(o.name, i);
        }
    });
    return out;
}

/**
 * An operator is behind NAT and dials: it needs a hub (`hub`), a relay for the hosts behind NAT (`mesh`), or a
 * location gateway with a public endpoint (`locations`; it also carries the traffic of gateways behind NAT).
 * One problem at most: the first operator's (they all dial the same hosts).
 */
function operatorPathProblems(p: ProblemList, hosts: readonly WireGuardHostArgs[], operators: readonly WireGuardOperatorArgs[], topology: Topology): void {
    if (operators.length === 0) return;
    const op = JSON.stringify(operators[0].name);
    switch (topology) {
        case Topology.Hub: {
            if (hosts.some((h) => h.hub === true)) return;
            const candidates = hosts.filter((h) => h.publicEndpoint !== undefined).map((h) => h.name);
            p.add(
                "overlay.operators[0]",
                `operator ${op} dials the hub of topology "hub", but no host has hub: true`,
                candidates.length > 0 ? `set hub: true on a host with a public endpoint (candidates: ${candidates.join(", ")})` : "give one host its public IP as publicEndpoint and set hub: true on it",
            );
            return;
        }
        case Topology.Mesh: {
            if (hosts.some((h) => h.hub === true)) return;
            const i = hosts.findIndex((h) => h.publicEndpoint === undefined);
            if (i < 0) return;
            p.add(
                "overlay.operators[0]",
                `operator ${op} cannot reach host ${JSON.stringify(hosts[i].name)} (hosts[${i}]): an operator is behind NAT, so is that host (no endpoint), and no hub relays between them`,
                `set hub: true on a host with a public endpoint (it relays), or give ${JSON.stringify(hosts[i].name)} a publicEndpoint`,
            );
            return;
        }
        case Topology.Locations: {
            const gws = [...locationGateways(hosts).entries()];
            if (gws.some(([, gi]) => hosts[gi].publicEndpoint !== undefined)) return;
            const [loc, gi] = gws[0];
            p.add(
                "overlay.operators[0]",
                `operator ${op} dials the location gateways that have a public endpoint, but none has one (gateway ${JSON.stringify(hosts[gi].name)} of location ${JSON.stringify(loc)}, hosts[${gi}], is behind NAT)`,
                `give a host a public endpoint and set gateway: true on it, or use overlay.topology hub or mesh`,
            );
            return;
        }
        default: {
            const never: never = topology;
            throw new Error(`unknown topology ${String(never)}`);
        }
    }
}

/**
 * Every host must reach every other one: checked per topology. A missing hub or relay is one problem (the
 * first pair without a path: one fix serves them all); so is the first pair of gateways both behind NAT. The
 * SSH addresses used as endpoints inside a location are checked only when `validateSshHosts` passed.
 */
function pathProblems(p: ProblemList, hosts: readonly WireGuardHostArgs[], topology: Topology, sshValid: boolean): void {
    const hubs = hosts.filter((h) => h.hub === true);
    switch (topology) {
        case Topology.Hub: {
            if (hubs.length === 0 && hosts.length > 1) {
                const candidates = hosts.filter((h) => h.publicEndpoint !== undefined).map((h) => h.name);
                p.add(
                    "hosts",
                    `topology "hub" needs a hub, but no host has hub: true (got ${hosts.length} hosts)`,
                    candidates.length > 0
                        ? `set hub: true on a host with a public endpoint (candidates: ${candidates.join(", ")})`
                        : "give one host its public IP as publicEndpoint and set hub: true on it",
                );
            }
            return;
        }
        case Topology.Mesh: {
            if (hubs.length > 0) return;
            const nat = hosts.map((h, i) => ({ h, i })).filter(({ h }) => h.publicEndpoint === undefined);
            if (nat.length >= 2) {
                const [a, b] = nat;
                p.add(
                    `hosts[${b.i}]`,
                    `host ${JSON.stringify(b.h.name)} has no path to host ${JSON.stringify(a.h.name)} (hosts[${a.i}]): both are behind NAT (no endpoint) and no hub can relay between them`,
                    "set publicEndpoint on one of them, or set hub: true on a host with a public endpoint to relay",
                );
            }
            return;
        }
        case Topology.Locations: {
            // Inside a location hosts without a public endpoint are reached at their SSH address.
            if (sshValid) {
                hosts.forEach((h, i) => {
                    const shared = hosts.some((o) => o !== h && o.location === h.location);
                    if (shared && h.publicEndpoint === undefined && parseEndpoint(h.address) === undefined) {
                        p.add(
                            `hosts[${i}].ssh.address`,
                            `is the WireGuard endpoint of ${JSON.stringify(h.name)} inside location ${JSON.stringify(h.location)}, but is not an IP address or DNS name, got ${showValue(h.address)}`,
                            "use the host's LAN address as its SSH address, or set publicEndpoint",
                        );
                    }
                });
            }
            const list = [...locationGateways(hosts).entries()];
            for (let x = 0; x < list.length; x++) {
                for (let y = x + 1; y < list.length; y++) {
                    const [la, ia] = list[x];
                    const [lb, ib] = list[y];
                    if (hosts[ia].publicEndpoint === undefined && hosts[ib].publicEndpoint === undefined) {
                        p.add(
                            `hosts[${ib}]`,
                            `gateway ${JSON.stringify(hosts[ib].name)} of location ${JSON.stringify(lb)} has no path to gateway ${JSON.stringify(hosts[ia].name)} of location ${JSON.stringify(la)} (hosts[${ia}]): both are behind NAT (no endpoint)`,
                            "give one of the two locations a gateway with a public endpoint (gateway: true on a host with a publicEndpoint)",
                        );
                        return;
                    }
                }
            }
            return;
        }
        default: {
            const never: never = topology;
            throw new Error(`unknown topology ${String(never)}`);
        }
    }
}

/**
 * The gateway of each location (location → host index), in order of first appearance: the host marked
 * `gateway`, else its hub, else its first host with a public endpoint, else its first host.
 */
export function locationGateways(hosts: readonly Pick<WireGuardHostArgs, "location" | "gateway" | "hub" | "publicEndpoint">[]): Map<string, number> {
    const out = new Map<string, number>();
    const rank = (h: Pick<WireGuardHostArgs, "gateway" | "hub" | "publicEndpoint">): number => (h.gateway === true ? 0 : h.hub === true ? 1 : h.publicEndpoint !== undefined ? 2 : 3);
    hosts.forEach((h, i) => {
        const cur = out.get(h.location);
        if (cur === undefined || rank(h) < rank(hosts[cur])) out.set(h.location, i);
    });
    return out;
}
