import type { SshCheckOptions } from "../host/model";
import { planEtcdBackup, planSqliteBackup } from "./backup";
import type { EtcdBackupPlan, SqliteBackupPlan } from "./backup";
import { defaultDatastore } from "./day2";
import { failoverTimings, FailoverTimings } from "./failover";
import { Datastore, DEFAULT_CHANNEL, FailoverProfile, isIp, K3sAirgapArgs, K3sClusterArgs, K3sInstallArgs, K3sNodeArgs, NodeRole, REGION_LABEL } from "./model";
import type { K3sAgentArgs, K3sServerArgs } from "./node";
import { k3sAgentProblems, k3sServerProblems, normaliseExtraArg, validateK3sCluster } from "./validate";
import { throwAll } from "../util/errors";
import { compact } from "../util/compact";

/** Everything `renderK3sConfig` needs: plain values only (Inputs are resolved before rendering). */
export interface K3sConfigValues {
    readonly role: NodeRole;
    readonly nodeName: string;
    readonly nodeIp: string;
    readonly nodeExternalIp?: string;
    /** Servers: the address the API server advertises (the `kubernetes` Service endpoint): the overlay address. */
    readonly advertiseAddress?: string;
    readonly interfaceName: string;
    /** MTU of the overlay interface, stated (with flannel's VXLAN MTU) as a comment so that a change restarts k3s. */
    readonly overlayMtu?: number;
    /** Join URL (`server:`); absent on the server that starts the cluster. */
    readonly serverUrl?: string;
    /** Embedded etcd on the first server. */
    readonly clusterInit?: boolean;
    /** The datastore endpoint is rendered as a secret placeholder (filled on the host). */
    readonly externalDatastore?: boolean;
    readonly tlsSans?: readonly string[];
    readonly labels: Readonly<Record<string, string>>;
    readonly taints: readonly string[];
    readonly disable?: readonly string[];
    readonly secretsEncryption?: boolean;
    readonly clusterCidr?: string;
    readonly serviceCidr?: string;
    readonly kubeletArgs: readonly string[];
    readonly kubeControllerManagerArgs?: readonly string[];
    readonly kubeApiServerArgs?: readonly string[];
    /** Cluster token generation (`k3s.tokenRotation`), stated as a comment so that a rotation restarts k3s. */
    readonly tokenRotation?: number;
    /** etcd servers: k3s.backup's snapshot settings (see backup.ts). */
    readonly etcdBackup?: EtcdBackupPlan;
}

/**
 * The flags a failover profile puts first in a node's extra-arg lists: the rendered part of `FailoverTimings`,
 * so a plan's timings are handed down as they are.
 */
export type FailoverFlags = Pick<FailoverTimings, "kubeletArgs" | "kubeControllerManagerArgs" | "kubeApiServerArgs">;

/**
 * What one node's config.yaml says, decided at plan time: everything but its addresses, which may be Outputs
 * (Tailscale's are known only after `tailscale up`); `nodeConfigValues` adds them.
 */
export interface K3sNodeSettings extends Omit<K3sConfigValues, "nodeIp" | "advertiseAddress" | "serverUrl"> {
    /** The node joins through a server's URL (`server:`): every agent, and a server joining embedded etcd. */
    readonly joinsServer: boolean;
}

/** The per-node inputs of `planNodeSettings` (what a K3sServer / K3sAgent knows about itself). */
export interface NodeSettingsInput {
    readonly role: NodeRole;
    readonly node: Pick<K3sNodeArgs, "name" | "location" | "publicAddress" | "labels" | "taints" | "overlayMtu">;
    readonly interfaceName: string;
    /** @default true for an agent, false for a server */
    readonly joinsServer?: boolean;
    readonly clusterInit?: boolean;
    readonly externalDatastore?: boolean;
    /**
     * The failover profile's flags (a `failoverTimings` result, e.g. `K3sPlan.timings`).
     * @default none: the "default" profile, which keeps upstream's values
     */
    readonly failover?: FailoverFlags;
    readonly kubeletArgs?: readonly string[];
    readonly kubeControllerManagerArgs?: readonly string[];
    readonly kubeApiServerArgs?: readonly string[];
    readonly disable?: readonly string[];
    readonly secretsEncryption?: boolean;
    readonly clusterCidr?: string;
    readonly serviceCidr?: string;
    /** More names for the server certificate (e.g. the kubeconfig endpoint). */
    readonly extraTlsSans?: readonly string[];
    readonly tokenRotation?: number;
    /** etcd servers: k3s.backup's snapshot settings. */
    readonly etcdBackup?: EtcdBackupPlan;
}

