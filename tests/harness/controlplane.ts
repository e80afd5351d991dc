/**
 * A real Kubernetes control plane for tests, run from binaries built by `bash tools/kube/build.sh`
 * (into `.tools/bin`): etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and kwok, which plays
 * the kubelet of every node (node heartbeats through Leases, pod status) so that nodes become Ready and
 * scheduled pods become Running without containers.
 *
 * Everything listens on 127.0.0.1 on free ports and lives in one temp dir (certificates made with
 * `openssl`, etcd data, kubeconfigs, logs). `stop()` ends every process and removes the dir.
 *
 *     const cp = await startControlPlane({ controllerManagerArgs: ["node-monitor-grace-period=20s"] });
 *     try { await createNodes(cp.kubeconfig, [{ name: "a", labels: { "topology.kubernetes.io/region": "eu" } }]); }
 *     finally { await cp.stop(); }
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import yaml from "js-yaml";

export const REPO_ROOT = path.resolve(__dirname, "../..");
/** Where `tools/kube/build.sh` puts the binaries. */
export const KUBE_BIN_DIR = path.join(REPO_ROOT, ".tools", "bin");
/** Where `tools/kube/build.sh` puts kwok's default Stage objects (taken from the pinned kwok module). */
export const KWOK_STAGES_DIR = path.join(REPO_ROOT, ".tools", "share", "kwok", "stages");
export const CONTROL_PLANE_BINARIES = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"] as const;
export const BUILD_HINT = "run `bash tools/kube/build.sh` to build them from the Go modules in tools/kube";

/** Binaries (and kwok stages) missing from `binDir`; empty when the control plane can start. */
export function missingControlPlaneBinaries(binDir = KUBE_BIN_DIR): string[] {
    const missing: string[] = CONTROL_PLANE_BINARIES.filter((b) => !existsSync(path.join(binDir, b))).map((b) => path.join(binDir, b));
    if (!existsSync(KWOK_STAGES_DIR) || readdirSync(KWOK_STAGES_DIR).length === 0) missing.push(KWOK_STAGES_DIR);
    return missing;
}

export interface ControlPlaneOptions {
    /** Folder with the binaries. Default `.tools/bin`. */
    readonly binDir?: string;
    /** Extra kube-apiserver flags, `name=value` or `--name=value`; they come after (so override) the defaults. */
    readonly apiServerArgs?: readonly string[];
    /** Extra kube-controller-manager flags, e.g. the failover flags a k3s config renders (`node-monitor-grace-period=20s`). */
    readonly controllerManagerArgs?: readonly string[];
    /** Extra kube-scheduler flags. */
    readonly schedulerArgs?: readonly string[];
    /** Extra kwok flags. */
    readonly kwokArgs?: readonly string[];
    /** How long kwok's node Leases last (`--node-lease-duration-seconds`). Default 40, the kubelet's default. */
    readonly nodeLeaseDurationSeconds?: number;
    /** Upper bound for the whole start (not an assertion, a give-up point). Default 180 s. */
    readonly startTimeoutMs?: number;
}

export interface ControlPlaneProcess {
    readonly name: string;
    readonly pid: number;
    readonly logPath: string;
}

export interface ControlPlane {
    /** Admin kubeconfig (YAML, certificates inline). */
    readonly kubeconfig: string;
    /** The same kubeconfig on disk (inside `dir`, gone after `stop()`). */
    readonly kubeconfigPath: string;
    /** `https://127.0.0.1:<port>` */
    readonly server: string;
    /** The temp dir holding certificates, etcd data, kubeconfigs and logs. */
    readonly dir: string;
    readonly processes: readonly ControlPlaneProcess[];
    /** TCP ports the control plane listens on. */
    readonly ports: readonly number[];
    /** A client authenticated as the admin (system:masters). */
    readonly client: KubeClient;
    /** Ends every process (SIGTERM, then SIGKILL), waits for them, removes `dir`. Safe to call twice. */
    stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------- client

export class KubeApiError extends Error {
    constructor(
        readonly method: string,
        readonly urlPath: string,
        readonly status: number,
        readonly body: string,
    ) {
        super(`${method} ${urlPath}: HTTP ${status}: ${body.slice(0, 500)}`);
    }
}

interface KubeconfigShape {
    clusters?: { name: string; cluster: { server: string; "certificate-authority-data"?: string } }[];
    users?: { name: string; user: { "client-certificate-data"?: string; "client-key-data"?: string } }[];
    contexts?: { name: string; context: { cluster: string; user: string } }[];
    "current-context"?: string;
}

/** A small Kubernetes API client over HTTPS with client-certificate auth, read from a kubeconfig. */
export class KubeClient {
    readonly server: string;
    private readonly agent: https.Agent;

