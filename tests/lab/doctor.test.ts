/**
 * `npm run doctor` in the lab (issue 19): the lab stack's overlay is brought up over real SSH (the runner),
 * then the doctor checks it with the stack's own connection settings (direct, forwarded port, jump host).
 * A healthy overlay is all green; then five breaks, one at a time, each undone before the next: a killed
 * wireguard-go, a wrong peer key, a stale endpoint, an edited wg0.conf, a blocked UDP port. Each must be
 * named with its cause, and nothing else may be reported. k3s checks are left out: the lab has no k3s.
 */
import { before, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { inHost, labHostState, readLabState } from "../../lab/lab";
import { labSuite } from "./suite";
import { CheckGroup, DoctorReport, formatReport, runDoctor } from "../../tools/doctor-lib";
import { describeFailures, planRun, runPlan, stepsFromRecording } from "./runner";
import { labStackConfig, runLabStack } from "./scenario";

const ROOT = path.join(__dirname, "..", "..");

/** Every problem of a report as `subject check`, sorted, with its cause. */
function problems(r: DoctorReport): { at: string; cause: string }[] {
    return [
        ...r.hosts.flatMap((h) => h.findings.filter((f) => !f.ok).map((f) => ({ at: `${h.host} ${f.check}`, cause: f.cause ?? "" }))),
        ...r.links.flatMap((l) => l.findings.filter((f) => !f.ok).map((f) => ({ at: `${l.from}->${l.to} ${f.check}`, cause: f.cause ?? "" }))),
    ].sort((a, b) => a.at.localeCompare(b.at));
}

labSuite("doctor in the lab", (lab) => {
    before(async () => {
        const run = await runLabStack(false, [], lab());
        const results = await runPlan(planRun(undefined, stepsFromRecording(run.recording)));
        assert.equal(describeFailures(results), "");
    });

    const sh = (host: string, script: string) => inHost(labHostState(lab(), host), ["bash", "-c", script]).stdout.trim();
    const doctor = () => runDoctor("lab", { extraConfig: labStackConfig(false, [], lab()), skip: [CheckGroup.K3s] });

    /** Runs the doctor until it reports healthy (handshakes take a moment after a change); bounded. */
    async function healthy(label: string): Promise<DoctorReport> {
        let r: DoctorReport | undefined;
        for (let i = 0; i < 10; i++) {
            r = await doctor();
            if (r.ok) break;
            await new Promise((res) => setTimeout(res, 1000));
        }
        assert.ok(r!.ok, `${label}: not healthy:\n${formatReport(r!)}`);
        return r!;
    }

    it("a healthy overlay: every host, peer, managed file and link is green", async () => {
        const r = await healthy("after the overlay steps");
        console.log(formatReport(r));
        assert.deepEqual(
            r.links.map((l) => `${l.from}->${l.to}`),
            ["cloud2->cloud1", "home1->cloud1", "home2->cloud1"],
            "one link per planned pair, pinged from the end that can initiate (the spokes)",
        );
        const checks = Object.fromEntries(r.hosts.map((h) => [h.host, h.findings.map((f) => f.check)]));
        const files = [
            "file /etc/init.d/hybridinfra-wg-watchdog-wg0",
            "file /etc/init.d/wg-quick.wg0",
            "file /etc/systemd/system/hybridinfra-wg-watchdog-wg0.service",
            "file /etc/systemd/system/hybridinfra-wg-watchdog-wg0.timer",
            "file /etc/wireguard/wg0.conf",
            "file /usr/local/sbin/hybridinfra-wg-watchdog-wg0",
        ];
        assert.deepEqual(checks, {
            cloud1: ["ssh", "interface", "peer cloud2", "peer home1", "peer home2", ...files],
            cloud2: ["ssh", "interface", "peer cloud1", ...files],
            home1: ["ssh", "interface", "peer cloud1", ...files],
            home2: ["ssh", "interface", "peer cloud1", ...files],
        });
        assert.match(r.hosts.find((h) => h.host === "home2")!.findings[0].detail, /^root@192\.168\.50\.12:22 via 203\.0\.113\.1:2211$/, "home2 is reached through its jump host");
        assert.deepEqual(r.skipped, ["k3s: left out (--skip k3s)"]);
    });

    it("a killed wireguard-go: the interface is missing on that host, and its link is not tried", async () => {
        const pid = sh("home2", "for p in /proc/[0-9]*; do [ \"$(cat $p/comm 2>/dev/null)\" = wireguard-go ] && [ \"$(readlink $p/ns/net)\" = \"$(readlink /proc/self/ns/net)\" ] && echo ${p#/proc/}; done; true");
        assert.match(pid, /^\d+$/, "home2 has one wireguard-go");
        sh("home2", `kill -9 ${pid}`);
        const r = await doctor();
        assert.equal(r.ok, false);
        const p = problems(r);
        assert.deepEqual(p.map((x) => x.at), ["home2 interface", "home2->cloud1 ping"]);
        for (const x of p) assert.match(x.cause, /wireguard-go for wg0 is not running \(its socket \/run\/wireguard\/wg0\.sock is left behind/);
        sh("home2", "wg-quick up wg0 >/dev/null 2>&1");
        await healthy("after wg-quick up on home2");
    });

    it("a wrong peer key: named on the host that has it, as the cause of its link's failure", async () => {
        const hubKey = sh("cloud1", "wg show wg0 public-key");
        const bogus = sh("home1", "wg genkey | wg pubkey");
        sh("home1", `wg set wg0 peer ${hubKey} remove && wg set wg0 peer ${bogus} endpoint 203.0.113.10:51820 allowed-ips 10.100.0.0/24 persistent-keepalive 25`);
        const r = await doctor();
        const p = problems(r);
        assert.deepEqual(p.map((x) => x.at), ["home1 peer cloud1", "home1->cloud1 ping"]);
        for (const x of p) assert.match(x.cause, /^wrong peer key: home1 expects cloud1 to have another key/);
        const finding = r.hosts.find((h) => h.host === "home1")!.findings.find((f) => f.check === "peer cloud1")!;
        assert.equal(finding.detail, `key ${bogus} for cloud1, but cloud1's interface key is ${hubKey}`);
        sh("home1", "wg-quick down wg0 >/dev/null 2>&1; wg-quick up wg0 >/dev/null 2>&1");
        await healthy("after reloading home1's wg0");
    });

    it("a stale endpoint: the endpoint seen against the planned one, as the cause of the link's failure", async () => {
        const hubKey = sh("cloud1", "wg show wg0 public-key");
        sh("cloud2", `wg set wg0 peer ${hubKey} endpoint 203.0.113.99:51820`);
        const r = await doctor();
        const p = problems(r);
        assert.deepEqual(p.map((x) => x.at), ["cloud2 peer cloud1", "cloud2->cloud1 ping"]);
        for (const x of p) assert.match(x.cause, /^stale endpoint: cloud2 still sends to 203\.0\.113\.99:51820/);
        assert.equal(r.hosts.find((h) => h.host === "cloud2")!.findings.find((f) => f.check === "peer cloud1")!.detail, "sends to cloud1 at 203.0.113.99:51820, the plan says 203.0.113.10:51820");
        sh("cloud2", `wg set wg0 peer ${hubKey} endpoint 203.0.113.10:51820`);
        await healthy("after restoring cloud2's endpoint for cloud1");
    });

    it("an edited wg0.conf: drift, with the line and the rendered text; the running overlay is still fine", async () => {
        sh("home2", "cp -p /etc/wireguard/wg0.conf /tmp/wg0.conf.orig && sed -i 's/^MTU = 1420$/MTU = 1380/' /etc/wireguard/wg0.conf");
        const r = await doctor();
        const p = problems(r);
        assert.deepEqual(p.map((x) => x.at), ["home2 file /etc/wireguard/wg0.conf"]);
        const f = r.hosts.find((h) => h.host === "home2")!.findings.find((x) => x.check === "file /etc/wireguard/wg0.conf")!;
        assert.equal(f.detail, "differs from the render at line 6; the render has `MTU = 1420` there (14 lines on the host, 14 rendered)");
        assert.match(f.fix!, /the wg-config step rewrites it/);
        assert.ok(!JSON.stringify(r).includes(sh("home2", "sed -n 's/^PrivateKey = //p' /etc/wireguard/wg0.conf")), "the private key never leaves the host");
        sh("home2", "cp -p /tmp/wg0.conf.orig /etc/wireguard/wg0.conf");
        await healthy("after restoring home2's wg0.conf");
    });

    it("a blocked UDP port: the receiver got 0 bytes, and the firewall rule is named; `npm run doctor` exits 1, then 0", async () => {
        sh("cloud1", "iptables -I INPUT -p udp --dport 51820 -j DROP");
        const r = await doctor();
        const p = problems(r);
        assert.deepEqual(p.map((x) => x.at), ["cloud2->cloud1 ping", "home1->cloud1 ping", "home2->cloud1 ping"]);
        for (const x of p) assert.equal(x.cause, "UDP port 51820 is blocked on cloud1: its firewall has `-A INPUT -p udp -m udp --dport 51820 -j DROP`");
        for (const l of r.links) assert.match(l.findings[0].detail, new RegExp(`^no answer from 10\\.100\\.0\\.\\d+; cloud1 received 0 bytes from ${l.from} meanwhile$`));

        // The command a user runs: the stack's settings, the lab's key, no pinned host keys.
        const cli = () =>
            spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "tools/doctor.ts"), "--stack", "lab", "--ssh-key", readLabState().clientKeyPath, "--skip", "k3s"], { cwd: ROOT, encoding: "utf8" });
        const broken = cli();
        console.log(broken.stdout);
        assert.equal(broken.status, 1, broken.stderr);
        assert.match(broken.stdout, /^FAIL home1 -> cloud1 +ping: no answer from 10\.100\.0\.\d+; cloud1 received 0 bytes from home1 meanwhile$/m);
        assert.match(broken.stdout, /^ {7}cause: UDP port 51820 is blocked on cloud1: its firewall has `-A INPUT -p udp -m udp --dport 51820 -j DROP`$/m);

        sh("cloud1", "iptables -D INPUT -p udp --dport 51820 -j DROP");
        await healthy("after removing the DROP rule");
        const fixed = cli();
        assert.equal(fixed.status, 0, fixed.stdout + fixed.stderr);
        assert.match(fixed.stdout, /^stack lab: healthy$/m);
    });
});