/** The inputs of `planNodeConfig`: a node's settings with its addresses known. */
export interface NodeConfigInput extends Omit<NodeSettingsInput, "joinsServer"> {
    readonly nodeIp: string;
    /** Join URL (`server:`); absent on the server that starts the cluster. */
    readonly serverUrl?: string;
}

function unique(values: readonly string[]): string[] {
    return [...new Set(values)];
}

/** A node's labels: the region from its location first, then its own labels by key. */
function nodeLabels(node: Pick<K3sNodeArgs, "location" | "labels">): Record<string, string> {
    const labels: Record<string, string> = { [REGION_LABEL]: node.location };
    for (const k of Object.keys(node.labels ?? {}).sort()) labels[k] = node.labels![k];
    return labels;
}

/**
 * Decides one node's k3s configuration but its addresses. Pure; the profile's flags come first, then the
 * user's. See `planNodeConfig` for the address flags.
 */
export function planNodeSettings(input: NodeSettingsInput): K3sNodeSettings {
    const failover = input.failover ?? failoverTimings(FailoverProfile.Default);
    const server = input.role === NodeRole.Server;
    const publicIp = input.node.publicAddress !== undefined && isIp(input.node.publicAddress) ? input.node.publicAddress : undefined;
    return {
        role: input.role,
        nodeName: input.node.name,
        joinsServer: input.joinsServer ?? !server,
        ...compact({ nodeExternalIp: publicIp }),
        interfaceName: input.interfaceName,
        ...compact({ overlayMtu: input.node.overlayMtu }),
        ...(input.tokenRotation !== undefined && input.tokenRotation > 0 ? { tokenRotation: input.tokenRotation } : {}),
        ...(server && input.clusterInit ? { clusterInit: true } : {}),
        ...(server && input.externalDatastore ? { externalDatastore: true } : {}),
        ...(server ? { tlsSans: unique([...(input.node.publicAddress !== undefined ? [input.node.publicAddress] : []), ...(input.extraTlsSans ?? [])]) } : {}),
        labels: nodeLabels(input.node),
        taints: [...(input.node.taints ?? [])],
        ...(server && input.disable !== undefined && input.disable.length > 0 ? { disable: unique(input.disable) } : {}),
        ...(server && input.secretsEncryption ? { secretsEncryption: true } : {}),
        ...(server && input.clusterCidr !== undefined ? { clusterCidr: input.clusterCidr } : {}),
        ...(server && input.serviceCidr !== undefined ? { serviceCidr: input.serviceCidr } : {}),
        ...(server && input.etcdBackup !== undefined ? { etcdBackup: input.etcdBackup } : {}),
        kubeletArgs: [...failover.kubeletArgs, ...(input.kubeletArgs ?? []).map(normaliseExtraArg)],
        ...(server
            ? {
                  kubeControllerManagerArgs: [...failover.kubeControllerManagerArgs, ...(input.kubeControllerManagerArgs ?? []).map(normaliseExtraArg)],
                  kubeApiServerArgs: [...failover.kubeApiServerArgs, ...(input.kubeApiServerArgs ?? []).map(normaliseExtraArg)],
              }
            : {}),
    };
}

/**
 * A node's config values: its planned settings with its addresses, once they are known. `serverUrl` is used
 * only when the node joins a server (`settings.joinsServer`), and is then required.
 */
