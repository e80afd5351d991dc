/**
 * A host whose entry is deleted without a `remove: true` run first is refused by the REAL Pulumi engine's
 * preview and up (issue 17 §1): the program records the hosts in the cluster as the stack output
 * `clusterHosts`, reads it back through a StackReference to its own stack on the next run, and names the host
 * and the two-step fix. The program is the stack program's own entry (`main` of infra/program.ts) with a
 * composer that registers no cluster (the command plugin cannot be built here; the refusal comes first).
 */
import * as assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import type { ConfigValue } from "@pulumi/pulumi/automation";
import { main } from "../../infra/program";
import { loadStack, PROJECT } from "../../tools/stack";
import { createEngineStack, ENGINE_REQUIRED, engineMissing, EngineStack, lateRejections, stackConfigValues } from "../harness/engine";

const missing = engineMissing();
if (missing !== undefined && ENGINE_REQUIRED) throw new Error(missing);

const STACK = "hybrid-edge";
const base = JSON.parse(loadStack(STACK).config[`${PROJECT}:cluster`]) as { hosts: { name: string; remove?: boolean }[] };

const config = (hosts: { name: string; remove?: boolean }[]): Record<string, ConfigValue> => stackConfigValues(STACK, { ...base, hosts });
const without = (name: string) => base.hosts.filter((h) => h.name !== name);
const leaving = (name: string) => base.hosts.map((h) => (h.name === name ? { ...h, remove: true } : h));

/** Late rejections of refused inline runs: collected, then checked (see lateRejections). */
const rejections = lateRejections();
const late = rejections.late;

describe("real engine: a host deleted from the config without `remove: true` first is refused", { skip: missing }, () => {
    let es: EngineStack;

    before(async () => {
        rejections.start();
        es = await createEngineStack({
            project: PROJECT,
            stack: STACK,
            config: config(base.hosts),
            program: () => main((_args, settings, hosts) => ({ k3sSettings: pulumi.output(settings), clusterHosts: pulumi.output(hosts) })),
        });
    });
    after(async () => {
        await es?.dispose();
        rejections.stop();
    });

    it("the first up records the hosts as the stack output clusterHosts", async () => {
        const res = await es.stack.up();
        assert.deepEqual(res.outputs.clusterHosts.value, ["cloud-vm", "home-mac-vm", "home-pc"]);
    });

    it("deleting home-pc's entry outright: preview fails with the host and the fix, up fails too and keeps the record", async () => {
        await es.stack.setAllConfig(config(without("home-pc")));
        es.output.length = 0;
        await assert.rejects(es.stack.preview());
        const text = es.output.join("");
        assert.ok(
            text.includes('hosts: no longer lists "home-pc", which is in the cluster: deleting the entry directly drops its WireGuard peers before its drain'),
            `the engine's output:\n${text}`,
        );
        assert.ok(text.includes('Fix: put the entry back with `remove: true`, run `pulumi up` (it drains "home-pc" while it is still reachable, then removes it), then delete the entry'));
        await assert.rejects(es.stack.up());
        assert.deepEqual((await es.stack.outputs()).clusterHosts.value, ["cloud-vm", "home-mac-vm", "home-pc"]);
    });

    it("remove: true first records home-pc as gone; then deleting the entry passes", async () => {
        await es.stack.setAllConfig(config(leaving("home-pc")));
        const res = await es.stack.up();
        assert.deepEqual(res.outputs.clusterHosts.value, ["cloud-vm", "home-mac-vm"]);
        await es.stack.setAllConfig(config(without("home-pc")));
        const next = await es.stack.up();
        assert.deepEqual(next.outputs.clusterHosts.value, ["cloud-vm", "home-mac-vm"]);
    });

    it("nothing but the refusal itself was left unhandled by the inline runs", async () => {
        await new Promise((r) => setTimeout(r, 200));
        for (const e of late) {
            assert.ok(pulumi.RunError.isInstance(e), `unexpected late rejection: ${String(e)}`);
            assert.match((e as Error).message, /^hosts: no longer lists "home-pc"/);
        }
    });
});
