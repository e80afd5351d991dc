import * as crypto from "node:crypto";
import { cidr as parseCidrStrict, formatIpv4, Ipv4Cidr, parseIpv4, usableHostCount } from "../util/cidr";
import { OVERLAY_DEFAULTS, Topology, WireGuardHostArgs, WireGuardMeshArgs, WireGuardOperatorArgs } from "./model";
import { WgInterfaceSpec } from "./render";
import { locationGateways, parseEndpoint, validateOverlay } from "./validate";
import { compact } from "../util/compact";

/** One `[Peer]` section of a node's config, before keys are known. */
export interface PlannedPeer {
    /** Host name of the peer. */
    readonly name: string;
    /** `host:port` to reach the peer at; absent when the peer is behind NAT (it connects to us). */
    readonly endpoint?: string;
    /** Overlay addresses (/32) and CIDRs routed to this peer. */
    readonly allowedIps: readonly string[];
    /** Set when this node is behind NAT (it keeps the mapping open), or on every peer when `keepalive` is set. */
    readonly persistentKeepalive?: number;
    /** The pair shares a preshared key. */
    readonly presharedKey: boolean;
}

/** What one host of the overlay gets. */
export interface PlannedNode {
    readonly name: string;
    readonly location: string;
    /** Overlay address (no prefix). */
    readonly address: string;
    readonly mtu: number;
    /** `host:port` others use, absent behind NAT. */
    readonly endpoint?: string;
    readonly nat: boolean;
    readonly hub: boolean;
    /** Location gateway (`locations` topology only). */
    readonly gateway: boolean;
    /** Forwards IP traffic: hubs, location gateways and subnet routers. */
    readonly forward: boolean;
    /**
     * Opens the WireGuard UDP port in the host firewall: forwarders and hosts with a public endpoint. (Every
     * host opens the overlay interface and the pod and service CIDRs: see `hostFirewallRules`.)
     */
    readonly openListenPort: boolean;
    /** LANs this host advertises (it forwards and masquerades into them). */
    readonly lan: readonly string[];
    readonly peers: readonly PlannedPeer[];
}

/** What one operator peer gets (see `WireGuardOperatorArgs`): its address and the `[Peer]`s of its client config. */
export interface PlannedOperator {
    readonly name: string;
    /** Overlay address (no prefix), planned after every host's. */
    readonly address: string;
    /** The overlay's MTU. */
    readonly mtu: number;
    /** The hosts it dials, each with an endpoint and `PersistentKeepalive`. */
    readonly peers: readonly PlannedPeer[];
}

/** The whole overlay, decided from validated arguments. Pure data. */
export interface OverlayPlan {
    readonly topology: Topology;
    /** Overlay CIDR, canonical. */
    readonly cidr: string;
    readonly prefix: number;
    readonly interfaceName: string;
    readonly listenPort: number;
    readonly keepalive: number;
    readonly presharedKeys: boolean;
    /** The k3s pod CIDR, canonical: every host's firewall accepts traffic from it. */
    readonly podCidr: string;
    /** The k3s service CIDR, canonical: every host's firewall accepts traffic from it. */
    readonly serviceCidr: string;
    /** Nodes in the order of the hosts. Hosts that an operator dials list it as a peer after every host. */
    readonly nodes: readonly PlannedNode[];
    /**
     * Host pairs that peer directly, each sorted by name, in a stable order (preshared keys). Operators are not
     * in it: their pairs are their `peers`.
     */
    readonly pairs: readonly (readonly [string, string])[];
    /** Operator peers, in the order given. */
    readonly operators: readonly PlannedOperator[];
}

function hashOffset(name: string, usable: number): number {
    const digest = crypto.createHash("sha256").update(`hybridinfra-overlay/${name}`).digest();
    // 48 bits keep the modulo bias negligible for any block size.
    return digest.readUIntBE(0, 6) % usable;
}

/**
 * The address a host would get in an empty overlay: the start of its probe sequence. Depends only on
 * the host name and the CIDR.
 */
export function preferredAddress(name: string, overlayCidr: string): string {
    const c = parseCidrStrict(overlayCidr);
    return formatIpv4(c.network + 1 + hashOffset(name, usableHostCount(c)));
}

/**
 * Overlay addresses by host name.
 *
 * Pinned addresses are reserved first. Then, in the order of the list, each host takes the first free
 * address of its own probe sequence (a hash of its name, then the following addresses, skipping the
 * network and broadcast addresses). The result therefore:
 * - never depends on hosts later in the list: appending a host moves no one;
 * - gives most hosts the address preferred by their name alone, whatever other hosts exist; a host that
 *   got its preferred address keeps it when any other host is removed, and when a host is inserted
 *   anywhere whose own preferred address is free.
 * Only hosts that lost a hash collision to an earlier host can move when that host is inserted before
 * them or removed; pin `overlayAddress` to rule that out. (A pure function of the host set cannot do
 * better: two names preferring one address would each need it.)
 */
