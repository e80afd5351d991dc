/**
 * The lab: real Linux "hosts" on one machine (network + mount + UTS namespaces, each running sshd), a
 * bridge namespace as the internet and a NAT router in front of a home LAN. See lab/README.md.
 *
 * Commands run through `spawnSync` with argument vectors (no shell), each with a timeout, so every wait
 * here is bounded. Only objects with the `hil-` prefix (or under /var/tmp/hil-lab) are ever touched.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
    CLIENT_KEY,
    HOME_CIDR,
    HOSTS_FILE,
    INET_NETNS,
    LAB_DIR,
    LAB_HOSTS,
    LAB_NETNS,
    LAB_PREFIX,
    LabHost,
    LabSide,
    LOCK_DIR,
    OCI_INPUT_RULES,
    ROOT_ADDRESS,
    ROOT_VETH,
    ROUTER_LAN,
    ROUTER_NETNS,
    ROUTER_PUBLIC,
    STATE_DIR,
} from "./topology";

export class LabError extends Error {}

export interface RunResult {
    readonly status: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Runs a command on the machine (bounded; `check` @default true: a non-zero exit throws LabError with stderr). */
export function run(cmd: string, args: readonly string[], opts: { check?: boolean; timeoutMs?: number; input?: string } = {}): RunResult {
    const res = spawnSync(cmd, args, { encoding: "utf8", timeout: opts.timeoutMs ?? 20_000, input: opts.input ?? "", stdio: ["pipe", "pipe", "pipe"] });
    const out: RunResult = { status: res.status ?? -1, stdout: res.stdout ?? "", stderr: res.stderr ?? (res.error?.message ?? "") };
    if ((opts.check ?? true) && out.status !== 0) {
        throw new LabError(`\`${cmd} ${args.join(" ")}\` failed (exit ${out.status}${res.error ? `, ${res.error.message}` : ""}): ${out.stderr.trim()}`);
    }
    return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Tools the lab needs on the machine, with the Debian package that provides each. */
export const REQUIRED_TOOLS: ReadonlyArray<readonly [string, string]> = [
    ["ip", "iproute2"],
    ["iptables", "iptables"],
    ["sshd", "openssh-server"],
    ["ssh-keygen", "openssh-client"],
    ["wg", "wireguard-tools"],
    ["wg-quick", "wireguard-tools"],
    ["wireguard-go", "wireguard-go"],
    ["nsenter", "util-linux"],
    ["unshare", "util-linux"],
    ["ping", "iputils-ping"],
    ["timeout", "coreutils"],
];

function which(tool: string): string | undefined {
    const dirs = (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
    for (const d of dirs) {
        const p = path.join(d, tool);
        try {
            fs.accessSync(p, fs.constants.X_OK);
            return p;
        } catch {
            // keep looking
        }
    }
    return undefined;
}

/** Why the lab cannot run on this machine, or undefined when it can. */
export function labUnavailableReason(): string | undefined {
    if (process.platform !== "linux") return `the lab needs Linux network namespaces; this is ${process.platform}`;
    if (typeof process.getuid !== "function" || process.getuid() !== 0) {
        return "the lab needs root (network namespaces, mounts, sshd on port 22): run it as root, e.g. `sudo npm run lab -- up`";
    }
    const missing = REQUIRED_TOOLS.filter(([tool]) => which(tool) === undefined);
    if (missing.length > 0) {
        return `missing tools: ${missing.map(([t, p]) => `${t} (apt package ${p})`).join(", ")}; install them: apt-get install -y ${[...new Set(missing.map(([, p]) => p))].join(" ")}`;
    }
    if (!fs.readFileSync("/proc/filesystems", "utf8").includes("\toverlay\n")) {
        return "the kernel has no overlay filesystem (each lab host gets a copy-on-write /etc through overlayfs)";
    }
    const probe = run("ip", ["netns", "list"], { check: false });
    if (probe.status !== 0) return `\`ip netns\` does not work here: ${probe.stderr.trim()}`;
    return undefined;
}

function requireAvailable(): void {
    const reason = labUnavailableReason();
    if (reason !== undefined) throw new LabError(reason);
}

// ---------------------------------------------------------------------------------------------------
// Lock: one lab per machine; the CLI and test files take turns.

function pidAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

/** Takes the machine-wide lab lock, waiting at most `timeoutMs`. Returns the release function. */
export async function acquireLabLock(timeoutMs = 15 * 60_000): Promise<() => void> {
    const deadline = Date.now() + timeoutMs;
    const pidFile = path.join(LOCK_DIR, "pid");
    for (let attempt = 0; ; attempt++) {
        try {
            fs.mkdirSync(LOCK_DIR);
            fs.writeFileSync(pidFile, `${process.pid}\n`);
            return () => fs.rmSync(LOCK_DIR, { recursive: true, force: true });
        } catch (err: any) {
            if (err.code !== "EEXIST") throw err;
        }
        let holder = NaN;
        try {
            holder = Number(fs.readFileSync(pidFile, "utf8").trim());
        } catch {
            // the holder is between mkdir and writing its pid
        }
        if (Number.isInteger(holder) && holder > 0 && !pidAlive(holder)) {
            fs.rmSync(LOCK_DIR, { recursive: true, force: true });
            continue;
        }
        if (Date.now() > deadline) throw new LabError(`the lab is in use by process ${holder} (lock ${LOCK_DIR}); waited ${Math.round(timeoutMs / 1000)} s`);
        if (attempt % 20 === 0 && attempt > 0) console.error(`lab: waiting for process ${holder} to release ${LOCK_DIR}`);
        await sleep(500);
    }
}

// ---------------------------------------------------------------------------------------------------
// State

/** What `up` records about one host, for the runner, the tests and `status`. */
export interface LabHostState extends LabHost {
    /** pid of the host's holder process: `nsenter -t <pid> -m -u -n` enters the host. */
    readonly holderPid: number;
    /** The host's sshd public key (`ssh-ed25519 AAAA…`), for `connection.hostKey`. */
    readonly hostKey: string;
    /** The host's private state dir (overlay upper layers, logs). */
    readonly dir: string;
}

export interface LabState {
    readonly hosts: readonly LabHostState[];
    /** Path of the client private key (OpenSSH ed25519, 0600). */
    readonly clientKeyPath: string;
}

export function readLabState(): LabState {
    if (!fs.existsSync(HOSTS_FILE)) throw new LabError(`the lab is not up (no ${HOSTS_FILE}); run \`npm run lab -- up\``);
    return JSON.parse(fs.readFileSync(HOSTS_FILE, "utf8")) as LabState;
}

export function labHostState(state: LabState, name: string): LabHostState {
    const h = state.hosts.find((x) => x.name === name);
    if (h === undefined) throw new LabError(`lab host ${name} is not in ${HOSTS_FILE}`);
    return h;
}

/** Runs a command inside a lab host (its network, mount and UTS namespaces), as root, without SSH. */
export function inHost(host: LabHostState, argv: readonly string[], opts: { check?: boolean; timeoutMs?: number } = {}): RunResult {
    return run("nsenter", ["-t", String(host.holderPid), "-m", "-u", "-n", "--", ...argv], opts);
}

// ---------------------------------------------------------------------------------------------------
// up

function existingLabNetns(): string[] {
    return run("ip", ["-o", "netns", "list"], { check: false })
        .stdout.split("\n")
        .map((l) => l.split(" ")[0])
        .filter((n) => n.startsWith(LAB_PREFIX));
}

function sshdConfig(h: LabHost, dir: string): string {
    return [
        "# hybridinfra lab sshd for one host (generated by lab up)",
        `ListenAddress ${h.address}:22`,
        `HostKey ${path.join(dir, "ssh_host_ed25519_key")}`,
        "PidFile /run/sshd.pid",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        `AuthorizedKeysFile ${path.join(STATE_DIR, "authorized_keys")}`,
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        // The state dir lives in the work tree, whose modes sshd's StrictModes would reject.
        "StrictModes no",
        "AllowTcpForwarding yes",
        "PrintMotd no",
        "LogLevel VERBOSE",
        "",
    ].join("\n");
}

function linkUp(ns: string, dev: string): void {
    run("ip", ["-n", ns, "link", "set", dev, "up"]);
}

function buildNetwork(): void {
    for (const ns of LAB_NETNS) {
        run("ip", ["netns", "add", ns]);
        linkUp(ns, "lo");
    }
    // The internet: one bridge in hil-inet; every public machine has a veth into it.
    run("ip", ["-n", INET_NETNS, "link", "add", "br0", "type", "bridge"]);
    linkUp(INET_NETNS, "br0");
    const attachToInternet = (ns: string, port: string, address: string) => {
        run("ip", ["-n", INET_NETNS, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns]);
        run("ip", ["-n", INET_NETNS, "link", "set", port, "master", "br0"]);
        linkUp(INET_NETNS, port);
        run("ip", ["-n", ns, "addr", "add", `${address}/24`, "dev", "eth0"]);
        linkUp(ns, "eth0");
    };
    attachToInternet(ROUTER_NETNS, "v-router", ROUTER_PUBLIC);
    // The home LAN: a bridge inside the router, which NATs it to its public address.
    run("ip", ["-n", ROUTER_NETNS, "link", "add", "br-lan", "type", "bridge"]);
    run("ip", ["-n", ROUTER_NETNS, "addr", "add", `${ROUTER_LAN}/24`, "dev", "br-lan"]);
    linkUp(ROUTER_NETNS, "br-lan");
    for (const h of LAB_HOSTS) {
        if (h.side === LabSide.Internet) {
            attachToInternet(h.netns, `v-${h.name}`, h.address);
        } else {
            run("ip", ["-n", ROUTER_NETNS, "link", "add", `v-${h.name}`, "type", "veth", "peer", "name", "eth0", "netns", h.netns]);
            run("ip", ["-n", ROUTER_NETNS, "link", "set", `v-${h.name}`, "master", "br-lan"]);
            linkUp(ROUTER_NETNS, `v-${h.name}`);
            run("ip", ["-n", h.netns, "addr", "add", `${h.address}/24`, "dev", "eth0"]);
            linkUp(h.netns, "eth0");
            run("ip", ["-n", h.netns, "route", "add", "default", "via", ROUTER_LAN]);
        }
    }
    // A real home router: outbound NAT, a port forward to one home machine's sshd, nothing else inbound.
    const ipt = (...args: string[]) => run("ip", ["netns", "exec", ROUTER_NETNS, "iptables", "-w", "5", ...args]);
    run("ip", ["netns", "exec", ROUTER_NETNS, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    ipt("-t", "nat", "-A", "POSTROUTING", "-s", HOME_CIDR, "-o", "eth0", "-j", "MASQUERADE");
    ipt("-P", "FORWARD", "DROP");
    ipt("-A", "FORWARD", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT");
    ipt("-A", "FORWARD", "-i", "br-lan", "-o", "eth0", "-j", "ACCEPT");
    // Where the kernel has br_netfilter, bridged LAN traffic also passes FORWARD: the LAN talks freely.
    ipt("-A", "FORWARD", "-i", "br-lan", "-o", "br-lan", "-j", "ACCEPT");
    for (const h of LAB_HOSTS) {
        if (h.forwardedSshPort === undefined) continue;
        ipt("-t", "nat", "-A", "PREROUTING", "-i", "eth0", "-d", ROUTER_PUBLIC, "-p", "tcp", "--dport", String(h.forwardedSshPort), "-j", "DNAT", "--to-destination", `${h.address}:22`);
        ipt("-A", "FORWARD", "-i", "eth0", "-o", "br-lan", "-d", h.address, "-p", "tcp", "--dport", "22", "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT");
    }
    // Hosts whose INPUT ends in REJECT (Oracle Cloud's images), set before any step runs.
    for (const h of LAB_HOSTS) {
        if (h.inputEndsInReject !== true) continue;
        for (const rule of OCI_INPUT_RULES) run("ip", ["netns", "exec", h.netns, "iptables", "-w", "5", ...rule.split(" ")]);
    }
    // The test process's door into the lab: one veth from the machine's namespace onto the internet bridge.
    // Nothing in the lab routes beyond 203.0.113.0/24, and this namespace does not forward for it.
    run("ip", ["link", "add", ROOT_VETH, "type", "veth", "peer", "name", "v-root", "netns", INET_NETNS]);
    run("ip", ["-n", INET_NETNS, "link", "set", "v-root", "master", "br0"]);
    linkUp(INET_NETNS, "v-root");
    run("ip", ["addr", "add", `${ROOT_ADDRESS}/24`, "dev", ROOT_VETH]);
    run("ip", ["link", "set", ROOT_VETH, "up"]);
}

async function waitFor(what: string, attempts: number, intervalMs: number, check: () => boolean): Promise<void> {
    for (let i = 0; i < attempts; i++) {
        if (check()) return;
        await sleep(intervalMs);
    }
    throw new LabError(`timed out waiting for ${what} (${attempts} checks, ${(attempts * intervalMs) / 1000} s)`);
}

/** Reads the SSH banner from inside the host's network namespace. */
export function sshdAnswers(h: LabHost): boolean {
    const res = run(
        "nsenter",
        [`--net=/run/netns/${h.netns}`, "--", "timeout", "3", "bash", "-c", 'exec 3<>"/dev/tcp/$1/22" && head -c 4 <&3', "probe", h.address],
        { check: false, timeoutMs: 5000 },
    );
    return res.status === 0 && res.stdout.startsWith("SSH-");
}

async function startHost(h: LabHost): Promise<LabHostState> {
    const dir = path.join(STATE_DIR, h.name);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `${LAB_PREFIX}${h.name}`, "-f", path.join(dir, "ssh_host_ed25519_key")]);
    fs.writeFileSync(path.join(dir, "sshd_config"), sshdConfig(h, dir), { mode: 0o600 });
    const log = fs.openSync(path.join(dir, "holder.log"), "a");
    // setsid: the holder must outlive the CLI that started it. Its pid is written by holder.sh itself.
    const child = spawn(
        "setsid",
        ["ip", "netns", "exec", h.netns, "unshare", "--mount", "--uts", "--propagation", "private", "bash", path.join(LAB_DIR, "holder.sh"), h.name, dir],
        { detached: true, stdio: ["ignore", log, log] },
    );
    child.unref();
    fs.closeSync(log);
    const pidFile = path.join(dir, "holder.pid");
    await waitFor(`the mount namespace of ${h.name} (see ${path.join(dir, "holder.log")})`, 600, 100, () => fs.existsSync(pidFile));
    const holderPid = Number(fs.readFileSync(pidFile, "utf8").trim());
    const state: LabHostState = { ...h, holderPid, hostKey: "", dir };
    inHost(state, ["/usr/sbin/sshd", "-f", path.join(dir, "sshd_config"), "-E", path.join(dir, "sshd.log")]);
    await waitFor(`sshd of ${h.name} on ${h.address}:22 (see ${path.join(dir, "sshd.log")})`, 600, 100, () => sshdAnswers(h));
    const hostKey = fs.readFileSync(path.join(dir, "ssh_host_ed25519_key.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ");
    return { ...state, hostKey };
}

/** Builds the lab from scratch (a lab left over from an earlier run is removed first). */
export async function labUp(log: (line: string) => void = console.log): Promise<LabState> {
    requireAvailable();
    await labDown(() => undefined);
    const started = Date.now();
    try {
        fs.mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
        run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `${LAB_PREFIX}client`, "-f", CLIENT_KEY]);
        fs.chmodSync(CLIENT_KEY, 0o600);
        fs.copyFileSync(`${CLIENT_KEY}.pub`, path.join(STATE_DIR, "authorized_keys"));
        buildNetwork();
        const hosts = await Promise.all(LAB_HOSTS.map((h) => startHost(h)));
        const state: LabState = { hosts, clientKeyPath: CLIENT_KEY };
        fs.writeFileSync(HOSTS_FILE, `${JSON.stringify(state, null, 2)}\n`);
        log(`lab up in ${((Date.now() - started) / 1000).toFixed(1)} s: ${hosts.map((h) => `${h.name} ${h.address}`).join(", ")}; router ${ROUTER_PUBLIC} / ${ROUTER_LAN}`);
        return state;
    } catch (err) {
        log(`lab up failed, removing what was built: ${(err as Error).message}`);
        await labDown(() => undefined);
        throw err;
    }
}

// ---------------------------------------------------------------------------------------------------
// down

function holderPidsFromState(): number[] {
    try {
        return readLabState().hosts.map((h) => h.holderPid);
    } catch {
        return [];
    }
}

function netnsId(nsPath: string): string | undefined {
    try {
        return fs.readlinkSync(nsPath);
    } catch {
        return undefined;
    }
}

/**
 * Identities (`net:[inode]`) of the lab's network namespaces: the named ones, and those the recorded holders
 * still keep alive (e.g. after a crash between `ip netns del` and the kill).
 */
export function labNetnsIds(): Set<string> {
    const ids = new Set<string>();
    for (const ns of existingLabNetns()) {
        const res = run("stat", ["-L", "-c", "%i", `/run/netns/${ns}`], { check: false });
        if (res.status === 0) ids.add(`net:[${res.stdout.trim()}]`);
    }
    const own = netnsId("/proc/self/ns/net");
    for (const pid of holderPidsFromState()) {
        const id = netnsId(`/proc/${pid}/ns/net`);
        if (id !== undefined && id !== own) ids.add(id);
    }
    return ids;
}

/** Live processes in the given network namespaces: holders, sshd, sessions, wireguard-go. */
export function labPids(ids: ReadonlySet<string>): number[] {
    if (ids.size === 0) return [];
    const out: number[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
        const id = netnsId(`/proc/${entry}/ns/net`); // undefined for zombies and vanished processes
        if (id !== undefined && ids.has(id)) out.push(Number(entry));
    }
    return out;
}

function labMountsInThisNamespace(): string[] {
    return fs
        .readFileSync("/proc/self/mountinfo", "utf8")
        .split("\n")
        .map((l) => l.split(" ")[4])
        .filter((m): m is string => m !== undefined && (m === STATE_DIR || m.startsWith(`${STATE_DIR}/`)));
}

/** Removes everything `up` made. Safe to run twice and after a failed `up`. */
export async function labDown(log: (line: string) => void = console.log): Promise<void> {
    requireAvailable();
    const ids = labNetnsIds();
    // Processes first (holders, sshd, sessions, wireguard-go): namespaces die with their last process.
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
        const pids = labPids(ids);
        if (pids.length === 0) break;
        for (const p of pids) {
            try {
                process.kill(p, signal);
            } catch {
                // already gone
            }
        }
        for (let i = 0; i < 30 && labPids(ids).length > 0; i++) await sleep(100);
    }
    for (const ns of existingLabNetns()) run("ip", ["netns", "del", ns], { check: false });
    if (run("ip", ["link", "show", ROOT_VETH], { check: false }).status === 0) run("ip", ["link", "del", ROOT_VETH], { check: false });
    for (const m of labMountsInThisNamespace().reverse()) run("umount", ["-l", m], { check: false });
    fs.rmSync(STATE_DIR, { recursive: true, force: true });
    const left = labLeftovers(ids);
    if (left.length > 0) throw new LabError(`lab down left: ${left.join(", ")}`);
    log("lab down: no lab namespace, process, mount or state left");
}

/**
 * What is left of the lab on this machine (empty after a successful `down`).
 * @param ids the lab's network namespace identities, taken with `labNetnsIds()` while the lab was up
 */
export function labLeftovers(ids: ReadonlySet<string>): string[] {
    return [
        ...existingLabNetns().map((n) => `namespace ${n}`),
        ...labPids(ids).map((p) => `process ${p}`),
        ...labMountsInThisNamespace().map((m) => `mount ${m}`),
        ...(run("ip", ["link", "show", ROOT_VETH], { check: false }).status === 0 ? [`link ${ROOT_VETH}`] : []),
        ...(fs.existsSync(STATE_DIR) ? [`directory ${STATE_DIR}`] : []),
    ];
}

// ---------------------------------------------------------------------------------------------------
// status

export interface HostStatus {
    readonly name: string;
    readonly address: string;
    readonly sshd: boolean;
    readonly wgInterfaces: readonly string[];
}

export function labStatus(): HostStatus[] {
    requireAvailable();
    const state = readLabState();
    return state.hosts.map((h) => {
        const wg = pidAlive(h.holderPid) ? inHost(h, ["wg", "show", "interfaces"], { check: false }) : undefined;
        return {
            name: h.name,
            address: h.address,
            sshd: sshdAnswers(h),
            wgInterfaces: wg !== undefined && wg.status === 0 ? wg.stdout.trim().split(/\s+/).filter((x) => x !== "") : [],
        };
    });
}
