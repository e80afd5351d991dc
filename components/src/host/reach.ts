/**
 * How the machine that runs `pulumi up` reaches each host over SSH, checked before anything is registered.
 *
 * Every host step runs over SSH *before the overlay exists*, so only routes that exist without the overlay
 * count. The three working models:
 * - run from home: home hosts at their LAN address (no jump host), cloud hosts at their public address;
 * - run from outside: one forwarded port on the home router to one home host (its `ssh.address`/`ssh.port`
 *   are the router's public address and that port), the other home hosts with that host as `jumpHost`;
 * - run from a machine already on the overlay (after a first run from home or from outside).
 *
 * The graph check finds what cannot work: a private address reached through a jump host that is public and
 * in another location (a cloud VM cannot route into a home LAN behind NAT), jump loops, unknown jump
 * hosts, and chains of more than one hop (pulumi-command 1.2.1's `connection.proxy` is a
 * `ProxyConnectionArgs`, which has no `proxy` of its own, so a second hop cannot be expressed).
 */
import * as net from "node:net";
import { parseIpv4, prefixMask } from "../util/cidr";
import { HybridInfraConfigError, showValue } from "../util/errors";

/** What an SSH address is, as far as routing before the overlay goes. */
export const AddressScope = {
    /** RFC 1918, CGNAT (RFC 6598), link-local, IPv6 ULA or link-local: only reachable from its own network. */
    Private: "private",
    /** Loopback: only the machine itself. */
    Loopback: "loopback",
    /** Any other IP literal: routed on the internet. */
    Public: "public",
    /** A DNS name: its scope is not known offline. */
    Name: "name",
} as const;
export type AddressScope = (typeof AddressScope)[keyof typeof AddressScope];

const PRIVATE_V4 = (
    [
        ["10.0.0.0", 8, "RFC 1918"],
        ["172.16.0.0", 12, "RFC 1918"],
        ["192.168.0.0", 16, "RFC 1918"],
        ["100.64.0.0", 10, "CGNAT, RFC 6598"],
        ["169.254.0.0", 16, "link-local"],
    ] as const
).map(([network, prefix, what]) => ({ network: parseIpv4(network)!, mask: prefixMask(prefix), what }));

/** The scope of an address and, for private ones, which block it is in (for messages). */
export function addressScope(address: string): { scope: AddressScope; block?: string } {
    const a = address.trim();
    const v4 = parseIpv4(a);
    if (v4 !== undefined) {
        if (v4 >>> 24 === 127) return { scope: AddressScope.Loopback };
        for (const b of PRIVATE_V4) if (((v4 & b.mask) >>> 0) === b.network) return { scope: AddressScope.Private, block: b.what };
        return { scope: AddressScope.Public };
    }
    const v6 = a.replace(/^\[|\]$/g, "");
    if (net.isIPv6(v6)) {
        const lower = v6.toLowerCase();
        if (lower === "::1") return { scope: AddressScope.Loopback };
        const first = parseInt(lower.split(":")[0] || "0", 16);
        if ((first & 0xfe00) === 0xfc00) return { scope: AddressScope.Private, block: "IPv6 ULA" };
        if ((first & 0xffc0) === 0xfe80) return { scope: AddressScope.Private, block: "IPv6 link-local" };
        return { scope: AddressScope.Public };
    }
    return { scope: AddressScope.Name };
}

/** One host as the reachability check sees it. */
export interface ReachHost {
    readonly name: string;
    /** The SSH address (`ssh.address`). */
    readonly address: string;
    readonly port?: number;
    /** Name of the jump host (`ssh.jumpHost`). */
    readonly jumpHost?: string;
    /** Site; without it the location rule is not checked (a bare list of SSH hosts has none). */
    readonly location?: string;
    /** Public IP or DNS name, optionally `:port` (a DNS-name SSH address equal to it counts as public). */
    readonly publicEndpoint?: string;
}

const FIX_FROM_HOME = (loc: string) =>
    `reach the hosts in ${JSON.stringify(loc)} from a machine in ${JSON.stringify(loc)} (run pulumi up there and remove jumpHost), ` +
    `or forward one port on the ${JSON.stringify(loc)} router to one host there (set its ssh.address and ssh.port to the router's public address and that port) and use that host as jumpHost for the others, ` +
    `or run pulumi up from a machine already on the overlay (see "How \`pulumi up\` reaches your hosts" in the README)`;

