/**
 * `npm run doctor`: a read-only health check of a running cluster, against what the stack config says it
 * should be. It runs the stack's program offline (tools/render-lib.ts) for the plan, the rendered files and
 * each host's SSH connection, then connects to every host with those settings (tools/ssh.ts, jump hosts
 * included) and compares. Nothing on the hosts is changed.
 *
 * Per host: the WireGuard interface (exists and up, service state where there is an init system), its
 * peers as `wg show <if> dump` lists them (allowed IPs compared with the plan, each peer's public key with
 * the key the peer's own interface has, endpoint with the planned one, keepalive), the managed files
 * compared with the render (drift), and k3s (service active, node Ready) where k3s runs.
 * Per link (each pair of peers in the plan): a ping over the overlay from the end that can initiate, and
 * the bytes the other end received from it meanwhile. A problem line names the likely cause and the fix.
 *
 * Secrets never leave the hosts: preshared keys are cut from the dump on the host, and managed files are
 * compared by per-line SHA-256 with the lines that hold secrets (and public keys, which the offline render
 * cannot know) masked on the host.
 */
import * as crypto from "node:crypto";
import * as net from "node:net";
import { hybridClusterInternals } from "../components/src/cluster";
import { OverlayPlan, PlannedNode, RERESOLVE_AFTER_SECONDS, RERESOLVE_INTERVAL_SECONDS, WireGuardMesh, wireGuardMeshInternals } from "../components/src/wireguard";
import { loadStack } from "./stack";
import { COMMAND_TYPE, renderTree, runStack, stepIdentity } from "./render-lib";
import { connectionFromInputs, ExecResult, SshConnection, sshExec } from "./ssh";
import { compact } from "../components/src/util/compact";

/** Check groups that can be left out (`--skip`). */
export const CheckGroup = { K3s: "k3s", Files: "files" } as const;
export type CheckGroup = (typeof CheckGroup)[keyof typeof CheckGroup];

/** One check's result. `cause` and `fix` are set on every problem. */
export interface Finding {
    /** What was checked: `ssh`, `interface`, `peer <name>`, `files`, `k3s`, `ping`, ... */
    readonly check: string;
    readonly ok: boolean;
    /** What was seen (never a secret). */
    readonly detail: string;
    readonly cause?: string;
    readonly fix?: string;
}

export interface HostReport {
    readonly host: string;
    readonly ok: boolean;
    readonly findings: readonly Finding[];
}

export interface LinkReport {
    /** The end that pings (it has the other's endpoint, so it can initiate). */
    readonly from: string;
    readonly to: string;
    readonly ok: boolean;
    readonly findings: readonly Finding[];
}

export interface DoctorReport {
    readonly stack: string;
    readonly ok: boolean;
    readonly hosts: readonly HostReport[];
    readonly links: readonly LinkReport[];
    /** Check groups left out, and why (asked for, or not applicable). */
    readonly skipped: readonly string[];
}

export interface DoctorOptions {
    /** Extra config (`key` → value), as `loadStack` takes it: the SSH key, pinned host keys. */
    readonly extraConfig?: Record<string, string>;
    /** Check groups to leave out. @default none */
    readonly skip?: readonly CheckGroup[];
    /** Per SSH command. @default 30000 ms */
    readonly timeoutMs?: number;
}

/** What the doctor expects of one host, from the offline run of the stack. */
export interface ExpectedHost {
    readonly name: string;
    readonly connection: SshConnection;
    /** The overlay node (WireGuard stacks). */
    readonly node?: PlannedNode;
    /** k3s role, when k3s runs on the host. */
    readonly k3s?: "server" | "agent";
    /** Managed files: rendered content (secrets as placeholders), mode, and the step that writes it. */
    readonly files: readonly ExpectedFile[];
}

export interface ExpectedFile {
    readonly path: string;
    readonly content: string;
    /** Octal, as `stat -c %a` prints it. */
    readonly mode: string;
    readonly step: string;
    /** The step writes it only under a condition it tests on the host (e.g. the init system): its absence is no fault. */
    readonly conditional: boolean;
}

/**
 * Whether the `hi_write_file <path>` line of a step script sits inside an `if`/`case`/loop (heredoc bodies
 * skipped). Such a file is written only on some hosts.
 */
