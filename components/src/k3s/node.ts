import * as crypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { connectionFor } from "../host/connection";
import { SshHostArgs, validateSshHosts } from "../host/model";
import { HybridInfraConfigError, showValue } from "../util/errors";
import { getInternals, setInternals } from "../util/internals";
import { apiUrl, Datastore, DEFAULT_CHANNEL, FailoverProfile, K3sBackupArgs, K3sInstallArgs, K3sNodeArgs, NodeRole } from "./model";
import { createSqliteBackupStep, planEtcdBackup, SECRET_BACKUP_S3, validateK3sBackup } from "./backup";
import { planNodeConfig, K3sInstallPlan } from "./plan";
import { renderK3sConfig, SECRET_DATASTORE, SECRET_TOKEN, yamlQuotedInner } from "./render";
import { airgapRemotePaths, renderConfigDelete, renderConfigStep, renderInstallScript, renderNodeDrainScript, renderNodeReadyScript, renderNodeRemoveScript, renderUninstallScript } from "./scripts";
import { whenResolved } from "./step";
import { remoteStep } from "../host/step";
import { ArgTarget, validateExtraArgs, validateInstall, validateK3sNode } from "./validate";

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

function installPlan(install: K3sInstallArgs | undefined): K3sInstallPlan {
    const i = install ?? {};
    return {
        ...(i.version !== undefined ? { version: i.version } : { channel: i.channel ?? DEFAULT_CHANNEL }),
        ...(i.mirrorUrl !== undefined ? { mirrorUrl: i.mirrorUrl.replace(/\/+$/, "") } : {}),
        ...(i.airgap !== undefined ? { airgap: i.airgap } : {}),
    };
}

function validateCommon(args: K3sNodeCommonArgs, role: NodeRole): void {
    const profile = args.failoverProfile ?? FailoverProfile.Default;
    validateSshHosts([args.node, ...(args.sshHosts ?? []).filter((h) => h.name !== args.node.name)], "hosts");
    validateK3sNode(args.node, "node");
    if (args.node.role !== role) {
        throw new HybridInfraConfigError("node.role", `is ${showValue(args.node.role)} but this component is a k3s ${role}`, `use K3s${role === NodeRole.Server ? "Agent" : "Server"} for this host, or set its role to "${role}"`);
    }
    validateInstall(args.install ?? {}, "install");
    validateExtraArgs(args.kubeletArgs, ArgTarget.Kubelet, "kubeletArgs", profile);
}

interface StepPlan {
    readonly role: NodeRole;
    readonly configYaml: pulumi.Input<string>;
    readonly datastoreEndpoint?: pulumi.Input<string>;
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
    const install = installPlan(args.install);
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
                      create: pulumi.output(revision).apply((rev) => renderNodeDrainScript({ nodeName: host, ...(install.version !== undefined ? { version: install.version } : {}), configRevision: rev })),
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
                    .apply((rev) => renderNodeReadyScript({ nodeName: host, labels: plan.labels, ...(install.version !== undefined ? { version: install.version } : {}), configRevision: rev })),
                delete: renderNodeRemoveScript({ nodeName: host }),
            },
            // Depending on the install step makes Pulumi delete this step first: drain and delete the Node
            // while the machine still runs k3s, then uninstall it.
            { parent, dependsOn: [installStep] },
        );
        steps.push(nodeStep);
    }
    return { steps, config, install: installStep, ...(nodeStep !== undefined ? { node: nodeStep } : {}), uploads, done: steps[steps.length - 1] };
}

/** A k3s server on the overlay. Alone it can join an existing cluster given `serverUrl` and `token`. */
export class K3sServer extends pulumi.ComponentResource {
    /** The Kubernetes node name (the host name). */
    public readonly nodeName: pulumi.Output<string>;
    /** This server's API URL on the overlay. */
    public readonly url: pulumi.Output<string>;

