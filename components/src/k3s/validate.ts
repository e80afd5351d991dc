import { HybridInfraConfigError, nearest, ProblemList, showValue, throwAll } from "../util/errors";
import { SshCheckOptions, validateSshHosts } from "../host/model";
import { k3sBackupProblems } from "./backup";
import { defaultDatastore } from "./day2";
import { FAILOVER_FLAGS } from "./failover";
import { K3S_DISABLE_ITEMS, KUBE_APISERVER_FLAGS, KUBE_COMPONENT_FLAGS_VERSION, KUBE_CONTROLLER_MANAGER_FLAGS, KUBELET_FLAGS, KUBELET_FLAGS_VERSION } from "./flags";
import { Datastore, FailoverProfile, isIp, K3S_VERSION_RE, K3sClusterArgs, K3sInstallArgs, K3sNodeArgs, NodeRole } from "./model";
import type { K3sAgentArgs, K3sNodeCommonArgs, K3sServerArgs } from "./node";

/** Which Kubernetes component an extra-arg list goes to. */
export const ArgTarget = {
    Kubelet: "kubelet",
    KubeControllerManager: "kube-controller-manager",
    KubeApiServer: "kube-apiserver",
} as const;
export type ArgTarget = (typeof ArgTarget)[keyof typeof ArgTarget];

const FLAGS_OF: Record<ArgTarget, readonly string[]> = {
    [ArgTarget.Kubelet]: KUBELET_FLAGS,
    [ArgTarget.KubeControllerManager]: KUBE_CONTROLLER_MANAGER_FLAGS,
    [ArgTarget.KubeApiServer]: KUBE_APISERVER_FLAGS,
};

/** The Kubernetes minor each list was read from. */
const FLAGS_VERSION_OF: Record<ArgTarget, string> = {
    [ArgTarget.Kubelet]: KUBELET_FLAGS_VERSION,
    [ArgTarget.KubeControllerManager]: KUBE_COMPONENT_FLAGS_VERSION,
    [ArgTarget.KubeApiServer]: KUBE_COMPONENT_FLAGS_VERSION,
};

const PROFILE_FLAGS_OF: Record<ArgTarget, readonly string[]> = {
    [ArgTarget.Kubelet]: FAILOVER_FLAGS.kubelet,
    [ArgTarget.KubeControllerManager]: FAILOVER_FLAGS.kubeControllerManager,
    [ArgTarget.KubeApiServer]: FAILOVER_FLAGS.kubeApiServer,
};

const PROFILE_LIST = Object.values(FailoverProfile)
    .map((p) => JSON.stringify(p))
    .join(", ");

/** Splits `--name=value` / `name=value` into its parts (k3s adds the dashes itself). */
export function parseExtraArg(arg: string): { name: string; value: string } | undefined {
    const m = /^(?:--)?([a-z0-9][a-z0-9-]*)=([\s\S]*)$/.exec(arg);
    return m ? { name: m[1], value: m[2] } : undefined;
}

/** Normalises an extra arg to the `name=value` form k3s expects in config.yaml. */
export function normaliseExtraArg(arg: string): string {
    const p = parseExtraArg(arg);
    if (!p) throw new Error(`not a name=value argument: ${JSON.stringify(arg)}`);
    return `${p.name}=${p.value}`;
}