export function nodeConfigValues(settings: K3sNodeSettings, nodeIp: string, serverUrl?: string): K3sConfigValues {
    const { joinsServer, ...values } = settings;
    if (joinsServer && serverUrl === undefined) throw new Error(`nodeConfigValues: ${settings.nodeName} joins a server but has no server URL (bug in HybridInfra)`);
    return {
        ...values,
        nodeIp,
        ...(settings.role === NodeRole.Server ? { advertiseAddress: nodeIp } : {}),
        ...(joinsServer ? { serverUrl: serverUrl! } : {}),
    };
}

/**
 * Decides one node's k3s configuration, its addresses known (`planNodeSettings`, then `nodeConfigValues`).
 * Pure; the profile's flags come first, then the user's.
 *
 * The address flags, per k3s's docs (https://docs.k3s.io/cli/server "Listeners" and "Agent/Networking",
 * https://docs.k3s.io/cli/agent):
 * - `node-ip` (every node): the overlay address, so kubelet, flannel's VXLAN and node-to-node traffic stay on
 *   the overlay interface (`flannel-iface`).
 * - `node-external-ip` (nodes with a public IP literal): "IPv4/IPv6 external IP addresses to advertise for
 *   node"; it becomes the Node's ExternalIP (ServiceLB, `kubectl get nodes -o wide`). flannel keeps using
 *   `node-ip` because `flannel-external-ip` is not set.
 * - `advertise-address` (every server): "IPv4/IPv6 address that apiserver uses to advertise to members of the
 *   cluster (default: node-external-ip/node-ip)". Left to its default, a public server advertises its
 *   node-external-ip: the `kubernetes` Service (10.43.0.1) then points at `<public IP>:6443`, so every pod's
 *   API traffic leaves the overlay, needs 6443 open to the internet, and breaks where the public IP is not on
 *   the VM's interface (NAT'd cloud VMs: Oracle, AWS, GCP). So it is always the overlay address.
 * - `tls-san` (servers): "additional hostnames or IPv4/IPv6 addresses as Subject Alternative Names on the
 *   server TLS cert": the public address and the kubeconfig endpoint (the overlay address, node-ip, is in the
 *   certificate already; k3s adds no other name on its own since `--tls-san-security`).
 * - `bind-address` (servers): not set, so the default 0.0.0.0 stands: the API must answer on the overlay
 *   address (agents, pods through advertise-address) and on the address the kubeconfig uses (a LAN or
 *   public address, see `planKubeconfigEndpoint`); binding to one address would break the other.
 */
export function planNodeConfig(input: NodeConfigInput): K3sConfigValues {
    const { nodeIp, serverUrl, ...settings } = input;
    return nodeConfigValues(planNodeSettings({ ...settings, joinsServer: serverUrl !== undefined }), nodeIp, serverUrl);
}

/** Where k3s comes from, after defaults. */
export interface K3sInstallPlan {
    readonly version?: string;
    /** Set only when no version is pinned. */
    readonly channel?: string;
    readonly mirrorUrl?: string;
    readonly airgap?: K3sAirgapArgs;
}

/** Where k3s comes from: a pinned version, else a channel (default "stable"); the mirror without its trailing `/`. */
export function planInstall(install: K3sInstallArgs): K3sInstallPlan {
    return {
        ...(install.version !== undefined ? { version: install.version } : { channel: install.channel ?? DEFAULT_CHANNEL }),
        ...(install.mirrorUrl !== undefined ? { mirrorUrl: install.mirrorUrl.replace(/\/+$/, "") } : {}),
        ...compact({ airgap: install.airgap }),
    };
}

/**
 * What a K3sServer / K3sAgent makes its steps from besides its Inputs, decided once: by `planK3s` for the
 * nodes of a K3sCluster (which hands it down), or by `planK3sServer` / `planK3sAgent` for a component used
 * alone.
 */
export interface K3sNodeDecisions {
    /** Its config.yaml but its addresses (labels for the Ready check included). */
    readonly settings: K3sNodeSettings;
    readonly install: K3sInstallPlan;
    /** A sqlite server with k3s.backup: its k3s-backup step. */
    readonly sqliteBackup?: SqliteBackupPlan;
}

