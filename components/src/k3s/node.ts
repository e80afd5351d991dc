import * as crypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { connectionFor } from "../host/connection";
import { SshHostArgs } from "../host/model";
import { getInternals, setInternals } from "../util/internals";
import { whenResolved } from "../util/output";
import { apiUrl, Datastore, FailoverProfile, K3sBackupArgs, K3sInstallArgs, K3sNodeArgs, NodeRole } from "./model";
import { createSqliteBackupStep, SECRET_BACKUP_S3 } from "./backup";
import { K3sInstallPlan, K3sNodeDecisions, nodeConfigValues, planK3sAgent, planK3sServer } from "./plan";
import { renderK3sConfig, SECRET_DATASTORE, SECRET_TOKEN, yamlQuotedInner } from "./render";
import { airgapRemotePaths, renderConfigDelete, renderConfigStep, renderInstallScript, renderNodeDrainScript, renderNodeReadyScript, renderNodeRemoveScript, renderUninstallScript } from "./scripts";
import { remoteStep } from "../host/step";
import { compact } from "../util/compact";

/** What every k3s node component takes. */
export interface K3sNodeCommonArgs {
    /** The machine and its k3s role, location, overlay address, labels and taints. */
    readonly node: K3sNodeArgs;
    /** The overlay interface for flannel, e.g. `wg0` or `tailscale0`. */
    readonly interfaceName: string;
    /** The cluster token (secret). Reaches the host only on stdin, then a 0600 file. */
    readonly token: pulumi.Input<string>;
    /**
     * Where k3s comes from.
     * @default the "stable" channel from the official installer
     */
    readonly install?: K3sInstallArgs;
    /**
     * Failover profile; its kubelet flags go on every node, its control-plane flags on servers.
     * @default "default"
     */
    readonly failoverProfile?: FailoverProfile;
    /**
     * Extra kubelet flags (`name=value`).
     * @default none
     */
    readonly kubeletArgs?: string[];
    /**
     * Generation of the cluster token (see `K3sSettingsArgs.tokenRotation`): stated in config.yaml, so that a
     * new generation restarts k3s here with the new `token`.
     * @default 0
     */
    readonly tokenRotation?: number;
    /**
     * A server of the cluster (usually the first) where kubectl runs: it waits for this node to be Ready,
     * syncs its labels, and on removal drains and deletes the Node.
     * @default none (no readiness wait; removal only uninstalls k3s)
     */
    readonly controlHost?: SshHostArgs;
    /**
     * Other hosts that `node.jumpHost` or `controlHost.jumpHost` may name.
     * @default none
     */
    readonly sshHosts?: SshHostArgs[];
}

/** A k3s server: the one that starts the cluster, or one that joins it. */
export interface K3sServerArgs extends K3sNodeCommonArgs {
    /**
     * URL of a server to join (`https://<overlay address>:6443`).
     * @default none: this server starts the cluster
     */
    readonly serverUrl?: pulumi.Input<string>;
    /**
     * Datastore; "etcd" on the starting server renders `cluster-init`.
     * @default "sqlite"
     */
    readonly datastore?: Datastore;
    /**
     * External datastore endpoint (secret), with datastore "external".
     * @default none
     */
    readonly datastoreEndpoint?: pulumi.Input<string>;
    /**
     * Packaged components not to deploy.
     * @default none
     */
    readonly disable?: string[];
    /**
     * Extra kube-controller-manager flags (`name=value`).
     * @default none
     */
    readonly kubeControllerManagerArgs?: string[];
    /**
     * Extra kube-apiserver flags (`name=value`).
     * @default none
     */
    readonly kubeApiServerArgs?: string[];
    /**
     * Encrypt Secrets at rest.
     * @default false
     */
    readonly secretsEncryption?: boolean;
    /**
     * Pod network.
     * @default "10.42.0.0/16"
     */
    readonly clusterCidr?: string;
    /**
     * Service network.
     * @default "10.43.0.0/16"
     */
    readonly serviceCidr?: string;
    /**
     * More names for the API certificate, besides the node's publicAddress.
     * @default none
     */
    readonly tlsSans?: string[];
    /**
     * Backups (see `K3sBackupArgs`): with datastore "etcd", the snapshot schedule, retention, directory and S3
     * copy go into this server's config.yaml; with "sqlite", a k3s-backup step installs the backup script and its timer.
     * @default none (k3s's own etcd snapshot defaults)
     */
    readonly backup?: K3sBackupArgs;
}