    constructor(kubeconfig: string) {
        const kc = yaml.load(kubeconfig) as KubeconfigShape;
        const ctx = kc.contexts?.find((c) => c.name === kc["current-context"]) ?? kc.contexts?.[0];
        const cluster = kc.clusters?.find((c) => c.name === ctx?.context.cluster)?.cluster;
        const user = kc.users?.find((u) => u.name === ctx?.context.user)?.user;
        if (!cluster?.server || !cluster["certificate-authority-data"] || !user?.["client-certificate-data"] || !user["client-key-data"]) {
            throw new Error("kubeconfig needs a current context with server, certificate-authority-data, client-certificate-data and client-key-data");
        }
        const b64 = (s: string) => Buffer.from(s, "base64");
        this.server = cluster.server.replace(/\/+$/, "");
        this.agent = new https.Agent({
            ca: b64(cluster["certificate-authority-data"]),
            cert: b64(user["client-certificate-data"]),
            key: b64(user["client-key-data"]),
            keepAlive: false,
        });
    }

    /** Raw request; resolves with status and body text (no throw on HTTP errors). */
    raw(method: string, urlPath: string, body?: unknown, contentType = "application/json"): Promise<{ status: number; body: string }> {
        const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
        return new Promise((resolve, reject) => {
            const req = https.request(
                `${this.server}${urlPath}`,
                {
                    method,
                    agent: this.agent,
                    headers: { Accept: "application/json", ...(payload === undefined ? {} : { "Content-Type": contentType, "Content-Length": Buffer.byteLength(payload) }) },
                    timeout: 30_000,
                },
                (res) => {
                    const chunks: Buffer[] = [];
                    res.on("data", (c: Buffer) => chunks.push(c));
                    res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
                    res.on("error", reject);
                },
            );
            req.on("timeout", () => req.destroy(new Error(`${method} ${urlPath}: timed out`)));
            req.on("error", reject);
            if (payload !== undefined) req.write(payload);
            req.end();
        });
    }

    /** JSON request; throws `KubeApiError` on a non-2xx status. */
    async request<T = any>(method: string, urlPath: string, body?: unknown, contentType?: string): Promise<T> {
        const res = await this.raw(method, urlPath, body, contentType);
        if (res.status < 200 || res.status > 299) throw new KubeApiError(method, urlPath, res.status, res.body);
        return (res.body ? JSON.parse(res.body) : undefined) as T;
    }

    get<T = any>(urlPath: string): Promise<T> {
        return this.request<T>("GET", urlPath);
    }

    create<T = any>(urlPath: string, obj: unknown): Promise<T> {
        return this.request<T>("POST", urlPath, obj);
    }

    /** `items` of a list call. */
    async list<T = any>(urlPath: string): Promise<T[]> {
        return (await this.get<{ items: T[] }>(urlPath)).items;
    }