/** One node's place in the cluster. */
export interface K3sNodePlan {
    readonly name: string;
    /** Index in `nodes` (for config paths `nodes[i]`). */
    readonly index: number;
    readonly role: NodeRole;
    readonly firstServer: boolean;
    /** Runs `cluster-init` (embedded etcd, first server). */
    readonly clusterInit: boolean;
    /** Joins through the first server's URL (`server:`). */
    readonly joinsFirstServer: boolean;
    /**
     * The nodes that must be done (installed, Ready, uncordoned) before this node's turn starts (its drain,
     * then its install): joining servers go one at a time, then agents in batches of `agentsPerBatch` per
     * location, each batch after the whole previous one. Config steps are not ordered. Empty for the first
     * server (the overlay gates it).
     */
    readonly after: readonly string[];
    /** Rollout batch of an agent (0 = right after the last server); servers have none. */
    readonly batch?: number;
    /** Its config.yaml but its addresses. */
    readonly settings: K3sNodeSettings;
    /** The (only) server of a sqlite cluster with k3s.backup: its k3s-backup step. */
    readonly sqliteBackup?: SqliteBackupPlan;
}

/** Decisions for a whole cluster. */
export interface K3sPlan {
    readonly datastore: Datastore;
    readonly firstServer: string;
    /** Servers in rollout order (first server first). */
    readonly servers: readonly string[];
    readonly agents: readonly string[];
    /** Every node: servers in order, then agents. */
    readonly nodes: readonly K3sNodePlan[];
    readonly install: K3sInstallPlan;
    readonly timings: FailoverTimings;
    /**
     * Host written into the kubeconfig. Undefined means the first server's overlay address (known only when
     * its Input resolves).
     */
    readonly kubeconfigEndpoint?: string;
    /**
     * The server whose address was derived as the endpoint (it alone gets it as `tls-san`); undefined when the
     * endpoint was given (every server gets it) or is the overlay address (already in the certificate).
     */
    readonly kubeconfigEndpointOwner?: string;
    /** Things the user accepted but should hear about (logged with pulumi.log.warn). */
    readonly warnings: readonly string[];
}

/** The decisions K3sCluster hands down to the component of node `p`. */
export function nodeDecisions(plan: K3sPlan, p: K3sNodePlan): K3sNodeDecisions {
    return { settings: p.settings, install: plan.install, ...compact({ sqliteBackup: p.sqliteBackup }) };
}

/**
 * The address the kubeconfig points at. Given: as is. Derived from the first server (in config order) that
 * has a public address or that the machine running Pulumi reaches directly (no jump host): its public
 * address, which works from anywhere, else its SSH address, which works from where Pulumi runs (from home:
 * the LAN address). When every server is private and behind a jump host, undefined: the first server's
 * overlay address, reachable only from a machine on the overlay.
 */
export function planKubeconfigEndpoint(args: Pick<K3sClusterArgs, "nodes" | "kubeconfigEndpoint">): { kubeconfigEndpoint?: string; kubeconfigEndpointOwner?: string } {
    if (args.kubeconfigEndpoint !== undefined) return { kubeconfigEndpoint: args.kubeconfigEndpoint };
    const reached = args.nodes.find((n) => n.role === NodeRole.Server && (n.publicAddress !== undefined || (n.jumpHost === undefined && n.jump === undefined)));
    if (reached === undefined) return {};
    return { kubeconfigEndpoint: reached.publicAddress ?? reached.address, kubeconfigEndpointOwner: reached.name };
}

/**
 * The kubeconfig endpoint as a server's extra `tls-san`: a given endpoint on every server, a derived one on
 * the server it belongs to (k3s does not add names it was not told about: --tls-san-security); none where it
 * is the server's public address (already a `tls-san`) or when there is no endpoint (the overlay address).
 */
function endpointSan(endpoint: { kubeconfigEndpoint?: string; kubeconfigEndpointOwner?: string }, server: K3sNodeArgs): string | undefined {
    const e = endpoint.kubeconfigEndpoint;
    if (e === undefined || (endpoint.kubeconfigEndpointOwner !== undefined && endpoint.kubeconfigEndpointOwner !== server.name)) return undefined;
    return e !== server.publicAddress ? e : undefined;
}