/** Adds the problem of one extra arg, if any (the first: later checks need the earlier ones to pass). */
function checkExtraArg(p: ProblemList, arg: string, at: string, target: ArgTarget, profile: FailoverProfile): void {
    if (typeof arg !== "string") {
        p.add(at, `must be a string "name=value", got ${showValue(arg)}`, "write the flag as name=value, e.g. \"max-pods=200\"");
        return;
    }
    const parsed = parseExtraArg(arg);
    if (!parsed) {
        p.add(at, `must have the form "name=value", got ${showValue(arg)}`, `write the ${target} flag without spaces around "=", e.g. "max-pods=200" or "--max-pods=200"`);
        return;
    }
    const { name, value } = parsed;
    if (name === "pod-eviction-timeout") {
        p.add(
            at,
            `sets "pod-eviction-timeout", which was removed in Kubernetes 1.27 (${target} refuses to start with it)`,
            `remove it and choose k3s.failoverProfile (${PROFILE_LIST}); "fast" evicts pods in under 60 s`,
        );
        return;
    }
    if (!FLAGS_OF[target].includes(name)) {
        const guess = nearest(name, FLAGS_OF[target]);
        p.add(
            at,
            `unknown ${target} flag ${JSON.stringify(name)} in ${showValue(arg)} (checked against Kubernetes ${FLAGS_VERSION_OF[target]} as embedded by k3s)`,
            guess !== undefined ? `did you mean ${JSON.stringify(guess)}? Write it as ${JSON.stringify(`${guess}=${value}`)}` : `use a flag listed by \`${target} --help\`, written as name=value`,
        );
        return;
    }
    if (PROFILE_FLAGS_OF[target].includes(name)) {
        p.add(
            at,
            `sets ${JSON.stringify(name)}, which the failover profile ${JSON.stringify(profile)} controls (the exported eviction bound is computed from it)`,
            `remove it and choose k3s.failoverProfile (${PROFILE_LIST})`,
        );
    }
}

/**
 * The problems of one extra-arg list, one per bad entry: every entry `name=value`, every name a flag of the
 * target component, no removed flag, none of the flags the failover profile owns.
 */
export function extraArgsProblems(args: readonly string[] | undefined, target: ArgTarget, path: string, profile: FailoverProfile): HybridInfraConfigError[] {
    const p = new ProblemList();
    (args ?? []).forEach((arg, i) => checkExtraArg(p, arg, `${path}[${i}]`, target, profile));
    return [...p.problems];
}

/** Checks one extra-arg list; throws every problem (see `extraArgsProblems`). */
export function validateExtraArgs(args: readonly string[] | undefined, target: ArgTarget, path: string, profile: FailoverProfile): void {
    throwAll(extraArgsProblems(args, target, path, profile));
}

