import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { connectionFor } from "../host/connection";
import { SshHostArgs, validateSshHosts } from "../host/model";
import { remoteStep } from "../host/step";
import { cidrContains, cidrLast, parseCidr, parseIpv4 } from "../util/cidr";
import { HybridInfraConfigError, showValue } from "../util/errors";
import { getInternals, setInternals } from "../util/internals";
import { wireguardPublicKey } from "./keys";
import { MAX_MTU, MIN_MTU, OVERLAY_DEFAULTS } from "./model";
import { PRIVATE_KEY_SECRET, presharedKeySecret, WgInterfaceSpec } from "./render";
import { renderConfigBody, renderConfigDeleteBody, renderInstallBody, renderInstallDeleteBody } from "./scripts";
import { MTU_FIX, parseEndpoint } from "./validate";
import { compact } from "../util/compact";

/** One `[Peer]` of a WireGuard interface. */
export interface WireGuardPeerArgs {
    /** Name of the peer (a host name; used in comments and the preshared key's secret name). */
    readonly name: string;
    /** The peer's public key (base64). */
    readonly publicKey: pulumi.Input<string>;
    /**
     * `host:port` at which this node reaches the peer.
     * @default none: the peer is behind NAT and connects to this node
     */
    readonly endpoint?: string;
    /** Overlay addresses and CIDRs routed to the peer, e.g. `["10.100.0.7/32", "192.168.50.0/24"]`. */
    readonly allowedIps: string[];
    /**
     * Keepalive interval in seconds (set it when this node is behind NAT).
     * @default none
     */
    readonly persistentKeepalive?: number;
    /**
     * Preshared key shared with this peer (base64 of 32 bytes). Treated as a secret.
     * @default none
     */
    readonly presharedKey?: pulumi.Input<string>;
    /**
     * The peer's own overlay address, e.g. `10.100.0.1`. When set on a peer with an `endpoint`, the node's
     * watchdog pings it and starts a new handshake when the peer stopped answering (it restarted).
     * @default none: the peer is not probed
     */
    readonly address?: string;
}

/** One host's WireGuard interface: explicit values, usable without a `WireGuardMesh`. */
export interface WireGuardNodeArgs {
    /** How to reach the host over SSH. */
    readonly host: SshHostArgs;
    /**
     * The SSH jump host named by `host.jumpHost`.
     * @default none (required when `host.jumpHost` is set)
     */
    readonly jumpHost?: SshHostArgs;
    /** The node's overlay address, e.g. `10.100.0.23`. */
    readonly address: string;
    /**
     * The overlay network; its prefix goes on the address.
     * @default "10.100.0.0/24"
     */
    readonly overlayCidr?: string;
    /**
     * Interface name.
     * @default "wg0"
     */
    readonly interfaceName?: string;
    /**
     * UDP listen port.
     * @default 51820
     */
    readonly listenPort?: number;
    /**
     * Interface MTU.
     * @default 1420
     */
    readonly mtu?: number;
    /** The private key (base64 of 32 bytes). Secret: it reaches the host only on stdin. */
    readonly privateKey: pulumi.Input<string>;
    /** The peers. */
    readonly peers: WireGuardPeerArgs[];
    /**
     * Forward IP traffic (hubs, location gateways, subnet routers): `ip_forward` and FORWARD rules
     * between the overlay and `lan`.
     * @default false, true when `lan` is not empty
     */
    readonly forward?: boolean;
    /**
     * LANs this node routes into (subnet router): forwarded and masqueraded from the overlay.
     * @default none
     */
    readonly lan?: string[];
    /**
     * Accept the listen port in the host firewall (INPUT).
     * @default same as `forward`
     */
    readonly openListenPort?: boolean;
}

/**
 * Host firewall settings a `WireGuardMesh` passes to its nodes (the constructor's fourth argument, so the
 * component's public inputs stay as they are).
 */
export interface WireGuardNodeFirewall {
    /**
     * CIDRs the host firewall accepts traffic from, on any interface: the k3s pod and service CIDRs (k3s's
     * firewalld and ufw notes). The overlay interface itself is always accepted (see `hostFirewallRules`).
     * Without it, k3s's defaults 10.42.0.0/16 and 10.43.0.0/16.
     */
    readonly trustedSources: readonly string[];
}