export function writtenConditionally(script: string, path: string): boolean {
    let depth = 0;
    let heredoc: string | undefined;
    for (const line of script.split("\n")) {
        if (heredoc !== undefined) {
            if (line === heredoc) heredoc = undefined;
            continue;
        }
        const words = line.trim().split(/[\s;]+/);
        if (line.trim().startsWith("hi_write_file ") && words[1]?.replace(/^'|'$/g, "") === path) return depth > 0;
        const tag = /<<'?([A-Za-z_0-9]+)'?\s*$/.exec(line);
        if (tag) heredoc = tag[1];
        if (line.trim().startsWith("#")) continue;
        // Keywords inside quotes (messages such as "done (changed)") are text, not syntax.
        const code = line.replace(/'[^']*'|"(?:[^"\\]|\\.)*"/g, "''").replace(/\s#.*$/, "");
        for (const w of code.trim().split(/[\s;]+/)) {
            if (w === "if" || w === "case" || w === "while" || w === "for" || w === "until") depth++;
            else if (w === "fi" || w === "esac" || w === "done") depth--;
        }
    }
    return false;
}

export interface Expected {
    readonly stack: string;
    readonly plan?: OverlayPlan;
    readonly hosts: readonly ExpectedHost[];
}

const PLACEHOLDER = /@@HI_SECRET:[A-Za-z0-9_]+@@/;

/** Runs the stack's program offline and collects what each host should have. */
export async function expectedState(stack: string, extraConfig: Record<string, string> = {}): Promise<Expected> {
    const run = await runStack(stack, { extraConfig });
    const overlay = hybridClusterInternals(run.cluster).overlay;
    const plan = overlay instanceof WireGuardMesh ? wireGuardMeshInternals(overlay).plan : undefined;
    const tree = renderTree(run.recording);
    const connections = new Map<string, SshConnection>();
    for (const r of run.recording.byType(COMMAND_TYPE)) {
        const id = stepIdentity(r);
        if (id !== undefined && !connections.has(id.host)) connections.set(id.host, connectionFromInputs(r.inputs.connection as Record<string, unknown>, `${r.name}.connection`));
    }
    const cluster = JSON.parse(loadStack(stack, extraConfig).config["hybrid-infra:cluster"]) as { hosts: { name: string; roles: string[] }[] };
    const hosts: ExpectedHost[] = cluster.hosts.map((h) => {
        const connection = connections.get(h.name);
        if (connection === undefined) throw new Error(`host ${h.name} has no host step in the render: nothing to connect with`);
        const files: ExpectedFile[] = [];
        const prefix = `hosts/${h.name}/files`;
        for (const [rel, content] of tree) {
            if (!rel.startsWith(`${prefix}/`) || rel.endsWith(".meta")) continue;
            const meta = /^mode (\S+) owner \S+ written by (\S+)$/m.exec(tree.get(`${rel}.meta`) ?? "");
            if (meta === null || !content.includes("managed by hybridinfra")) continue;
            const path = rel.slice(prefix.length);
            const script = [...tree].find(([k]) => new RegExp(`^hosts/${h.name}/\\d\\d-${meta[2]}\\.sh$`).test(k))?.[1] ?? "";
            files.push({ path, content, mode: meta[1].replace(/^0+(?=\d{3})/, ""), step: meta[2], conditional: writtenConditionally(script, path) });
        }
        const k3s: ExpectedHost["k3s"] = h.roles.includes("server") ? "server" : h.roles.includes("agent") ? "agent" : undefined;
        return {
            name: h.name,
            connection,
            ...(plan !== undefined ? { node: plan.nodes.find((n) => n.name === h.name) } : {}),
            ...compact({ k3s }),
            files: files.sort((a, b) => a.path.localeCompare(b.path)),
        };
    });
    return { stack, ...compact({ plan }), hosts };
}

// ---------------------------------------------------------------------------------------------------
// What is collected on a host (one script per phase; its output is parsed here)

/** One line of `wg show <if> dump` after the interface line (preshared key cut on the host). */
export interface LivePeer {
    readonly publicKey: string;
    /** `ip:port`, or undefined for `(none)`. */
    readonly endpoint?: string;
    readonly allowedIps: readonly string[];
    /** Seconds since the epoch, 0 = never. */
    readonly latestHandshake: number;
    readonly rxBytes: number;
    readonly txBytes: number;
    /** Seconds, undefined for `off`. */
    readonly keepalive?: number;
}

export interface LiveHost {
    /** The host's clock (seconds since the epoch). */
    readonly now: number;
    /** `up`, `down`, `unknown` (operstate of a tun device), or `missing`. */
    readonly link: string;
    /** A wireguard-go control socket exists for the interface (userspace WireGuard). */
    readonly userspaceSocket: boolean;
    /** `active`/`inactive`/... from the init system, or `no init system`. */
    readonly service: string;
    readonly publicKey?: string;
    readonly listenPort?: number;
    readonly peers: readonly LivePeer[];
    /** iptables INPUT rules that drop or reject the listen port. */
    readonly blockingRules: readonly string[];
}

