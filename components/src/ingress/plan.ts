import * as crypto from "node:crypto";
import { HybridInfraConfigError, showValue } from "../util/errors";
import { SshCheckOptions, validateSshHosts } from "../host/model";
import type { PublicIngressForwardArgs } from "./model";
import { compact } from "../util/compact";

export const DEFAULT_FORWARD_PORTS: readonly number[] = [80, 443];
/** Prefix of every chain this step owns; the delete script removes exactly the chains with it. */
export const CHAIN_PREFIX = "HI-FWD-";
export const FORWARD_STEP = "ingress-forward";

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IFACE_RE = /^[A-Za-z0-9_.-]{1,15}$/;

/** Everything the forward scripts need. Plain data. */
export interface ForwardPlan {
    readonly targets: readonly string[];
    readonly ports: readonly number[];
    readonly overlayInterface: string;
    /** Undefined: detected on the host from the default route. */
    readonly publicInterface?: string;
    /** Chains named after a hash of the rules: a changed rule set is built beside the old one, then swapped in. */
    readonly chains: { readonly dnat: string; readonly snat: string; readonly filter: string };
}

export function validateForward(args: PublicIngressForwardArgs, path = "ingressForward", options: SshCheckOptions = {}): void {
    if (options.sshChecked !== true) validateSshHosts([args], path);
    if (!Array.isArray(args.targets) || args.targets.length === 0) {
        throw new HybridInfraConfigError(`${path}.targets`, `must list at least one overlay address, got ${showValue(args.targets)}`, "list the overlay IPs of the nodes that run Traefik's load balancer");
    }
    args.targets.forEach((t, i) => {
        if (typeof t !== "string" || !IPV4_RE.test(t)) {
            throw new HybridInfraConfigError(`${path}.targets[${i}]`, `must be an IPv4 overlay address, got ${showValue(t)}`, "use a node's overlay address such as `10.100.0.2`");
        }
        if (args.targets.indexOf(t) !== i) {
            throw new HybridInfraConfigError(`${path}.targets[${i}]`, `duplicates ${path}.targets[${args.targets.indexOf(t)}] ${showValue(t)}`, "list every target once");
        }
    });
    const ports = args.ports ?? DEFAULT_FORWARD_PORTS;
    if (ports.length === 0) {
        throw new HybridInfraConfigError(`${path}.ports`, "is empty", "leave it out to forward 80 and 443, or list the TCP ports");
    }
    ports.forEach((p, i) => {
        if (typeof p !== "number" || !Number.isInteger(p) || p < 1 || p > 65535) {
            throw new HybridInfraConfigError(`${path}.ports[${i}]`, `must be an integer from 1 to 65535, got ${showValue(p)}`, "use TCP ports such as 80 and 443");
        }
        if (ports.indexOf(p) !== i) {
            throw new HybridInfraConfigError(`${path}.ports[${i}]`, `duplicates ${path}.ports[${ports.indexOf(p)}] ${showValue(p)}`, "list every port once");
        }
        if (p === (args.port ?? 22)) {
            throw new HybridInfraConfigError(`${path}.ports[${i}]`, `is the node's SSH port ${showValue(p)}: forwarding it would lock HybridInfra out`, "forward other ports, or move sshd");
        }
    });
    for (const key of ["overlayInterface", "publicInterface"] as const) {
        const v = args[key];
        if ((key === "overlayInterface" || v !== undefined) && (typeof v !== "string" || !IFACE_RE.test(v))) {
            throw new HybridInfraConfigError(`${path}.${key}`, `must be a network interface name (at most 15 letters, digits, '.', '-', '_'), got ${showValue(v)}`, key === "overlayInterface" ? "use the overlay's interface, e.g. `wg0`" : "use e.g. `eth0`, or leave it out to use the default route's interface");
        }
    }
    if (args.publicInterface !== undefined && args.publicInterface === args.overlayInterface) {
        throw new HybridInfraConfigError(`${path}.publicInterface`, `is the overlay interface ${showValue(args.overlayInterface)}`, "name the interface internet traffic arrives on");
    }
}

export function planForward(args: PublicIngressForwardArgs): ForwardPlan {
    const targets = [...args.targets];
    const ports = [...(args.ports ?? DEFAULT_FORWARD_PORTS)];
    const hash = crypto
        .createHash("sha256")
        .update(JSON.stringify({ targets, ports, overlay: args.overlayInterface }))
        .digest("hex")
        .slice(0, 8);
    return {
        targets,
        ports,
        overlayInterface: args.overlayInterface,
        ...compact({ publicInterface: args.publicInterface }),
        // iptables chain names are at most 28 characters.
        chains: { dnat: `${CHAIN_PREFIX}DNAT-${hash}`, snat: `${CHAIN_PREFIX}SNAT-${hash}`, filter: `${CHAIN_PREFIX}FILT-${hash}` },
    };
}

/** One iptables rule as argv words (after `-t table -A chain`). */
export interface ForwardRule {
    readonly table: "nat" | "filter";
    readonly chain: string;
    readonly args: readonly string[];
}

/**
 * The rules inside the step's own chains, in order.
 * - DNAT: each port to the targets, spread at random (iptables' `statistic` takes 1/n, then 1/(n-1), …).
 * - SNAT: masquerade on the overlay so the target answers through this node, not its own default route.
 * - FORWARD: only connections this node DNATed, and their replies, so the node is no open router.
 */
export function forwardRules(plan: ForwardPlan): ForwardRule[] {
    const rules: ForwardRule[] = [];
    const n = plan.targets.length;
    for (const port of plan.ports) {
        plan.targets.forEach((target, i) => {
            const share = i < n - 1 ? ["-m", "statistic", "--mode", "random", "--probability", (1 / (n - i)).toFixed(5)] : [];
            rules.push({ table: "nat", chain: plan.chains.dnat, args: ["-p", "tcp", "--dport", String(port), ...share, "-j", "DNAT", "--to-destination", `${target}:${port}`] });
        });
    }
    for (const target of plan.targets) {
        for (const port of plan.ports) {
            rules.push({ table: "nat", chain: plan.chains.snat, args: ["-d", `${target}/32`, "-p", "tcp", "--dport", String(port), "-m", "conntrack", "--ctstate", "DNAT", "-j", "MASQUERADE"] });
        }
    }
    for (const target of plan.targets) {
        for (const port of plan.ports) {
            rules.push({ table: "filter", chain: plan.chains.filter, args: ["-o", plan.overlayInterface, "-d", `${target}/32`, "-p", "tcp", "--dport", String(port), "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT"] });
            rules.push({ table: "filter", chain: plan.chains.filter, args: ["-i", plan.overlayInterface, "-s", `${target}/32`, "-p", "tcp", "--sport", String(port), "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"] });
        }
    }
    return rules;
}