/** A k3s agent (worker, e.g. an edge machine behind NAT) joining a server over the overlay. */
export interface K3sAgentArgs extends K3sNodeCommonArgs {
    /** URL of a server to join (`https://<overlay address>:6443`). */
    readonly serverUrl: pulumi.Input<string>;
}

/** The steps of one node, in order, for composition (ordering and tests). */
export interface K3sNodeInternals {
    /** Every host step of the node, in order (air-gap uploads are in `uploads`). */
    readonly steps: command.remote.Command[];
    readonly config: command.remote.Command;
    readonly install: command.remote.Command;
    /** Runs on the control host; absent without one. */
    readonly node?: command.remote.Command;
    readonly uploads: command.remote.CopyToRemote[];
    /** The k3s-backup step of a sqlite server with k3s.backup (not in `steps`). */
    readonly backup?: command.remote.Command;
    /** The last step of the node (its install, or the Ready wait on the control host when there is one). */
    readonly done: command.remote.Command;
}

export function k3sServerInternals(s: K3sServer): K3sNodeInternals {
    return getInternals<K3sNodeInternals>(s);
}

export function k3sAgentInternals(a: K3sAgent): K3sNodeInternals {
    return getInternals<K3sNodeInternals>(a);
}

/** What `createNodeSteps` makes a node's steps from: the decisions, with the Inputs they need. */
interface StepPlan {
    readonly role: NodeRole;
    readonly configYaml: pulumi.Input<string>;
    readonly install: K3sInstallPlan;
    readonly datastoreEndpoint?: pulumi.Input<string>;
    /** For the Ready check's label sync. */
    readonly labels: Readonly<Record<string, string>>;
    /** k3s.backup's S3 secret key, filled into an etcd server's config.yaml (`etcd-s3-secret-key`). */
    readonly backupS3SecretKey?: pulumi.Input<string>;
}

/** The resources of a dependsOn option; an Input-valued dependsOn is not supported here. */
function dependsOnList(d: pulumi.ComponentResourceOptions["dependsOn"]): pulumi.Resource[] {
    if (d === undefined) return [];
    if (pulumi.Resource.isInstance(d)) return [d];
    if (Array.isArray(d)) {
        return d.map((x) => {
            if (!pulumi.Resource.isInstance(x)) throw new Error("K3sServer/K3sAgent: dependsOn must list resources (not Outputs or Promises)");
            return x;
        });
    }
    throw new Error("K3sServer/K3sAgent: dependsOn must be a resource or a list of resources (not an Output or Promise)");
}

/** Short sha256 of a rendered config.yaml (the text with secret placeholders, not the secrets). */
export function configRevision(configYaml: string): string {
    return crypto.createHash("sha256").update(configYaml).digest("hex").slice(0, 16);
}

/**
 * Registers a node's steps under `parent`. The config step runs at once; the component's dependsOn gates the
 * install step (k3s starts only once the overlay is up and, for a joining node, the node before it is in).
 */