/** Nodes in the most populous location (a location is one eviction zone: see `failoverTimings`). */
function largestSite(nodes: readonly { location: string }[]): number {
    const count = new Map<string, number>();
    for (const n of nodes) count.set(n.location, (count.get(n.location) ?? 0) + 1);
    return Math.max(1, ...count.values());
}

/** The settings only servers take, as given (a server of a K3sCluster and a K3sServer used alone alike). */
function controlPlaneSettings(args: Pick<K3sServerArgs, "kubeControllerManagerArgs" | "kubeApiServerArgs" | "disable" | "secretsEncryption" | "clusterCidr" | "serviceCidr">) {
    return compact({
        kubeControllerManagerArgs: args.kubeControllerManagerArgs,
        kubeApiServerArgs: args.kubeApiServerArgs,
        disable: args.disable,
        secretsEncryption: args.secretsEncryption,
        clusterCidr: args.clusterCidr,
        serviceCidr: args.serviceCidr,
    });
}

/** Validates and plans a cluster. Pure (throws HybridInfraConfigError on bad input). */
export function planK3s(args: K3sClusterArgs, options: SshCheckOptions = {}): K3sPlan {
    validateK3sCluster(args, options);
    const servers = args.nodes.map((n, index) => ({ n, index })).filter(({ n }) => n.role === NodeRole.Server);
    const agents = args.nodes.map((n, index) => ({ n, index })).filter(({ n }) => n.role === NodeRole.Agent);
    const datastore = args.datastore ?? defaultDatastore(servers.length);
    const first = servers[0].n;
    const last = servers[servers.length - 1].n;
    const warnings: string[] = [];
    const endpoint = planKubeconfigEndpoint(args);
    const { kubeconfigEndpoint, kubeconfigEndpointOwner } = endpoint;
    if (datastore === Datastore.Etcd && new Set(servers.map(({ n }) => n.location)).size > 1) {
        warnings.push(
            `k3s: embedded etcd spans locations ${[...new Set(servers.map(({ n }) => n.location))].join(", ")} because k3s.allowEtcdAcrossLocations is true; ` +
                "etcd across a WAN is not supported upstream: expect slow writes and leader elections when a link degrades",
        );
    }
    const timings = failoverTimings(args.failoverProfile ?? FailoverProfile.Default, largestSite(args.nodes));
    const etcdBackup = datastore === Datastore.Etcd && args.backup !== undefined ? planEtcdBackup(args.backup) : undefined;
    // Settings every node shares; the profile's flags are the plan's own timings.
    const shared = {
        interfaceName: args.interfaceName,
        failover: timings,
        ...compact({ kubeletArgs: args.kubeletArgs, tokenRotation: args.tokenRotation }),
    };
    const serverSettings = (n: K3sNodeArgs, clusterInit: boolean, joinsServer: boolean): K3sNodeSettings => {
        const san = endpointSan(endpoint, n);
        return planNodeSettings({
            ...shared,
            role: NodeRole.Server,
            node: n,
            joinsServer,
            clusterInit,
            externalDatastore: datastore === Datastore.External,
            ...controlPlaneSettings(args),
            ...(san !== undefined ? { extraTlsSans: [san] } : {}),
            ...compact({ etcdBackup }),
        });
    };
    // Agents k3s already runs on roll in batches: the k-th `agentsPerBatch` deployed agents of every location
    // (config order) form batch k. New agents all join in batch 0, in parallel after the last server.
    const perBatch = args.agentsPerBatch ?? 1;
    const deployed = new Set(args.deployedNodes ?? []);
    const seenInLocation = new Map<string, number>();
    const agentBatch = new Map<string, number>();
    for (const { n } of agents) {
        if (!deployed.has(n.name)) {
            agentBatch.set(n.name, 0);
            continue;
        }
        const i = seenInLocation.get(n.location) ?? 0;
        seenInLocation.set(n.location, i + 1);
        agentBatch.set(n.name, Math.floor(i / perBatch));
    }
    // Components are created in plan order, so a batch's nodes come after the whole previous batch.
    const agentsInRollOrder = [...agents].sort((a, b) => agentBatch.get(a.n.name)! - agentBatch.get(b.n.name)!);
    const nodes: K3sNodePlan[] = [
        ...servers.map(({ n, index }, i) => {
            const clusterInit = i === 0 && datastore === Datastore.Etcd;
            const joinsFirstServer = i > 0 && datastore === Datastore.Etcd;
            return {
                name: n.name,
                index,
                role: NodeRole.Server,
                firstServer: i === 0,
                clusterInit,
                joinsFirstServer,
                after: i > 0 ? [servers[i - 1].n.name] : [],
                settings: serverSettings(n, clusterInit, joinsFirstServer),
                ...(datastore === Datastore.Sqlite && args.backup !== undefined ? { sqliteBackup: planSqliteBackup(n.name, args.backup) } : {}),
            };
        }),
        ...agentsInRollOrder.map(({ n, index }) => {
            const batch = agentBatch.get(n.name)!;
            return {
                name: n.name,
                index,
                role: NodeRole.Agent,
                firstServer: false,
                clusterInit: false,
                joinsFirstServer: true,
                after: batch === 0 ? [last.name] : agentsInRollOrder.filter((a) => agentBatch.get(a.n.name) === batch - 1).map((a) => a.n.name),
                batch,
                settings: planNodeSettings({ ...shared, role: NodeRole.Agent, node: n, joinsServer: true }),
            };
        }),
    ];
    return {
        datastore,
        firstServer: first.name,
        servers: servers.map(({ n }) => n.name),
        agents: agents.map(({ n }) => n.name),
        nodes,
        install: planInstall(args),
        timings,
        ...compact({ kubeconfigEndpoint, kubeconfigEndpointOwner }),
        warnings,
    };
}