function isPublicAddress(h: ReachHost): boolean {
    const s = addressScope(h.address).scope;
    if (s === AddressScope.Public) return true;
    if (s !== AddressScope.Name || h.publicEndpoint === undefined) return false;
    // A DNS name is public when it is the host's public endpoint (with or without a port).
    return h.publicEndpoint.replace(/:\d+$/, "").toLowerCase() === h.address.toLowerCase();
}

/**
 * Every problem of the SSH jump graph, each naming the config path, the value and the fix. Pure; returns
 * an empty list when every host can be reached before the overlay exists.
 * @param hosts the hosts in config order
 * @param path config path of the list (`hosts`)
 */
export function sshReachProblems(hosts: readonly ReachHost[], path = "hosts"): HybridInfraConfigError[] {
    const problems: HybridInfraConfigError[] = [];
    const index = new Map<string, number>();
    hosts.forEach((h, i) => {
        if (!index.has(h.name)) index.set(h.name, i);
    });
    const known = [...index.keys()].join(", ");
    const inLoop = new Set<number>();

    // Loops first: each one reported once, on its first host in config order.
    hosts.forEach((h, i) => {
        if (inLoop.has(i) || h.jumpHost === undefined || h.jumpHost === h.name) return;
        const seen: number[] = [i];
        let cur = index.get(h.jumpHost);
        while (cur !== undefined && !seen.includes(cur)) {
            seen.push(cur);
            const next = hosts[cur].jumpHost;
            cur = next !== undefined ? index.get(next) : undefined;
        }
        if (cur === undefined) return;
        const loop = seen.slice(seen.indexOf(cur));
        if (!loop.includes(i) || loop.some((j) => inLoop.has(j))) return;
        loop.forEach((j) => inLoop.add(j));
        const first = Math.min(...loop);
        const start = loop.indexOf(first);
        const ordered = [...loop.slice(start), ...loop.slice(0, start)];
        problems.push(
            new HybridInfraConfigError(
                `${path}[${first}].ssh.jumpHost`,
                `forms a jump loop ${[...ordered, first].map((j) => hosts[j].name).join(" → ")} (got ${showValue(hosts[first].jumpHost)}); no host of the loop can ever be reached`,
                `remove jumpHost from the host that pulumi up reaches directly (e.g. ${JSON.stringify(hosts[first].name)} at its public or LAN address)`,
            ),
        );
    });

    hosts.forEach((h, i) => {
        if (h.jumpHost === undefined || inLoop.has(i)) return;
        const at = `${path}[${i}].ssh.jumpHost`;
        if (h.jumpHost === h.name) {
            problems.push(new HybridInfraConfigError(at, `points at the host itself (${showValue(h.name)})`, "remove it, or name the host pulumi up reaches first"));
            return;
        }
        const j = index.get(h.jumpHost);
        if (j === undefined) {
            problems.push(new HybridInfraConfigError(at, `refers to an unknown host ${showValue(h.jumpHost)}`, `use the name of another host in ${path} (known: ${known})`));
            return;
        }
        const jump = hosts[j];
        if (jump.jumpHost !== undefined) {
            if (inLoop.has(j)) return;
            problems.push(
                new HybridInfraConfigError(
                    at,
                    `names ${showValue(h.jumpHost)} (${path}[${j}]), which itself goes through jump host ${showValue(jump.jumpHost)}: a chain of 2 hops, ` +
                        "and a connection through pulumi-command takes one jump host (its proxy connection has no proxy of its own)",
                    `jump through a host that pulumi up reaches directly${index.has(jump.jumpHost) ? `, e.g. \`jumpHost: ${jump.jumpHost}\`` : ""}`,
                ),
            );
            return;
        }
        if (h.location === undefined || jump.location === undefined || h.location === jump.location) return;
        const target = addressScope(h.address);
        if (target.scope !== AddressScope.Private || !isPublicAddress(jump)) return;
        problems.push(
            new HybridInfraConfigError(
                at,
                `host ${showValue(h.name)} has the private address ssh.address ${showValue(h.address)} (${target.block}) in location ${showValue(h.location)}, ` +
                    `but is reached through jump host ${showValue(h.jumpHost)} (${path}[${j}]), which is in location ${showValue(jump.location)} at the public address ${showValue(jump.address)}: ` +
                    `nothing routes from there into the ${showValue(h.location)} LAN before the overlay exists, and the overlay is built over this SSH path`,
                FIX_FROM_HOME(h.location),
            ),
        );
    });
    return problems;
}