/** Parses the peer lines of `wg show <if> dump` (tab-separated). */
export function parseDump(text: string): LivePeer[] {
    return text
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => {
            const f = l.split("\t");
            return {
                publicKey: f[0],
                ...(f[2] !== "(none)" ? { endpoint: f[2] } : {}),
                allowedIps: f[3] === "(none)" ? [] : f[3].split(",").sort(),
                latestHandshake: Number(f[4]),
                rxBytes: Number(f[5]),
                txBytes: Number(f[6]),
                ...(f[7] !== "off" ? { keepalive: Number(f[7]) } : {}),
            };
        });
}

function sections(out: string): Map<string, string> {
    const m = new Map<string, string>();
    let key = "";
    for (const line of out.split("\n")) {
        const s = /^@@(\w+)@@$/.exec(line);
        if (s) {
            key = s[1];
            m.set(key, "");
        } else if (key !== "") m.set(key, `${m.get(key)}${line}\n`);
    }
    return m;
}

/** The script that reads a host's WireGuard state (read-only). */
export function liveScript(interfaceName: string, listenPort: number): string {
    const IF = interfaceName;
    return [
        "set -u",
        `IF=${IF}`,
        'echo "@@now@@"; date +%s',
        'echo "@@link@@"; if [ -e "/sys/class/net/$IF" ]; then cat "/sys/class/net/$IF/operstate"; else echo missing; fi',
        'echo "@@socket@@"; [ -S "/run/wireguard/$IF.sock" ] && echo yes || echo no',
        'echo "@@service@@"',
        'if [ -d /run/systemd/system ]; then systemctl is-active "wg-quick@$IF" 2>/dev/null || true',
        `elif command -v rc-service >/dev/null 2>&1; then rc-service "wg-quick.$IF" status >/dev/null 2>&1 && echo active || echo inactive`,
        'else echo "no init system"; fi',
        'echo "@@pub@@"; wg show "$IF" public-key 2>/dev/null || true',
        'echo "@@port@@"; wg show "$IF" listen-port 2>/dev/null || true',
        // Field 2 is the preshared key: it never leaves the host.
        `echo "@@peers@@"; wg show "$IF" dump 2>/dev/null | tail -n +2 | awk -F '\\t' 'BEGIN { OFS = "\\t" } { $2 = "-"; print }'`,
        `echo "@@fw@@"; iptables -S INPUT 2>/dev/null | grep -E -- '-p udp .*--dport ${listenPort}( |$).*-j (DROP|REJECT)' || true`,
    ].join("\n");
}

export function parseLive(out: string): LiveHost {
    const s = sections(out);
    const get = (k: string) => (s.get(k) ?? "").trim();
    const port = Number(get("port"));
    return {
        now: Number(get("now")),
        link: get("link") || "missing",
        userspaceSocket: get("socket") === "yes",
        service: get("service") || "unknown",
        ...(get("pub") !== "" ? { publicKey: get("pub") } : {}),
        ...(get("port") !== "" && Number.isFinite(port) ? { listenPort: port } : {}),
        peers: parseDump(get("peers")),
        blockingRules: get("fw") === "" ? [] : get("fw").split("\n"),
    };
}

/** Lines whose content the render cannot know or that hold a secret: compared as "<masked>". */
export function maskedLines(content: string): number[] {
    return content
        .split("\n")
        .map((l, i) => (PLACEHOLDER.test(l) || /^\s*PublicKey\s*=/.test(l) ? i + 1 : 0))
        .filter((n) => n > 0);
}

/** SHA-256 (first 16 hex digits) of each line, masked lines replaced, as the host computes it. */
export function lineHashes(content: string, masked: readonly number[]): string[] {
    const set = new Set(masked);
    const lines = content.replace(/\n$/, "").split("\n");
    return lines.map((l, i) => crypto.createHash("sha256").update(set.has(i + 1) ? "<masked>" : l).digest("hex").slice(0, 16));
}

const q = (s: string) => `'${s.replace(/'/g, "'\"'\"'")}'`;

/** The script that hashes the managed files on a host, line by line, with the given lines masked. */
export function filesScript(files: readonly { path: string; masked: readonly number[] }[]): string {
    return [
        "set -u",
        "hash_lines() { awk -v m=\"$2\" 'BEGIN { n = split(m, a, \" \"); for (i = 1; i <= n; i++) mask[a[i]] = 1 } { print ((NR in mask) ? \"<masked>\" : $0) }' \"$1\" | while IFS= read -r line; do printf '%s' \"$line\" | sha256sum | cut -c1-16; done; }",
        ...files.map(
            (f) =>
                `echo ${q(`@@file@@`)}; echo ${q(f.path)}; if [ -f ${q(f.path)} ]; then stat -c %a ${q(f.path)}; hash_lines ${q(f.path)} ${q(f.masked.join(" "))}; else echo missing; fi`,
        ),
    ].join("\n");
}

