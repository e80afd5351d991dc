import type { EtcdBackupPlan } from "./backup";
import { defaultDatastore } from "./day2";
import { failoverTimings, FailoverTimings } from "./failover";
import { Datastore, DEFAULT_CHANNEL, FailoverProfile, isIp, K3sAirgapArgs, K3sClusterArgs, K3sNodeArgs, NodeRole, REGION_LABEL } from "./model";
import { normaliseExtraArg, validateK3sCluster } from "./validate";

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

/** The per-node inputs of `planNodeConfig` (what a K3sServer / K3sAgent knows about itself). */
export interface NodeConfigInput {
    readonly role: NodeRole;
    readonly node: Pick<K3sNodeArgs, "name" | "location" | "publicAddress" | "labels" | "taints" | "overlayMtu">;
    readonly nodeIp: string;
    readonly interfaceName: string;
    readonly serverUrl?: string;
    readonly clusterInit?: boolean;
    readonly externalDatastore?: boolean;
    readonly failoverProfile?: FailoverProfile;
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

function unique(values: readonly string[]): string[] {
    return [...new Set(values)];
}

/**
 * Decides one node's k3s configuration. Pure; the profile's flags come first, then the user's.
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
    const timings = failoverTimings(input.failoverProfile ?? FailoverProfile.Default);
    const server = input.role === NodeRole.Server;
    const publicIp = input.node.publicAddress !== undefined && isIp(input.node.publicAddress) ? input.node.publicAddress : undefined;
    const labels: Record<string, string> = { [REGION_LABEL]: input.node.location };
    for (const k of Object.keys(input.node.labels ?? {}).sort()) labels[k] = input.node.labels![k];
    return {
        role: input.role,
        nodeName: input.node.name,
        nodeIp: input.nodeIp,
        ...(publicIp !== undefined ? { nodeExternalIp: publicIp } : {}),
        ...(server ? { advertiseAddress: input.nodeIp } : {}),
        interfaceName: input.interfaceName,
        ...(input.node.overlayMtu !== undefined ? { overlayMtu: input.node.overlayMtu } : {}),
        ...(input.serverUrl !== undefined ? { serverUrl: input.serverUrl } : {}),
        ...(input.tokenRotation !== undefined && input.tokenRotation > 0 ? { tokenRotation: input.tokenRotation } : {}),
        ...(server && input.clusterInit ? { clusterInit: true } : {}),
        ...(server && input.externalDatastore ? { externalDatastore: true } : {}),
        ...(server ? { tlsSans: unique([...(input.node.publicAddress !== undefined ? [input.node.publicAddress] : []), ...(input.extraTlsSans ?? [])]) } : {}),
        labels,
        taints: [...(input.node.taints ?? [])],
        ...(server && input.disable !== undefined && input.disable.length > 0 ? { disable: unique(input.disable) } : {}),
        ...(server && input.secretsEncryption ? { secretsEncryption: true } : {}),
        ...(server && input.clusterCidr !== undefined ? { clusterCidr: input.clusterCidr } : {}),
        ...(server && input.serviceCidr !== undefined ? { serviceCidr: input.serviceCidr } : {}),
        ...(server && input.etcdBackup !== undefined ? { etcdBackup: input.etcdBackup } : {}),
        kubeletArgs: [...timings.kubeletArgs, ...(input.kubeletArgs ?? []).map(normaliseExtraArg)],
        ...(server
            ? {
                  kubeControllerManagerArgs: [...timings.kubeControllerManagerArgs, ...(input.kubeControllerManagerArgs ?? []).map(normaliseExtraArg)],
                  kubeApiServerArgs: [...timings.kubeApiServerArgs, ...(input.kubeApiServerArgs ?? []).map(normaliseExtraArg)],
              }
            : {}),
    };
}

/** Where k3s comes from, after defaults. */
export interface K3sInstallPlan {
    readonly version?: string;
    /** Set only when no version is pinned. */
    readonly channel?: string;
    readonly mirrorUrl?: string;
    readonly airgap?: K3sAirgapArgs;
}

/** One node's place in the cluster. */
export interface K3sNodePlan {
    readonly name: string;
    /** Index in `nodes` (for config paths `hosts[i]`). */
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

/** Nodes in the most populous location (a location is one eviction zone: see `failoverTimings`). */
function largestSite(nodes: readonly { location: string }[]): number {
    const count = new Map<string, number>();
    for (const n of nodes) count.set(n.location, (count.get(n.location) ?? 0) + 1);
    return Math.max(1, ...count.values());
}

/** Validates and plans a cluster. Pure (throws HybridInfraConfigError on bad input). */
export function planK3s(args: K3sClusterArgs): K3sPlan {
    validateK3sCluster(args);
    const servers = args.nodes.map((n, index) => ({ n, index })).filter(({ n }) => n.role === NodeRole.Server);
    const agents = args.nodes.map((n, index) => ({ n, index })).filter(({ n }) => n.role === NodeRole.Agent);
    const datastore = args.datastore ?? defaultDatastore(servers.length);
    const first = servers[0].n;
    const last = servers[servers.length - 1].n;
    const warnings: string[] = [];
    const { kubeconfigEndpoint, kubeconfigEndpointOwner } = planKubeconfigEndpoint(args);
    if (datastore === Datastore.Etcd && new Set(servers.map(({ n }) => n.location)).size > 1) {
        warnings.push(
            `k3s: embedded etcd spans locations ${[...new Set(servers.map(({ n }) => n.location))].join(", ")} because k3s.allowEtcdAcrossLocations is true; ` +
                "etcd across a WAN is not supported upstream: expect slow writes and leader elections when a link degrades",
        );
    }
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
        ...servers.map(({ n, index }, i) => ({
            name: n.name,
            index,
            role: NodeRole.Server,
            firstServer: i === 0,
            clusterInit: i === 0 && datastore === Datastore.Etcd,
            joinsFirstServer: i > 0 && datastore === Datastore.Etcd,
            after: i > 0 ? [servers[i - 1].n.name] : [],
        })),
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
            };
        }),
    ];
    return {
        datastore,
        firstServer: first.name,
        servers: servers.map(({ n }) => n.name),
        agents: agents.map(({ n }) => n.name),
        nodes,
        install: {
            ...(args.version !== undefined ? { version: args.version } : { channel: args.channel ?? DEFAULT_CHANNEL }),
            ...(args.mirrorUrl !== undefined ? { mirrorUrl: args.mirrorUrl.replace(/\/+$/, "") } : {}),
            ...(args.airgap !== undefined ? { airgap: args.airgap } : {}),
        },
        timings: failoverTimings(args.failoverProfile ?? FailoverProfile.Default, largestSite(args.nodes)),
        ...(kubeconfigEndpoint !== undefined ? { kubeconfigEndpoint } : {}),
        ...(kubeconfigEndpointOwner !== undefined ? { kubeconfigEndpointOwner } : {}),
        warnings,
    };
}
