/**
 * The client config of an operator peer (see `WireGuardOperatorArgs`): a wg-quick file for the machine that
 * runs Pulumi or a laptop, holding its private key. Pure text; the mesh exports it as a secret output.
 */
import { OverlayPlan } from "./plan";
import { peerSection } from "./render";
import { compact } from "../util/compact";

/** One `[Peer]` of an operator's config, with its keys known. */
export interface OperatorPeerSpec {
    readonly name: string;
    readonly publicKey: string;
    readonly endpoint?: string;
    readonly allowedIps: readonly string[];
    readonly persistentKeepalive?: number;
    /** The pair's preshared key (base64), with `overlay.presharedKeys`. */
    readonly presharedKey?: string;
}

/** Everything an operator's config is rendered from. */
export interface OperatorConfigSpec {
    readonly name: string;
    /** Its overlay address (no prefix). */
    readonly address: string;
    /** The overlay CIDR, named in the header. */
    readonly overlayCidr: string;
    readonly mtu: number;
    /** Its private key (base64). Secret. */
    readonly privateKey: string;
    readonly peers: readonly OperatorPeerSpec[];
}

/**
 * The operator's wg-quick config. The address is a /32 (the operator routes exactly its `AllowedIPs`, as a
 * wg-easy or Tailscale client does); no `ListenPort`: it dials, with `PersistentKeepalive`, and no host dials it.
 */
export function renderOperatorConfig(spec: OperatorConfigSpec): string {
    const lines = [
        `# WireGuard config of operator ${spec.name} for the HybridInfra overlay ${spec.overlayCidr}.`,
        "# It holds this machine's private key: keep it secret (chmod 600).",
        "# Bring it up with `wg-quick up ./<file>.conf` (the interface is named after the file).",
        "[Interface]",
        `Address = ${spec.address}/32`,
        `PrivateKey = ${spec.privateKey}`,
        `MTU = ${spec.mtu}`,
    ];
    for (const p of spec.peers) lines.push("", ...peerSection(p, p.presharedKey));
    return `${lines.join("\n")}\n`;
}

/**
 * The config spec of a planned operator, given the public keys of its peers, its private key and the preshared
 * key of each pair (by peer name) where the plan has them.
 */
export function operatorConfigSpec(
    plan: OverlayPlan,
    operator: string,
    keys: { readonly privateKey: string; readonly publicKeys: Record<string, string>; readonly presharedKeys?: Record<string, string> },
): OperatorConfigSpec {
    const op = plan.operators.find((o) => o.name === operator);
    if (op === undefined) throw new Error(`operator ${operator} is not in the plan`);
    return {
        name: op.name,
        address: op.address,
        overlayCidr: plan.cidr,
        mtu: op.mtu,
        privateKey: keys.privateKey,
        peers: op.peers.map((p) => {
            const publicKey = keys.publicKeys[p.name];
            if (publicKey === undefined) throw new Error(`no public key for peer ${p.name} of operator ${operator}`);
            const psk = p.presharedKey ? keys.presharedKeys?.[p.name] : undefined;
            if (p.presharedKey && psk === undefined) throw new Error(`no preshared key for peer ${p.name} of operator ${operator}`);
            return {
                name: p.name,
                publicKey,
                ...compact({ endpoint: p.endpoint }),
                allowedIps: p.allowedIps,
                ...compact({ persistentKeepalive: p.persistentKeepalive, presharedKey: psk }),
            };
        }),
    };
}
