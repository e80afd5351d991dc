import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import { connectionFor } from "../host/connection";
import type { SshCheckOptions } from "../host/model";
import { remoteStep } from "../host/step";
import { getInternals, setInternals } from "../util/internals";
import type { PublicIngressForwardArgs } from "./model";
import { FORWARD_STEP, ForwardPlan, planForward, validateForward } from "./plan";
import { renderForwardCreate, renderForwardDelete } from "./render";

export interface PublicIngressForwardInternals {
    readonly plan: ForwardPlan;
    readonly step: command.remote.Command;
}

/**
 * A public cloud node that forwards TCP 80/443 over the overlay to the cluster's ingress, for a cluster
 * whose nodes have no public address. One host step (`ingress-forward`); deleting it removes the rules.
 * Clients' addresses are masqueraded to this node's overlay address on the way in.
 */
export class PublicIngressForward extends pulumi.ComponentResource {
    public readonly targets: pulumi.Output<string[]>;
    public readonly ports: pulumi.Output<number[]>;

    /**
     * @param options `sshChecked` when the caller (the cluster plan) already checked the host's SSH settings.
     */
    constructor(name: string, args: PublicIngressForwardArgs, opts?: pulumi.ComponentResourceOptions, options: SshCheckOptions = {}) {
        validateForward(args, undefined, options);
        super("hybridinfra:index:PublicIngressForward", name, {}, opts);
        const plan = planForward(args);
        const step = remoteStep(
            `${name}-${FORWARD_STEP}`,
            {
                host: args.name,
                step: FORWARD_STEP,
                connection: connectionFor(args, new Map()),
                create: renderForwardCreate(plan),
                delete: renderForwardDelete(),
            },
            // The component's dependsOn (e.g. the overlay being up) does not reach children by itself.
            { parent: this, ...(opts?.dependsOn !== undefined ? { dependsOn: opts.dependsOn } : {}) },
        );
        this.targets = pulumi.output([...plan.targets]);
        this.ports = pulumi.output([...plan.ports]);
        setInternals<PublicIngressForwardInternals>(this, { plan, step });
        this.registerOutputs({ targets: this.targets, ports: this.ports });
    }
}

export function publicIngressForwardInternals(f: PublicIngressForward): PublicIngressForwardInternals {
    return getInternals<PublicIngressForwardInternals>(f);
}
