import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as random from "@pulumi/random";
import { getInternals, setInternals } from "../util/internals";
import { wireguardPublicKey } from "./keys";
import { WireGuardMeshArgs } from "./model";
import { createPlannedWireGuardNode, MeshWireGuardNode, wireGuardNodeInternals } from "./node";
import { presharedKeySecret, PRIVATE_KEY_SECRET } from "./render";
import { operatorConfigSpec, renderOperatorConfig } from "./operator";
import { interfaceSpecFromPlan, OverlayPlan, planOverlay } from "./plan";

/** What composition needs from a mesh: the plan and, per host, its node and steps. */
export interface WireGuardMeshInternals {
    readonly plan: OverlayPlan;
    readonly nodes: Record<
        string,
        {
            readonly node: MeshWireGuardNode;
            readonly installStep: command.remote.Command;
            readonly configStep: command.remote.Command;
            /** Overlay address (known at plan time). */
            readonly address: string;
        }
    >;
}

/**
 * A WireGuard overlay over all hosts: one key per host, addresses and peers planned for the topology,
 * and a `WireGuardNode` per host (named `<mesh>-<host>`).
 */
export class WireGuardMesh extends pulumi.ComponentResource {
    /** Overlay address by host name. */
    public readonly addresses: pulumi.Output<Record<string, string>>;
    /** WireGuard public key by host name. */
    public readonly publicKeys: pulumi.Output<Record<string, string>>;
    /** The interface name on every host (k3s's flannel interface). */
    public readonly interfaceName: pulumi.Output<string>;
    /**
     * The wg-quick config of each operator peer (`operators`), by operator name: `[Interface]` with its address
     * and private key, a `[Peer]` per host it dials. Secret.
     */
    public readonly operatorConfigs: pulumi.Output<Record<string, string>>;

    /**
     * @param planned the overlay plan, when the caller already validated the args and planned them (the cluster
     * composition does, so nothing is validated twice); otherwise `planOverlay(args)` does both here.
     */
    constructor(name: string, args: WireGuardMeshArgs, opts?: pulumi.ComponentResourceOptions, planned?: OverlayPlan) {
        super("hybridinfra:index:WireGuardMesh", name, {}, opts);
        const plan = planned ?? planOverlay(args);
        const hostsByName = new Map(args.hosts.map((h) => [h.name, h]));

        const privateKeys: Record<string, pulumi.Output<string>> = {};
        const publicKeys: Record<string, pulumi.Output<string>> = {};
        for (const n of plan.nodes) {
            const key = new random.RandomBytes(`${name}-${n.name}-wg-key`, { length: 32 }, { parent: this });
            privateKeys[n.name] = pulumi.secret(key.base64);
            publicKeys[n.name] = pulumi.unsecret(privateKeys[n.name].apply(wireguardPublicKey));
        }
        for (const o of plan.operators) {
            // `-operator-key`: no host's key (`-wg-key`) can have this name.
            const key = new random.RandomBytes(`${name}-${o.name}-operator-key`, { length: 32 }, { parent: this });
            privateKeys[o.name] = pulumi.secret(key.base64);
            publicKeys[o.name] = pulumi.unsecret(privateKeys[o.name].apply(wireguardPublicKey));
        }
        const psks = new Map<string, pulumi.Output<string>>();
        if (plan.presharedKeys) {
            const operatorPairs = plan.operators.flatMap((o) => o.peers.map((p): [string, string] => (o.name < p.name ? [o.name, p.name] : [p.name, o.name])));
            for (const [a, b] of [...plan.pairs, ...operatorPairs]) {
                const psk = new random.RandomBytes(`${name}-psk-${a}-${b}`, { length: 32 }, { parent: this });
                psks.set(`${a}/${b}`, pulumi.secret(psk.base64));
            }
        }
        const pskOf = (a: string, b: string): pulumi.Output<string> | undefined => psks.get(a < b ? `${a}/${b}` : `${b}/${a}`);

        const nodes: WireGuardMeshInternals["nodes"] = {};
        for (const n of plan.nodes) {
            const host = hostsByName.get(n.name)!;
            const secrets: Record<string, pulumi.Input<string>> = { [PRIVATE_KEY_SECRET]: privateKeys[n.name] };
            for (const p of n.peers) if (p.presharedKey) secrets[presharedKeySecret(p.name)] = pskOf(n.name, p.name)!;
            // Public keys are public: unsecret them so the config text stays visible in `pulumi preview --diff`.
            const peerKeys = pulumi.unsecret(pulumi.all(Object.fromEntries(n.peers.map((p) => [p.name, publicKeys[p.name]]))));
            const node = createPlannedWireGuardNode(
                `${name}-${n.name}`,
                {
                    host,
                    ...(host.jumpHost !== undefined ? { jumpHost: hostsByName.get(host.jumpHost)! } : {}),
                    interfaceName: plan.interfaceName,
                    address: n.address,
                    spec: peerKeys.apply((keys) => interfaceSpecFromPlan(plan, n.name, keys as Record<string, string>)),
                    secrets,
                    privateKey: privateKeys[n.name],
                },
                { parent: this, ...(opts?.dependsOn !== undefined ? { dependsOn: opts.dependsOn } : {}) },
            );
            const steps = wireGuardNodeInternals(node);
            nodes[n.name] = { node, installStep: steps.installStep, configStep: steps.configStep, address: n.address };
        }

        this.operatorConfigs = pulumi.secret(
            pulumi.all(
                Object.fromEntries(
                    plan.operators.map((o) => [
                        o.name,
                        pulumi
                            .all([
                                privateKeys[o.name],
                                pulumi.all(Object.fromEntries(o.peers.map((p) => [p.name, publicKeys[p.name]]))),
                                pulumi.all(Object.fromEntries(o.peers.flatMap((p) => (p.presharedKey ? [[p.name, pskOf(o.name, p.name)!]] : [])))),
                            ])
                            .apply(([privateKey, peerKeys, presharedKeys]) =>
                                renderOperatorConfig(operatorConfigSpec(plan, o.name, { privateKey, publicKeys: peerKeys as Record<string, string>, presharedKeys: presharedKeys as Record<string, string> })),
                            ),
                    ]),
                ),
            ),
        );
        this.addresses = pulumi.output(Object.fromEntries(plan.nodes.map((n) => [n.name, n.address])));
        this.publicKeys = pulumi.all(Object.fromEntries(plan.nodes.map((n) => [n.name, publicKeys[n.name]])));
        this.interfaceName = pulumi.output(plan.interfaceName);
        setInternals<WireGuardMeshInternals>(this, { plan, nodes });
        this.registerOutputs({ addresses: this.addresses, publicKeys: this.publicKeys, interfaceName: this.interfaceName, operatorConfigs: this.operatorConfigs });
    }
}

/** The plan, nodes and host steps of a mesh, for composing later steps (k3s) after them. */
export function wireGuardMeshInternals(mesh: WireGuardMesh): WireGuardMeshInternals {
    return getInternals<WireGuardMeshInternals>(mesh);
}
