/**
 * Subnet routing (`lan:`): what a plain host on a router's LAN (a NAS, a printer: no WireGuard) needs.
 *
 * The router forwards between the overlay and its LAN and masquerades traffic from the overlay CIDR into the
 * LAN (see `renderConfigBody`), so an overlay host reaches any plain host, and the plain host answers it,
 * with no route on the plain host. Traffic between LANs keeps its source address (as seed 002's
 * `--snat-subnet-routes=false`): a plain host reaches another site's LAN, and answers it, only through its
 * router. Either the router is its default gateway, or it needs these routes (`ip route add <cidr> via
 * <router's LAN address>`), or its default gateway (the home router) carries them.
 */
import { cidr as parseCidrStrict, cidrContainsCidr } from "../util/cidr";
import { OverlayPlan } from "./plan";

/**
 * What a router sends into the tunnel, as a plain host on its LAN routes it via the router: the overlay CIDR
 * (overlay hosts' own traffic is masqueraded and needs no route; this is for reaching them), then every CIDR
 * beyond the overlay in its peers' AllowedIPs (the other sites' LANs), in peer order. Empty without a LAN.
 */
export function lanRoutesFromPeers(overlayCidr: string, lan: readonly string[], peers: readonly { readonly allowedIps: readonly string[] }[]): string[] {
    if (lan.length === 0) return [];
    const overlay = parseCidrStrict(overlayCidr);
    const beyond = peers.flatMap((p) => p.allowedIps).filter((a) => !cidrContainsCidr(overlay, parseCidrStrict(a.includes("/") ? a : `${a}/32`)));
    return [...new Set([overlay.text, ...beyond.map((a) => parseCidrStrict(a).text)])];
}

/** `lanRoutesFromPeers` for a planned host: the CIDRs plain hosts on its LANs route via it. */
export function lanReturnRoutes(plan: OverlayPlan, host: string): string[] {
    const node = plan.nodes.find((n) => n.name === host);
    if (node === undefined) throw new Error(`host ${host} is not in the plan`);
    return lanRoutesFromPeers(plan.cidr, node.lan, node.peers);
}

/** The exact commands for a plain host on `host`'s LAN whose router (`host`) has `routerLanAddress` there. */
export function lanReturnRouteCommands(plan: OverlayPlan, host: string, routerLanAddress: string): string[] {
    return lanReturnRoutes(plan, host).map((c) => `ip route add ${c} via ${routerLanAddress}`);
}
