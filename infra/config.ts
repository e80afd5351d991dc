/**
 * The typed stack config: one structured object `hybrid-infra:cluster` plus secrets set with
 * `pulumi config set --secret`. Validated with zod; every error names the exact config path
 * (`hosts[2].ssh.port`), shows the value received and says the fix. Unknown keys are rejected, and a typo
 * gets the nearest known key as a suggestion.
 */
import { z } from "zod";
import {
    DNS_LABEL_RE,
    isIpv4,
    isValidHostname,
    parseCidr,
    Datastore,
    FailoverProfile,
    HostRole,
    IngressMode,
    OverlayKind,
    SSH_ADDRESS_FIX,
    sshAddressProblem,
    TlsMode,
    Topology,
    clusterConsistencyProblems,
    clusterReachProblems,
    KEEPALIVE_FIX,
    kubeconfigEndpointProblems,
    MAX_KEEPALIVE,
    MAX_MTU,
    MAX_REPLICAS,
    MIN_KEEPALIVE,
    MIN_MTU,
    MTU_FIX,
    nearest,
    REPLICAS_FIX,
    showValue,
} from "@hybridinfra/components";

// The formats are the library's own rules (one each), so the schema cannot accept what a component refuses.
const label = DNS_LABEL_RE;
const WRONG_FORMAT = { error: "has the wrong format" };
const ipv4Address = () => z.string().refine((v) => isIpv4(v), WRONG_FORMAT);
const cidrBlock = () => z.string().refine((v) => parseCidr(v) !== undefined, WRONG_FORMAT);
const hostName = () => z.string().refine((v) => isValidHostname(v), WRONG_FORMAT);
const address = /^[A-Za-z0-9.-]+$/;
/** An SSH address, by the library's one rule (`sshAddressProblem`: IPv4, IPv6 or a DNS name). */
const sshAddress = z.string().superRefine((value, ctx) => {
    const problem = sshAddressProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});
const endpoint = /^[A-Za-z0-9.-]+(:[0-9]{1,5})?$/;

// Every enum is the model's own constant: the schema cannot offer a value the components do not know.
const Role = z.enum(HostRole);

const Ssh = z.strictObject({
    address: sshAddress,
    port: z.number().int().min(1).max(65535).optional(),
    user: z.string().min(1).optional(),
    hostKey: z.string().min(1).optional(),
    jumpHost: z.string().min(1).optional(),
    /** Failed dials tolerated before a step fails; -1 for no limit (default 10, pulumi-command's). */
    dialErrorLimit: z.number().int().min(-1).max(10000).refine((v) => v !== 0, "0 is not a limit").optional(),
    /** Seconds one dial may take; 0 for no limit (default 15, pulumi-command's). */
    perDialTimeout: z.number().int().min(0).max(3600).optional(),
    /** Name of another secret config key that holds this host's private key (default: sshPrivateKey). */
    privateKeyConfig: z.string().min(1).optional(),
});

const Host = z.strictObject({
    name: z.string().regex(label),
    ssh: Ssh,
    location: z.string().regex(label),
    /** Public IP or DNS name, with `:port` when the router forwards another port (`home.example.org:51821`). */
    publicEndpoint: z.string().regex(endpoint).optional(),
    roles: z.array(Role).min(1),
    lan: z.array(cidrBlock()).optional(),
    labels: z.record(z.string(), z.string()).optional(),
    taints: z.array(z.string().regex(/^[A-Za-z0-9./_-]+(=[A-Za-z0-9._-]*)?:(NoSchedule|PreferNoSchedule|NoExecute)$/)).optional(),
    overlayAddress: ipv4Address().optional(),
    mtu: z.number().int().min(MIN_MTU).max(MAX_MTU).optional(),
    gateway: z.boolean().optional(),
    remove: z.boolean().optional(),
});

const Overlay = z.strictObject({
    kind: z.enum(OverlayKind).optional(),
    topology: z.enum(Topology).optional(),
    cidr: cidrBlock().optional(),
    listenPort: z.number().int().min(1).max(65535).optional(),
    interfaceName: z.string().regex(/^[a-zA-Z0-9_=+.-]{1,15}$/).optional(),
    keepalive: z.number().int().min(MIN_KEEPALIVE).max(MAX_KEEPALIVE).optional(),
    presharedKeys: z.boolean().optional(),
    mtu: z.number().int().min(MIN_MTU).max(MAX_MTU).optional(),
    loginServer: z.string().min(1).optional(),
    acceptRoutes: z.boolean().optional(),
    /** Operator peers (WireGuard): a client config each, exported as the secret output operatorConfigs. */
    operators: z.array(z.strictObject({ name: z.string().regex(label) })).optional(),
});