/** What composition needs from a node. */
export interface WireGuardNodeInternals {
    readonly installStep: command.remote.Command;
    readonly configStep: command.remote.Command;
}

function checkCidr(path: string, value: string, example: string): void {
    const c = parseCidr(value);
    if (c === undefined) throw new HybridInfraConfigError(path, `is not an IPv4 CIDR, got ${showValue(value)}`, `write it as network/prefix, e.g. "${example}"`);
    if (c.hostBitsSet) throw new HybridInfraConfigError(path, `has host bits set, got ${showValue(value)}`, `use the network address "${c.text}"`);
}

/** Checks a node's arguments (pure). Paths are relative to `path`, e.g. `node.peers[1].allowedIps[0]`. */
export function validateWireGuardNode(args: WireGuardNodeArgs, path = "node"): void {
    validateSshHosts([args.host, ...(args.jumpHost !== undefined ? [args.jumpHost] : [])], `${path}.host`);
    if (args.host.jumpHost !== undefined && args.jumpHost?.name !== args.host.jumpHost) {
        throw new HybridInfraConfigError(
            `${path}.jumpHost`,
            `must be the SSH host ${JSON.stringify(args.host.jumpHost)} named by host.jumpHost, got ${showValue(args.jumpHost?.name)}`,
            "pass the jump host's SSH settings as jumpHost",
        );
    }
    const overlayText = args.overlayCidr ?? OVERLAY_DEFAULTS.cidr;
    const overlay = parseCidr(overlayText);
    if (overlay === undefined || overlay.hostBitsSet || overlay.prefix > 30) {
        throw new HybridInfraConfigError(`${path}.overlayCidr`, `is not an IPv4 network of /30 or larger, got ${showValue(overlayText)}`, `use e.g. "${OVERLAY_DEFAULTS.cidr}"`);
    }
    const ip = parseIpv4(args.address);
    if (ip === undefined || !cidrContains(overlay, ip) || ip === overlay.network || ip === cidrLast(overlay)) {
        throw new HybridInfraConfigError(`${path}.address`, `must be a host address inside ${overlay.text}, got ${showValue(args.address)}`, "use an address from the overlay CIDR");
    }
    if (args.mtu !== undefined && (!Number.isInteger(args.mtu) || args.mtu < MIN_MTU || args.mtu > MAX_MTU)) {
        throw new HybridInfraConfigError(`${path}.mtu`, `must be an integer from ${MIN_MTU} to ${MAX_MTU}, got ${showValue(args.mtu)}`, MTU_FIX);
    }
    if (args.listenPort !== undefined && (!Number.isInteger(args.listenPort) || args.listenPort < 1 || args.listenPort > 65535)) {
        throw new HybridInfraConfigError(`${path}.listenPort`, `must be an integer from 1 to 65535, got ${showValue(args.listenPort)}`, "use 51820");
    }
    const names = new Set<string>();
    args.peers.forEach((p, i) => {
        const at = `${path}.peers[${i}]`;
        if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(p.name) || names.has(p.name)) {
            throw new HybridInfraConfigError(`${at}.name`, `must be a unique lowercase DNS label, got ${showValue(p.name)}`, "use the peer's host name");
        }
        names.add(p.name);
        if (p.endpoint !== undefined && parseEndpoint(p.endpoint)?.port === undefined) {
            throw new HybridInfraConfigError(`${at}.endpoint`, `must be host:port, got ${showValue(p.endpoint)}`, 'write e.g. "203.0.113.10:51820"');
        }
        p.allowedIps.forEach((a, j) => checkCidr(`${at}.allowedIps[${j}]`, a, "10.100.0.7/32"));
        if (p.persistentKeepalive !== undefined && (!Number.isInteger(p.persistentKeepalive) || p.persistentKeepalive < 1 || p.persistentKeepalive > 65535)) {
            throw new HybridInfraConfigError(`${at}.persistentKeepalive`, `must be an integer from 1 to 65535, got ${showValue(p.persistentKeepalive)}`, "use 25");
        }
        if (p.address !== undefined && parseIpv4(p.address) === undefined) {
            throw new HybridInfraConfigError(`${at}.address`, `must be an IPv4 address, got ${showValue(p.address)}`, "use the peer's overlay address, e.g. \"10.100.0.1\"");
        }
    });
    (args.lan ?? []).forEach((l, j) => checkCidr(`${path}.lan[${j}]`, l, "192.168.50.0/24"));
}

