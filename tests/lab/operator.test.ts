/**
 * Operator peers in the lab (issue 13 §2): the lab stack's overlay is brought up over real SSH, then run again
 * with one operator (`overlay.operators: [{ name: "laptop" }]`), as `pulumi up` would: only the hub's wg-config
 * step changes. The operator's exported config (the `operatorConfigs` output, with the harness's deterministic
 * keys) is then brought up with the real `wg-quick` in a network namespace of its own, `hil-op`, made and removed
 * by this test: a "laptop" on the lab internet (203.0.113.30 on the bridge br0 of hil-inet, like cloud1 and
 * cloud2). From there it pings every host's overlay address (the cloud hosts, and the home hosts behind the NAT
 * router through the hub) and reaches a TCP listener on the server's overlay address at the API port 6443.
 * Traffic stays inside the lab's namespaces; the lab's own up/down are unchanged.
 */
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { OverlayPlan, wireguardPublicKey } from "../../components/src/wireguard";
import { acquireLabLock, inHost, labDown, labHostState, labPids, LabState, labUnavailableReason, labUp, run as labRun, RunResult } from "../../lab/lab";
import { INET_NETNS } from "../../lab/topology";
import { settle } from "../harness/mocks";
import { Action, describeFailures, planRun, runPlan, Step, stepsFromRecording, StepStatus } from "./runner";
import { MESH_NAME, runLabStack } from "./scenario";

const unavailable = labUnavailableReason();
const required = process.env.HYBRIDINFRA_REQUIRE_LAB === "1";

/** The operator's namespace, its veth in hil-inet, its address on the lab internet and its interface. */
const OP_NETNS = "hil-op";
const OP_VETH = "v-op";
const OP_ADDRESS = "203.0.113.30";
const OP_IFACE = "hiop0";
const HOSTS = ["cloud1", "cloud2", "home1", "home2"];

/** A command on the machine: `run` reports any exit, `must` fails the test on a non-zero one (lab/lab.ts's runner). */
const run = (argv: readonly string[], timeoutMs = 20_000): RunResult => labRun(argv[0], argv.slice(1), { check: false, timeoutMs });
const must = (argv: readonly string[]): RunResult => labRun(argv[0], argv.slice(1));

/** Runs a command in the operator's namespace. */
const inOp = (argv: readonly string[], timeoutMs?: number): RunResult => run(["ip", "netns", "exec", OP_NETNS, ...argv], timeoutMs);

/** The operator's "laptop": a namespace on the lab internet (br0 in hil-inet), as lab/lab.ts attaches cloud hosts. */
function createOperatorNamespace(): void {
    must(["ip", "netns", "add", OP_NETNS]);
    must(["ip", "-n", OP_NETNS, "link", "set", "lo", "up"]);
    must(["ip", "-n", INET_NETNS, "link", "add", OP_VETH, "type", "veth", "peer", "name", "eth0", "netns", OP_NETNS]);
    must(["ip", "-n", INET_NETNS, "link", "set", OP_VETH, "master", "br0"]);
    must(["ip", "-n", INET_NETNS, "link", "set", OP_VETH, "up"]);
    must(["ip", "-n", OP_NETNS, "addr", "add", `${OP_ADDRESS}/24`, "dev", "eth0"]);
    must(["ip", "-n", OP_NETNS, "link", "set", "eth0", "up"]);
}

/** Takes the operator's interface down, ends what still runs in its namespace (wireguard-go) and deletes it. */
async function removeOperatorNamespace(confFile: string | undefined): Promise<string[]> {
    const exists = () => run(["ip", "netns", "list"]).stdout.split("\n").some((l) => l.split(" ")[0] === OP_NETNS);
    if (!exists()) return [];
    if (confFile !== undefined && fs.existsSync(confFile)) inOp(["wg-quick", "down", confFile]);
    const inode = run(["stat", "-L", "-c", "%i", `/run/netns/${OP_NETNS}`]).stdout.trim();
    const ids = new Set(inode !== "" ? [`net:[${inode}]`] : []);
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
        for (const pid of labPids(ids)) {
            try {
                process.kill(pid, signal);
            } catch {
                // already gone
            }
        }
        for (let i = 0; i < 30 && labPids(ids).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    }
    run(["ip", "netns", "del", OP_NETNS]);
    run(["ip", "-n", INET_NETNS, "link", "del", OP_VETH]);
    return [...(exists() ? [`namespace ${OP_NETNS}`] : []), ...labPids(ids).map((p) => `process ${p}`)];
}

