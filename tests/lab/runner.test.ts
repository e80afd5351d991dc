// The lab runner's planning, dependency and skip logic, without the lab (runs everywhere).
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { connectionFor, remoteStep, SshHostArgs } from "../../components/src/host";
import { record, UNKNOWN } from "../harness/mocks";
import { TEST_KEY } from "../harness/fixtures";
import { assertShellcheck } from "../harness/shellcheck";
import { Action, LAB_SKIP_RULES, planRun, runPlan, Step, stepsFromRecording, StepStatus } from "./runner";
import { LabProbe, probeProgram } from "./scenario";

const hosts: SshHostArgs[] = [
    { name: "cloud1", address: "203.0.113.10", privateKey: TEST_KEY, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO0" },
    { name: "home1", address: "203.0.113.1", port: 2211, privateKey: TEST_KEY },
    { name: "home2", address: "192.168.50.12", privateKey: TEST_KEY, jumpHost: "home1" },
];
const versions = { cloud1: "1", home1: "1", home2: "1" };

async function steps(v: Record<string, string> = versions, h: SshHostArgs[] = hosts): Promise<Step[]> {
    return stepsFromRecording(await record(probeProgram({ hosts: h, versions: v, token: pulumi.secret("t0ken") })));
}

const step = (all: Step[], name: string) => all.find((s) => s.name === name)!;

describe("lab runner: steps from a recording", () => {
    it("takes connection, proxy, scripts, stdin and dependencies of every Command", async () => {
        const all = await steps();
        assert.deepEqual(all.map((s) => s.name).sort(), [
            "probe-cloud1-k3s-probe",
            "probe-cloud1-probe-check",
            "probe-cloud1-probe-write",
            "probe-home1-probe-check",
            "probe-home1-probe-write",
            "probe-home2-probe-check",
            "probe-home2-probe-write",
        ]);
        const check = step(all, "probe-home2-probe-check");
        assert.equal(check.host, "home2");
        assert.equal(check.step, "probe-check");
        assert.deepEqual(check.dependencies, ["probe-home2-probe-write"]);
        assert.deepEqual(check.connection, {
            host: "192.168.50.12",
            port: 22,
            user: "root",
            privateKey: TEST_KEY,
            proxy: { host: "203.0.113.1", port: 2211, user: "root", privateKey: TEST_KEY },
        });
        const write = step(all, "probe-cloud1-probe-write");
        assert.equal(write.connection.hostKey, hosts[0].hostKey);
        assert.equal(write.stdin, `token ${Buffer.from("t0ken").toString("base64")}\n`);
        assert.match(write.delete!, /hi_remove_managed_file \/var\/lib\/hybridinfra\/lab-probe/);
        assert.deepEqual(write.dependencies, []);
    });

    it("orders a step after every step of a component it depends on", async () => {
        const rec = await record(() => {
            const probe = new LabProbe("a", { hosts: hosts.slice(0, 2), versions, token: pulumi.secret("x") });
            const byName = new Map(hosts.map((h) => [h.name, h]));
            remoteStep("after-all", { host: "cloud1", step: "after", connection: connectionFor(hosts[0], byName), create: 'hi_log "after"' }, { dependsOn: [probe] });
        });
        assert.deepEqual([...step(stepsFromRecording(rec), "after-all").dependencies].sort(), [
            "a-cloud1-k3s-probe",
            "a-cloud1-probe-check",
            "a-cloud1-probe-write",
            "a-home1-probe-check",
            "a-home1-probe-write",
        ]);
    });

    it("refuses a preview recording (unknown inputs cannot be run)", async () => {
        const rec = await record(probeProgram({ hosts, versions, token: pulumi.secret("x") }), { preview: true });
        // Known-at-preview steps are fine; fake an unknown to check the message.
        const bad = { ...rec, byType: (t: string) => rec.byType(t).map((r, i) => (i === 0 ? { ...r, inputs: { ...r.inputs, stdin: UNKNOWN } } : r)) };
        assert.throws(() => stepsFromRecording(bad), /has unknown inputs: record in update mode, not preview/);
    });
});

describe("lab runner: what pulumi up would do", () => {
    it("creates everything the first time, then nothing for unchanged inputs", async () => {
        const a = await steps();
        assert.ok(planRun(undefined, a).every((p) => p.action === Action.Create));
        assert.ok(planRun(a, await steps()).every((p) => p.action === Action.Same));
    });

    it("updates a step whose script changed, creates new steps and deletes removed ones", async () => {
        const a = await steps();
        const b = await steps({ ...versions, home1: "2" }, [...hosts.filter((h) => h.name !== "home2"), { ...hosts[2], name: "home3", jumpHost: "home1" }]);
        const plan = planRun(a, b);
        const by = (action: Action) => plan.filter((p) => p.action === action).map((p) => p.step.name).sort();
        assert.deepEqual(by(Action.Update), ["probe-home1-probe-write"]);
        assert.deepEqual(by(Action.Create), ["probe-home3-probe-check", "probe-home3-probe-write"]);
        assert.deepEqual(by(Action.Delete), ["probe-home2-probe-check", "probe-home2-probe-write"]);
        assert.equal(by(Action.Same).length, 4);
    });

    it("replaces a step whose triggers changed, and updates one whose connection changed", async () => {
        const a = await steps();
        const b = a.map((s) =>
            s.name === "probe-cloud1-probe-write" ? { ...s, triggers: ["v2"] } : s.name === "probe-home1-probe-write" ? { ...s, connection: { ...s.connection, port: 2222 } } : s,
        );
        const plan = planRun(a, b);
        assert.deepEqual(
            plan
                .filter((p) => p.action !== Action.Same)
                .map((p) => [p.action, p.step.name])
                .sort(),
            [
                [Action.Replace, "probe-cloud1-probe-write"],
                [Action.Update, "probe-home1-probe-write"],
            ],
        );
        assert.equal(plan.find((p) => p.action === Action.Replace)!.old, a.find((s) => s.name === "probe-cloud1-probe-write"));
    });
});

describe("lab runner: skip rules and failures", () => {
    it("the k3s rule matches k3s step names only", () => {
        const skipped = (n: string) => LAB_SKIP_RULES.some((r) => r.pattern.test(n));
        for (const n of ["probe-cloud1-k3s-probe", "cluster-cloud1-k3s-server", "k3s-install", "x-k3s"]) assert.ok(skipped(n), n);
        for (const n of ["lab-cloud1-wg-config", "home-k3sfoo-wg-install", "probe-cloud1-probe-write"]) assert.ok(!skipped(n), n);
    });

    it("reports skipped steps with the rule's reason, and does not run dependents of a failed step", async () => {
        const a = await steps();
        // Port 1 on loopback refuses at once: the run fails without any lab.
        // ssh2 cannot parse PKCS#8 ed25519 keys (TEST_KEY); an RSA PEM key gets as far as connecting.
        const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs1", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
        const unreachable = a.filter((s) => s.host === "cloud1").map((s) => ({ ...s, connection: { host: "127.0.0.1", port: 1, user: "root", privateKey } }));
        const results = await runPlan(planRun(undefined, unreachable));
        const by = new Map(results.map((r) => [r.name, r]));
        assert.equal(by.get("probe-cloud1-probe-write")!.status, StepStatus.Failed);
        assert.equal(by.get("probe-cloud1-probe-write")!.exitCode, -1);
        assert.match(by.get("probe-cloud1-probe-write")!.stderr, /ssh root@127\.0\.0\.1:1: .*ECONNREFUSED/);
        assert.equal(by.get("probe-cloud1-probe-check")!.status, StepStatus.Skipped);
        assert.equal(by.get("probe-cloud1-probe-check")!.reason, "create of probe-cloud1-probe-write failed");
        assert.equal(by.get("probe-cloud1-k3s-probe")!.status, StepStatus.Skipped);
        assert.equal(by.get("probe-cloud1-k3s-probe")!.reason, "skip rule /(^|-)k3s(-|$)/: k3s binaries cannot be fetched here (the lab has no internet)");
    });
});

describe("lab scripts", () => {
    it("lab/holder.sh passes shellcheck", () => {
        assertShellcheck(fs.readFileSync(path.join(__dirname, "../../lab/holder.sh"), "utf8"), "lab/holder.sh");
    });
});