/** The component type token of a host's interface, whether it was made alone or by a mesh (same URNs). */
const WIREGUARD_NODE_TYPE = "hybridinfra:index:WireGuardNode";

/**
 * Everything the two host steps of one interface are registered from: decided once, by the mesh's plan
 * (`interfaceSpecFromPlan`) or from a node's own args (`interfaceSpecFromArgs`).
 */
export interface WireGuardNodeSpec {
    /** The host, and its jump host when it has one (the connection's proxy). */
    readonly host: SshHostArgs;
    readonly jumpHost?: SshHostArgs;
    readonly interfaceName: string;
    readonly address: string;
    /** The interface spec, once the peers' public keys are known. */
    readonly spec: pulumi.Output<WgInterfaceSpec>;
    /** Private key and preshared keys, by stdin secret name (`PRIVATE_KEY_SECRET`, `presharedKeySecret`). */
    readonly secrets: Record<string, pulumi.Input<string>>;
    readonly privateKey: pulumi.Output<string>;
}

/**
 * The internal step factory of one host's interface: a `wg-install` step (tools, userspace fallback) and a
 * `wg-config` step (config file, live `wg syncconf`, boot, forwarding and firewall), the second after the first.
 */
function createWireGuardNodeSteps(parent: pulumi.ComponentResource, name: string, s: WireGuardNodeSpec, opts: pulumi.ComponentResourceOptions | undefined): WireGuardNodeInternals {
    const hosts = new Map([[s.host.name, s.host], ...(s.jumpHost !== undefined ? ([[s.jumpHost.name, s.jumpHost]] as const) : [])]);
    const connection = connectionFor(s.host, hosts);
    const installStep = remoteStep(
        `${name}-wg-install`,
        {
            host: s.host.name,
            step: "wg-install",
            connection,
            // Every host gets an INPUT chain for the overlay (unless firewalld or ufw is in charge).
            create: renderInstallBody({ interfaceName: s.interfaceName, firewall: true }),
            delete: renderInstallDeleteBody(),
        },
        { parent, ...(opts?.dependsOn !== undefined ? { dependsOn: opts.dependsOn } : {}) },
    );
    const configStep = remoteStep(
        `${name}-wg-config`,
        { host: s.host.name, step: "wg-config", connection, create: s.spec.apply(renderConfigBody), delete: renderConfigDeleteBody({ interfaceName: s.interfaceName }), secrets: s.secrets },
        { parent, dependsOn: [installStep] },
    );
    return { installStep, configStep };
}

/** The outputs both kinds of node register. */
function nodeOutputs(s: WireGuardNodeSpec): { address: pulumi.Output<string>; publicKey: pulumi.Output<string>; interfaceName: pulumi.Output<string> } {
    return { address: pulumi.output(s.address), publicKey: pulumi.unsecret(s.privateKey.apply(wireguardPublicKey)), interfaceName: pulumi.output(s.interfaceName) };
}

/** A node's own args, validated, with their defaults applied: the spec its steps are registered from. */
function interfaceSpecFromArgs(args: WireGuardNodeArgs, firewall: WireGuardNodeFirewall | undefined): WireGuardNodeSpec {
    // The mesh's podCidr / serviceCidr (checked there); a plain node gets k3s's defaults.
    const trustedSources = firewall?.trustedSources ?? [OVERLAY_DEFAULTS.podCidr, OVERLAY_DEFAULTS.serviceCidr];
    trustedSources.forEach((c, j) => checkCidr(`firewall.trustedSources[${j}]`, c, OVERLAY_DEFAULTS.podCidr));
    const interfaceName = args.interfaceName ?? OVERLAY_DEFAULTS.interfaceName;
    const lan = args.lan ?? [];
    const forward = args.forward ?? lan.length > 0;
    const openListenPort = args.openListenPort ?? forward;
    const privateKey = pulumi.secret(args.privateKey);
    const secrets: Record<string, pulumi.Input<string>> = { [PRIVATE_KEY_SECRET]: privateKey };
    for (const p of args.peers) {
        if (p.presharedKey !== undefined) secrets[presharedKeySecret(p.name)] = pulumi.secret(p.presharedKey);
    }
    // Public keys are public: unsecret them so the config text stays visible in `pulumi preview --diff`.
    const peerKeys = pulumi.unsecret(pulumi.all(args.peers.map((p) => p.publicKey)));
    const spec = peerKeys.apply(
        (keys): WgInterfaceSpec => ({
            host: args.host.name,
            interfaceName,
            address: args.address,
            overlayCidr: parseCidr(args.overlayCidr ?? OVERLAY_DEFAULTS.cidr)!.text,
            listenPort: args.listenPort ?? OVERLAY_DEFAULTS.listenPort,
            mtu: args.mtu ?? OVERLAY_DEFAULTS.mtu,
            forward,
            openListenPort,
            trustedSources: trustedSources.map((c) => parseCidr(c)!.text),
            lan: lan.map((l) => parseCidr(l)!.text),
            peers: args.peers.map((p, i) => ({
                name: p.name,
                publicKey: keys[i],
                ...compact({ endpoint: p.endpoint }),
                allowedIps: p.allowedIps,
                ...compact({ persistentKeepalive: p.persistentKeepalive }),
                presharedKey: p.presharedKey !== undefined,
                ...compact({ address: p.address }),
            })),
        }),
    );
    return { host: args.host, ...compact({ jumpHost: args.jumpHost }), interfaceName, address: args.address, spec, secrets, privateKey };
}

