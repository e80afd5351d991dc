import { validateSshHosts } from "../host/model";
import { cidrContains, cidrLast, cidrOverlaps, formatIpv4, Ipv4Cidr, parseCidr, parseIpv4, usableHostCount } from "../util/cidr";
import { HybridInfraConfigError, nearest, showValue } from "../util/errors";
import { MAX_KEEPALIVE, MAX_MTU, MIN_KEEPALIVE, MIN_MTU, OVERLAY_DEFAULTS, Topology, WireGuardHostArgs, WireGuardMeshArgs } from "./model";

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

function checkInt(path: string, value: unknown, min: number, max: number, what: string, fix: string): void {
    if (value === undefined) return;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
        throw new HybridInfraConfigError(path, `must be an integer from ${min} to ${max}${what}, got ${showValue(value)}`, fix);
    }
}

/** How to fix an MTU out of range (shared with the stack-config schema). */
export const MTU_FIX = `use ${OVERLAY_DEFAULTS.mtu} (the default), or a lower value such as 1412 or 1400 behind PPPoE or DS-Lite links; below ${MIN_MTU} IPv6 cannot cross the tunnel, above ${MAX_MTU} no 9000-byte jumbo frame can carry it`;

/** How to fix a keepalive out of range (shared with the stack-config schema). */
export const KEEPALIVE_FIX = `use ${OVERLAY_DEFAULTS.keepalive} (keeps NAT mappings open on common routers), or leave overlay.keepalive out to send keepalives from hosts behind NAT only`;

