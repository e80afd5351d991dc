/**
 * Lab tests (issue 7): real hosts (namespaces with sshd) run the host steps over real SSH across a NAT.
 * They need Linux, root and the lab's tools. Elsewhere they are skipped with the reason, unless
 * HYBRIDINFRA_REQUIRE_LAB=1 (set by .ci/run), which turns a missing capability into a failure.
 */
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import { isDeepStrictEqual } from "node:util";
import * as pulumi from "@pulumi/pulumi";
import { chainNames, OverlayPlan } from "../../components/src/wireguard";
import { acquireLabLock, inHost, labDown, labHostState, labLeftovers, labNetnsIds, labPids, LabState, labUnavailableReason, labUp } from "../../lab/lab";
import { LAB_HOSTS, labHost, OCI_INPUT_RULES, STATE_DIR } from "../../lab/topology";
import { record } from "../harness/mocks";
import { Action, describeFailures, planRun, runPlan, Step, stepsFromRecording, StepStatus } from "./runner";
import { labHosts, MESH_NAME, PROBE_FILE, probeProgram, runLabStack } from "./scenario";

const unavailable = labUnavailableReason();
const required = process.env.HYBRIDINFRA_REQUIRE_LAB === "1";

if (unavailable !== undefined && required) {
    describe("lab", () => {
        it("can run here (HYBRIDINFRA_REQUIRE_LAB=1)", () => {
            assert.fail(`the lab tests cannot run: ${unavailable}`);
        });
    });
} else {
    const skip = unavailable !== undefined ? `lab unavailable: ${unavailable}` : false;
    describe("lab", { skip }, () => {
        let release: (() => void) | undefined;
        let state: LabState;
        let netnsIds: Set<string>;
        before(async () => {
            release = await acquireLabLock();
            state = await labUp((l) => console.log(l));
            netnsIds = labNetnsIds();
        });
        after(async () => {
            try {
                await labDown((l) => console.log(l));
            } finally {
                release?.();
            }
        });

        const host = (name: string) => labHostState(state, name);
        const sh = (name: string, script: string) => inHost(host(name), ["bash", "-c", script], { check: false });

        describe("the runner, proven with a trivial probe component", () => {
            const token = "probe-token-8f3e";
            let first: Step[];
            it("runs every create in dependency order over SSH (direct, port forward, jump host) and skips k3s steps by rule", async () => {
                const versions = { cloud1: "1", cloud2: "1", home1: "1", home2: "1" };
                first = stepsFromRecording(await record(probeProgram({ hosts: labHosts(false), versions, token: pulumi.secret(token) })));
                const results = await runPlan(planRun(undefined, first));
                assert.equal(describeFailures(results), "");
                const byName = new Map(results.map((r) => [r.name, r]));
                for (const h of ["cloud1", "cloud2", "home1", "home2"]) {
                    const write = byName.get(`probe-${h}-probe-write`)!;
                    const check = byName.get(`probe-${h}-probe-check`)!;
                    assert.equal(write.status, StepStatus.Ok);
                    assert.equal(write.changed, true, `first write on ${h} changes the file`);
                    assert.equal(check.changed, false);
                    assert.ok(write.endedAt <= check.startedAt, `probe-check on ${h} started before probe-write ended`);
                    // The file is on that host only (private mount namespaces), with the secret from stdin.
                    assert.match(sh(h, `cat ${PROBE_FILE}`).stdout, new RegExp(`host=${h}\nversion=1\ntoken=${token}\n`));
                }
                const k3s = byName.get("probe-cloud1-k3s-probe")!;
                assert.equal(k3s.status, StepStatus.Skipped);
                assert.match(k3s.reason!, /k3s binaries cannot be fetched here/);
                assert.equal(sh("cloud1", "ls /var/lib/hybridinfra").stdout, "lab-probe\n");
                assert.equal(sh("home3", `test -e ${PROBE_FILE}; echo $?`).stdout, "1\n", "home3 is not in the stack yet");
            });

            it("runs every create again: all report no change; an unchanged recording runs nothing", async () => {
                const again = await runPlan(planRun(undefined, first));
                assert.equal(describeFailures(again), "");
                for (const r of again.filter((x) => x.status === StepStatus.Ok)) assert.equal(r.changed, false, `${r.name}: ${r.stdout}`);
                const plan = planRun(first, first);
                assert.ok(plan.every((p) => p.action === Action.Same));
                assert.deepEqual(await runPlan(plan), []);
            });

            it("updates only the step whose inputs changed, and deletes a removed host's steps, dependents first", async () => {
                const versions = { cloud1: "1", cloud2: "1", home1: "1", home2: "2" };
                const changed = stepsFromRecording(await record(probeProgram({ hosts: labHosts(false), versions, token: pulumi.secret(token) })));
                const results = await runPlan(planRun(first, changed));
                assert.deepEqual(results.map((r) => [r.action, r.name, r.status, r.changed]), [[Action.Update, "probe-home2-probe-write", StepStatus.Ok, true]]);
                assert.match(sh("home2", `cat ${PROBE_FILE}`).stdout, /version=2/);

                const removed = stepsFromRecording(await record(probeProgram({ hosts: labHosts(false, ["home2"]), versions, token: pulumi.secret(token) })));
                const del = await runPlan(planRun(changed, removed));
                assert.equal(describeFailures(del), "");
                assert.deepEqual(del.map((r) => [r.action, r.name]).sort(), [
                    [Action.Delete, "probe-home2-probe-check"],
                    [Action.Delete, "probe-home2-probe-write"],
                ]);
                const [check, write] = ["probe-home2-probe-check", "probe-home2-probe-write"].map((n) => del.find((r) => r.name === n)!);
                assert.ok(check.endedAt <= write.startedAt, "the dependent step is deleted first");
                assert.equal(sh("home2", `test -e ${PROBE_FILE}; echo $?`).stdout, "1\n");
                assert.match(sh("home1", `cat ${PROBE_FILE}`).stdout, /host=home1/);
            });
        });


        describe("the WireGuard overlay (hub = cloud1; home1/home2 behind the NAT router)", () => {
            let stepsA: Step[];
            let plan: OverlayPlan;
            const addr = (h: string) => plan.nodes.find((n) => n.name === h)!.address;
            const pubkey = (h: string) => sh(h, "wg show wg0 public-key").stdout.trim();
            const pings = (from: string, to: string) => sh(from, `ping -c 1 -W 1 ${addr(to)}`).status === 0;
            const pairs = (names: string[]) => names.flatMap((a) => names.filter((b) => b !== a).map((b) => [a, b] as const));

            /** Polls until every pair pings (bounded); returns the seconds it took. */
            async function converge(names: string[], label: string): Promise<number> {
                const t0 = Date.now();
                let failing: (readonly [string, string])[] = [];
                // Bounded in count and in time (a generous bound, not an assertion on speed).
                for (let i = 0; i < 240 && Date.now() - t0 < 180_000; i++) {
                    failing = pairs(names).filter(([a, b]) => !pings(a, b));
                    if (failing.length === 0) break;
                    await new Promise((r) => setTimeout(r, 500));
                }
                const seconds = (Date.now() - t0) / 1000;
                console.log(`${label}: overlay converged after ${seconds.toFixed(1)} s`);
                assert.deepEqual(failing, [], `pairs that cannot ping over the overlay: ${failing.map(([a, b]) => `${a}->${b}`).join(", ")}`);
                return seconds;
            }

            /** Every host step the lab stack registers (k3s steps included: the runner skips them by rule). */
            async function recordOverlay(includeHome3: boolean, omit: string[] = []): Promise<{ steps: Step[]; plan: OverlayPlan }> {
                const run = await runLabStack(includeHome3, omit, state);
                return { steps: stepsFromRecording(run.recording), plan: run.plan };
            }
            const overlayStep = (name: string) => name.startsWith(`${MESH_NAME}-`);
            /** Results of the steps that ran; every other step must have been skipped by the k3s rule. */
            function ran(results: Awaited<ReturnType<typeof runPlan>>): Awaited<ReturnType<typeof runPlan>> {
                for (const r of results.filter((x) => x.status === StepStatus.Skipped)) {
                    assert.ok(!overlayStep(r.name), `overlay step ${r.name} was skipped: ${r.reason}`);
                    assert.match(r.reason ?? "", /^skip rule .*k3s binaries cannot be fetched here/, `${r.name} skipped for an unlisted reason`);
                }
                return results.filter((x) => x.status !== StepStatus.Skipped);
            }

            /** What must stay identical when nothing changes: files, interface, peers, routes, firewall. */
            function snapshot(h: string): Record<string, string> {
                const q = (script: string) => sh(h, script).stdout;
                return {
                    files: q("sha256sum /etc/wireguard/wg0.conf /etc/sysctl.d/99-hybridinfra-wg0.conf 2>/dev/null"),
                    ifindex: q("cat /sys/class/net/wg0/ifindex"),
                    wireguardGo: wireguardGoPids(h).join(","),
                    // wireguard-go lists peers in no fixed order.
                    peers: q("wg show wg0 dump | awk -F '\\t' 'NR == 1 { print $1, $3, $4; next } { print $1, $4, $8 }' | sort"),
                    addr: q("ip -4 -o addr show dev wg0 | awk '{ print $4 }'; cat /sys/class/net/wg0/mtu"),
                    routes: q("ip -4 route show dev wg0"),
                    iptables: q("iptables -S; iptables -t nat -S"),
                    forwarding: q("cat /proc/sys/net/ipv4/ip_forward"),
                };
            }

            function wireguardGoPids(h: string): number[] {
                const id = fs.readlinkSync(`/proc/${host(h).holderPid}/ns/net`);
                return labPids(new Set([id])).filter((p) => {
                    try {
                        return fs.readFileSync(`/proc/${p}/comm`, "utf8").trim() === "wireguard-go";
                    } catch {
                        return false;
                    }
                });
            }

            function handshakes(h: string): Map<string, number> {
                return new Map(
                    sh(h, "wg show wg0 latest-handshakes")
                        .stdout.trim()
                        .split("\n")
                        .filter((l) => l !== "")
                        .map((l) => l.split("\t") as [string, string])
                        .map(([k, t]) => [k, Number(t)]),
                );
            }

            // --- host firewall (issue 13 §4): cloud2's INPUT ends in REJECT, as on Oracle Cloud's images ---
            const rejectHost = LAB_HOSTS.find((h) => h.inputEndsInReject === true)!.name;
            const inputChain = chainNames("wg0").input;
            const inputRules = (h: string) => sh(h, "iptables -S INPUT").stdout.trim().split("\n");
            /** What k3s needs between nodes (docs.k3s.io/installation/requirements), one TCP and one UDP port of each kind. */
            const k3sPorts = [
                { proto: "tcp", port: 6443 },
                { proto: "tcp", port: 10250 },
                { proto: "udp", port: 8472 },
            ] as const;

            /** Listeners on the k3s ports inside a host (its network namespace), answering "hybridinfra-lab <port>". */
            async function listen(h: string): Promise<ChildProcess> {
                const program = [
                    'const net = require("node:net"), dgram = require("node:dgram");',
                    "let up = 0; const ready = () => { if (++up === 3) console.log(\"ready\"); };",
                    "for (const p of [6443, 10250]) net.createServer((s) => s.end(`hybridinfra-lab ${p}\\n`)).listen(p, \"0.0.0.0\", ready);",
                    'const u = dgram.createSocket("udp4");',
                    "u.on(\"message\", (m, r) => u.send(\"hybridinfra-lab 8472\\n\", r.port, r.address));",
                    "u.bind(8472, \"0.0.0.0\", ready);",
                ].join("\n");
                const child = spawn("nsenter", ["-t", String(host(h).holderPid), "-m", "-u", "-n", "--", process.execPath, "-e", program], { stdio: ["ignore", "pipe", "pipe"] });
                let out = "";
                await new Promise<void>((resolve, reject) => {
                    const guard = setTimeout(() => reject(new Error(`listeners in ${h} not ready: ${out}`)), 20_000);
                    child.stdout!.on("data", (d: Buffer) => {
                        out += d.toString();
                        if (out.includes("ready")) {
                            clearTimeout(guard);
                            resolve();
                        }
                    });
                    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
                    child.on("exit", (code) => {
                        clearTimeout(guard);
                        reject(new Error(`listeners in ${h} exited (${code}): ${out}`));
                    });
                });
                return child;
            }
            async function stop(child: ChildProcess): Promise<void> {
                if (child.exitCode !== null) return;
                const done = new Promise<void>((r) => child.on("exit", () => r()));
                child.kill("SIGTERM");
                await done;
            }

            /** Connects from one host to address:port (bash's /dev/tcp, /dev/udp) and reads one line: the answer, or the error. */
            function reach(from: string, address: string, p: (typeof k3sPorts)[number]): { ok: boolean; out: string } {
                const io = p.proto === "tcp" ? `exec 3<>/dev/tcp/${address}/${p.port}` : `exec 3<>/dev/udp/${address}/${p.port} && echo hi >&3`;
                const r = sh(from, `timeout 5 bash -c '${io} && head -n 1 <&3' 2>&1`);
                return { ok: r.status === 0, out: r.stdout.trim() };
            }

            it(`${rejectHost}'s INPUT ends in REJECT before any step runs (Oracle Cloud's image rules)`, () => {
                assert.deepEqual(inputRules(rejectHost), ["-P INPUT ACCEPT", ...OCI_INPUT_RULES]);
            });

            it("lab up, overlay steps: every host pings every other (home to home through the hub); the hub lists the NAT'd endpoints", async () => {
                const first = await recordOverlay(false);
                stepsA = first.steps;
                plan = first.plan;
                assert.deepEqual(
                    stepsA.map((s) => s.name).filter(overlayStep).sort(),
                    ["cloud1", "cloud2", "home1", "home2"].flatMap((h) => [`${MESH_NAME}-${h}-wg-config`, `${MESH_NAME}-${h}-wg-install`]).sort(),
                );
                assert.ok(stepsA.some((s) => /-k3s-/.test(s.name)), "the stack's k3s steps are there, to be skipped by rule");
                const t0 = Date.now();
                const all = await runPlan(planRun(undefined, stepsA));
                assert.equal(describeFailures(all), "");
                const results = ran(all);
                assert.deepEqual(results.map((r) => r.name).sort(), stepsA.map((s) => s.name).filter(overlayStep).sort(), "every overlay step ran");
                assert.ok(results.every((r) => r.status === StepStatus.Ok), "no overlay step failed");
                for (const r of results.filter((x) => x.step === "wg-config")) assert.equal(r.changed, true, `${r.name} brought wg0 up`);
                console.log(`overlay steps ran in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
                await converge(["cloud1", "cloud2", "home1", "home2"], "first up");

                // Spokes have the hub as their only peer, so home1 -> home2 went through the hub.
                for (const h of ["cloud2", "home1", "home2"]) assert.equal(sh(h, "wg show wg0 peers").stdout.trim(), pubkey("cloud1"), `${h} peers only with the hub`);
                const endpoints = new Map(
                    sh("cloud1", "wg show wg0 endpoints")
                        .stdout.trim()
                        .split("\n")
                        .map((l) => l.split("\t") as [string, string]),
                );
                console.log(`hub endpoints:\n${[...endpoints].map(([k, e]) => `  ${k} ${e}`).join("\n")}`);
                for (const h of ["home1", "home2"]) assert.match(endpoints.get(pubkey(h)) ?? "(none)", /^203\.0\.113\.1:\d+$/, `the hub sees ${h} behind the router's NAT`);
                assert.equal(endpoints.get(pubkey("cloud2")), "203.0.113.20:51820");
            });

            it("running every step again changes nothing: steps report no change, checksums and interface state identical", async () => {
                const names = ["cloud1", "cloud2", "home1", "home2"];
                const before = Object.fromEntries(names.map((h) => [h, snapshot(h)]));
                const againAll = await runPlan(planRun(undefined, stepsA));
                assert.equal(describeFailures(againAll), "");
                const again = ran(againAll);
                assert.ok(again.length >= 8, "the overlay steps ran again");
                for (const r of again) assert.equal(r.changed, false, `${r.name} reported a change:\n${r.stdout}`);
                assert.deepEqual(Object.fromEntries(names.map((h) => [h, snapshot(h)])), before);
                // And as `pulumi up` sees it: same inputs, nothing to do.
                const rerecorded = await recordOverlay(false);
                assert.ok(planRun(stepsA, rerecorded.steps).every((p) => p.action === Action.Same));
            });

            it(`host firewall: on ${rejectHost} (INPUT ends in REJECT) 6443/tcp, 10250/tcp and 8472/udp pass over wg0 from the hub and from a NAT'd home host; its public address still rejects them, and so does wg0 without our chain`, async () => {
                // Our chain is first in INPUT; the image's own rules follow, unchanged.
                assert.deepEqual(inputRules(rejectHost), ["-P INPUT ACCEPT", `-A INPUT -j ${inputChain}`, ...OCI_INPUT_RULES]);
                assert.deepEqual(sh(rejectHost, `iptables -S ${inputChain}`).stdout.trim().split("\n"), [
                    `-N ${inputChain}`,
                    `-A ${inputChain} -i wg0 -j ACCEPT`,
                    `-A ${inputChain} -s 10.42.0.0/16 -j ACCEPT`,
                    `-A ${inputChain} -s 10.43.0.0/16 -j ACCEPT`,
                    `-A ${inputChain} -p udp -m udp --dport 51820 -j ACCEPT`,
                ]);
                const listener = await listen(rejectHost);
                try {
                    const observed: string[] = [];
                    for (const from of ["cloud1", "home1"]) {
                        for (const p of k3sPorts) {
                            const r = reach(from, addr(rejectHost), p);
                            observed.push(`${from} -> ${rejectHost} ${addr(rejectHost)}:${p.port}/${p.proto} over wg0: ${r.out}`);
                            assert.deepEqual(r, { ok: true, out: `hybridinfra-lab ${p.port}` }, `${from} reaches ${p.port}/${p.proto} on ${rejectHost} over wg0`);
                        }
                    }
                    // Nothing for k3s is opened on the public interface: the image's REJECT still answers there.
                    for (const p of k3sPorts) {
                        const r = reach("cloud1", labHost(rejectHost).address, p);
                        observed.push(`cloud1 -> ${rejectHost} ${labHost(rejectHost).address}:${p.port}/${p.proto} (public): ${r.out}`);
                        assert.equal(r.ok, false, `${p.port}/${p.proto} is not open on ${rejectHost}'s public address`);
                        assert.match(r.out, /No route to host/, "rejected with icmp-host-prohibited");
                    }
                    // Without the jump to our chain, the REJECT applies to the overlay too: the chain is what opens it.
                    sh(rejectHost, `iptables -D INPUT -j ${inputChain}`);
                    try {
                        for (const p of k3sPorts) {
                            const r = reach("cloud1", addr(rejectHost), p);
                            observed.push(`cloud1 -> ${rejectHost} ${addr(rejectHost)}:${p.port}/${p.proto} over wg0, our chain unhooked: ${r.out}`);
                            assert.equal(r.ok, false, `${p.port}/${p.proto} is rejected over wg0 without our chain`);
                            assert.match(r.out, /No route to host/);
                        }
                    } finally {
                        sh(rejectHost, `iptables -I INPUT 1 -j ${inputChain}`);
                    }
                    assert.deepEqual(inputRules(rejectHost), ["-P INPUT ACCEPT", `-A INPUT -j ${inputChain}`, ...OCI_INPUT_RULES]);
                    console.log(observed.join("\n"));
                } finally {
                    await stop(listener);
                }
            });

            it("adding home3 runs only the predicted steps (hub config), restarts no interface and drops no packet", async () => {
                const existing = ["cloud1", "cloud2", "home1", "home2"];
                const next = await recordOverlay(true);
                // The prediction, from the plans (as the overlay's change test states it): the new host's steps,
                // plus the config step of every existing host whose planned node changed: in hub topology the hub only.
                const changedNodes = plan.nodes.filter((n) => !isDeepStrictEqual(n, next.plan.nodes.find((m) => m.name === n.name))).map((n) => n.name);
                assert.deepEqual(changedNodes, ["cloud1"]);
                const predicted = [
                    [Action.Create, `${MESH_NAME}-home3-wg-install`],
                    [Action.Create, `${MESH_NAME}-home3-wg-config`],
                    ...changedNodes.map((n) => [Action.Update, `${MESH_NAME}-${n}-wg-config`]),
                ].sort();
                const runPlanSteps = planRun(stepsA, next.steps);
                const notSame = runPlanSteps.filter((p) => p.action !== Action.Same);
                assert.deepEqual(notSame.filter((p) => overlayStep(p.step.name)).map((p) => [p.action, p.step.name]).sort(), predicted);
                // Beyond the overlay, only home3's own k3s steps are new (skipped here); no existing host's k3s step changes.
                for (const p of notSame.filter((x) => !overlayStep(x.step.name))) {
                    assert.equal(p.action, Action.Create, `${p.step.name} changed on an existing host`);
                    assert.match(p.step.name, /home3/);
                }

                const before = Object.fromEntries(existing.map((h) => [h, { snap: snapshot(h), hs: handshakes(h) }]));
                plan = next.plan;
                // A background ping across the hub (home1 -> home2) for the whole change.
                const ping = spawn("nsenter", ["-t", String(host("home1").holderPid), "-m", "-u", "-n", "ping", "-i", "0.2", "-W", "1", addr("home2")], { stdio: ["ignore", "pipe", "pipe"] });
                let pingOut = "";
                ping.stdout.on("data", (d: Buffer) => (pingOut += d.toString()));
                const pingDone = new Promise<void>((r) => ping.on("close", () => r()));
                try {
                    await new Promise((r) => setTimeout(r, 1000));
                    const allResults = await runPlan(runPlanSteps);
                    assert.equal(describeFailures(allResults), "");
                    const results = ran(allResults);
                    assert.deepEqual(results.map((r) => [r.action, r.name]).sort(), predicted, "exactly the predicted steps ran");
                    assert.equal(results.find((r) => r.name === `${MESH_NAME}-cloud1-wg-config`)!.changed, true);
                    await converge([...existing, "home3"], "home3 added");
                    await new Promise((r) => setTimeout(r, 1000));
                } finally {
                    ping.kill("SIGINT");
                    await pingDone;
                }
                const stats = /(\d+) packets transmitted, (\d+) received/.exec(pingOut);
                assert.ok(stats, `no ping summary:\n${pingOut}`);
                console.log(`background ping home1 -> home2 during the change: ${stats[0]}`);
                const transmitted = Number(stats[1]);
                assert.ok(transmitted >= 10, "the background ping ran");
                // Every reply up to the last one arrived; only the echo in flight when ping was stopped may lack one.
                const seqs = [...pingOut.matchAll(/icmp_seq=(\d+) ttl=/g)].map((m) => Number(m[1]));
                const missing = Array.from({ length: Math.max(...seqs) }, (_, i) => i + 1).filter((n) => !seqs.includes(n));
                assert.deepEqual(missing, [], "the tunnel never went down (0 packets lost)");
                assert.ok(seqs.length >= transmitted - 1, `${transmitted - seqs.length} echoes unanswered at the end`);

                for (const h of existing) {
                    const now = snapshot(h);
                    assert.equal(now.ifindex, before[h].snap.ifindex, `${h}: wg0 was not recreated`);
                    assert.equal(now.wireguardGo, before[h].snap.wireguardGo, `${h}: wireguard-go was not restarted`);
                    const hs = handshakes(h);
                    for (const [peer, t] of before[h].hs) {
                        assert.ok(t > 0, `${h} had a handshake with ${peer}`);
                        assert.ok((hs.get(peer) ?? 0) >= t, `${h} kept its handshake state with ${peer}`);
                    }
                    if (h !== "cloud1") assert.deepEqual(now, before[h].snap, `${h} is untouched`);
                }
                stepsA = next.steps;
            });

            it("removing home2 runs its delete steps: interface and config gone, the hub no longer lists its peer", async () => {
                const home2Key = pubkey("home2");
                const next = await recordOverlay(true, ["home2"]);
                const allResults = await runPlan(planRun(stepsA, next.steps));
                assert.equal(describeFailures(allResults), "");
                const results = ran(allResults).filter((r) => overlayStep(r.name) || r.action !== Action.Delete || !/-k3s-/.test(r.name));
                // home2's k3s steps are deletes too: the drain on the server and the uninstall (skipped by rule, listed).
                assert.ok(allResults.some((r) => r.action === Action.Delete && /-home2-k3s-node$/.test(r.name)), "home2's drain step is planned for deletion");
                assert.deepEqual(results.map((r) => [r.action, r.name]).sort(), [
                    [Action.Update, `${MESH_NAME}-cloud1-wg-config`],
                    [Action.Delete, `${MESH_NAME}-home2-wg-config`],
                    [Action.Delete, `${MESH_NAME}-home2-wg-install`],
                ].sort());
                assert.notEqual(sh("home2", "ip link show wg0").status, 0, "home2's wg0 is gone");
                assert.equal(sh("home2", "test -e /etc/wireguard/wg0.conf; echo $?").stdout, "1\n", "home2's config is gone");
                assert.deepEqual(wireguardGoPids("home2"), [], "home2's wireguard-go exited");
                assert.ok(!sh("cloud1", "wg show wg0 peers").stdout.includes(home2Key), "the hub no longer lists home2");
                plan = next.plan;
                await converge(["cloud1", "cloud2", "home1", "home3"], "home2 removed");
                stepsA = next.steps;
            });

            it(`removing ${rejectHost} deletes its firewall chain: INPUT holds the image's rules only`, async () => {
                const next = await recordOverlay(true, ["home2", rejectHost]);
                const allResults = await runPlan(planRun(stepsA, next.steps));
                assert.equal(describeFailures(allResults), "");
                assert.deepEqual(
                    ran(allResults)
                        .filter((r) => overlayStep(r.name))
                        .map((r) => [r.action, r.name])
                        .sort(),
                    [
                        [Action.Update, `${MESH_NAME}-cloud1-wg-config`],
                        [Action.Delete, `${MESH_NAME}-${rejectHost}-wg-config`],
                        [Action.Delete, `${MESH_NAME}-${rejectHost}-wg-install`],
                    ].sort(),
                );
                const del = allResults.find((r) => r.name === `${MESH_NAME}-${rejectHost}-wg-config`)!;
                assert.match(del.stdout, new RegExp(`removed iptables chain filter/${inputChain}`));
                assert.deepEqual(inputRules(rejectHost), ["-P INPUT ACCEPT", ...OCI_INPUT_RULES], "only the image's own rules are left");
                assert.notEqual(sh(rejectHost, `iptables -S ${inputChain}`).status, 0, `${inputChain} is gone`);
                plan = next.plan;
                await converge(["cloud1", "home1", "home3"], `${rejectHost} removed`);
                stepsA = next.steps;
            });
        });

        it("lab down leaves no namespace, mount or process", async () => {
            await labDown((l) => console.log(l));
            assert.deepEqual(labLeftovers(netnsIds), []);
            const strays = fs
                .readdirSync("/proc")
                .filter((p) => /^\d+$/.test(p))
                .filter((p) => {
                    try {
                        return fs.readFileSync(`/proc/${p}/cmdline`, "utf8").includes(STATE_DIR);
                    } catch {
                        return false;
                    }
                });
            assert.deepEqual(strays, [], "no process refers to the lab's state dir");
        });
    });
}