export interface LiveFile {
    readonly path: string;
    /** Octal mode, or undefined when the file is missing. */
    readonly mode?: string;
    readonly hashes: readonly string[];
}

export function parseFiles(out: string): LiveFile[] {
    return out
        .split("@@file@@\n")
        .slice(1)
        .map((block) => {
            const [path, modeOrMissing, ...hashes] = block.replace(/\n$/, "").split("\n");
            return modeOrMissing === "missing" ? { path, hashes: [] } : { path, mode: modeOrMissing, hashes };
        });
}

// ---------------------------------------------------------------------------------------------------
// Diagnosis (pure)

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

function reconverge(host: string): string {
    return `re-converge: \`pulumi up\` (it runs the wg-config step on ${host} again), or on ${host}: \`wg-quick down wg0; wg-quick up wg0\``;
}

/** Why an interface is not usable, from what the host shows. */
export function interfaceFinding(host: string, live: LiveHost, interfaceName: string): Finding {
    if (live.link === "missing") {
        return {
            check: "interface",
            ok: false,
            detail: `${interfaceName} does not exist`,
            cause: live.userspaceSocket
                ? `wireguard-go for ${interfaceName} is not running (its socket /run/wireguard/${interfaceName}.sock is left behind: the process was killed or crashed)`
                : `${interfaceName} is down (wg-quick was never run, or \`wg-quick down\` took it down); service: ${live.service}`,
            fix: `on ${host}: \`wg-quick up ${interfaceName}\` (or restart its service: \`systemctl restart wg-quick@${interfaceName}\`), or re-converge with \`pulumi up\``,
        };
    }
    if (live.publicKey === undefined) {
        return {
            check: "interface",
            ok: false,
            detail: `${interfaceName} exists (${live.link}) but \`wg show\` cannot read it`,
            cause: "the device is not a WireGuard interface, or its userspace implementation does not answer",
            fix: reconverge(host),
        };
    }
    if (live.link === "down") {
        return { check: "interface", ok: false, detail: `${interfaceName} is administratively down`, cause: "someone ran `ip link set down`", fix: `on ${host}: \`ip link set ${interfaceName} up\`` };
    }
    const service = live.service === "active" || live.service === "no init system" ? "" : `, service wg-quick: ${live.service}`;
    return { check: "interface", ok: true, detail: `${interfaceName} up, listening on ${live.listenPort ?? "?"}, ${live.peers.length} peer(s)${service}` };
}

function endpointHost(endpoint: string): string {
    const i = endpoint.lastIndexOf(":");
    return endpoint.slice(0, i).replace(/^\[(.*)\]$/, "$1");
}

/**
 * Checks each planned peer of `node` against the live dump: the entry with the planned allowed IPs, its key
 * against the peer's own interface key, its endpoint, its keepalive. `keys` are the live interface keys by
 * host (absent when the host could not be read).
 */
