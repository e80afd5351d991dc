/**
 * Node removal in a safe order, in the lab (issue 17 §1): the lab stack is brought up over real SSH (the
 * runner, our stand-in for the engine's create/update/delete calls), then run again with home2 marked
 * `remove: true`, as `pulumi up` would run it: creates and updates in dependency order, deletes last.
 *
 * What must hold: the node removal step on the first server (cloud1) finishes before the hub's wg-config
 * update drops home2's peer, and that update finishes before home2's own steps are deleted (its interface
 * taken down). In the lab the removal step runs for real but finds no k3s on cloud1 (no k3s binaries here),
 * so its drain is a logged no-op; the drain itself, with a real kubectl against a real API server and a
 * PodDisruptionBudget, is tests/controlplane/drain.test.ts. A last run with home2's entry deleted changes
 * nothing on any host.
 */
import { before, it } from "node:test";
import * as assert from "node:assert/strict";
import { inHost, labHostState } from "../../lab/lab";
import { labSuite } from "./suite";
import { Action, describeFailures, planRun, runPlan, Step, stepsFromRecording, StepResult, StepStatus } from "./runner";
import { MESH_NAME, runLabStack } from "./scenario";

labSuite("node removal in the lab: drain first, then the peers, then the host's own steps", (lab) => {
    let first: Step[];
    let second: Step[];
    let results: StepResult[];
    before(async () => {
        first = stepsFromRecording((await runLabStack(false, [], lab())).recording);
        assert.equal(describeFailures(await runPlan(planRun(undefined, first))), "");
    });
    const sh = (host: string, script: string) => inHost(labHostState(lab(), host), ["bash", "-c", script], { check: false });
    const ran = (name: string) => results.find((r) => r.name === name && r.status !== StepStatus.Skipped);

    it("home2 remove: true runs the removal step, the hub's update and home2's deletes, and nothing else on the overlay", async () => {
        const home2Key = sh("home2", "wg show wg0 public-key").stdout.trim();
        assert.ok(sh("cloud1", "wg show wg0 peers").stdout.includes(home2Key), "the hub lists home2 before");
        second = stepsFromRecording((await runLabStack(false, [], lab(), ["home2"])).recording);
        results = await runPlan(planRun(first, second));
        assert.equal(describeFailures(results), "");
        const acted = results.filter((r) => r.status !== StepStatus.Skipped).map((r) => `${r.action} ${r.name}`).sort();
        assert.deepEqual(acted, [
            `${Action.Create} lab-node-removal-home2`,
            `${Action.Update} ${MESH_NAME}-cloud1-wg-config`,
            `${Action.Delete} ${MESH_NAME}-home2-wg-config`,
            `${Action.Delete} ${MESH_NAME}-home2-wg-install`,
        ].sort());
        const skipped = results.filter((r) => r.status === StepStatus.Skipped);
        assert.ok(skipped.every((r) => /-k3s-/.test(r.name)), `only k3s steps are skipped: ${skipped.map((r) => r.name).join(", ")}`);
        assert.ok(!sh("cloud1", "wg show wg0 peers").stdout.includes(home2Key), "the hub no longer lists home2");
        assert.notEqual(sh("home2", "ip link show wg0").status, 0, "home2's wg0 is gone");
    });

    it("in that order: the drain step ends before the hub drops the peer, which ends before home2's interface goes", () => {
        const removal = ran("lab-node-removal-home2")!;
        const hub = ran(`${MESH_NAME}-cloud1-wg-config`)!;
        const down = ran(`${MESH_NAME}-home2-wg-config`)!;
        assert.match(removal.stdout + removal.stderr, /k3s is not installed on this server; node home2 cannot be drained here/, "the lab has no k3s: the drain is a logged no-op");
        assert.equal(removal.host, "cloud1", "it runs on the first server");
        assert.ok(removal.endedAt <= hub.startedAt, `the hub's update started ${hub.startedAt - removal.endedAt} ms after the removal step ended`);
        assert.ok(hub.endedAt <= down.startedAt, `home2's interface went ${down.startedAt - hub.endedAt} ms after the hub's update ended`);
    });

    it("the staying hosts still reach the hub over the overlay", () => {
        const hubAddress = sh("cloud1", "ip -4 -o addr show dev wg0 | awk '{ print $4 }' | cut -d/ -f1").stdout.trim();
        for (const h of ["cloud2", "home1"]) {
            let ok = false;
            for (let i = 0; i < 5 && !ok; i++) ok = sh(h, `ping -c 1 -W 1 ${hubAddress}`).status === 0;
            assert.ok(ok, `${h} pings the hub at ${hubAddress}`);
        }
    });

    it("deleting home2's entry afterwards changes nothing on any host", async () => {
        const third = stepsFromRecording((await runLabStack(false, ["home2"], lab())).recording);
        const plan = planRun(second, third);
        assert.deepEqual(
            plan.filter((p) => p.action !== Action.Same).map((p) => `${p.action} ${p.step.name}`),
            [`${Action.Delete} lab-node-removal-home2`],
            "only the finished removal step leaves the state; it has nothing to undo",
        );
        assert.equal(second.find((s) => s.name === "lab-node-removal-home2")!.delete, undefined);
    });
});