export function planOverlayAddresses(hosts: readonly Pick<WireGuardHostArgs, "name" | "overlayAddress">[], overlayCidr: string): Record<string, string> {
    const c: Ipv4Cidr = parseCidrStrict(overlayCidr);
    const usable = usableHostCount(c);
    if (usable < hosts.length) throw new Error(`${c.text} has room for ${usable} hosts, got ${hosts.length}`);
    const taken = new Set<number>();
    const out: Record<string, string> = {};
    for (const h of hosts) {
        if (h.overlayAddress === undefined) continue;
        const ip = parseIpv4(h.overlayAddress);
        if (ip === undefined) throw new Error(`bad pinned address ${h.overlayAddress} (validateOverlay was not called)`);
        taken.add(ip - c.network - 1);
        out[h.name] = formatIpv4(ip);
    }
    for (const h of hosts) {
        if (h.overlayAddress !== undefined) continue;
        let offset = hashOffset(h.name, usable);
        while (taken.has(offset)) offset = (offset + 1) % usable;
        taken.add(offset);
        out[h.name] = formatIpv4(c.network + 1 + offset);
    }
    return out;
}

/**
 * A member of the overlay as the peer planner sees it: a host, or an operator, which is behind NAT and alone in
 * a location of its own (so every advertised LAN is routed to it, and in the `locations` topology it is the
 * gateway of that location).
 */
type Member = Pick<WireGuardHostArgs, "name" | "location" | "publicEndpoint" | "hub" | "lan" | "address" | "gateway"> & { readonly operator?: boolean };

/** The planner's member for an operator: its location name cannot be a host's (those are DNS labels). */
function operatorMember(o: WireGuardOperatorArgs): Member {
    return { name: o.name, location: `operator:${o.name}`, address: "", operator: true };
}

/** The names to plan addresses for: every host, then every operator (so an operator never moves a host). */
export function overlayAddressEntries(args: Pick<WireGuardMeshArgs, "hosts" | "operators">): Pick<WireGuardHostArgs, "name" | "overlayAddress">[] {
    return [
        ...args.hosts.map((h) => ({ name: h.name, ...compact({ overlayAddress: h.overlayAddress }) })),
        ...(args.operators ?? []).map((o) => ({ name: o.name })),
    ];
}

interface Resolved {
    readonly args: WireGuardMeshArgs;
    readonly topology: Topology;
    readonly overlay: Ipv4Cidr;
    readonly listenPort: number;
    readonly keepalive: number;
    readonly addresses: Record<string, string>;
}

function endpointOf(text: string, listenPort: number): string {
    const e = parseEndpoint(text);
    if (e === undefined) throw new Error(`bad endpoint ${text} (validateOverlay was not called)`);
    return `${e.host}:${e.port ?? listenPort}`;
}

/** LANs of `target` that `viewer` routes through the overlay: none when both are in one location. */
function lansFor(target: Member, viewer: Member): string[] {
    return target.location === viewer.location ? [] : (target.lan ?? []).map((l) => parseCidrStrict(l).text);
}

/**
 * The `[Peer]` sections of every host and operator, by name, for the topology. Expects validated arguments
 * and the addresses from `planOverlayAddresses` (of `overlayAddressEntries`). A host's peers that are operators
 * come after all its host peers, so adding an operator appends to the configs it touches.
 */