    close(): void {
        this.agent.destroy();
    }
}

// ---------------------------------------------------------------------------------------------- nodes

export interface NodeSpec {
    readonly name: string;
    readonly labels?: Readonly<Record<string, string>>;
    /** Taints as `key=value:Effect`, `key:Effect`, or objects. */
    readonly taints?: readonly (string | { key: string; value?: string; effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute" })[];
    /** `kubernetes.io/arch` and `status.nodeInfo.architecture`. Default amd64. */
    readonly arch?: string;
    /** Capacity (= allocatable). Default 4 CPUs, 8Gi, 110 pods. */
    readonly capacity?: Readonly<{ cpu?: string; memory?: string; pods?: string }>;
}

export function parseTaint(t: NonNullable<NodeSpec["taints"]>[number]): { key: string; value?: string; effect: string } {
    if (typeof t !== "string") return { ...t };
    const m = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(t);
    if (!m) throw new Error(`taint ${JSON.stringify(t)} is not key[=value]:NoSchedule|PreferNoSchedule|NoExecute`);
    return m[2] === undefined ? { key: m[1], effect: m[3] } : { key: m[1], value: m[2], effect: m[3] };
}

/** The Node object `createNodes` posts: labels like a kubelet sets them, plus kwok's marker annotation. */
export function nodeObject(n: NodeSpec): Record<string, unknown> {
    const arch = n.arch ?? "amd64";
    const capacity = { cpu: n.capacity?.cpu ?? "4", memory: n.capacity?.memory ?? "8Gi", pods: n.capacity?.pods ?? "110" };
    return {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
            name: n.name,
            labels: {
                "kubernetes.io/hostname": n.name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": arch,
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": arch,
                type: "kwok",
                ...n.labels,
            },
            annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
        },
        spec: { taints: (n.taints ?? []).map(parseTaint) },
        status: { capacity, allocatable: capacity, nodeInfo: { architecture: arch, operatingSystem: "linux" } },
    };
}

/** Registers nodes (as a kubelet would) on the cluster of `kubeconfig`; kwok then makes them Ready. */
export async function createNodes(kubeconfig: string, nodes: readonly NodeSpec[]): Promise<void> {
    const client = new KubeClient(kubeconfig);
    try {
        for (const n of nodes) await client.create("/api/v1/nodes", nodeObject(n));
    } finally {
        client.close();
    }
}

// ---------------------------------------------------------------------------------------------- helpers

/** Polls `check` until it returns a value other than undefined/false; gives up after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, intervalMs = 250): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
        try {
            const v = await check();
            if (v !== undefined && v !== false) return v;
        } catch (e) {
            last = e;
        }
        if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms${last ? `: ${String(last)}` : ""}`);
        await new Promise((r) => setTimeout(r, intervalMs));
    }
}

/** Free TCP ports on 127.0.0.1, all distinct (held open together while picking). */
export async function freePorts(n: number): Promise<number[]> {
    const servers: net.Server[] = [];
    try {
        for (let i = 0; i < n; i++) {
            const s = net.createServer();
            await new Promise<void>((resolve, reject) => {
                s.once("error", reject);
                s.listen(0, "127.0.0.1", () => resolve());
            });
            servers.push(s);
        }
        return servers.map((s) => (s.address() as net.AddressInfo).port);
    } finally {
        await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const sock = net.connect({ host: "127.0.0.1", port });
        sock.once("connect", () => {
            sock.destroy();
            resolve(true);
        });
        sock.once("error", () => resolve(false));
    });
}

/** True while a process with this pid exists (and is not a zombie). */
export function pidAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
    } catch {
        return false;
    }
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
    } catch {
        return false;
    }
}