/** The problems of version/channel/mirror/airgap, at most one per key. `path` is the prefix of the keys, e.g. `k3s`. */
export function installProblems(install: K3sInstallArgs, path: string): HybridInfraConfigError[] {
    const p = new ProblemList();
    if (install.version !== undefined && (typeof install.version !== "string" || !K3S_VERSION_RE.test(install.version))) {
        p.add(
            `${path}.version`,
            `is not a k3s version, got ${showValue(install.version)}`,
            'use a k3s release tag such as "v1.36.1+k3s1" (see https://github.com/k3s-io/k3s/releases), or remove it and set the channel',
        );
    }
    if (install.version !== undefined && install.channel !== undefined) {
        p.add(`${path}.channel`, `is ${showValue(install.channel)} but ${path}.version is also set (${showValue(install.version)})`, "set either a version (pinned, upgrades when changed) or a channel, not both");
    } else if (install.channel !== undefined && !/^[a-z0-9][a-z0-9.+-]*$/.test(install.channel)) {
        p.add(`${path}.channel`, `is not a k3s channel name, got ${showValue(install.channel)}`, 'use "stable", "latest" or a minor line such as "v1.36"');
    }
    let mirrorOk = true;
    if (install.mirrorUrl !== undefined) {
        try {
            const u = new URL(install.mirrorUrl);
            mirrorOk = (u.protocol === "https:" || u.protocol === "http:") && u.search === "" && u.hash === "" && !/['"\s]/.test(install.mirrorUrl);
        } catch {
            mirrorOk = false;
        }
        if (!mirrorOk) {
            p.add(`${path}.mirrorUrl`, `is not an http(s) base URL, got ${showValue(install.mirrorUrl)}`, 'use the mirror\'s base URL, e.g. "https://rancher-mirror.rancher.cn"');
        }
    }
    if (install.airgap !== undefined) {
        for (const key of ["binaryPath", "imagesPath"] as const) {
            const v = install.airgap[key];
            if (typeof v !== "string" || v.trim() === "") {
                p.add(`${path}.airgap.${key}`, `is empty, got ${showValue(v)}`, "give the local path of the downloaded k3s release file");
            }
        }
        // A malformed mirror is reported above already.
        if (install.mirrorUrl !== undefined && mirrorOk) {
            p.add(`${path}.mirrorUrl`, "is set together with airgap, which downloads nothing", "remove one of them");
        }
    }
    return [...p.problems];
}

/** Checks version/channel/mirror/airgap; throws every problem (see `installProblems`). */
export function validateInstall(install: K3sInstallArgs, path: string): void {
    throwAll(installProblems(install, path));
}

const LABEL_NAME_RE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE_RE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const TAINT_RE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?(=([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?)?:(NoSchedule|PreferNoSchedule|NoExecute)$/;
const DNS_NAME_RE = /^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/;

/** A bare IP address or DNS name (no scheme, port or path). */
export function isHostAddress(value: unknown): boolean {
    return typeof value === "string" && (isIp(value) || DNS_NAME_RE.test(value));
}
const IFACE_RE = /^[A-Za-z0-9_.-]{1,15}$/;

const NODE_ROLES: readonly string[] = Object.values(NodeRole);

function isLocation(value: unknown): boolean {
    return typeof value === "string" && LABEL_VALUE_RE.test(value) && value !== "";
}

/** The problems of one node's k3s fields (not its SSH fields): at most one per field, label and taint. */
export function k3sNodeProblems(n: K3sNodeArgs, at: string): HybridInfraConfigError[] {
    const p = new ProblemList();
    if (!NODE_ROLES.includes(n.role)) {
        p.add(`${at}.role`, `must be "server" or "agent", got ${showValue(n.role)}`, 'use "server" for the control plane and "agent" for workers');
    }
    if (!isLocation(n.location)) {
        p.add(`${at}.location`, `must be a label value (letters, digits, '-', '_', '.', at most 63), got ${showValue(n.location)}`, "use a short name such as `tokyo` or `home`");
    }
    if (typeof n.overlayAddress === "string" && !isIp(n.overlayAddress)) {
        p.add(`${at}.overlayAddress`, `is not an IP address, got ${showValue(n.overlayAddress)}`, "use the node's address on the overlay, e.g. 10.100.0.2");
    }
    if (n.publicAddress !== undefined && !isHostAddress(n.publicAddress)) {
        p.add(`${at}.publicAddress`, `is not an IP address or DNS name, got ${showValue(n.publicAddress)}`, "use a bare address without scheme or port, e.g. 203.0.113.10");
    }
    for (const [k, v] of Object.entries(n.labels ?? {})) {
        if (!LABEL_NAME_RE.test(k)) {
            p.add(`${at}.labels`, `has a key that is not a Kubernetes label name: ${showValue(k)}`, "use [prefix/]name with letters, digits, '-', '_', '.'");
        } else if (typeof v !== "string" || !LABEL_VALUE_RE.test(v)) {
            p.add(`${at}.labels.${k}`, `is not a Kubernetes label value, got ${showValue(v)}`, "use at most 63 letters, digits, '-', '_', '.' (starting and ending alphanumeric)");
        } else if (k === "topology.kubernetes.io/region") {
            p.add(`${at}.labels.${k}`, `is set by HybridInfra from ${at}.location`, "remove the label and set the location instead");
        }
    }
    (n.taints ?? []).forEach((t, i) => {
        if (typeof t !== "string" || !TAINT_RE.test(t)) {
            p.add(
                `${at}.taints[${i}]`,
                `is not a taint, got ${showValue(t)}`,
                'write key=value:Effect or key:Effect with Effect NoSchedule, PreferNoSchedule or NoExecute, e.g. "edge=true:NoSchedule"',
            );
        }
    });
    return [...p.problems];
}

/** Checks one node's k3s fields (not its SSH fields); throws every problem (see `k3sNodeProblems`). */
export function validateK3sNode(n: K3sNodeArgs, at: string): void {
    throwAll(k3sNodeProblems(n, at));
}

function checkInterfaceName(p: ProblemList, value: unknown, path: string): void {
    if (typeof value !== "string" || !IFACE_RE.test(value)) {
        p.add(path, `is not a network interface name, got ${showValue(value)}`, 'use the overlay interface, e.g. "wg0" or "tailscale0"');
    }
}

/** Adds a problem when the profile is not one; tells whether it is. */
function checkFailoverProfile(p: ProblemList, profile: FailoverProfile, path: string): boolean {
    if (Object.values(FailoverProfile).includes(profile)) return true;
    p.add(path, `is not a failover profile, got ${showValue(profile)}`, `use one of ${PROFILE_LIST}`);
    return false;
}

function checkDisable(p: ProblemList, disable: readonly string[] | undefined, path: string): void {
    (disable ?? []).forEach((d, i) => {
        if (!K3S_DISABLE_ITEMS.includes(d)) {
            const guess = nearest(d, K3S_DISABLE_ITEMS);
            p.add(
                `${path}[${i}]`,
                `is not a packaged k3s component, got ${showValue(d)}`,
                guess !== undefined ? `did you mean ${JSON.stringify(guess)}?` : `use one of ${K3S_DISABLE_ITEMS.join(", ")}`,
            );
        }
    });
}

function checkTokenRotation(p: ProblemList, value: number | undefined, path: string): void {
    if (value !== undefined && !(Number.isInteger(value) && value >= 0)) {
        p.add(path, `must be a whole number from 0 up, got ${showValue(value)}`, "use 0 for the token the cluster was created with, and raise it by one to rotate the token");
    }
}

function checkCidr(p: ProblemList, value: string | undefined, path: string, example: string): void {
    if (value === undefined) return;
    const m = /^([^/]+)\/(\d{1,3})$/.exec(value);
    const ok = m !== null && isIp(m[1]) && Number(m[2]) <= (m[1].includes(":") ? 128 : 32);
    if (!ok) p.add(path, `is not a CIDR, got ${showValue(value)}`, `use a network such as ${example}`);
}

/**
 * What is wrong with the form of an external datastore endpoint, or `undefined` when k3s can use it. The
 * value is a secret (it holds the database password), so the answer never contains any of it. The forms
 * are k3s's (https://docs.k3s.io/datastore):
 * - MySQL / MariaDB: `mysql://user:pass@tcp(host:3306)/database` (the address in `tcp(…)`, Go's DSN form);
 * - PostgreSQL: `postgres://user:pass@host:5432/database` (or `postgresql://`), special characters of the
 *   password percent-encoded;
 * - etcd: `https://host:2379`, several as a comma-separated list (`http://` for etcd without TLS).
 */
export function datastoreEndpointProblem(value: string): string | undefined {
    if (value.trim() === "") return "is empty";
    if (/\s/.test(value)) return "contains whitespace or a line break (e.g. a trailing newline from `pulumi config set --secret … < file`)";
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
    if (scheme === "mysql") {
        const m = /^mysql:\/\/(?:(.*)@)?(tcp|unix)\(([^()]*)\)\/([^/?]*)(\?.*)?$/i.exec(value);
        if (m === null) return "is a mysql:// URL without its address in tcp(host:port) followed by /database";
        if (m[2].toLowerCase() === "tcp" && !/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/i.test(m[3])) return "is a mysql:// URL whose tcp(…) does not hold host:port";
        return undefined;
    }
    if (scheme === "postgres" || scheme === "postgresql") {
        let u: URL;
        try {
            u = new URL(value);
        } catch {
            return `is a ${scheme}:// URL that does not parse (percent-encode special characters of the user and password)`;
        }
        if (u.hostname === "") return `is a ${scheme}:// URL without a host`;
        return undefined;
    }
    if (scheme === "https" || scheme === "http") {
        const entries = value.split(",");
        for (let i = 0; i < entries.length; i++) {
            let u: URL | undefined;
            try {
                u = new URL(entries[i]);
            } catch {
                u = undefined;
            }
            const where = entries.length > 1 ? `has entry ${i + 1} of ${entries.length} in its comma-separated etcd list, which` : "has an etcd endpoint that";
            if (u === undefined || (u.protocol !== "https:" && u.protocol !== "http:") || u.hostname === "") return `${where} is not an http(s)://host:port URL`;
            if (u.pathname !== "/" || u.search !== "" || u.hash !== "" || u.username !== "" || u.password !== "") return `${where} has a path, query or user part (etcd endpoints are scheme://host:port only)`;
        }
        return undefined;
    }
    return "starts with no datastore scheme (expected mysql://, postgres://, postgresql://, or https:// / http:// for etcd)";
}

/** The fix shown with `datastoreEndpointProblem`. */
export const DATASTORE_ENDPOINT_FIX =
    "set it in k3s's form: `mysql://user:pass@tcp(host:3306)/k3s`, `postgres://user:pass@host:5432/k3s` or `https://etcd1:2379,https://etcd2:2379` (see https://docs.k3s.io/datastore)";

/**
 * Every problem of a whole cluster's args, found before any resource is registered: node paths are
 * `nodes[i]…` (K3sCluster's own arg), cluster paths `k3s.…`. Checks that depend on a value already reported
 * as invalid (the roles, the datastore, a location) are skipped rather than reported as noise.
 */
export function k3sClusterProblems(args: K3sClusterArgs, options: SshCheckOptions = {}): HybridInfraConfigError[] {
    if (!Array.isArray(args.nodes) || args.nodes.length === 0) {
        return [new HybridInfraConfigError("nodes", `has no machines, got ${showValue(args.nodes)}`, "list at least one host with role \"server\"")];
    }
    const p = new ProblemList();
    if (options.sshChecked !== true) p.collect(() => validateSshHosts(args.nodes, "nodes"));
    args.nodes.forEach((n, i) => p.push(...k3sNodeProblems(n, `nodes[${i}]`)));
    checkInterfaceName(p, args.interfaceName, "k3s.interfaceName");
    p.push(...installProblems(args, "k3s"));

    const rolesKnown = args.nodes.every((n) => NODE_ROLES.includes(n.role));
    const servers = args.nodes.filter((n) => n.role === NodeRole.Server);
    if (rolesKnown && servers.length === 0) {
        const i = args.nodes.findIndex((n) => n.role === NodeRole.Agent);
        p.add(
            `nodes[${i}].role`,
            `is "agent" but no host has role "server", so ${showValue(args.nodes[i].name)} has no server to join`,
            'give at least one host role "server" (the first server initialises the cluster)',
        );
    }
    const names = servers.map((s) => s.name).join(", ");
    const datastoreKnown = args.datastore === undefined || Object.values(Datastore).includes(args.datastore);
    if (!datastoreKnown) {
        p.add("k3s.datastore", `is not a datastore, got ${showValue(args.datastore)}`, 'use "sqlite", "etcd" or "external"');
    }
    // The datastore, when it is known: the given one, else the default for the servers (once the roles are).
    const datastore = !datastoreKnown ? undefined : (args.datastore ?? (rolesKnown && servers.length > 0 ? defaultDatastore(servers.length) : undefined));
    if (rolesKnown && servers.length > 0 && datastore === Datastore.Sqlite && servers.length > 1) {
        p.add(
            "k3s.datastore",
            `is "sqlite" but ${servers.length} hosts have role "server" (${names}); sqlite lives on one server and cannot be shared`,
            'use "etcd" (an odd number of servers in one location), or "external" with k3s.datastoreEndpoint, or keep one server',
        );
    }
    if (rolesKnown && servers.length > 0 && datastore === Datastore.Etcd) {
        if (servers.length % 2 === 0) {
            p.add(
                "k3s.datastore",
                `is "etcd" with ${servers.length} servers (${names}); embedded etcd needs an odd number of servers to keep quorum`,
                'use 1, 3 or 5 servers, or datastore "external"',
            );
        }
        const locations = new Map<string, string[]>();
        for (const s of servers) locations.set(s.location, [...(locations.get(s.location) ?? []), s.name]);
        if (locations.size > 1 && args.allowEtcdAcrossLocations !== true && servers.every((s) => isLocation(s.location))) {
            const where = [...locations].map(([loc, hs]) => `${loc}: ${hs.join(", ")}`).join("; ");
            p.add(
                "k3s.datastore",
                `is "etcd" but the servers are in ${locations.size} locations (${where}); etcd across a WAN is not supported upstream`,
                'put all servers in one location, use datastore "external", or set k3s.allowEtcdAcrossLocations: true to accept the risk',
            );
        }
    }
    if (datastore === Datastore.External && args.datastoreEndpoint === undefined) {
        p.add("k3s.datastoreEndpoint", 'is missing but k3s.datastore is "external"', "set it as a secret, e.g. `pulumi config set --secret k3sDatastoreEndpoint 'mysql://k3s:…@tcp(db:3306)/k3s'`");
    }
    if (datastore === Datastore.External && typeof args.datastoreEndpoint === "string") {
        // A plain string can be checked here; a secret Output is checked where it is read (the stack program).
        const problem = datastoreEndpointProblem(args.datastoreEndpoint);
        if (problem !== undefined) p.add("k3s.datastoreEndpoint", `${problem} (the value is a secret and is not shown)`, DATASTORE_ENDPOINT_FIX);
    }
    if (datastore !== undefined && datastore !== Datastore.External && args.datastoreEndpoint !== undefined) {
        p.add("k3s.datastoreEndpoint", `is set but k3s.datastore is ${JSON.stringify(datastore)}`, 'remove it, or set k3s.datastore to "external"');
    }
    if (datastore !== undefined) p.push(...k3sBackupProblems(args.backup, datastore));
    const profile = args.failoverProfile ?? FailoverProfile.Default;
    checkFailoverProfile(p, profile, "k3s.failoverProfile");
    checkDisable(p, args.disable, "k3s.disable");
    p.push(...extraArgsProblems(args.kubeletArgs, ArgTarget.Kubelet, "k3s.kubeletArgs", profile));
    p.push(...extraArgsProblems(args.kubeControllerManagerArgs, ArgTarget.KubeControllerManager, "k3s.kubeControllerManagerArgs", profile));
    p.push(...extraArgsProblems(args.kubeApiServerArgs, ArgTarget.KubeApiServer, "k3s.kubeApiServerArgs", profile));
    checkTokenRotation(p, args.tokenRotation, "k3s.tokenRotation");
    if (args.agentsPerBatch !== undefined && !(Number.isInteger(args.agentsPerBatch) && args.agentsPerBatch >= 1 && args.agentsPerBatch <= 100)) {
        p.add(
            "k3s.agentsPerBatch",
            `must be a whole number from 1 to 100, got ${showValue(args.agentsPerBatch)}`,
            "use how many agents of one location may be drained and restarted at once (1, the default, keeps every other agent of a site serving)",
        );
    }
    checkCidr(p, args.clusterCidr, "k3s.clusterCidr", "10.42.0.0/16");
    checkCidr(p, args.serviceCidr, "k3s.serviceCidr", "10.43.0.0/16");
    if (args.kubeconfigEndpoint !== undefined && !isHostAddress(args.kubeconfigEndpoint)) {
        p.add("k3s.kubeconfigEndpoint", `must be a bare IP address or DNS name, got ${showValue(args.kubeconfigEndpoint)}`, 'drop the scheme and port (":6443" is added), e.g. "k3s.example.com"');
    }
    return [...p.problems];
}

/** Validates a whole cluster before any resource is registered; throws every problem (see `k3sClusterProblems`). */
export function validateK3sCluster(args: K3sClusterArgs, options: SshCheckOptions = {}): void {
    throwAll(k3sClusterProblems(args, options));
}

/**
 * Adds the problems every k3s node component checks (its machine and role, interface, install, profile,
 * kubelet flags, token generation); returns the profile its flags are checked against.
 */
function nodeComponentProblems(p: ProblemList, args: K3sNodeCommonArgs, role: NodeRole): FailoverProfile {
    p.collect(() => validateSshHosts([args.node, ...(args.sshHosts ?? []).filter((h) => h.name !== args.node.name)], "hosts"));
    p.push(...k3sNodeProblems(args.node, "node"));
    if (NODE_ROLES.includes(args.node.role) && args.node.role !== role) {
        p.add("node.role", `is ${showValue(args.node.role)} but this component is a k3s ${role}`, `use K3s${role === NodeRole.Server ? "Agent" : "Server"} for this host, or set its role to "${role}"`);
    }
    checkInterfaceName(p, args.interfaceName, "interfaceName");
    p.push(...installProblems(args.install ?? {}, "install"));
    const profile = args.failoverProfile ?? FailoverProfile.Default;
    checkFailoverProfile(p, profile, "failoverProfile");
    p.push(...extraArgsProblems(args.kubeletArgs, ArgTarget.Kubelet, "kubeletArgs", profile));
    checkTokenRotation(p, args.tokenRotation, "tokenRotation");
    return profile;
}

/** Every problem of a K3sServer's own args (paths are its arg names), for the component used alone. */
export function k3sServerProblems(args: K3sServerArgs): HybridInfraConfigError[] {
    const p = new ProblemList();
    const profile = nodeComponentProblems(p, args, NodeRole.Server);
    p.push(...extraArgsProblems(args.kubeControllerManagerArgs, ArgTarget.KubeControllerManager, "kubeControllerManagerArgs", profile));
    p.push(...extraArgsProblems(args.kubeApiServerArgs, ArgTarget.KubeApiServer, "kubeApiServerArgs", profile));
    checkDisable(p, args.disable, "disable");
    checkCidr(p, args.clusterCidr, "clusterCidr", "10.42.0.0/16");
    checkCidr(p, args.serviceCidr, "serviceCidr", "10.43.0.0/16");
    const datastore = args.datastore ?? Datastore.Sqlite;
    if (!Object.values(Datastore).includes(datastore)) {
        p.add("datastore", `is not a datastore, got ${showValue(datastore)}`, 'use "sqlite", "etcd" or "external"');
        return [...p.problems];
    }
    if (datastore === Datastore.External && args.datastoreEndpoint === undefined) {
        p.add("datastoreEndpoint", 'is missing but datastore is "external"', "pass the endpoint as a secret");
    }
    if (datastore === Datastore.Sqlite && args.serverUrl !== undefined) {
        p.add("serverUrl", 'is set but datastore is "sqlite", which cannot be shared between servers', 'use datastore "etcd" or "external" to run several servers');
    }
    p.push(...k3sBackupProblems(args.backup, datastore, "backup"));
    return [...p.problems];
}

/** Every problem of a K3sAgent's own args (paths are its arg names), for the component used alone. */
export function k3sAgentProblems(args: K3sAgentArgs): HybridInfraConfigError[] {
    const p = new ProblemList();
    nodeComponentProblems(p, args, NodeRole.Agent);
    return [...p.problems];
}