function createNodeSteps(parent: pulumi.ComponentResource, name: string, args: K3sNodeCommonArgs, plan: StepPlan, opts: pulumi.ComponentResourceOptions | undefined): K3sNodeInternals {
    const hostsByName = new Map<string, SshHostArgs>([...(args.sshHosts ?? []).map((h) => [h.name, h] as const), [args.node.name, args.node]]);
    if (args.controlHost !== undefined && !hostsByName.has(args.controlHost.name)) hostsByName.set(args.controlHost.name, args.controlHost);
    const connection = connectionFor(args.node, hostsByName);
    const host = args.node.name;
    const install = plan.install;
    const airgap = install.airgap;

    const config = remoteStep(
        `${name}-k3s-config`,
        {
            host,
            step: "k3s-config",
            connection,
            create: pulumi.Output.isInstance(plan.configYaml)
                ? plan.configYaml.apply((yaml) => renderConfigStep(yaml, airgap !== undefined))
                : renderConfigStep(plan.configYaml as string, airgap !== undefined),
            delete: renderConfigDelete(airgap !== undefined),
            secrets: {
                [SECRET_TOKEN]: pulumi.secret(args.token),
                ...(plan.datastoreEndpoint !== undefined ? { [SECRET_DATASTORE]: pulumi.secret(pulumi.output(plan.datastoreEndpoint).apply(yamlQuotedInner)) } : {}),
                ...(plan.backupS3SecretKey !== undefined ? { [SECRET_BACKUP_S3]: pulumi.secret(pulumi.output(plan.backupS3SecretKey).apply(yamlQuotedInner)) } : {}),
            },
        },
        // Writing files needs neither the overlay nor a server (the overlay address is planned), so config
        // steps run in parallel with the overlay; only the install step below waits.
        { parent },
    );

    const uploads: command.remote.CopyToRemote[] = [];
    if (airgap !== undefined) {
        const remote = airgapRemotePaths(airgap);
        const files: [string, string, string][] = [
            ["binary", airgap.binaryPath, remote.binary],
            ["images", airgap.imagesPath, remote.images],
            ...(airgap.installScriptPath !== undefined && remote.installer !== undefined ? [["installer", airgap.installScriptPath, remote.installer] as [string, string, string]] : []),
        ];
        for (const [what, local, remotePath] of files) {
            uploads.push(
                new command.remote.CopyToRemote(
                    `${name}-k3s-airgap-${what}`,
                    { connection, source: new pulumi.asset.FileAsset(local), remotePath },
                    { parent, dependsOn: [config] },
                ),
            );
        }
    }

    // A node other than the first server is drained from the first server before its k3s restarts (an upgrade
    // or a config.yaml change), and checked Ready at the new version and uncordoned after: a rolling upgrade.
    const control = args.controlHost !== undefined && args.controlHost.name !== args.node.name ? args.controlHost : undefined;
    const revision = whenResolved([plan.configYaml], ([yaml]) => configRevision(yaml!));
    const drainStep =
        control !== undefined
            ? remoteStep(
                  `${name}-k3s-drain`,
                  {
                      host: control.name,
                      step: `k3s-drain-${host}`,
                      connection: connectionFor(control, hostsByName),
                      create: pulumi.output(revision).apply((rev) => renderNodeDrainScript({ nodeName: host, ...compact({ version: install.version }), configRevision: rev })),
                  },
                  // The component's dependsOn (the overlay, or the nodes of the previous turn) gates the drain.
                  { parent, dependsOn: dependsOnList(opts?.dependsOn) },
              )
            : undefined;

    const installStep = remoteStep(
        `${name}-k3s-install`,
        {
            host,
            step: "k3s-install",
            connection,
            // The config's digest is part of the script, so a changed config.yaml re-runs this step, which
            // restarts k3s only when the file on the host differs from the one k3s started with.
            create: whenResolved([plan.configYaml], ([yaml]) => renderInstallScript({ role: plan.role, install, configRevision: configRevision(yaml!) })),
            delete: renderUninstallScript(plan.role),
        },
        // The component's dependsOn (the overlay, or the nodes of the previous turn) gates the start of k3s,
        // through the drain step where there is one.
        { parent, dependsOn: [config, ...uploads, ...(drainStep !== undefined ? [drainStep] : dependsOnList(opts?.dependsOn))] },
    );
    const steps = [config, ...(drainStep !== undefined ? [drainStep] : []), installStep];

    let nodeStep: command.remote.Command | undefined;
    if (control !== undefined) {
        nodeStep = remoteStep(
            `${name}-k3s-node`,
            {
                host: control.name,
                step: `k3s-node-${host}`,
                connection: connectionFor(control, hostsByName),
                create: pulumi
                    .output(revision)
                    .apply((rev) => renderNodeReadyScript({ nodeName: host, labels: plan.labels, ...compact({ version: install.version }), configRevision: rev })),
                delete: renderNodeRemoveScript({ nodeName: host }),
            },
            // Depending on the install step makes Pulumi delete this step first: drain and delete the Node
            // while the machine still runs k3s, then uninstall it.
            { parent, dependsOn: [installStep] },
        );
        steps.push(nodeStep);
    }
    return { steps, config, install: installStep, ...compact({ node: nodeStep }), uploads, done: steps[steps.length - 1] };
}