const K3s = z.strictObject({
    version: z.string().min(1).optional(),
    /** Accept a version older than the one the last `pulumi up` installed (see k3sChangeProblems). */
    allowDowngrade: z.boolean().optional(),
    channel: z.string().regex(/^[a-z0-9.-]+$/).optional(),
    mirrorUrl: z.string().url().optional(),
    airgap: z.strictObject({ binaryPath: z.string().min(1), imagesPath: z.string().min(1), installScriptPath: z.string().min(1).optional() }).optional(),
    datastore: z.enum(Datastore).optional(),
    allowEtcdAcrossLocations: z.boolean().optional(),
    failoverProfile: z.enum(FailoverProfile).optional(),
    disable: z.array(z.string().min(1)).optional(),
    kubeletArgs: z.array(z.string().min(1)).optional(),
    kubeControllerManagerArgs: z.array(z.string().min(1)).optional(),
    kubeApiServerArgs: z.array(z.string().min(1)).optional(),
    secretsEncryption: z.boolean().optional(),
    /** Generation of the cluster token: raising it rotates the token (k3s token rotate, then restarts). */
    tokenRotation: z.number().int().min(0).max(1000000).optional(),
    kubeconfigEndpoint: z.string().regex(address).optional(),
    /** The endpoint is the user's own load balancer or DNS name, not an address of a server. */
    kubeconfigEndpointIsExternal: z.boolean().optional(),
    clusterCidr: cidrBlock().optional(),
    serviceCidr: cidrBlock().optional(),
    agentsPerBatch: z.number().int().min(1).max(100).optional(),
    /** Backups of the cluster state (k3s.backup; checked in depth by validateK3sBackup). */
    backup: z
        .strictObject({
            schedule: z.string().min(1).optional(),
            retention: z.number().int().min(1).max(1000).optional(),
            dir: z.string().startsWith("/").optional(),
            s3: z
                .strictObject({
                    endpoint: z.string().min(1).optional(),
                    bucket: z.string().min(1),
                    region: z.string().min(1).optional(),
                    folder: z.string().min(1).optional(),
                    accessKey: z.string().min(1).optional(),
                    /** Name of the secret config key that holds the secret access key (default backupS3SecretKey). */
                    secretKeyConfig: z.string().min(1).optional(),
                    insecure: z.boolean().optional(),
                })
                .optional(),
        })
        .optional(),
});

const Ingress = z.strictObject({
    mode: z.enum(IngressMode).optional(),
    tls: z.enum(TlsMode).optional(),
    tlsSecretName: z.string().min(1).optional(),
    forwardHost: z.string().regex(label).optional(),
    cloudflare: z
        .strictObject({
            accountId: z.string().regex(/^[0-9a-f]{32}$/),
            zoneId: z.string().regex(/^[0-9a-f]{32}$/),
            tunnelName: z.string().min(1).optional(),
        })
        .optional(),
    traefikDashboard: z.boolean().optional(),
    certManager: z.boolean().optional(),
    acmeEmail: z.string().regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/).optional(),
    acmeServer: z.string().regex(/^https:\/\/\S+$/).optional(),
});

const Probe = z.strictObject({
    path: z.string().startsWith("/"),
    port: z.number().int().min(1).max(65535).optional(),
    initialDelaySeconds: z.number().int().min(0).optional(),
    periodSeconds: z.number().int().min(1).optional(),
    timeoutSeconds: z.number().int().min(1).optional(),
    failureThreshold: z.number().int().min(1).optional(),
});