function openssl(cwd: string, args: string[]): void {
    const r = spawnSync("openssl", args, { cwd, encoding: "utf8" });
    if (r.error) throw new Error(`openssl ${args[0]}: ${r.error.message} (install the openssl package)`);
    if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr}`);
}

/** CA, apiserver serving cert, client certs and the service-account key pair, made with openssl. */
function makePki(dir: string, clients: Record<string, { cn: string; org?: string }>): void {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(dir, ["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=hybridinfra-test-ca", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"]);
    const sign = (name: string, subj: string, ext: string) => {
        writeFileSync(path.join(dir, `${name}.ext`), ext);
        openssl(dir, ["req", "-new", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subj]);
        openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", "-extfile", `${name}.ext`]);
    };
    sign(
        "apiserver",
        "/CN=kube-apiserver",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n" +
            "subjectAltName=IP:127.0.0.1,IP:10.43.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n",
    );
    for (const [name, c] of Object.entries(clients)) {
        sign(name, `${c.org ? `/O=${c.org}` : ""}/CN=${c.cn}`, "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n");
    }
    openssl(dir, ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key"]);
    openssl(dir, ["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
}

function kubeconfigYaml(server: string, caPem: string, certPem: string, keyPem: string, user: string): string {
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    return yaml.dump({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "hybridinfra-test", cluster: { server, "certificate-authority-data": b64(caPem) } }],
        users: [{ name: user, user: { "client-certificate-data": b64(certPem), "client-key-data": b64(keyPem) } }],
        contexts: [{ name: "hybridinfra-test", context: { cluster: "hybridinfra-test", user } }],
        "current-context": "hybridinfra-test",
        preferences: {},
    });
}

function flag(a: string): string {
    return a.startsWith("-") ? a : `--${a}`;
}

function tail(file: string, lines = 40): string {
    try {
        return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
        return "(no log)";
    }
}

/** GET over HTTPS without verifying the server (kube-controller-manager and kube-scheduler serve self-signed certs). */
function insecureGet(url: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = https.get(url, { rejectUnauthorized: false, timeout: 5_000 }, (res) => {
            let body = "";
            res.on("data", (c: Buffer) => (body += c.toString("utf8")));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
    });
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
    return fetch(url, { signal: AbortSignal.timeout(5_000) }).then(async (r) => ({ status: r.status, body: await r.text() }));
}

// ---------------------------------------------------------------------------------------------- start

interface Running {
    name: string;
    child: ChildProcess;
    logPath: string;
    exited: Promise<void>;
    exitInfo?: string;
}

const live = new Set<Running>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;
function killAllNow(): void {
    for (const r of live) {
        try {
            r.child.kill("SIGKILL");
        } catch {
            /* already gone */
        }
    }
    for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
}
function installExitHook(): void {
    if (exitHookInstalled) return;
    exitHookInstalled = true;
    // Last resort if a test process ends (or is interrupted) without stop(): nothing may outlive it.
    process.once("exit", killAllNow);
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
        process.once(sig, () => {
            killAllNow();
            process.exit(128 + (os.constants.signals[sig] ?? 15));
        });
    }
}

/** Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok; resolves once all are healthy. */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const binDir = opts.binDir ?? KUBE_BIN_DIR;
    const missing = missingControlPlaneBinaries(binDir);
    if (missing.length > 0) throw new Error(`control plane binaries missing: ${missing.join(", ")}; ${BUILD_HINT}`);
    installExitHook();

    const dir = mkdtempSync(path.join(os.tmpdir(), "hybridinfra-cp-"));
    liveDirs.add(dir);
    const started: Running[] = [];
    let stopped = false;
    const timeout = opts.startTimeoutMs ?? 180_000;
    const deadline = Date.now() + timeout;
    const left = () => Math.max(1_000, deadline - Date.now());

    const stop = async () => {
        if (stopped) return;
        stopped = true;
        for (const r of [...started].reverse()) {
            if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGTERM");
            const killer = setTimeout(() => r.child.kill("SIGKILL"), 15_000);
            await r.exited;
            clearTimeout(killer);
            live.delete(r);
        }
        rmSync(dir, { recursive: true, force: true });
        liveDirs.delete(dir);
    };

    const run = (name: string, args: string[]): Running => {
        const logPath = path.join(dir, "logs", `${name}.log`);
        const log = createWriteStream(logPath);
        const child = spawn(path.join(binDir, name), args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, HOME: dir } });
        child.stdout?.pipe(log, { end: false });
        child.stderr?.pipe(log, { end: false });
        const r: Running = {
            name,
            child,
            logPath,
            exited: new Promise<void>((resolve) => {
                child.once("error", (e) => {
                    r.exitInfo = `failed to start: ${e.message}`;
                    resolve();
                });
                // "exit", not "close": a grandchild holding the pipes must not keep stop() waiting.
                child.once("exit", (code, signal) => {
                    r.exitInfo ??= `exited with ${signal ?? `code ${code}`}`;
                    child.stdout?.destroy();
                    child.stderr?.destroy();
                    log.end();
                    resolve();
                });
            }),
        };
        started.push(r);
        live.add(r);
        return r;
    };

    const healthy = async (r: Running, what: string, check: () => Promise<boolean>) => {
        await waitFor(
            `${r.name} ${what}`,
            async () => {
                if (r.exitInfo) throw new Error(`${r.name} ${r.exitInfo}`);
                return check();
            },
            left(),
            300,
        ).catch((e: unknown) => {
            throw new Error(`${String(e instanceof Error ? e.message : e)}\n--- ${r.name} log (last lines):\n${tail(r.logPath)}`);
        });
    };

    try {
        for (const d of ["pki", "logs", "etcd"]) mkdirSync(path.join(dir, d), { mode: 0o700 });
        const pki = path.join(dir, "pki");
        makePki(pki, {
            admin: { cn: "hybridinfra-admin", org: "system:masters" },
            "controller-manager": { cn: "system:kube-controller-manager" },
            scheduler: { cn: "system:kube-scheduler" },
            "apiserver-etcd": { cn: "kube-apiserver-etcd-client" },
        });
        const pem = (f: string) => readFileSync(path.join(pki, f), "utf8");
        const p = (f: string) => path.join(pki, f);

        const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort, kwokPort] = await freePorts(6);
        const ports = [etcdClient, etcdPeer, apiPort, kcmPort, schedPort, kwokPort];
        const server = `https://127.0.0.1:${apiPort}`;
        const writeKubeconfig = (name: string, user: string) => {
            const text = kubeconfigYaml(server, pem("ca.crt"), pem(`${name}.crt`), pem(`${name}.key`), user);
            const file = path.join(dir, `${name}.kubeconfig`);
            writeFileSync(file, text, { mode: 0o600 });
            return { text, file };
        };
        const admin = writeKubeconfig("admin", "admin");
        const kcmKc = writeKubeconfig("controller-manager", "kube-controller-manager");
        const schedKc = writeKubeconfig("scheduler", "kube-scheduler");

        // etcd: single member, loopback only, plain HTTP on loopback.
        const etcdUrl = `http://127.0.0.1:${etcdClient}`;
        const peerUrl = `http://127.0.0.1:${etcdPeer}`;
        const etcd = run("etcd", [
            "--name=default",
            `--data-dir=${path.join(dir, "etcd")}`,
            `--listen-client-urls=${etcdUrl}`,
            `--advertise-client-urls=${etcdUrl}`,
            `--listen-peer-urls=${peerUrl}`,
            `--initial-advertise-peer-urls=${peerUrl}`,
            `--initial-cluster=default=${peerUrl}`,
            "--initial-cluster-state=new",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ]);
        await healthy(etcd, "/health", async () => {
            const r = await httpGet(`${etcdUrl}/health`);
            return r.status === 200 && (JSON.parse(r.body) as { health?: string }).health === "true";
        });

        const apiserver = run("kube-apiserver", [
            `--etcd-servers=${etcdUrl}`,
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            `--secure-port=${apiPort}`,
            `--cert-dir=${path.join(dir, "apiserver-certs")}`,
            `--tls-cert-file=${p("apiserver.crt")}`,
            `--tls-private-key-file=${p("apiserver.key")}`,
            `--client-ca-file=${p("ca.crt")}`,
            `--service-account-key-file=${p("sa.pub")}`,
            `--service-account-signing-key-file=${p("sa.key")}`,
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-cluster-ip-range=10.43.0.0/16",
            "--authorization-mode=Node,RBAC",
            "--allow-privileged=true",
            // The "kubernetes" Service's Endpoints may not hold a loopback address; nothing here needs them.
            "--endpoint-reconciler-type=none",
            "--profiling=false",
            ...(opts.apiServerArgs ?? []).map(flag),
        ]);
        const client = new KubeClient(admin.text);
        await healthy(apiserver, "/readyz", async () => {
            const r = await client.raw("GET", "/readyz");
            return r.status === 200 && r.body.trim() === "ok";
        });

        const kcm = run("kube-controller-manager", [
            `--kubeconfig=${kcmKc.file}`,
            `--authentication-kubeconfig=${kcmKc.file}`,
            `--authorization-kubeconfig=${kcmKc.file}`,
            "--bind-address=127.0.0.1",
            `--secure-port=${kcmPort}`,
            `--cert-dir=${path.join(dir, "kcm-certs")}`,
            `--service-account-private-key-file=${p("sa.key")}`,
            `--root-ca-file=${p("ca.crt")}`,
            "--use-service-account-credentials=true",
            "--profiling=false",
            ...(opts.controllerManagerArgs ?? []).map(flag),
        ]);
        const scheduler = run("kube-scheduler", [
            `--kubeconfig=${schedKc.file}`,
            `--authentication-kubeconfig=${schedKc.file}`,
            `--authorization-kubeconfig=${schedKc.file}`,
            "--bind-address=127.0.0.1",
            `--secure-port=${schedPort}`,
            `--cert-dir=${path.join(dir, "scheduler-certs")}`,
            "--profiling=false",
            ...(opts.schedulerArgs ?? []).map(flag),
        ]);

        // kwok reads its Stages from --config: the defaults kwokctl uses, copied from the pinned module by build.sh.
        const stagesFile = path.join(dir, "kwok.yaml");
        writeFileSync(
            stagesFile,
            readdirSync(KWOK_STAGES_DIR)
                .filter((f) => f.endsWith(".yaml"))
                .sort()
                .map((f) => readFileSync(path.join(KWOK_STAGES_DIR, f), "utf8").trim())
                .join("\n---\n") + "\n",
        );
        const kwok = run("kwok", [
            `--kubeconfig=${admin.file}`,
            `--config=${stagesFile}`,
            "--manage-all-nodes=true",
            `--node-lease-duration-seconds=${opts.nodeLeaseDurationSeconds ?? 40}`,
            "--node-ip=127.0.0.1",
            `--server-address=127.0.0.1:${kwokPort}`,
            `--node-port=${kwokPort}`,
            `--tls-cert-file=${p("apiserver.crt")}`,
            `--tls-private-key-file=${p("apiserver.key")}`,
            ...(opts.kwokArgs ?? []).map(flag),
        ]);

        await healthy(kcm, "/healthz", async () => (await insecureGet(`https://127.0.0.1:${kcmPort}/healthz`)).status === 200);
        await healthy(scheduler, "/healthz", async () => (await insecureGet(`https://127.0.0.1:${schedPort}/healthz`)).status === 200);
        await healthy(kwok, "/healthz", async () => (await insecureGet(`https://127.0.0.1:${kwokPort}/healthz`)).status === 200);

        const cp: ControlPlane = {
            kubeconfig: admin.text,
            kubeconfigPath: admin.file,
            server,
            dir,
            processes: started.map((r) => ({ name: r.name, pid: r.child.pid ?? -1, logPath: r.logPath })),
            ports,
            client,
            stop: async () => {
                client.close();
                await stop();
            },
        };
        return cp;
    } catch (e) {
        await stop();
        throw e;
    }
}

/** Creates CustomResourceDefinitions and waits until the API server reports each Established. */
export async function installCrds(client: KubeClient, crds: readonly { metadata: { name: string } }[]): Promise<void> {
    for (const c of crds) await client.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", c);
    for (const c of crds) {
        await waitFor(`${c.metadata.name} Established`, async () => {
            const got = await client.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${c.metadata.name}`);
            return got.status?.conditions?.some((x: { type: string; status: string }) => x.type === "Established" && x.status === "True");
        });
    }
}