/** The inputs of a node's args its steps read besides the decisions (an agent's serverUrl is required). */
type NodeInputArgs = K3sNodeCommonArgs & Partial<Pick<K3sServerArgs, "serverUrl" | "datastoreEndpoint" | "backup">>;

/**
 * Registers a node's steps from its decisions, filling in the Inputs of its args: config.yaml once its
 * addresses resolve (the join URL only where it joins), the datastore endpoint and the S3 secret key only
 * where the decisions use them, and a sqlite server's k3s-backup step after its install.
 */
function createPlannedNode(parent: pulumi.ComponentResource, name: string, args: NodeInputArgs, d: K3sNodeDecisions, opts: pulumi.ComponentResourceOptions | undefined): K3sNodeInternals {
    const s = d.settings;
    const configYaml = whenResolved([args.node.overlayAddress, s.joinsServer ? args.serverUrl : undefined], ([nodeIp, serverUrl]) => renderK3sConfig(nodeConfigValues(s, nodeIp!, serverUrl)));
    const s3SecretKey = args.backup?.s3?.secretKey;
    const internals = createNodeSteps(
        parent,
        name,
        args,
        {
            role: s.role,
            configYaml,
            install: d.install,
            labels: s.labels,
            ...(s.externalDatastore === true && args.datastoreEndpoint !== undefined ? { datastoreEndpoint: args.datastoreEndpoint } : {}),
            ...(s.etcdBackup?.s3?.secretKey === true && s3SecretKey !== undefined ? { backupS3SecretKey: s3SecretKey } : {}),
        },
        opts,
    );
    // sqlite has no snapshots of its own: a step installs the backup script and its schedule, once k3s runs.
    const backup =
        d.sqliteBackup !== undefined
            ? createSqliteBackupStep(parent, name, args.node, new Map((args.sshHosts ?? []).map((h) => [h.name, h])), d.sqliteBackup, s3SecretKey, { dependsOn: [internals.install] })
            : undefined;
    return { ...internals, ...compact({ backup }) };
}

/** A k3s server on the overlay. Alone it can join an existing cluster given `serverUrl` and `token`. */
export class K3sServer extends pulumi.ComponentResource {
    /** The Kubernetes node name (the host name). */
    public readonly nodeName: pulumi.Output<string>;
    /** This server's API URL on the overlay. */
    public readonly url: pulumi.Output<string>;

    /**
     * @param planned The decisions K3sCluster made for this server (`planK3s`, handed down by `nodeDecisions`).
     * Then args only supply the machine and the Inputs (node, token, serverUrl, datastoreEndpoint, backup's S3
     * secret key, controlHost, sshHosts) and are not validated again. Without it, the component validates and
     * plans its own args (`planK3sServer`).
     */
    constructor(name: string, args: K3sServerArgs, opts?: pulumi.ComponentResourceOptions, planned?: K3sNodeDecisions) {
        super("hybridinfra:index:K3sServer", name, {}, opts);
        const decisions = planned ?? planK3sServer(args);
        setInternals(this, createPlannedNode(this, name, args, decisions, opts));
        this.nodeName = pulumi.output(args.node.name);
        this.url = pulumi.output(args.node.overlayAddress).apply(apiUrl);
        this.registerOutputs({ nodeName: this.nodeName, url: this.url });
    }
}

/** A k3s agent on the overlay. Alone it can join an existing cluster given `serverUrl` and `token`. */
export class K3sAgent extends pulumi.ComponentResource {
    /** The Kubernetes node name (the host name). */
    public readonly nodeName: pulumi.Output<string>;

    /**
     * @param planned The decisions K3sCluster made for this agent (`planK3s`, handed down by `nodeDecisions`).
     * Then args only supply the machine and the Inputs (node, token, serverUrl, controlHost, sshHosts) and are
     * not validated again. Without it, the component validates and plans its own args (`planK3sAgent`).
     */
    constructor(name: string, args: K3sAgentArgs, opts?: pulumi.ComponentResourceOptions, planned?: K3sNodeDecisions) {
        super("hybridinfra:index:K3sAgent", name, {}, opts);
        const decisions = planned ?? planK3sAgent(args);
        setInternals(this, createPlannedNode(this, name, args, decisions, opts));
        this.nodeName = pulumi.output(args.node.name);
        this.registerOutputs({ nodeName: this.nodeName });
    }
}
