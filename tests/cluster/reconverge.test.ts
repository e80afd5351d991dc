// Re-converging drifted hosts (issue 13 §8): `reconverge: <n>` in the stack config; raising it makes the next
// `pulumi up` update every host step in place (never a replace, whose delete would take the overlay down), so
// every idempotent script runs again and prints what it repaired. Mock engine; the lab runs it over SSH
// (tests/lab/hubRestart.test.ts).
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { parseClusterConfig } from "../../infra/config";
import { loadStack } from "../../tools/stack";
import { runStack } from "../../tools/render-lib";
import { reconvergeLine } from "../../components/src/host";
import { Action, planRun, stepsFromRecording } from "../lab/runner";
import { TEST_KEY } from "../harness/fixtures";

/** The shipped lab stack's steps, with `reconverge` set to `generation` (or left out). */
async function labSteps(generation?: number) {
    const cluster = JSON.parse(loadStack("lab").config["hybrid-infra:cluster"]) as Record<string, unknown>;
    if (generation !== undefined) cluster.reconverge = generation;
    // A test key: the runner only reads the connection, nothing is dialed.
    const run = await runStack("lab", { extraConfig: { cluster: JSON.stringify(cluster), sshPrivateKey: TEST_KEY } });
    return stepsFromRecording(run.recording);
}

describe("reconverge: raising it runs every host step again", () => {
    it("the stack config accepts a whole number from 0 up, and names the fix otherwise", () => {
        const base = { hosts: [{ name: "a", ssh: { address: "203.0.113.10" }, location: "cloud", publicEndpoint: "203.0.113.10", roles: ["hub", "server"] }] };
        assert.equal(parseClusterConfig({ ...base, reconverge: 3 }).reconverge, 3);
        for (const bad of [-1, 1.5]) {
            assert.throws(() => parseClusterConfig({ ...base, reconverge: bad }), (e: Error) => /reconverge: .*Fix: use a whole number from 0 up; raise it by one to run every host step again/.test(e.message));
        }
    });

    it("unset, no step carries a generation (configs that never set it render as before)", async () => {
        for (const s of await labSteps()) assert.ok(!s.create.includes("# reconverge:"), s.name);
    });

    it("0 -> 1 -> 2: every host step is an update, none is replaced or deleted; the same generation changes nothing", async () => {
        const none = await labSteps();
        const one = await labSteps(1);
        const two = await labSteps(2);
        assert.ok(one.length >= 12, `${one.length} steps`);
        for (const [from, to] of [
            [none, one],
            [one, two],
        ]) {
            const plan = planRun(from, to);
            const notUpdate = plan.filter((p) => p.action !== Action.Update).map((p) => `${p.action} ${p.step.name}`);
            assert.deepEqual(notUpdate, [], "every step updates");
            assert.equal(plan.length, to.length);
        }
        assert.ok(planRun(two, await labSteps(2)).every((p) => p.action === Action.Same));
        for (const s of two) {
            // The runner reads host and step from the first line: the generation goes right after it.
            assert.match(s.create, new RegExp(`^# hybridinfra: ${s.host}/${s.step}\\n${reconvergeLine(2)}\\n`), s.name);
            assert.equal(s.update, s.create, `${s.name}: update is still the create script`);
            assert.equal(s.triggers, none.find((x) => x.name === s.name)!.triggers, `${s.name}: triggers untouched (no replace)`);
        }
    });
});