function checkCidr(path: string, value: unknown, example: string): Ipv4Cidr {
    const c = typeof value === "string" ? parseCidr(value) : undefined;
    if (c === undefined) {
        throw new HybridInfraConfigError(path, `is not an IPv4 CIDR, got ${showValue(value)}`, `write it as network/prefix, e.g. ${JSON.stringify(example)}`);
    }
    if (c.hostBitsSet) {
        throw new HybridInfraConfigError(path, `has host bits set, got ${showValue(value)}`, `use the network address ${JSON.stringify(c.text)}`);
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
 * Checks the overlay arguments before any resource is registered: hosts (SSH, names, locations,
 * endpoints, pinned addresses, MTUs), the overlay settings, overlaps between the overlay, every advertised
 * LAN, the pod and the service CIDR, and that every host has a path to every other one.
 * Throws `HybridInfraConfigError` naming the config path (`hosts[2].lan[0]`, `overlay.cidr`, …).
 */
export function validateOverlay(args: WireGuardMeshArgs): void {
    const hosts = args.hosts;
    if (!Array.isArray(hosts) || hosts.length === 0) {
        throw new HybridInfraConfigError("hosts", `is empty, got ${showValue(hosts)}`, "list at least one machine under hosts");
    }
    validateSshHosts(hosts, "hosts");

    const topology = args.topology ?? OVERLAY_DEFAULTS.topology;
    if (!TOPOLOGIES.includes(topology)) {
        const near = nearest(String(topology), TOPOLOGIES);
        throw new HybridInfraConfigError(
            "overlay.topology",
            `must be one of ${TOPOLOGIES.map((t) => JSON.stringify(t)).join(", ")}, got ${showValue(topology)}`,
            near !== undefined ? `use ${JSON.stringify(near)}` : `use "hub" (the default) unless every pair of hosts can reach each other`,
        );
    }
    const overlay = checkCidr("overlay.cidr", args.cidr ?? OVERLAY_DEFAULTS.cidr, OVERLAY_DEFAULTS.cidr);
    checkInt("overlay.listenPort", args.listenPort, 1, 65535, "", `use a free UDP port, e.g. ${OVERLAY_DEFAULTS.listenPort}`);
    const iface = args.interfaceName ?? OVERLAY_DEFAULTS.interfaceName;
    if (typeof iface !== "string" || !INTERFACE_RE.test(iface)) {
        throw new HybridInfraConfigError(
            "overlay.interfaceName",
            `must be 1 to 15 letters, digits or "_=+.-", got ${showValue(iface)}`,
            `use a short name such as "${OVERLAY_DEFAULTS.interfaceName}"`,
        );
    }
    checkInt("overlay.keepalive", args.keepalive, MIN_KEEPALIVE, MAX_KEEPALIVE, " seconds", KEEPALIVE_FIX);
    checkInt("overlay.mtu", args.mtu, MIN_MTU, MAX_MTU, "", MTU_FIX);
    const pod = checkCidr("overlay.podCidr", args.podCidr ?? OVERLAY_DEFAULTS.podCidr, OVERLAY_DEFAULTS.podCidr);
    const svc = checkCidr("overlay.serviceCidr", args.serviceCidr ?? OVERLAY_DEFAULTS.serviceCidr, OVERLAY_DEFAULTS.serviceCidr);

    const operators = args.operators ?? [];
    if (!Array.isArray(operators)) {
        throw new HybridInfraConfigError("overlay.operators", `must be a list, got ${showValue(operators)}`, 'write e.g. [{ name: "laptop" }]');
    }
    const first = operatorNameProblems(hosts, operators)[0];
    if (first !== undefined) throw first;
    const members = hosts.length + operators.length;
    if (usableHostCount(overlay) < members) {
        const ops = operators.length > 0 ? ` and ${operators.length} operator${operators.length === 1 ? "" : "s"}` : "";
        throw new HybridInfraConfigError(
            "overlay.cidr",
            `${overlay.text} has room for ${usableHostCount(overlay)} hosts, got ${hosts.length} hosts${ops}`,
            `use a larger block: a /${prefixFor(members)} or shorter prefix`,
        );
    }

    const blocks: NamedCidr[] = [
        { path: "overlay.cidr", what: "the overlay CIDR", cidr: overlay },
        { path: "overlay.podCidr", what: "the pod CIDR", cidr: pod },
        { path: "overlay.serviceCidr", what: "the service CIDR", cidr: svc },
    ];
    const checkOverlap = (b: NamedCidr): void => {
        for (const other of blocks) {
            if (!cidrOverlaps(b.cidr, other.cidr)) continue;
            const fix =
                b.host !== undefined && other.host !== undefined
                    ? "advertise each LAN from one host only (one subnet router per LAN)"
                    : b.host !== undefined
                      ? `advertise only the LAN's own block, outside ${other.cidr.text}, or move ${other.path}`
                      : "choose blocks that do not overlap, e.g. the overlay in 10.100.0.0/24, pods in 10.42.0.0/16, services in 10.43.0.0/16";
            const owner = other.host !== undefined ? ` of host ${JSON.stringify(other.host)}` : "";
            throw new HybridInfraConfigError(b.path, `${b.cidr.text} overlaps ${other.what} ${other.path} (${other.cidr.text})${owner}`, fix);
        }
        blocks.push(b);
    };
    // The three cluster blocks first, so that their own overlaps are reported on the later key.
    const [o, p, s] = blocks.splice(0);
    checkOverlap(o);
    checkOverlap(p);
    checkOverlap(s);

    const pinned = new Map<number, number>();
    const gateways = new Map<string, number>();
    hosts.forEach((h: WireGuardHostArgs, i) => {
        const at = `hosts[${i}]`;
        if (typeof h.location !== "string" || !LOCATION_RE.test(h.location)) {
            throw new HybridInfraConfigError(
                `${at}.location`,
                `must be a lowercase name (letters, digits, '-'), got ${showValue(h.location)}`,
                `name where the machine is, e.g. "tokyo" or "home"`,
            );
        }
        if (h.endpoint !== undefined && parseEndpoint(h.endpoint) === undefined) {
            throw new HybridInfraConfigError(
                `${at}.endpoint`,
                `is not an IP address or DNS name with an optional :port, got ${showValue(h.endpoint)}`,
                `use the public IP or DNS name only, e.g. "203.0.113.10" or "vpn.example.org:51820"`,
            );
        }
        if (h.hub === true && h.endpoint === undefined) {
            throw new HybridInfraConfigError(
                `${at}.endpoint`,
                `is missing, but host ${JSON.stringify(h.name)} is a hub (hub: true) that other hosts must reach from the internet`,
                "set endpoint to its public IP or DNS name, or remove hub: true",
            );
        }
        checkInt(`${at}.mtu`, h.mtu, MIN_MTU, MAX_MTU, "", MTU_FIX);
        if (h.gateway === true) {
            if (topology !== Topology.Locations) {
                throw new HybridInfraConfigError(
                    `${at}.gateway`,
                    `only applies to topology "locations", got topology ${JSON.stringify(topology)}`,
                    `remove gateway, or set overlay.topology to "locations"`,
                );
            }
            const prev = gateways.get(h.location);
            if (prev !== undefined) {
                throw new HybridInfraConfigError(
                    `${at}.gateway`,
                    `location ${JSON.stringify(h.location)} already has hosts[${prev}] (${JSON.stringify(hosts[prev].name)}) as gateway`,
                    "mark at most one host per location as gateway",
                );
            }
            gateways.set(h.location, i);
        }
        if (h.overlayAddress !== undefined) {
            const ip = parseIpv4(h.overlayAddress);
            if (ip === undefined) {
                throw new HybridInfraConfigError(
                    `${at}.overlayAddress`,
                    `is not an IPv4 address, got ${showValue(h.overlayAddress)}`,
                    `pin a bare address inside ${overlay.text}, e.g. "${formatIpv4(overlay.network + 10)}", or remove overlayAddress`,
                );
            }
            const range = `${formatIpv4(overlay.network + 1)} to ${formatIpv4(cidrLast(overlay) - 1)}`;
            if (!cidrContains(overlay, ip)) {
                throw new HybridInfraConfigError(
                    `${at}.overlayAddress`,
                    `${h.overlayAddress} is outside the overlay overlay.cidr (${overlay.text})`,
                    `pin an address from ${range}, or remove overlayAddress`,
                );
            }
            if (ip === overlay.network || ip === cidrLast(overlay)) {
                throw new HybridInfraConfigError(
                    `${at}.overlayAddress`,
                    `${h.overlayAddress} is the ${ip === overlay.network ? "network" : "broadcast"} address of ${overlay.text}`,
                    `pin a host address from ${range}`,
                );
            }
            const prev = pinned.get(ip);
            if (prev !== undefined) {
                throw new HybridInfraConfigError(
                    `${at}.overlayAddress`,
                    `${h.overlayAddress} is already pinned by hosts[${prev}] (${JSON.stringify(hosts[prev].name)})`,
                    "give every host its own address, or remove overlayAddress to derive one",
                );
            }
            pinned.set(ip, i);
        }
        if (h.lan !== undefined) {
            if (!Array.isArray(h.lan)) {
                throw new HybridInfraConfigError(`${at}.lan`, `must be a list of CIDRs, got ${showValue(h.lan)}`, `write e.g. ["192.168.50.0/24"]`);
            }
            h.lan.forEach((l, j) => {
                const c = checkCidr(`${at}.lan[${j}]`, l, "192.168.50.0/24");
                checkOverlap({ path: `${at}.lan[${j}]`, what: "the LAN", cidr: c, host: h.name });
            });
        }
    });
    validatePaths(args, topology);
    validateOperatorPaths(args, topology);
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
 */
function validateOperatorPaths(args: WireGuardMeshArgs, topology: Topology): void {
    const operators = args.operators ?? [];
    if (operators.length === 0) return;
    const hosts = args.hosts;
    const op = JSON.stringify(operators[0].name);
    switch (topology) {
        case Topology.Hub: {
            if (hosts.some((h) => h.hub === true)) return;
            const candidates = hosts.filter((h) => h.endpoint !== undefined).map((h) => h.name);
            throw new HybridInfraConfigError(
                "overlay.operators[0]",
                `operator ${op} dials the hub of topology "hub", but no host has hub: true`,
                candidates.length > 0 ? `set hub: true on a host with a public endpoint (candidates: ${candidates.join(", ")})` : "give one host its public IP as endpoint and set hub: true on it",
            );
        }
        case Topology.Mesh: {
            if (hosts.some((h) => h.hub === true)) return;
            const i = hosts.findIndex((h) => h.endpoint === undefined);
            if (i < 0) return;
            throw new HybridInfraConfigError(
                "overlay.operators[0]",
                `operator ${op} cannot reach host ${JSON.stringify(hosts[i].name)} (hosts[${i}]): an operator is behind NAT, so is that host (no endpoint), and no hub relays between them`,
                `set hub: true on a host with a public endpoint (it relays), or give ${JSON.stringify(hosts[i].name)} an endpoint`,
            );
        }
        case Topology.Locations: {
            const gws = [...locationGateways(hosts).entries()];
            if (gws.some(([, gi]) => hosts[gi].endpoint !== undefined)) return;
            const [loc, gi] = gws[0];
            throw new HybridInfraConfigError(
                "overlay.operators[0]",
                `operator ${op} dials the location gateways that have a public endpoint, but none has one (gateway ${JSON.stringify(hosts[gi].name)} of location ${JSON.stringify(loc)}, hosts[${gi}], is behind NAT)`,
                `give a host a public endpoint and set gateway: true on it, or use overlay.topology hub or mesh`,
            );
        }
        default: {
            const never: never = topology;
            throw new Error(`unknown topology ${String(never)}`);
        }
    }
}

/** Every host must reach every other one: checked per topology. */
function validatePaths(args: WireGuardMeshArgs, topology: Topology): void {
    const hosts = args.hosts;
    const hubs = hosts.filter((h) => h.hub === true);
    switch (topology) {
        case Topology.Hub: {
            if (hubs.length === 0 && hosts.length > 1) {
                const candidates = hosts.filter((h) => h.endpoint !== undefined).map((h) => h.name);
                throw new HybridInfraConfigError(
                    "hosts",
                    `topology "hub" needs a hub, but no host has hub: true (got ${hosts.length} hosts)`,
                    candidates.length > 0
                        ? `set hub: true on a host with a public endpoint (candidates: ${candidates.join(", ")})`
                        : "give one host its public IP as endpoint and set hub: true on it",
                );
            }
            return;
        }
        case Topology.Mesh: {
            if (hubs.length > 0) return;
            const nat = hosts.map((h, i) => ({ h, i })).filter(({ h }) => h.endpoint === undefined);
            if (nat.length >= 2) {
                const [a, b] = nat;
                throw new HybridInfraConfigError(
                    `hosts[${b.i}]`,
                    `host ${JSON.stringify(b.h.name)} has no path to host ${JSON.stringify(a.h.name)} (hosts[${a.i}]): both are behind NAT (no endpoint) and no hub can relay between them`,
                    "set endpoint on one of them, or set hub: true on a host with a public endpoint to relay",
                );
            }
            return;
        }
        case Topology.Locations: {
            // Inside a location hosts without a public endpoint are reached at their SSH address.
            hosts.forEach((h, i) => {
                const shared = hosts.some((o) => o !== h && o.location === h.location);
                if (shared && h.endpoint === undefined && parseEndpoint(h.address) === undefined) {
                    throw new HybridInfraConfigError(
                        `hosts[${i}].ssh.host`,
                        `is the WireGuard endpoint of ${JSON.stringify(h.name)} inside location ${JSON.stringify(h.location)}, but is not an IP address or DNS name, got ${showValue(h.address)}`,
                        "use the host's LAN address as its SSH address, or set endpoint",
                    );
                }
            });
            const gws = locationGateways(hosts);
            const list = [...gws.entries()];
            for (let x = 0; x < list.length; x++) {
                for (let y = x + 1; y < list.length; y++) {
                    const [la, ia] = list[x];
                    const [lb, ib] = list[y];
                    if (hosts[ia].endpoint === undefined && hosts[ib].endpoint === undefined) {
                        throw new HybridInfraConfigError(
                            `hosts[${ib}]`,
                            `gateway ${JSON.stringify(hosts[ib].name)} of location ${JSON.stringify(lb)} has no path to gateway ${JSON.stringify(hosts[ia].name)} of location ${JSON.stringify(la)} (hosts[${ia}]): both are behind NAT (no endpoint)`,
                            "give one of the two locations a gateway with a public endpoint (gateway: true on a host with endpoint)",
                        );
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
export function locationGateways(hosts: readonly Pick<WireGuardHostArgs, "location" | "gateway" | "hub" | "endpoint">[]): Map<string, number> {
    const out = new Map<string, number>();
    const rank = (h: Pick<WireGuardHostArgs, "gateway" | "hub" | "endpoint">): number => (h.gateway === true ? 0 : h.hub === true ? 1 : h.endpoint !== undefined ? 2 : 3);
    hosts.forEach((h, i) => {
        const cur = out.get(h.location);
        if (cur === undefined || rank(h) < rank(hosts[cur])) out.set(h.location, i);
    });
    return out;
}
