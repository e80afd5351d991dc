/**
 * Changes to a running cluster that k3s does not make in place. The stack program records the settings below
 * as a stack output after every `pulumi up`; the next run reads that output back (a StackReference to its own
 * stack) and refuses, before any resource is registered, a change that re-running the steps would get wrong:
 * settings k3s reads only when the cluster is created, a downgrade, turning secrets encryption on or off.
 * Pure: reading the previous output is the program's part.
 */
import { HybridInfraConfigError, showValue } from "../util/errors";
import { Datastore, K3S_VERSION_RE, K3sClusterArgs, K3sNodeArgs, NodeRole } from "./model";
import { compact } from "../util/compact";

/** k3s's own defaults for the networks (https://docs.k3s.io/cli/server, "Networking"). */
export const DEFAULT_CLUSTER_CIDR = "10.42.0.0/16";
export const DEFAULT_SERVICE_CIDR = "10.43.0.0/16";
/** flannel's backend: HybridInfra renders no `flannel-backend`, so k3s's default (VXLAN) stands. */
export const FLANNEL_BACKEND = "vxlan";

/** The stack output that holds `K3sRecordedSettings` between runs. */
export const K3S_SETTINGS_OUTPUT = "k3sSettings";

/** What a deployed cluster was last set up with, as far as later changes depend on it. */
export interface K3sRecordedSettings {
    /** Pinned k3s version; absent when a channel decides. */
    readonly version?: string;
    readonly datastore: Datastore;
    /**
     * The server that started the cluster: with sqlite it holds the data, with etcd it runs `cluster-init`.
     * Absent with an external datastore, where no server is special.
     */
    readonly firstServer?: string;
    /**
     * Every server, first server first. With etcd, another server that was already a member may become the
     * first one (to retire the old first server): it holds the same data.
     */
    readonly servers?: readonly string[];
    readonly clusterCidr: string;
    readonly serviceCidr: string;
    readonly flannelBackend: string;
    readonly secretsEncryption: boolean;
    /** Generation of the cluster token (`k3s.tokenRotation`, 0 for the token the cluster was created with). */
    readonly tokenRotation: number;
}

/** The datastore a cluster gets when `k3s.datastore` is not set. */
export function defaultDatastore(serverCount: number): Datastore {
    return serverCount === 1 ? Datastore.Sqlite : Datastore.Etcd;
}

/** The settings to record for a cluster (nodes in config order; the first server starts the cluster). */
export function recordK3sSettings(args: Omit<K3sClusterArgs, "nodes" | "interfaceName"> & { readonly nodes: readonly Pick<K3sNodeArgs, "name" | "role">[] }): K3sRecordedSettings {
    const servers = args.nodes.filter((n) => n.role === NodeRole.Server);
    const datastore = args.datastore ?? defaultDatastore(servers.length);
    return {
        ...compact({ version: args.version }),
        datastore,
        ...(datastore !== Datastore.External && servers.length > 0 ? { firstServer: servers[0].name } : {}),
        servers: servers.map((n) => n.name),
        clusterCidr: args.clusterCidr ?? DEFAULT_CLUSTER_CIDR,
        serviceCidr: args.serviceCidr ?? DEFAULT_SERVICE_CIDR,
        flannelBackend: FLANNEL_BACKEND,
        secretsEncryption: args.secretsEncryption ?? false,
        tokenRotation: args.tokenRotation ?? 0,
    };
}

/**
 * Orders two k3s versions (`v1.36.1+k3s1`, `v1.36.0-rc1+k3s1`): negative when `a` is older. A release
 * candidate comes before its release. Undefined when either is not a k3s version.
 */
export function compareK3sVersions(a: string, b: string): number | undefined {
    const pa = K3S_VERSION_RE.exec(a);
    const pb = K3S_VERSION_RE.exec(b);
    if (pa === null || pb === null) return undefined;
    const key = (m: RegExpExecArray): number[] => [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? Infinity : Number(m[4].slice(3)), Number(m[5])];
    const ka = key(pa);
    const kb = key(pb);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
    return 0;
}

/** The explicit opt-ins a refused change can be made with. */
export interface K3sChangeOptIns {
    /** `k3s.allowDowngrade`. */
    readonly allowDowngrade?: boolean;
}

const NEW_CLUSTER = "or create a new cluster (a new stack) with it and move the workloads";

function record(value: unknown): Partial<K3sRecordedSettings> | undefined {
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Partial<K3sRecordedSettings>) : undefined;
}

/**
 * Every change from `previous` (the recorded output of the last `pulumi up`, as read back: anything) to `next`
 * that k3s does not support in place, all at once. A missing record (first run, or a stack deployed before
 * the record existed) or a missing field refuses nothing.
 */