export function peerFindings(node: PlannedNode, live: LiveHost, keys: ReadonlyMap<string, string>, now: number): Finding[] {
    const out: Finding[] = [];
    const claimed = new Set<string>();
    for (const p of node.peers) {
        const check = `peer ${p.name}`;
        const entry = live.peers.find((e) => sameSet(e.allowedIps, p.allowedIps));
        if (entry === undefined) {
            out.push({
                check,
                ok: false,
                detail: `no peer with AllowedIPs ${p.allowedIps.join(",")} (planned for ${p.name})`,
                cause: `${node.name}'s interface does not have the planned peer ${p.name} (the config was edited, or an older config is loaded)`,
                fix: reconverge(node.name),
            });
            continue;
        }
        claimed.add(entry.publicKey);
        const want = keys.get(p.name);
        if (want !== undefined && entry.publicKey !== want) {
            out.push({
                check,
                ok: false,
                detail: `key ${entry.publicKey} for ${p.name}, but ${p.name}'s interface key is ${want}`,
                cause: `wrong peer key: ${node.name} expects ${p.name} to have another key, so no handshake between them can complete (${p.name} was reinstalled with a new key, or ${node.name}'s config is stale)`,
                fix: reconverge(node.name),
            });
            continue;
        }
        if (p.endpoint !== undefined && entry.endpoint !== undefined) {
            const planned = p.endpoint;
            const plannedHost = endpointHost(planned);
            const isName = net.isIP(plannedHost) === 0;
            if (!isName && entry.endpoint !== planned) {
                out.push({
                    check,
                    ok: false,
                    detail: `sends to ${p.name} at ${entry.endpoint}, the plan says ${planned}`,
                    cause: `stale endpoint: ${node.name} still sends to ${entry.endpoint} (set by hand, or learned from a packet from an old address), so its packets do not reach ${p.name}`,
                    fix: `re-converge (\`pulumi up\` rewrites ${node.name}'s wg0.conf) or on ${node.name}: \`wg set wg0 peer ${entry.publicKey} endpoint ${planned}\``,
                });
                continue;
            }
            if (isName) {
                out.push({
                    check,
                    ok: true,
                    detail: `endpoint ${entry.endpoint} (planned ${planned}: names are re-resolved every ${RERESOLVE_INTERVAL_SECONDS} s once the last handshake is older than ${RERESOLVE_AFTER_SECONDS} s)`,
                });
            }
        }
        if (p.endpoint !== undefined && entry.endpoint === undefined) {
            out.push({ check, ok: false, detail: `no endpoint for ${p.name}, the plan says ${p.endpoint}`, cause: `${node.name} does not know where ${p.name} is, so it cannot initiate`, fix: reconverge(node.name) });
            continue;
        }
        if ((p.persistentKeepalive ?? 0) !== (entry.keepalive ?? 0)) {
            const nat = node.nat && entry.keepalive === undefined ? `${node.name} is behind NAT and has no keepalive: once the NAT mapping expires, ${p.name} cannot reach it` : `keepalive differs from the plan`;
            out.push({ check, ok: false, detail: `keepalive ${entry.keepalive ?? "off"}, planned ${p.persistentKeepalive ?? "off"}`, cause: nat, fix: reconverge(node.name) });
            continue;
        }
        const age = entry.latestHandshake === 0 ? "never" : `${now - entry.latestHandshake} s ago`;
        out.push({ check, ok: true, detail: `key matches, AllowedIPs ${p.allowedIps.join(",")}, endpoint ${entry.endpoint ?? "(learned)"}, handshake ${age}` });
    }
    for (const e of live.peers.filter((x) => !claimed.has(x.publicKey))) {
        out.push({ check: "peers", ok: false, detail: `unplanned peer ${e.publicKey} (AllowedIPs ${e.allowedIps.join(",") || "none"})`, cause: "a peer the stack does not define (added by hand, or left from a removed host)", fix: reconverge(node.name) });
    }
    return out;
}

/** Compares a host's managed files with the render. */
export function fileFindings(expected: ExpectedHost["files"], live: readonly LiveFile[]): Finding[] {
    const byPath = new Map(live.map((f) => [f.path, f]));
    return expected.map((f) => {
        const l = byPath.get(f.path);
        const check = `file ${f.path}`;
        if ((l === undefined || l.mode === undefined) && f.conditional) {
            return { check, ok: true, detail: `absent (the ${f.step} step writes it only under a condition, e.g. the init system)` };
        }
        if (l === undefined || l.mode === undefined) {
            return { check, ok: false, detail: "missing", cause: `the ${f.step} step has not run, or the file was deleted`, fix: `re-converge with \`pulumi up\` (the ${f.step} step writes it)` };
        }
        const want = lineHashes(f.content, maskedLines(f.content));
        const wantLines = f.content.replace(/\n$/, "").split("\n");
        const first = want.findIndex((h, i) => l.hashes[i] !== h);
        if (first >= 0 || l.hashes.length !== want.length) {
            const line = first >= 0 ? first : want.length;
            const shown = first >= 0 && !PLACEHOLDER.test(wantLines[line]) ? `; the render has \`${wantLines[line]}\` there` : "";
            return {
                check,
                ok: false,
                detail: `differs from the render at line ${line + 1}${shown} (${l.hashes.length} lines on the host, ${want.length} rendered)`,
                cause: `${f.path} was edited on the host; the running state may not match it either`,
                fix: `re-converge with \`pulumi up\` (the ${f.step} step rewrites it); if the edit was meant, make it in the stack config instead`,
            };
        }
        if (l.mode !== f.mode) {
            return { check, ok: false, detail: `mode ${l.mode}, rendered ${f.mode}`, cause: "the file's mode was changed on the host", fix: `re-converge with \`pulumi up\` (the ${f.step} step sets it)` };
        }
        return { check, ok: true, detail: `matches the render (${want.length} lines, mode ${f.mode})` };
    });
}