    constructor(name: string, args: K3sServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("hybridinfra:index:K3sServer", name, {}, opts);
        validateCommon(args, NodeRole.Server);
        const profile = args.failoverProfile ?? FailoverProfile.Default;
        validateExtraArgs(args.kubeControllerManagerArgs, ArgTarget.KubeControllerManager, "kubeControllerManagerArgs", profile);
        validateExtraArgs(args.kubeApiServerArgs, ArgTarget.KubeApiServer, "kubeApiServerArgs", profile);
        const datastore = args.datastore ?? Datastore.Sqlite;
        if (datastore === Datastore.External && args.datastoreEndpoint === undefined) {
            throw new HybridInfraConfigError("datastoreEndpoint", 'is missing but datastore is "external"', "pass the endpoint as a secret");
        }
        if (datastore === Datastore.Sqlite && args.serverUrl !== undefined) {
            throw new HybridInfraConfigError("serverUrl", 'is set but datastore is "sqlite", which cannot be shared between servers', 'use datastore "etcd" or "external" to run several servers');
        }
        validateK3sBackup(args.backup, datastore, "backup");
        const node = args.node;
        const configYaml = whenResolved([node.overlayAddress, args.serverUrl], ([nodeIp, serverUrl]) =>
            renderK3sConfig(
                planNodeConfig({
                    role: NodeRole.Server,
                    node,
                    nodeIp: nodeIp!,
                    interfaceName: args.interfaceName,
                    ...(serverUrl !== undefined && datastore === Datastore.Etcd ? { serverUrl } : {}),
                    clusterInit: datastore === Datastore.Etcd && serverUrl === undefined,
                    externalDatastore: datastore === Datastore.External,
                    failoverProfile: profile,
                    ...(args.kubeletArgs !== undefined ? { kubeletArgs: args.kubeletArgs } : {}),
                    ...(args.kubeControllerManagerArgs !== undefined ? { kubeControllerManagerArgs: args.kubeControllerManagerArgs } : {}),
                    ...(args.kubeApiServerArgs !== undefined ? { kubeApiServerArgs: args.kubeApiServerArgs } : {}),
                    ...(args.disable !== undefined ? { disable: args.disable } : {}),
                    ...(args.secretsEncryption !== undefined ? { secretsEncryption: args.secretsEncryption } : {}),
                    ...(args.clusterCidr !== undefined ? { clusterCidr: args.clusterCidr } : {}),
                    ...(args.serviceCidr !== undefined ? { serviceCidr: args.serviceCidr } : {}),
                    ...(args.tlsSans !== undefined ? { extraTlsSans: args.tlsSans } : {}),
                    ...(args.tokenRotation !== undefined ? { tokenRotation: args.tokenRotation } : {}),
                    ...(datastore === Datastore.Etcd && args.backup !== undefined ? { etcdBackup: planEtcdBackup(args.backup) } : {}),
                }),
            ),
        );
        const labels = planNodeConfig({ role: NodeRole.Server, node, nodeIp: "", interfaceName: args.interfaceName }).labels;
        const internals = createNodeSteps(
            this,
            name,
            args,
            {
                role: NodeRole.Server,
                configYaml,
                ...(datastore === Datastore.External && args.datastoreEndpoint !== undefined ? { datastoreEndpoint: args.datastoreEndpoint } : {}),
                ...(datastore === Datastore.Etcd && args.backup?.s3?.secretKey !== undefined ? { backupS3SecretKey: args.backup.s3.secretKey } : {}),
                labels,
            },
            opts,
        );
        // sqlite has no snapshots of its own: a step installs the backup script and its schedule, once k3s runs.
        const backup =
            datastore === Datastore.Sqlite && args.backup !== undefined
                ? createSqliteBackupStep(this, name, node, new Map((args.sshHosts ?? []).map((h) => [h.name, h])), args.backup, { dependsOn: [internals.install] })
                : undefined;
        setInternals(this, { ...internals, ...(backup !== undefined ? { backup } : {}) });
        this.nodeName = pulumi.output(node.name);
        this.url = pulumi.output(node.overlayAddress).apply(apiUrl);
        this.registerOutputs({ nodeName: this.nodeName, url: this.url });
    }
}

/** A k3s agent on the overlay. Alone it can join an existing cluster given `serverUrl` and `token`. */
export class K3sAgent extends pulumi.ComponentResource {
    /** The Kubernetes node name (the host name). */
    public readonly nodeName: pulumi.Output<string>;

    constructor(name: string, args: K3sAgentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("hybridinfra:index:K3sAgent", name, {}, opts);
        validateCommon(args, NodeRole.Agent);
        const node = args.node;
        const configYaml = whenResolved([node.overlayAddress, args.serverUrl], ([nodeIp, serverUrl]) =>
            renderK3sConfig(
                planNodeConfig({
                    role: NodeRole.Agent,
                    node,
                    nodeIp: nodeIp!,
                    interfaceName: args.interfaceName,
                    serverUrl: serverUrl!,
                    failoverProfile: args.failoverProfile ?? FailoverProfile.Default,
                    ...(args.kubeletArgs !== undefined ? { kubeletArgs: args.kubeletArgs } : {}),
                    ...(args.tokenRotation !== undefined ? { tokenRotation: args.tokenRotation } : {}),
                }),
            ),
        );
        const labels = planNodeConfig({ role: NodeRole.Agent, node, nodeIp: "", interfaceName: args.interfaceName }).labels;
        setInternals(this, createNodeSteps(this, name, args, { role: NodeRole.Agent, configYaml, labels }, opts));
        this.nodeName = pulumi.output(node.name);
        this.registerOutputs({ nodeName: this.nodeName });
    }
}