export function k3sChangeProblems(previous: unknown, next: K3sRecordedSettings, optIns: K3sChangeOptIns = {}): HybridInfraConfigError[] {
    const prev = record(previous);
    if (prev === undefined) return [];
    const problems: HybridInfraConfigError[] = [];
    const was = (v: unknown) => `this cluster was created with ${showValue(v)}`;

    if (typeof prev.datastore === "string" && prev.datastore !== next.datastore) {
        // k3s converts a single sqlite server to embedded etcd when it restarts with cluster-init (its first
        // server stays the same); it has no other datastore migration.
        const convert = prev.datastore === Datastore.Sqlite && next.datastore === Datastore.Etcd;
        if (!convert) {
            problems.push(
                new HybridInfraConfigError(
                    "k3s.datastore",
                    `is ${showValue(next.datastore)} but ${was(prev.datastore)}; k3s has no migration between datastores except sqlite to embedded etcd, so the servers would start on an empty datastore`,
                    `set k3s.datastore back to ${showValue(prev.datastore)} (with k3s.datastore unset, one server means "sqlite" and more mean "etcd"), ${NEW_CLUSTER}`,
                ),
            );
        }
    }
    // With embedded etcd every server holds the data: a server that was already a member may take over as the
    // first one (its cluster-init is a no-op on a member with data; joins then go through it).
    const etcdMemberTakesOver =
        prev.datastore === Datastore.Etcd && next.datastore === Datastore.Etcd && Array.isArray(prev.servers) && next.firstServer !== undefined && prev.servers.includes(next.firstServer);
    if (typeof prev.firstServer === "string" && next.firstServer !== undefined && prev.firstServer !== next.firstServer && !etcdMemberTakesOver) {
        const role = prev.datastore === Datastore.Sqlite ? "holds the cluster's sqlite datastore" : "started the embedded etcd cluster (cluster-init)";
        problems.push(
            new HybridInfraConfigError(
                "hosts",
                `make ${showValue(next.firstServer)} the first server, but ${showValue(prev.firstServer)} ${role}; the new first server would start a second, empty cluster`,
                prev.datastore === Datastore.Etcd
                    ? `keep ${showValue(prev.firstServer)} first, or list first a server that is already a member of this etcd cluster (${Array.isArray(prev.servers) ? prev.servers.map((x) => showValue(x)).join(", ") : "one recorded by a previous pulumi up"}): add the new server after the others, run pulumi up, then move it`
                    : `keep ${showValue(prev.firstServer)} as the first host with role "server" in hosts (add new servers after it), ${NEW_CLUSTER}`,
            ),
        );
    }
    for (const [key, flag] of [
        ["clusterCidr", "cluster-cidr"],
        ["serviceCidr", "service-cidr"],
    ] as const) {
        const old = prev[key];
        if (typeof old === "string" && old !== next[key]) {
            const what = key === "clusterCidr" ? "pod network" : "service network";
            problems.push(
                new HybridInfraConfigError(
                    `k3s.${key}`,
                    `is ${showValue(next[key])} but ${was(old)}; k3s sets the ${what} (${flag}) only when the cluster is created: existing nodes, pods and Services keep addresses from the old one`,
                    `set k3s.${key} back to ${showValue(old)}${old === (key === "clusterCidr" ? DEFAULT_CLUSTER_CIDR : DEFAULT_SERVICE_CIDR) ? " (k3s's default: remove the key)" : ""}, ${NEW_CLUSTER}`,
                ),
            );
        }
    }
    if (typeof prev.flannelBackend === "string" && prev.flannelBackend !== next.flannelBackend) {
        problems.push(
            new HybridInfraConfigError(
                "flannel-backend",
                `would be ${showValue(next.flannelBackend)} but ${was(prev.flannelBackend)}; k3s chooses flannel's backend only when the cluster is created`,
                `keep the HybridInfra version that deployed this cluster, ${NEW_CLUSTER}`,
            ),
        );
    }
    if (typeof prev.secretsEncryption === "boolean" && prev.secretsEncryption !== next.secretsEncryption) {
        problems.push(
            next.secretsEncryption
                ? new HybridInfraConfigError(
                      "k3s.secretsEncryption",
                      "is true but this cluster was created without secrets encryption; k3s does not support turning it on later (docs.k3s.io/cli/secrets-encrypt: \"Starting K3s without encryption and enabling it at a later time is currently not supported\"), and restarting the servers with the flag would leave them disagreeing about the key",
                      `set k3s.secretsEncryption back to false, ${NEW_CLUSTER}`,
                  )
                : new HybridInfraConfigError(
                      "k3s.secretsEncryption",
                      "is false but this cluster encrypts Secrets at rest; a server started without the flag no longer loads the encryption key and cannot read the Secrets already stored",
                      "set k3s.secretsEncryption back to true; to stop encrypting, keep it true and run on one server `k3s secrets-encrypt disable`, restart k3s on every server one at a time, then `k3s secrets-encrypt reencrypt --force --skip` (docs.k3s.io/cli/secrets-encrypt)",
                  ),
        );
    }
    if (typeof prev.version === "string" && next.version !== undefined && optIns.allowDowngrade !== true) {
        const order = compareK3sVersions(next.version, prev.version);
        if (order !== undefined && order < 0) {
            problems.push(
                new HybridInfraConfigError(
                    "k3s.version",
                    `is ${showValue(next.version)}, older than ${showValue(prev.version)} that the last \`pulumi up\` installed; the install step would install it like an upgrade, but Kubernetes does not support downgrades: the older API server may not read what the newer one stored`,
                    `set k3s.version to ${showValue(prev.version)} or newer; to downgrade anyway (e.g. to undo a failed upgrade, with an etcd snapshot or datastore backup from before it), also set k3s.allowDowngrade: true`,
                ),
            );
        }
    }
    if (typeof prev.tokenRotation === "number" && next.tokenRotation < prev.tokenRotation) {
        problems.push(
            new HybridInfraConfigError(
                "k3s.tokenRotation",
                `is ${next.tokenRotation}, lower than ${prev.tokenRotation} that the last \`pulumi up\` rotated the cluster token to; a lower generation would rotate the token again, not restore the old one`,
                `set it back to ${prev.tokenRotation}, or to ${prev.tokenRotation + 1} to rotate the token once more`,
            ),
        );
    }
    return problems;
}