export function planPeers(args: WireGuardMeshArgs, addresses: Record<string, string>): Record<string, PlannedPeer[]> {
    const r: Resolved = {
        args,
        topology: args.topology ?? OVERLAY_DEFAULTS.topology,
        overlay: parseCidrStrict(args.cidr ?? OVERLAY_DEFAULTS.cidr),
        listenPort: args.listenPort ?? OVERLAY_DEFAULTS.listenPort,
        keepalive: args.keepalive ?? OVERLAY_DEFAULTS.keepalive,
        addresses,
    };
    const hosts: readonly Member[] = args.hosts;
    // Operators after the hosts: behind NAT, each alone in its own location.
    const members: readonly Member[] = [...hosts, ...(args.operators ?? []).map(operatorMember)];
    const psk = args.presharedKeys ?? OVERLAY_DEFAULTS.presharedKeys;
    // Hosts behind NAT keep their mapping open; a keepalive the user set explicitly applies to every peer of
    // every host (seed 001 sets 20 on all nodes, public ones included).
    const everyPeer = args.keepalive !== undefined;
    const ka = (viewer: Member): { persistentKeepalive?: number } =>
        everyPeer || viewer.publicEndpoint === undefined ? { persistentKeepalive: r.keepalive } : {};
    const direct = (viewer: Member, target: Member, allowedIps: string[], endpoint?: string): PlannedPeer => ({
        name: target.name,
        ...(endpoint !== undefined ? { endpoint } : target.publicEndpoint !== undefined ? { endpoint: endpointOf(target.publicEndpoint, r.listenPort) } : {}),
        allowedIps,
        ...ka(viewer),
        presharedKey: psk,
    });
    const self = (h: Member): string => `${addresses[h.name]}/32`;
    // Few hosts route LANs: scanning only those keeps the per-host LAN lists linear in the fleet size.
    const lanHosts = hosts.filter((h) => (h.lan ?? []).length > 0);
    const out: Record<string, PlannedPeer[]> = {};

    switch (r.topology) {
        case Topology.Hub: {
            const hubs = hosts.filter((h) => h.hub === true);
            const primary = hubs[0];
            for (const n of members) {
                if (n.hub === true) {
                    out[n.name] = members.filter((m) => m !== n).map((m) => direct(n, m, [self(m), ...lansFor(m, n)]));
                    continue;
                }
                // A spoke or an operator: the hubs only.
                out[n.name] = hubs.map((hub) => {
                    if (hub !== primary) return direct(n, hub, [self(hub), ...lansFor(hub, n)]);
                    // The whole overlay goes to the primary hub, so a new spoke changes no other spoke.
                    const lans = lanHosts.filter((m) => m !== n && (m.hub !== true || m === primary)).flatMap((m) => lansFor(m, n));
                    return direct(n, hub, [r.overlay.text, ...lans]);
                });
            }
            break;
        }
        case Topology.Mesh: {
            const relay = hosts.find((h) => h.hub === true);
            // Operators are behind NAT: they peer with every host with a public endpoint, and reach (and are
            // reached by) the hosts behind NAT through the relay.
            for (const n of members) {
                const relayed: string[] = [];
                const peers: { target: Member; allowed: string[] }[] = [];
                for (const m of members) {
                    if (m === n) continue;
                    if (n.publicEndpoint !== undefined || m.publicEndpoint !== undefined) peers.push({ target: m, allowed: [self(m), ...lansFor(m, n)] });
                    else relayed.push(self(m), ...lansFor(m, n));
                }
                out[n.name] = peers.map(({ target, allowed }) => direct(n, target, target === relay ? [...allowed, ...relayed] : allowed));
            }
            break;
        }
        case Topology.Locations: {
            // An operator is the gateway of its own location: it peers with every location's gateway that has a
            // public endpoint, never with another operator. A gateway behind NAT and an operator cannot dial each
            // other: they meet through the anchor, the first gateway with a public endpoint (validation requires one).
            const gws = locationGateways(members);
            const gwOf = (loc: string): Member => members[gws.get(loc)!];
            const anchor = [...gws.values()].map((gi) => members[gi]).find((g) => g.operator !== true && g.publicEndpoint !== undefined);
            for (const n of members) {
                const gw = gwOf(n.location);
                const peers: PlannedPeer[] = [];
                for (const m of members) {
                    if (m === n || m.location !== n.location) continue;
                    // Hosts of one location share a network: they meet at their SSH address unless public.
                    const endpoint = endpointOf(m.publicEndpoint ?? m.address, r.listenPort);
                    if (m === gw) {
                        const remoteLans = lanHosts.filter((x) => x.location !== n.location).flatMap((x) => lansFor(x, n));
                        peers.push(direct(n, m, [self(m), r.overlay.text, ...remoteLans], endpoint));
                    } else {
                        peers.push(direct(n, m, [self(m)], endpoint));
                    }
                }
                const viaAnchor: string[] = [];
                if (n === gw) {
                    for (const [loc, gi] of gws) {
                        const g = members[gi];
                        if (loc === n.location || (n.operator === true && g.operator === true)) continue;
                        const site = members.filter((x) => x.location === loc);
                        const allowed = [...site.map(self), ...site.flatMap((x) => lansFor(x, n))];
                        if ((n.operator === true || g.operator === true) && n.publicEndpoint === undefined && g.publicEndpoint === undefined) viaAnchor.push(...allowed);
                        else peers.push(direct(n, g, allowed));
                    }
                }
                out[n.name] = viaAnchor.length === 0 ? peers : peers.map((p) => (p.name === anchor?.name ? { ...p, allowedIps: [...p.allowedIps, ...viaAnchor] } : p));
            }
            break;
        }
        default: {
            const never: never = r.topology;
            throw new Error(`unknown topology ${String(never)}`);
        }
    }
    return out;
}