if (unavailable !== undefined && required) {
    describe("operator peer in the lab", () => {
        it("can run here (HYBRIDINFRA_REQUIRE_LAB=1)", () => {
            assert.fail(`the lab tests cannot run: ${unavailable}`);
        });
    });
} else {
    describe("operator peer in the lab: its exported config joins the overlay with wg-quick", { skip: unavailable !== undefined ? `lab unavailable: ${unavailable}` : false }, () => {
        let release: (() => void) | undefined;
        let state: LabState;
        let first: Step[];
        let plan: OverlayPlan;
        let config: string;
        let dir: string | undefined;
        let confFile: string | undefined;
        let listener: ChildProcess | undefined;
        before(async () => {
            release = await acquireLabLock();
            state = await labUp((l) => console.log(l));
            first = stepsFromRecording((await runLabStack(false, [], state)).recording);
            assert.equal(describeFailures(await runPlan(planRun(undefined, first))), "");
        });
        after(async () => {
            try {
                if (listener !== undefined && listener.exitCode === null) listener.kill("SIGKILL");
                const left = await removeOperatorNamespace(confFile);
                if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
                assert.deepEqual(left, [], "the operator's namespace and processes are gone");
            } finally {
                try {
                    await labDown((l) => console.log(l));
                } finally {
                    release?.();
                }
            }
        });
        const sh = (host: string, script: string) => inHost(labHostState(state, host), ["bash", "-c", script], { check: false });
        const addr = (name: string) => [...plan.nodes, ...plan.operators].find((n) => n.name === name)!.address;

        it("adding the operator updates only the hub's wg-config step; no host's address moves", async () => {
            const withOp = await runLabStack(false, [], state, [], ["laptop"]);
            plan = withOp.plan;
            const before = (await runLabStack(false, [], state)).plan;
            assert.deepEqual(
                plan.nodes.map((n) => [n.name, n.address]),
                before.nodes.map((n) => [n.name, n.address]),
            );
            const second = stepsFromRecording(withOp.recording);
            const actions = planRun(first, second);
            assert.deepEqual(
                actions.filter((a) => a.action !== Action.Same).map((a) => `${a.action} ${a.step.name}`),
                [`${Action.Update} ${MESH_NAME}-cloud1-wg-config`],
            );
            const results = await runPlan(actions);
            assert.equal(describeFailures(results), "");
            assert.deepEqual(results.filter((r) => r.status !== StepStatus.Skipped).map((r) => [r.name, r.changed]), [[`${MESH_NAME}-cloud1-wg-config`, true]]);
            const out = await settle(withOp.operatorConfigs);
            assert.equal(out.secret, true, "operatorConfigs is a secret output");
            config = out.value!.laptop;
            const priv = /^PrivateKey = (\S+)$/m.exec(config)![1];
            // The hub lists the operator's public key with its /32, applied live.
            assert.equal(sh("cloud1", `wg show wg0 allowed-ips | grep -F '${wireguardPublicKey(priv)}' | cut -f2`).stdout.trim(), `${addr("laptop")}/32`);
            assert.match(sh("cloud1", "cat /etc/wireguard/wg0.conf").stdout, new RegExp(`# peer laptop\n\\[Peer\\]\nPublicKey = \\S+\nAllowedIPs = ${addr("laptop").replace(/\./g, "\\.")}/32\n`));
        });

        it("wg-quick brings the exported config up in a new namespace on the lab internet; it pings every host's overlay address, cloud and home", async () => {
            createOperatorNamespace();
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "hil-op-"));
            confFile = path.join(dir, `${OP_IFACE}.conf`);
            fs.writeFileSync(confFile, config, { mode: 0o600 });
            const up = inOp(["wg-quick", "up", confFile], 30_000);
            assert.equal(up.status, 0, `wg-quick up failed: ${up.stderr}`);
            assert.equal(inOp(["ip", "-4", "-o", "addr", "show", "dev", OP_IFACE]).stdout.split(/\s+/)[3], `${addr("laptop")}/32`);
            const t0 = Date.now();
            let failing = HOSTS;
            for (let i = 0; i < 120 && failing.length > 0 && Date.now() - t0 < 60_000; i++) {
                failing = failing.filter((h) => inOp(["ping", "-c", "1", "-W", "1", addr(h)]).status !== 0);
                if (failing.length > 0) await new Promise((r) => setTimeout(r, 500));
            }
            console.log(`operator reached ${HOSTS.filter((h) => !failing.includes(h)).join(", ")} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
            assert.deepEqual(failing, [], `hosts the operator cannot ping over the overlay: ${failing.join(", ")}`);
            // The hub saw the operator's handshake.
            const pub = inOp(["wg", "show", OP_IFACE, "public-key"]).stdout.trim();
            const hs = sh("cloud1", "wg show wg0 latest-handshakes").stdout.split("\n").find((l) => l.startsWith(pub));
            assert.ok(hs !== undefined && Number(hs.split("\t")[1]) > 0, `the hub has a handshake with the operator: ${hs}`);
        });

        it("reaches a TCP service on the server's overlay address at the API port 6443 (what kubeconfigEndpoint at an overlay address needs)", async () => {
            const server = labHostState(state, "cloud1");
            const program = `require("node:net").createServer((s) => s.end("hybridinfra-lab api\\n")).listen(6443, "${addr("cloud1")}", () => console.log("ready"));`;
            listener = spawn("nsenter", ["-t", String(server.holderPid), "-m", "-u", "-n", "--", process.execPath, "-e", program], { stdio: ["ignore", "pipe", "pipe"] });
            await new Promise<void>((resolve, reject) => {
                let out = "";
                const guard = setTimeout(() => reject(new Error(`listener on cloud1 not ready: ${out}`)), 20_000);
                listener!.stdout!.on("data", (d: Buffer) => {
                    out += d.toString();
                    if (out.includes("ready")) {
                        clearTimeout(guard);
                        resolve();
                    }
                });
                listener!.stderr!.on("data", (d: Buffer) => (out += d.toString()));
            });
            const r = inOp(["timeout", "5", "bash", "-c", `exec 3<>/dev/tcp/${addr("cloud1")}/6443 && head -n 1 <&3`]);
            listener.kill("SIGTERM");
            assert.equal(r.stdout.trim(), "hybridinfra-lab api", r.stderr);
        });

        it("wg-quick down and deleting the namespace leave nothing of the operator", async () => {
            const down = inOp(["wg-quick", "down", confFile!], 30_000);
            assert.equal(down.status, 0, `wg-quick down failed: ${down.stderr}`);
            assert.deepEqual(await removeOperatorNamespace(undefined), []);
            assert.equal(run(["ip", "-n", INET_NETNS, "link", "show", OP_VETH]).status !== 0, true, "the veth is gone with the namespace");
        });
    });
}