/**
 * The WireGuard interface of one host, used on its own: its args are validated and defaulted here, then its
 * `wg-install` and `wg-config` steps are registered (see `createWireGuardNodeSteps`). A `WireGuardMesh` makes
 * its nodes from its plan instead, without validating them again (`PlannedWireGuardNode`).
 */
export class WireGuardNode extends pulumi.ComponentResource {
    /** The node's overlay address. */
    public readonly address: pulumi.Output<string>;
    /** The node's public key (base64). */
    public readonly publicKey: pulumi.Output<string>;
    /** The WireGuard interface name (k3s's flannel interface). */
    public readonly interfaceName: pulumi.Output<string>;

    constructor(name: string, args: WireGuardNodeArgs, opts?: pulumi.ComponentResourceOptions, firewall?: WireGuardNodeFirewall) {
        super(WIREGUARD_NODE_TYPE, name, {}, opts);
        validateWireGuardNode(args);
        const s = interfaceSpecFromArgs(args, firewall);
        setInternals<WireGuardNodeInternals>(this, createWireGuardNodeSteps(this, name, s, opts));
        ({ address: this.address, publicKey: this.publicKey, interfaceName: this.interfaceName } = nodeOutputs(s));
        this.registerOutputs({ address: this.address, publicKey: this.publicKey, interfaceName: this.interfaceName });
    }
}

/**
 * A mesh's node: the same component type as `WireGuardNode` (so the same URNs), registered from the spec the
 * mesh's plan decided (`interfaceSpecFromPlan`), with nothing validated or defaulted a second time. Internal.
 */
class PlannedWireGuardNode extends pulumi.ComponentResource {
    public readonly address: pulumi.Output<string>;
    public readonly publicKey: pulumi.Output<string>;
    public readonly interfaceName: pulumi.Output<string>;

    constructor(name: string, spec: WireGuardNodeSpec, opts?: pulumi.ComponentResourceOptions) {
        super(WIREGUARD_NODE_TYPE, name, {}, opts);
        setInternals<WireGuardNodeInternals>(this, createWireGuardNodeSteps(this, name, spec, opts));
        ({ address: this.address, publicKey: this.publicKey, interfaceName: this.interfaceName } = nodeOutputs(spec));
        this.registerOutputs({ address: this.address, publicKey: this.publicKey, interfaceName: this.interfaceName });
    }
}

/** The host steps of a node, for ordering other steps after them. */
/** A mesh's node from its planned spec (see `PlannedWireGuardNode`, not exported: no public component). */
export function createPlannedWireGuardNode(name: string, spec: WireGuardNodeSpec, opts?: pulumi.ComponentResourceOptions): MeshWireGuardNode {
    return new PlannedWireGuardNode(name, spec, opts);
}

/** A node a mesh made: the outputs of a `WireGuardNode`. */
export type MeshWireGuardNode = pulumi.ComponentResource & Pick<WireGuardNode, "address" | "publicKey" | "interfaceName">;

export function wireGuardNodeInternals(node: WireGuardNode | MeshWireGuardNode): WireGuardNodeInternals {
    return getInternals<WireGuardNodeInternals>(node);
}