/** The end of a planned pair that pings: the one with the other's endpoint; between two such, the non-hub. */
export function linkDirection(plan: OverlayPlan, a: string, b: string): [string, string] {
    const node = (n: string) => plan.nodes.find((x) => x.name === n)!;
    const knows = (x: string, y: string) => node(x).peers.some((p) => p.name === y && p.endpoint !== undefined);
    if (knows(a, b) && !knows(b, a)) return [a, b];
    if (knows(b, a) && !knows(a, b)) return [b, a];
    if (node(a).hub && !node(b).hub) return [b, a];
    return [a, b];
}

// ---------------------------------------------------------------------------------------------------
// Running it

interface Exec {
    (c: SshConnection, script: string, timeoutMs: number): Promise<ExecResult>;
}

const defaultExec: Exec = (c, script, timeoutMs) => sshExec(c, "bash -s", script, timeoutMs);

/** Checks every host and link of a stack; changes nothing. */
export async function runDoctor(stack: string, opts: DoctorOptions = {}, exec: Exec = defaultExec): Promise<DoctorReport> {
    const expected = await expectedState(stack, opts.extraConfig ?? {});
    return checkCluster(expected, opts, exec);
}

/** The checks, given what is expected (see `expectedState`). */
export async function checkCluster(expected: Expected, opts: DoctorOptions = {}, exec: Exec = defaultExec): Promise<DoctorReport> {
    const timeout = opts.timeoutMs ?? 30_000;
    const skip = new Set(opts.skip ?? []);
    const skipped: string[] = [...skip].map((g) => `${g}: left out (--skip ${g})`);
    const plan = expected.plan;
    if (plan === undefined) skipped.push("overlay: the stack's overlay is Tailscale; its links are checked with `tailscale status` and `tailscale ping`, which the doctor does not run yet");
    const hostFindings = new Map<string, Finding[]>(expected.hosts.map((h) => [h.name, []]));
    const add = (h: string, f: Finding) => hostFindings.get(h)!.push(f);
    const reachable = new Set<string>();
    const live = new Map<string, LiveHost>();
    const ifName = plan?.interfaceName ?? "wg0";
    const port = plan?.listenPort ?? 51820;

    // 1. Each host's state, in parallel.
    await Promise.all(
        expected.hosts.map(async (h) => {
            const r = await exec(h.connection, plan !== undefined ? liveScript(ifName, port) : "true", timeout);
            if (r.code === -1 || (r.code !== 0 && r.stdout === "")) {
                const via = h.connection.proxy !== undefined ? ` via ${h.connection.proxy.host}:${h.connection.proxy.port}` : "";
                // sshExec's errors already start with `ssh user@host:port: `.
                const why = (r.stderr.trim().split("\n").pop() ?? "").replace(/^ssh \S+: /, "");
                add(h.name, {
                    check: "ssh",
                    ok: false,
                    detail: `${h.connection.user}@${h.connection.host}:${h.connection.port}${via}: ${why}`,
                    cause: "the host is off, or the SSH path the stack describes does not work from here",
                    fix: "check the host is on; check the SSH path in the stack config (README: How `pulumi up` reaches your hosts)",
                });
                return;
            }
            reachable.add(h.name);
            add(h.name, { check: "ssh", ok: true, detail: `${h.connection.user}@${h.connection.host}:${h.connection.port}${h.connection.proxy !== undefined ? ` via ${h.connection.proxy.host}:${h.connection.proxy.port}` : ""}` });
            if (plan !== undefined) live.set(h.name, parseLive(r.stdout));
        }),
    );

    const keys = new Map<string, string>();
    for (const [h, l] of live) if (l.publicKey !== undefined) keys.set(h, l.publicKey);
    const ifaceOk = new Map<string, Finding>();
    const peerProblems = new Map<string, Finding[]>();
    if (plan !== undefined) {
        for (const h of expected.hosts) {
            const l = live.get(h.name);
            if (l === undefined || h.node === undefined) continue;
            const f = interfaceFinding(h.name, l, ifName);
            ifaceOk.set(h.name, f);
            add(h.name, f);
            if (!f.ok) continue;
            const pf = peerFindings(h.node, l, keys, l.now);
            for (const x of pf) add(h.name, x);
            peerProblems.set(h.name, pf.filter((x) => !x.ok));
        }
    }

    // 2. Files, in parallel.
    if (!skip.has(CheckGroup.Files)) {
        await Promise.all(
            expected.hosts
                .filter((h) => reachable.has(h.name))
                .map(async (h) => {
                    const files = h.files.filter((f) => !(skip.has(CheckGroup.K3s) && /(^|-)k3s(-|$)/.test(f.step)));
                    if (files.length === 0) return;
                    const r = await exec(h.connection, filesScript(files.map((f) => ({ path: f.path, masked: maskedLines(f.content) }))), timeout);
                    for (const f of fileFindings(files, parseFiles(r.stdout))) add(h.name, f);
                }),
        );
    }

    // 3. k3s.
    if (!skip.has(CheckGroup.K3s)) {
        await Promise.all(
            expected.hosts
                .filter((h) => h.k3s !== undefined && reachable.has(h.name))
                .map(async (h) => {
                    const unit = h.k3s === "server" ? "k3s" : "k3s-agent";
                    const script = [
                        `if [ -d /run/systemd/system ]; then state=$(systemctl is-active ${unit} 2>/dev/null || true); elif command -v rc-service >/dev/null 2>&1; then rc-service ${unit} status >/dev/null 2>&1 && state=active || state=inactive; else state="no init system"; fi`,
                        'echo "service=$state"',
                        h.k3s === "server" ? "k3s kubectl get nodes --no-headers 2>/dev/null | awk '{ print \"node=\" $1 \" \" $2 }'" : "true",
                    ].join("\n");
                    const r = await exec(h.connection, script, timeout);
                    const state = /^service=(.*)$/m.exec(r.stdout)?.[1] ?? "unknown";
                    add(
                        h.name,
                        state === "active"
                            ? { check: "k3s", ok: true, detail: `${unit} active` }
                            : { check: "k3s", ok: false, detail: `${unit}: ${state}`, cause: `k3s is not running on ${h.name}`, fix: `on ${h.name}: \`journalctl -u ${unit} -n 50\`, then \`systemctl restart ${unit}\`; or re-converge with \`pulumi up\`` },
                    );
                    for (const m of r.stdout.matchAll(/^node=(\S+) (\S+)$/gm)) {
                        if (m[2] !== "Ready") add(h.name, { check: `node ${m[1]}`, ok: false, detail: `Kubernetes node ${m[1]} is ${m[2]}`, cause: `the kubelet on ${m[1]} does not report to the API server (host off, k3s agent down, or the overlay link to a server broken: see the links below)`, fix: `check ${m[1]}'s lines above; \`kubectl describe node ${m[1]}\`` });
                    }
                }),
        );
    }

    // 4. Links: ping from the end that can initiate, and the other end's received bytes meanwhile.
    const links: LinkReport[] = [];
    if (plan !== undefined) {
        const pairs = plan.pairs.map(([a, b]) => linkDirection(plan, a, b));
        const conn = new Map(expected.hosts.map((h) => [h.name, h.connection]));
        const addr = (n: string) => plan.nodes.find((x) => x.name === n)!.address;
        const rxFrom = (at: LiveHost | undefined, from: string) => at?.peers.find((p) => p.publicKey === keys.get(from))?.rxBytes;
        const runnable = pairs.filter(([a, b]) => reachable.has(a) && reachable.has(b) && ifaceOk.get(a)?.ok && ifaceOk.get(b)?.ok);
        const receivers = [...new Set(runnable.map(([, b]) => b))];
        const before = new Map(await Promise.all(receivers.map(async (b) => [b, parseLive((await exec(conn.get(b)!, liveScript(ifName, port), timeout)).stdout)] as const)));
        const pinged = new Map(
            await Promise.all(
                runnable.map(async ([a, b]) => {
                    const r = await exec(conn.get(a)!, `for i in 1 2 3 4; do ping -n -c 1 -W 1 ${addr(b)} && exit 0; done; exit 1`, timeout);
                    return [`${a}>${b}`, r] as const;
                }),
            ),
        );
        const after = new Map(await Promise.all(receivers.map(async (b) => [b, parseLive((await exec(conn.get(b)!, liveScript(ifName, port), timeout)).stdout)] as const)));
        for (const [a, b] of pairs) {
            const findings: Finding[] = [];
            const endBroken = [a, b].find((x) => !reachable.has(x) || !ifaceOk.get(x)?.ok);
            if (endBroken !== undefined) {
                const why = !reachable.has(endBroken) ? "cannot be reached over SSH" : `has no working ${ifName}: ${ifaceOk.get(endBroken)?.cause ?? ""}`;
                findings.push({ check: "ping", ok: false, detail: "not tried", cause: `${endBroken} ${why}`, fix: `see ${endBroken}'s host line` });
            } else {
                const r = pinged.get(`${a}>${b}`)!;
                const rtt = /time=([\d.]+) ms/.exec(r.stdout)?.[1];
                if (r.code === 0) {
                    findings.push({ check: "ping", ok: true, detail: `${addr(b)} answers in ${rtt ?? "?"} ms` });
                } else {
                    const own = [...(peerProblems.get(a) ?? []).filter((f) => f.check === `peer ${b}`), ...(peerProblems.get(b) ?? []).filter((f) => f.check === `peer ${a}`)];
                    const rx0 = rxFrom(before.get(b), a);
                    const rx1 = rxFrom(after.get(b), a);
                    const received = rx0 !== undefined && rx1 !== undefined ? rx1 - rx0 : undefined;
                    if (own.length > 0) {
                        findings.push({ check: "ping", ok: false, detail: `no answer from ${addr(b)}`, cause: own.map((f) => f.cause).join("; "), fix: own[0].fix! });
                    } else if (received === 0) {
                        const rules = after.get(b)?.blockingRules ?? [];
                        const endpoint = plan.nodes.find((n) => n.name === b)!.endpoint ?? `${b}'s address`;
                        findings.push({
                            check: "ping",
                            ok: false,
                            detail: `no answer from ${addr(b)}; ${b} received 0 bytes from ${a} meanwhile`,
                            cause:
                                rules.length > 0
                                    ? `UDP port ${port} is blocked on ${b}: its firewall has \`${rules.join("`, `")}\``
                                    : `UDP to ${endpoint} does not arrive: port ${port}/udp is blocked on the way (${b}'s host firewall, the provider's security list, or a router)`,
                            fix: rules.length > 0 ? `on ${b}: remove that rule (\`iptables -D INPUT ${rules[0].replace(/^-A INPUT /, "")}\`); HybridInfra's own chain accepts ${port}/udp` : `open ${port}/udp to ${b} in the provider's firewall (security list) and any router in between`,
                        });
                    } else {
                        findings.push({
                            check: "ping",
                            ok: false,
                            detail: `no answer from ${addr(b)}${received !== undefined ? `; ${b} received ${received} bytes from ${a} meanwhile` : ""}`,
                            cause: `packets reach ${b} but no reply comes back (${b}'s return path, firewall on ${ifName}, or keys that do not pair)`,
                            fix: `compare both ends with \`wg show ${ifName}\`; re-converge with \`pulumi up\``,
                        });
                    }
                }
            }
            links.push({ from: a, to: b, ok: findings.every((f) => f.ok), findings });
        }
    }

    const hosts: HostReport[] = expected.hosts.map((h) => {
        const findings = hostFindings.get(h.name)!;
        return { host: h.name, ok: findings.every((f) => f.ok), findings };
    });
    return { stack: expected.stack, ok: hosts.every((h) => h.ok) && links.every((l) => l.ok), hosts, links, skipped };
}

