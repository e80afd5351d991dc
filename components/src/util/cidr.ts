/**
 * IPv4 addresses and CIDR blocks as plain numbers: parsing, containment, overlap and the n-th address.
 * Pure and shared by every domain that plans networks (overlay, pod and service CIDRs, advertised LANs).
 */

/** A parsed IPv4 CIDR block. `network` is the first address as an unsigned 32-bit number. */
export interface Ipv4Cidr {
    readonly network: number;
    readonly prefix: number;
    /** Canonical text, e.g. `10.100.0.0/24`. */
    readonly text: string;
}

/** Parses a dotted-quad IPv4 address to an unsigned 32-bit number, or `undefined` when it is not one. */
export function parseIpv4(text: string): number | undefined {
    if (typeof text !== "string") return undefined;
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
    if (!m) return undefined;
    const parts = m.slice(1).map((p) => {
        // Leading zeros are rejected: some tools read them as octal.
        if (p.length > 1 && p.startsWith("0")) return NaN;
        return Number(p);
    });
    if (parts.some((p) => !Number.isInteger(p) || p > 255)) return undefined;
    return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export function isIpv4(text: string): boolean {
    return parseIpv4(text) !== undefined;
}

/** Formats an unsigned 32-bit number as a dotted quad. */
export function formatIpv4(n: number): string {
    const v = n >>> 0;
    return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
}

/** The netmask of a prefix length as an unsigned 32-bit number. */
export function prefixMask(prefix: number): number {
    return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export interface ParsedCidr extends Ipv4Cidr {
    /** True when the text had bits set after the prefix (e.g. `10.0.0.1/24`); `network` is masked anyway. */
    readonly hostBitsSet: boolean;
}

/** Parses `a.b.c.d/n`; `undefined` when it is not an IPv4 CIDR. A bare address is not a CIDR. */
export function parseCidr(text: string): ParsedCidr | undefined {
    if (typeof text !== "string") return undefined;
    const m = /^([^/\s]+)\/(\d{1,2})$/.exec(text.trim());
    if (!m) return undefined;
    const ip = parseIpv4(m[1]);
    const prefix = Number(m[2]);
    if (ip === undefined || prefix > 32 || (m[2].length > 1 && m[2].startsWith("0"))) return undefined;
    const network = (ip & prefixMask(prefix)) >>> 0;
    return { network, prefix, text: `${formatIpv4(network)}/${prefix}`, hostBitsSet: network !== ip };
}

/** Like `parseCidr` but throws on bad input (for values that were validated already). */
export function cidr(text: string): Ipv4Cidr {
    const c = parseCidr(text);
    if (c === undefined) throw new Error(`not an IPv4 CIDR: ${JSON.stringify(text)}`);
    return { network: c.network, prefix: c.prefix, text: c.text };
}

/** Number of addresses in the block (including network and broadcast). */
export function cidrSize(c: Ipv4Cidr): number {
    return 2 ** (32 - c.prefix);
}

/** The last address of the block (the broadcast address for prefixes up to /30). */
export function cidrLast(c: Ipv4Cidr): number {
    return (c.network + cidrSize(c) - 1) >>> 0;
}

/** True when `ip` (text or number) lies inside the block. */
export function cidrContains(c: Ipv4Cidr, ip: string | number): boolean {
    const n = typeof ip === "number" ? ip >>> 0 : parseIpv4(ip);
    if (n === undefined) return false;
    return ((n & prefixMask(c.prefix)) >>> 0) === c.network;
}

/** True when every address of `inner` lies inside `outer`. */
export function cidrContainsCidr(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
    return inner.prefix >= outer.prefix && cidrContains(outer, inner.network);
}

/** True when the two blocks share at least one address. */
export function cidrOverlaps(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
    return cidrContainsCidr(a, b) || cidrContainsCidr(b, a);
}

/** The n-th address of the block (0 = network address), as text. Throws when n is outside the block. */
export function nthAddress(c: Ipv4Cidr, n: number): string {
    if (!Number.isInteger(n) || n < 0 || n >= cidrSize(c)) throw new Error(`address #${n} is outside ${c.text}`);
    return formatIpv4(c.network + n);
}

/** The offset of `ip` inside the block (0 = network address), or `undefined` when it is outside. */
export function addressOffset(c: Ipv4Cidr, ip: string): number | undefined {
    const n = parseIpv4(ip);
    if (n === undefined || !cidrContains(c, n)) return undefined;
    return (n - c.network) >>> 0;
}

/**
 * Usable host addresses of the block: all but the network and broadcast addresses. /31 and /32 have
 * none here, because an overlay needs a subnet with room for more than two hosts.
 */
export function usableHostCount(c: Ipv4Cidr): number {
    return c.prefix >= 31 ? 0 : cidrSize(c) - 2;
}