const App = z.strictObject({
    name: z.string().regex(label),
    image: z.string().min(1).regex(/^\S+$/),
    namespace: z.string().regex(label).optional(),
    replicas: z.number().int().min(1).max(MAX_REPLICAS).optional(),
    ports: z.array(z.strictObject({ name: z.string().regex(label).optional(), containerPort: z.number().int().min(1).max(65535), servicePort: z.number().int().min(1).max(65535).optional() })).min(1),
    hostnames: z.array(hostName()).min(1),
    paths: z.array(z.string().startsWith("/")).optional(),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).optional(),
    /** Env vars whose values are secret config keys (`pulumi config set --secret <key>`). */
    secretEnv: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().min(1)).optional(),
    resources: z
        .strictObject({
            requests: z.strictObject({ cpu: z.string().min(1).optional(), memory: z.string().min(1).optional() }).optional(),
            limits: z.strictObject({ cpu: z.string().min(1).optional(), memory: z.string().min(1).optional() }).optional(),
        })
        .optional(),
    livenessProbe: Probe.optional(),
    readinessProbe: Probe.optional(),
    placement: z
        .strictObject({ locations: z.array(z.string().regex(label)).optional(), arch: z.enum(["amd64", "arm64", "arm"]).optional(), labels: z.record(z.string(), z.string()).optional() })
        .optional(),
    spreadAcrossLocations: z.boolean().optional(),
});

export const ClusterConfigSchema = z.strictObject({
    hosts: z.array(Host).min(1),
    overlay: Overlay.optional(),
    k3s: K3s.optional(),
    ingress: Ingress.optional(),
    apps: z.array(App).optional(),
    /** Raise by one to run every host step again (a host drifted while the config did not change). */
    reconverge: z.number().int().min(0).optional(),
});

export type ClusterConfig = z.infer<typeof ClusterConfigSchema>;

/** A config error with the exact path; thrown before any resource is registered. */
export class ConfigValidationError extends Error {
    constructor(public readonly problems: readonly string[]) {
        super(`invalid stack config hybrid-infra:cluster:\n  - ${problems.join("\n  - ")}`);
        this.name = "ConfigValidationError";
    }
}

type Path = readonly PropertyKey[];

export function formatPath(path: Path): string {
    let out = "";
    for (const p of path) out += typeof p === "number" ? `[${p}]` : `${out === "" ? "" : "."}${String(p)}`;
    return out === "" ? "(top level)" : out;
}

function valueAt(root: unknown, path: Path): unknown {
    let v: unknown = root;
    for (const p of path) {
        if (v === null || typeof v !== "object") return undefined;
        v = (v as Record<PropertyKey, unknown>)[p];
    }
    return v;
}

/** The zod object schema at a config path (through optionals and arrays), to list its known keys. */
function keysAt(path: Path): string[] {
    let s: any = ClusterConfigSchema;
    const unwrap = () => {
        while (s && (s.def?.type === "optional" || s.def?.type === "nullable" || s.def?.type === "default")) s = s.def.innerType;
    };
    for (const p of path) {
        unwrap();
        if (typeof p === "number") s = s?.def?.type === "array" ? s.def.element : undefined;
        else s = s?.shape?.[p as string];
        if (!s) return [];
    }
    unwrap();
    return s?.shape ? Object.keys(s.shape) : [];
}

