import type { SshCheckOptions } from "../host/model";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { connectionFor } from "../host/connection";
import { remoteStep } from "../host/step";
import { getInternals, setInternals } from "../util/internals";
import { extractKubeconfig } from "./kubeconfig";
import { apiUrl, Datastore, K3sClusterArgs, K3sNodeArgs, NodeRole } from "./model";
import { K3sAgent, k3sAgentInternals, K3sNodeInternals, K3sServer, k3sServerInternals } from "./node";
import { K3sPlan, nodeDecisions, planK3s } from "./plan";
import { renderKubeconfigScript, renderTokenRotateDelete, renderTokenRotateScript } from "./scripts";
import { SECRET_TOKEN } from "./render";
import { compact } from "../util/compact";

/** What composition (apps, tunnels, tests) needs from a K3sCluster besides its outputs. */
export interface K3sClusterInternals {
    /** Kubernetes provider built from the kubeconfig: use it for everything cluster-side. */
    readonly provider: k8s.Provider;
    /** The rewritten kubeconfig (secret). */
    readonly kubeconfig: pulumi.Output<string>;
    readonly plan: K3sPlan;
    /** Host steps per node name, in order (the kubeconfig read is under the first server's name, last). */
    readonly steps: Record<string, command.remote.Command[]>;
    readonly firstServer: string;
    readonly servers: Record<string, K3sServer>;
    readonly agents: Record<string, K3sAgent>;
    readonly token: random.RandomPassword;
    /** `k3s token rotate` on the first server; present when k3s.tokenRotation is above 0. */
    readonly tokenRotateStep?: command.remote.Command;
    readonly kubeconfigStep: command.remote.Command;
}

/** The resources of a dependsOn option (an Input-valued dependsOn is not supported by the node components). */
function resourcesOf(d: pulumi.ComponentResourceOptions["dependsOn"]): pulumi.Resource[] {
    if (d === undefined) return [];
    if (pulumi.Resource.isInstance(d)) return [d];
    if (Array.isArray(d)) return d.filter((x): x is pulumi.Resource => pulumi.Resource.isInstance(x));
    throw new Error("K3sCluster: dependsOn must be a resource or a list of resources (not an Output or Promise)");
}

export function k3sClusterInternals(c: K3sCluster): K3sClusterInternals {
    return getInternals<K3sClusterInternals>(c);
}

/**
 * A k3s cluster on an overlay: config files written on every node at once; k3s installed and started on the
 * first server once the overlay (dependsOn) is up, then on joining servers one at a time, then on agents in
 * parallel; kubeconfig read from the first server and a Kubernetes provider built from it.
 */
export class K3sCluster extends pulumi.ComponentResource {
    /** Admin kubeconfig pointing at `apiEndpoint` (secret). */
    public readonly kubeconfig: pulumi.Output<string>;
    /** The API URL written into the kubeconfig, e.g. `https://203.0.113.10:6443`. */
    public readonly apiEndpoint: pulumi.Output<string>;
    /** Worst-case seconds from a node going silent to its pods being evicted (see `failoverTimings`). */
    public readonly failoverBoundSeconds: pulumi.Output<number>;