/** Validates the arguments and decides the whole overlay: addresses, peers, forwarding. Pure. */
export function planOverlay(args: WireGuardMeshArgs): OverlayPlan {
    validateOverlay(args);
    return decideOverlay(args);
}

/**
 * Decides the whole overlay from arguments that `validateOverlay` (or the cluster's validation) already
 * accepted: addresses, peers, forwarding, and each host's MTU (its own, else the overlay's, else 1420). Pure.
 */
export function decideOverlay(args: WireGuardMeshArgs): OverlayPlan {
    const topology = args.topology ?? OVERLAY_DEFAULTS.topology;
    const overlay = parseCidrStrict(args.cidr ?? OVERLAY_DEFAULTS.cidr);
    const listenPort = args.listenPort ?? OVERLAY_DEFAULTS.listenPort;
    const addresses = planOverlayAddresses(overlayAddressEntries(args), overlay.text);
    const peers = planPeers(args, addresses);
    const operatorNames = new Set((args.operators ?? []).map((o) => o.name));
    const gws = topology === Topology.Locations ? new Set(locationGateways(args.hosts).values()) : new Set<number>();
    const nodes: PlannedNode[] = args.hosts.map((h, i) => {
        const lan = (h.lan ?? []).map((l) => parseCidrStrict(l).text);
        const gateway = gws.has(i);
        const hub = h.hub === true && topology !== Topology.Locations;
        const forward = hub || gateway || lan.length > 0;
        return {
            name: h.name,
            location: h.location,
            address: addresses[h.name],
            mtu: h.mtu ?? args.mtu ?? OVERLAY_DEFAULTS.mtu,
            ...(h.publicEndpoint !== undefined ? { endpoint: endpointOf(h.publicEndpoint, listenPort) } : {}),
            nat: h.publicEndpoint === undefined,
            hub,
            gateway,
            forward,
            openListenPort: forward || h.publicEndpoint !== undefined,
            lan,
            peers: peers[h.name],
        };
    });
    const seen = new Set<string>();
    const pairs: [string, string][] = [];
    for (const n of nodes) {
        for (const p of n.peers) {
            if (operatorNames.has(p.name)) continue;
            const pair: [string, string] = n.name < p.name ? [n.name, p.name] : [p.name, n.name];
            const key = pair.join("\u0000");
            if (!seen.has(key)) {
                seen.add(key);
                pairs.push(pair);
            }
        }
    }
    return {
        topology,
        cidr: overlay.text,
        prefix: overlay.prefix,
        interfaceName: args.interfaceName ?? OVERLAY_DEFAULTS.interfaceName,
        listenPort,
        keepalive: args.keepalive ?? OVERLAY_DEFAULTS.keepalive,
        presharedKeys: args.presharedKeys ?? OVERLAY_DEFAULTS.presharedKeys,
        podCidr: parseCidrStrict(args.podCidr ?? OVERLAY_DEFAULTS.podCidr).text,
        serviceCidr: parseCidrStrict(args.serviceCidr ?? OVERLAY_DEFAULTS.serviceCidr).text,
        nodes,
        pairs,
        operators: (args.operators ?? []).map((o) => ({ name: o.name, address: addresses[o.name], mtu: args.mtu ?? OVERLAY_DEFAULTS.mtu, peers: peers[o.name] })),
    };
}

/**
 * The interface spec of one planned host, given every host's public key: what its wg-quick config and its
 * host steps are rendered from (`renderWgConf`, `renderConfigBody`).
 */
export function interfaceSpecFromPlan(plan: OverlayPlan, host: string, publicKeys: Record<string, string>): WgInterfaceSpec {
    const node = plan.nodes.find((n) => n.name === host);
    if (node === undefined) throw new Error(`host ${host} is not in the plan`);
    return {
        host,
        interfaceName: plan.interfaceName,
        address: node.address,
        overlayCidr: plan.cidr,
        listenPort: plan.listenPort,
        mtu: node.mtu,
        forward: node.forward,
        openListenPort: node.openListenPort,
        trustedSources: [plan.podCidr, plan.serviceCidr],
        lan: node.lan,
        peers: node.peers.map((p) => {
            const publicKey = publicKeys[p.name];
            if (publicKey === undefined) throw new Error(`no public key for peer ${p.name} of ${host}`);
            const address = plan.nodes.find((n) => n.name === p.name)?.address;
            return { ...p, publicKey, ...compact({ address }) };
        }),
    };
}