const FIXES: Record<string, string> = {
    "ssh.address": SSH_ADDRESS_FIX,
    "ssh.port": "use the port sshd listens on, an integer from 1 to 65535 (22 by default)",
    "ssh.dialErrorLimit": "use -1 (no limit) or a count from 1 to 10000, e.g. 30 for a machine that sleeps (default 10)",
    "ssh.perDialTimeout": "use whole seconds from 0 (no limit) to 3600, e.g. 30 for a slow link (default 15)",
    name: "use a lowercase DNS label such as `cloud-tokyo` or `home-pc`",
    location: "use a lowercase site name such as `tokyo` or `home`",
    roles: "give each host one or more of: hub, server, agent, ingress",
    lan: "write each LAN as an IPv4 CIDR, e.g. `192.168.50.0/24`",
    cidr: "write it as an IPv4 CIDR, e.g. `10.100.0.0/24`",
    taints: "write taints as `key=value:Effect` with Effect NoSchedule, PreferNoSchedule or NoExecute",
    hostnames: "use fully qualified DNS names such as `app.example.com`",
    publicEndpoint: "use the public IP or DNS name, with :port when the router forwards another port, e.g. `203.0.113.10` or `home.example.org:51821`",
    overlayAddress: "use an IPv4 address inside overlay.cidr, or remove it to let HybridInfra pick one",
    accountId: "copy the 32-character account ID from the Cloudflare dashboard",
    zoneId: "copy the 32-character zone ID from the Cloudflare dashboard",
    acmeEmail: "use the address Let's Encrypt sends expiry notices to, e.g. `ops@example.com`",
    acmeServer: "use an https ACME directory URL, e.g. https://acme-staging-v02.api.letsencrypt.org/directory",
    replicas: REPLICAS_FIX,
    mtu: MTU_FIX,
    keepalive: KEEPALIVE_FIX,
    tokenRotation: "use a whole number from 0 (the token the cluster was created with) up; raise it by one to rotate the cluster token",
    agentsPerBatch: "use how many agents of one location may be drained and restarted at once, from 1 (the default) to 100",
    reconverge: "use a whole number from 0 up; raise it by one to run every host step again",
    allowDowngrade: "use true to accept a k3s.version older than the one the last `pulumi up` installed, or false (the default)",
    "backup.retention": "use the number of backups to keep, a whole number from 1 to 1000 (default 5)",
    "backup.dir": "use an absolute directory path, e.g. /srv/k3s-backups (default /var/lib/rancher/k3s/server/db/snapshots)",
    containerPort: "use a port from 1 to 65535",
    servicePort: "use a port from 1 to 65535",
};

function fixFor(path: Path, issue: z.core.$ZodIssue, received: unknown): string {
    const keys = path.filter((p) => typeof p === "string") as string[];
    const lastTwo = keys.slice(-2).join(".");
    const last = keys[keys.length - 1] ?? "";
    if (issue.code === "invalid_value" && "values" in issue) return `use one of: ${(issue.values as unknown[]).map(String).join(", ")}`;
    // zod 4 leaves `issue.input` out, so a key that is present with the wrong type is told apart by its value.
    if (issue.code === "invalid_type" && received === undefined) return `add the required key \`${last}\``;
    return FIXES[lastTwo] ?? FIXES[last] ?? issue.message.replace(/^Invalid input: /, "");
}

/** Keys a release renamed (`<parent>.<old>` → new name): an old stack file is told the new name, not the nearest spelling. */
const RENAMED_KEYS: Record<string, string> = {
    // One name for the SSH address from the config down to the host (SshHostArgs.address).
    "ssh.host": "address",
};

/** Parses and validates the structured config; throws ConfigValidationError listing every problem. */
export function parseClusterConfig(raw: unknown): ClusterConfig {
    const res = ClusterConfigSchema.safeParse(raw);
    if (res.success) {
        // Checks across keys, once every value has the right shape: how pulumi up reaches each host and the API,
        // keys the chosen modes do not use, contradictions and overlapping address plans.
        const problems = [...clusterReachProblems(res.data.hosts), ...kubeconfigEndpointProblems(res.data), ...clusterConsistencyProblems(res.data)].map((e) => e.message);
        if (problems.length > 0) throw new ConfigValidationError(problems);
        return res.data;
    }
    const problems: string[] = [];
    for (const issue of res.error.issues) {
        if (issue.code === "unrecognized_keys") {
            const known = keysAt(issue.path);
            for (const key of issue.keys) {
                const at = formatPath([...issue.path, key]);
                const parent = issue.path.filter((p) => typeof p === "string").slice(-1)[0];
                const renamed = RENAMED_KEYS[`${String(parent)}.${key}`];
                const suggestion = renamed ?? nearest(key, known);
                const hint = renamed !== undefined ? `it was renamed: use \`${renamed}\`. ` : suggestion !== undefined ? `did you mean \`${suggestion}\`? ` : "";
                problems.push(`${at}: unknown key. Fix: ${hint}known keys here: ${known.join(", ")}`);
            }
            continue;
        }
        const at = formatPath(issue.path);
        const received = valueAt(raw, issue.path);
        const problem =
            issue.code === "invalid_type" && received === undefined
                ? "is required"
                : issue.code === "invalid_format"
                  ? `has the wrong format, got ${showValue(received)}`
                  : `${issue.message.replace(/^Invalid input: /, "")}, got ${showValue(received)}`;
        problems.push(`${at}: ${problem}. Fix: ${fixFor(issue.path, issue, received)}`);
    }
    throw new ConfigValidationError(problems);
}