/** One line for a healthy host or link: how it was reached, the interface, handshake ages, files. */
function okSummary(findings: readonly Finding[]): string {
    const parts = findings.filter((f) => f.check === "ssh" || f.check === "interface" || f.check === "ping" || f.check === "k3s").map((f) => f.detail);
    const handshakes = findings.filter((f) => f.check.startsWith("peer ")).map((f) => `${f.check.slice(5)} ${/handshake (.*)$/.exec(f.detail)?.[1] ?? "?"}`);
    if (handshakes.length > 0) parts.push(`handshakes: ${handshakes.join(", ")}`);
    const files = findings.filter((f) => f.check.startsWith("file ") && f.detail.startsWith("matches")).length;
    if (files > 0) parts.push(`${files} managed file(s) match the render`);
    return parts.join("; ");
}

/** Human text: one line per host and per link, then the problems with cause and fix. */
export function formatReport(r: DoctorReport): string {
    const out: string[] = [`stack ${r.stack}: ${r.ok ? "healthy" : "PROBLEMS"}`];
    const line = (ok: boolean, subject: string, findings: readonly Finding[]) => {
        const bad = findings.filter((f) => !f.ok);
        const summary = ok ? okSummary(findings) : bad.map((f) => `${f.check}: ${f.detail}`).join("; ");
        out.push(`${ok ? "ok  " : "FAIL"} ${subject.padEnd(20)} ${summary}`);
        for (const f of bad) {
            out.push(`       cause: ${f.cause}`);
            out.push(`       fix:   ${f.fix}`);
        }
    };
    out.push("hosts:");
    for (const h of r.hosts) line(h.ok, h.host, h.findings);
    if (r.links.length > 0) out.push("links:");
    for (const l of r.links) line(l.ok, `${l.from} -> ${l.to}`, l.findings);
    for (const s of r.skipped) out.push(`skipped: ${s}`);
    return `${out.join("\n")}\n`;
}