    /**
     * @param options `sshChecked` when the caller (the cluster plan) already checked the nodes' SSH settings;
     * `planned`: `planK3s(args)` when the caller already made it (the cluster plan does), so nothing is
     * validated or planned twice.
     */
    constructor(name: string, args: K3sClusterArgs, opts?: pulumi.ComponentResourceOptions, options: SshCheckOptions & { readonly planned?: K3sPlan } = {}) {
        super("hybridinfra:index:K3sCluster", name, {}, opts);
        const plan = options.planned ?? planK3s(args, options);
        for (const w of plan.warnings) void pulumi.log.warn(w, this);

        const byName = new Map<string, K3sNodeArgs>(args.nodes.map((n) => [n.name, n]));
        const first = byName.get(plan.firstServer)!;
        const rotation = args.tokenRotation ?? 0;
        const token = new random.RandomPassword(
            `${name}-token`,
            // Letters and digits only: k3s parses `K10…::server:…` tokens, and a plain secret never needs quoting.
            // A new k3s.tokenRotation generation replaces it (keepers), which is what rotates the token.
            { length: 48, special: false, ...(rotation > 0 ? { keepers: { tokenRotation: String(rotation) } } : {}) },
            { parent: this, additionalSecretOutputs: ["result"] },
        );
        const tokenValue = pulumi.secret(token.result);
        // The datastore learns the new token on the first server before any k3s restarts with it: the first
        // server's install step (the start of every restart chain) waits for this step.
        const tokenRotateStep =
            rotation > 0
                ? remoteStep(
                      `${name}-${plan.firstServer}-k3s-token-rotate`,
                      {
                          host: plan.firstServer,
                          step: "k3s-token-rotate",
                          connection: connectionFor(first, byName),
                          create: renderTokenRotateScript(rotation),
                          delete: renderTokenRotateDelete(),
                          secrets: { [SECRET_TOKEN]: tokenValue },
                      },
                      { parent: this },
                  )
                : undefined;
        const firstUrl: pulumi.Input<string> = typeof first.overlayAddress === "string" ? apiUrl(first.overlayAddress) : pulumi.output(first.overlayAddress).apply(apiUrl);
        // What every node's component takes besides its decisions (the plan's): the Inputs.
        const common = { interfaceName: args.interfaceName, token: tokenValue };
        // Only the hosts a node's steps connect through: its jump host, and the control host (the first
        // server) with its jump host. Handing every node the whole list made validation and connection
        // lookups quadratic in the cluster size.
        const sshHostsFor = (node: K3sNodeArgs): K3sNodeArgs[] => {
            const names = new Set([node.jumpHost, first.name, first.jumpHost].filter((n): n is string => n !== undefined && n !== node.name));
            return [...names].map((n) => byName.get(n)).filter((h): h is K3sNodeArgs => h !== undefined);
        };

        const internalsOf = new Map<string, K3sNodeInternals>();
        const servers: Record<string, K3sServer> = {};
        const agents: Record<string, K3sAgent> = {};
        for (const p of plan.nodes) {
            const node = byName.get(p.name)!;
            // Config steps run at once. Install steps are gated: the first server's by the overlay (this
            // component's dependsOn), every other node's by the install of the node before it in the plan,
            // which serialises joining servers and fans agents out after the last server. A server's install
            // ends when its API is ready, so every install transitively waits for the whole overlay.
            const dependsOn =
                p.after.length > 0
                    ? p.after.map((a) => internalsOf.get(a)!.done)
                    : tokenRotateStep !== undefined
                      ? [...resourcesOf(opts?.dependsOn), tokenRotateStep]
                      : opts?.dependsOn;
            const childOpts: pulumi.ComponentResourceOptions = { parent: this, ...compact({ dependsOn }) };
            const controlHost = p.firstServer ? {} : { controlHost: first };
            // Each node component gets its decisions from the plan; its args carry only the machine and the Inputs.
            const decisions = nodeDecisions(plan, p);
            if (p.role === NodeRole.Server) {
                const s = new K3sServer(
                    `${name}-${p.name}`,
                    {
                        ...common,
                        sshHosts: sshHostsFor(node),
                        ...controlHost,
                        node,
                        ...(p.joinsFirstServer ? { serverUrl: firstUrl } : {}),
                        ...(plan.datastore === Datastore.External && args.datastoreEndpoint !== undefined ? { datastoreEndpoint: pulumi.secret(args.datastoreEndpoint) } : {}),
                        // Read for its S3 secret key only (the backup itself is planned).
                        ...compact({ backup: args.backup }),
                    },
                    childOpts,
                    decisions,
                );
                servers[p.name] = s;
                internalsOf.set(p.name, k3sServerInternals(s));
            } else {
                const a = new K3sAgent(`${name}-${p.name}`, { ...common, sshHosts: sshHostsFor(node), ...controlHost, node, serverUrl: firstUrl }, childOpts, decisions);
                agents[p.name] = a;
                internalsOf.set(p.name, k3sAgentInternals(a));
            }
        }

        const firstInternals = internalsOf.get(plan.firstServer)!;
        const kubeconfigStep = remoteStep(
            `${name}-${plan.firstServer}-k3s-kubeconfig`,
            {
                host: plan.firstServer,
                step: "k3s-kubeconfig",
                connection: connectionFor(first, byName),
                create: renderKubeconfigScript(),
                secretStdout: true,
            },
            { parent: this, dependsOn: [firstInternals.install] },
        );
        const endpoint: pulumi.Input<string> = plan.kubeconfigEndpoint ?? first.overlayAddress;
        this.kubeconfig = pulumi.secret(pulumi.all([kubeconfigStep.stdout, endpoint]).apply(([stdout, host]) => extractKubeconfig(stdout, host)));
        this.apiEndpoint = pulumi.output(endpoint).apply(apiUrl);
        this.failoverBoundSeconds = pulumi.output(plan.timings.boundSeconds);
        const provider = new k8s.Provider(`${name}-k8s`, { kubeconfig: this.kubeconfig }, { parent: this });

        const steps: Record<string, command.remote.Command[]> = {};
        for (const [n, i] of internalsOf) steps[n] = [...i.steps];
        steps[plan.firstServer].push(kubeconfigStep);
        setInternals<K3sClusterInternals>(this, {
            provider,
            kubeconfig: this.kubeconfig,
            plan,
            steps,
            firstServer: plan.firstServer,
            servers,
            agents,
            token,
            ...compact({ tokenRotateStep }),
            kubeconfigStep,
        });
        this.registerOutputs({ kubeconfig: this.kubeconfig, apiEndpoint: this.apiEndpoint, failoverBoundSeconds: this.failoverBoundSeconds });
    }
}