/** Validates (`k3sServerProblems`, every problem at once) and plans a K3sServer used alone. Pure. */
export function planK3sServer(args: K3sServerArgs): K3sNodeDecisions {
    throwAll(k3sServerProblems(args));
    const datastore = args.datastore ?? Datastore.Sqlite;
    const settings = planNodeSettings({
        role: NodeRole.Server,
        node: args.node,
        interfaceName: args.interfaceName,
        // A serverUrl joins only embedded etcd (sqlite refuses it; an external datastore needs no join).
        joinsServer: datastore === Datastore.Etcd && args.serverUrl !== undefined,
        clusterInit: datastore === Datastore.Etcd && args.serverUrl === undefined,
        externalDatastore: datastore === Datastore.External,
        failover: failoverTimings(args.failoverProfile ?? FailoverProfile.Default),
        ...compact({ kubeletArgs: args.kubeletArgs }),
        ...controlPlaneSettings(args),
        ...compact({ extraTlsSans: args.tlsSans, tokenRotation: args.tokenRotation }),
        ...(datastore === Datastore.Etcd && args.backup !== undefined ? { etcdBackup: planEtcdBackup(args.backup) } : {}),
    });
    return {
        settings,
        install: planInstall(args.install ?? {}),
        ...(datastore === Datastore.Sqlite && args.backup !== undefined ? { sqliteBackup: planSqliteBackup(args.node.name, args.backup) } : {}),
    };
}

/** Validates (`k3sAgentProblems`, every problem at once) and plans a K3sAgent used alone. Pure. */
export function planK3sAgent(args: K3sAgentArgs): K3sNodeDecisions {
    throwAll(k3sAgentProblems(args));
    return {
        settings: planNodeSettings({
            role: NodeRole.Agent,
            node: args.node,
            interfaceName: args.interfaceName,
            joinsServer: true,
            failover: failoverTimings(args.failoverProfile ?? FailoverProfile.Default),
            ...compact({ kubeletArgs: args.kubeletArgs, tokenRotation: args.tokenRotation }),
        }),
        install: planInstall(args.install ?? {}),
    };
}
