import type { SshCheckOptions } from "../host/model";
import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import { connectionFor } from "../host/connection";
import { remoteStep } from "../host/step";
import { setInternals, getInternals } from "../util/internals";
import { planTailscale, TAILSCALE_INTERFACE, TailscaleHostArgs, TailscaleHostPlan, validateTailscale } from "./plan";
import { parseTailscaleAddress, renderTailscaleDown, renderTailscaleInstall, renderTailscaleUp } from "./render";

export interface TailscaleOverlayArgs {
    /** The machines that join the tailnet. */
    readonly hosts: TailscaleHostArgs[];
    /** A reusable Tailscale or Headscale auth key. Secret. */
    readonly authKey: pulumi.Input<string>;
    /**
     * URL of a Headscale server (`--login-server`).
     * @default Tailscale's coordination server
     */
    readonly loginServer?: string;
    /**
     * Accept the subnet routes other nodes advertise. Hosts in the same location as another host with a `lan`
     * never accept routes, whatever this says: they would route their own LAN into `tailscale0` and lose it.
     * @default true
     */
    readonly acceptRoutes?: boolean;
}

export interface TailscaleNodeInternals {
    readonly installStep: command.remote.Command;
    readonly upStep: command.remote.Command;
    /** The node's tailnet IPv4 address, read from the up step's output (unknown in preview). */
    readonly address: pulumi.Output<string>;
}

export interface TailscaleOverlayInternals {
    readonly nodes: Record<string, TailscaleNodeInternals>;
}

/**
 * The alternative overlay of seeds 002–004: tailscale on every host (optionally against Headscale), with
 * subnet routers advertising their LANs. k3s then uses `tailscale0` as its flannel interface.
 */
export class TailscaleOverlay extends pulumi.ComponentResource {
    /** Each host's tailnet IPv4 address. */
    public readonly addresses: pulumi.Output<Record<string, string>>;
    /** The interface k3s uses: `tailscale0`. */
    public readonly interfaceName: pulumi.Output<string>;

    /**
     * @param options `sshChecked` when the caller (the cluster plan) already checked the hosts' SSH settings;
     * `planned`: `planTailscale(args)` of args the caller already validated (the cluster plan does).
     */
    constructor(name: string, args: TailscaleOverlayArgs, opts?: pulumi.ComponentResourceOptions, options: SshCheckOptions & { readonly planned?: readonly TailscaleHostPlan[] } = {}) {
        super("hybridinfra:index:TailscaleOverlay", name, {}, opts);
        if (options.planned === undefined) validateTailscale(args, args.authKey !== undefined && args.authKey !== "", undefined, options);
        const hostsByName = new Map(args.hosts.map((h) => [h.name, h]));
        const authKey = pulumi.secret(args.authKey);
        const nodes: Record<string, TailscaleNodeInternals> = {};
        for (const plan of options.planned ?? planTailscale(args)) {
            const host = hostsByName.get(plan.name)!;
            const connection = connectionFor(host, hostsByName);
            const installStep = remoteStep(
                `${name}-${plan.name}-ts-install`,
                { host: plan.name, step: "ts-install", connection, create: renderTailscaleInstall() },
                { parent: this, dependsOn: opts?.dependsOn },
            );
            const upStep = remoteStep(
                `${name}-${plan.name}-ts-up`,
                {
                    host: plan.name,
                    step: "ts-up",
                    connection,
                    create: renderTailscaleUp(plan),
                    delete: renderTailscaleDown(),
                    secrets: { tailscale_auth_key: authKey },
                },
                { parent: this, dependsOn: [installStep] },
            );
            const address = upStep.stdout.apply((out) => {
                const addr = parseTailscaleAddress(out ?? "");
                if (addr === undefined && !pulumi.runtime.isDryRun()) {
                    throw new Error(`host ${plan.name}: tailscale up printed no address (expected a line hybridinfra-address=<ip>)`);
                }
                return addr ?? "";
            });
            nodes[plan.name] = { installStep, upStep, address };
        }
        this.addresses = pulumi
            .all(Object.fromEntries(Object.entries(nodes).map(([h, n]) => [h, n.address])))
            .apply((a) => a as Record<string, string>);
        this.interfaceName = pulumi.output(TAILSCALE_INTERFACE);
        setInternals<TailscaleOverlayInternals>(this, { nodes });
        this.registerOutputs({ addresses: this.addresses, interfaceName: this.interfaceName });
    }
}

export function tailscaleOverlayInternals(overlay: TailscaleOverlay): TailscaleOverlayInternals {
    return getInternals<TailscaleOverlayInternals>(overlay);
}
