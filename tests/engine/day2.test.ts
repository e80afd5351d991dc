/**
 * Changes k3s does not support in place, refused by the REAL Pulumi engine's preview and up (issue 16 §2).
 *
 * The program is the stack program's own entry (`main` of infra/program.ts) with a composer that registers no
 * cluster (the command plugin cannot be built here; the refusal happens before composition anyway). It reads
 * its stack's previous `k3sSettings` output through a StackReference to itself, on the file backend.
 */
import * as assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import type { ConfigValue } from "@pulumi/pulumi/automation";
import { main } from "../../infra/program";
import { loadStack, PROJECT } from "../../tools/stack";
import { changes, createEngineStack, ENGINE_REQUIRED, engineMissing, EngineStack, lateRejections, stackConfigValues } from "../harness/engine";

const missing = engineMissing();
if (missing !== undefined && ENGINE_REQUIRED) throw new Error(missing);

const STACK = "hybrid-edge";
const base = JSON.parse(loadStack(STACK).config[`${PROJECT}:cluster`]) as { k3s: Record<string, unknown> };

const config = (k3s: Record<string, unknown>): Record<string, ConfigValue> => stackConfigValues(STACK, { ...base, k3s: { ...base.k3s, channel: undefined, ...k3s } });

/** Late rejections of refused inline runs: collected, then checked by the last test (see lateRejections). */
const rejections = lateRejections();
const late = rejections.late;

describe("real engine: k3s changes that need more than a restart are refused in preview and up", { skip: missing }, () => {
    let es: EngineStack;
    const created = { version: "v1.36.1+k3s1", datastore: "sqlite" };

    before(async () => {
        rejections.start();
        es = await createEngineStack({
            project: PROJECT,
            stack: STACK,
            config: config(created),
            program: () => main((_args, settings) => ({ k3sSettings: pulumi.output(settings) })),
        });
    });
    after(async () => {
        await es?.dispose();
        rejections.stop();
    });

    const errorText = () => es.output.join("");

    it("the first up records the settings as the stack output k3sSettings", async () => {
        const res = await es.stack.up();
        assert.deepEqual(res.outputs.k3sSettings.value, {
            version: "v1.36.1+k3s1",
            datastore: "sqlite",
            firstServer: "cloud-vm",
            servers: ["cloud-vm"],
            clusterCidr: "10.42.0.0/16",
            serviceCidr: "10.43.0.0/16",
            flannelBackend: "vxlan",
            secretsEncryption: false,
            tokenRotation: 0,
        });
    });

    it("a preview with creation-only changes, a downgrade and encryption turned on fails with every problem at once", async () => {
        await es.stack.setAllConfig(config({ ...created, version: "v1.35.4+k3s1", clusterCidr: "10.52.0.0/16", datastore: "external", secretsEncryption: true }));
        es.output.length = 0;
        await assert.rejects(es.stack.preview());
        const text = errorText();
        assert.match(text, /4 problems in the config:/);
        for (const line of [
            'k3s.datastore: is "external" but this cluster was created with "sqlite"',
            'k3s.clusterCidr: is "10.52.0.0/16" but this cluster was created with "10.42.0.0/16"; k3s sets the pod network (cluster-cidr) only when the cluster is created',
            "k3s.secretsEncryption: is true but this cluster was created without secrets encryption",
            'k3s.version: is "v1.35.4+k3s1", older than "v1.36.1+k3s1" that the last `pulumi up` installed',
            "Fix: set k3s.clusterCidr back to \"10.42.0.0/16\" (k3s's default: remove the key)",
        ]) {
            assert.ok(text.includes(line), `missing from the engine's output: ${line}`);
        }
        // Shown as a RunError: the message, no stack trace.
        assert.doesNotMatch(text, /Unhandled exception|at async/);
    });

    it("the same change in up fails too, changes nothing and keeps the record", async () => {
        await assert.rejects(es.stack.up());
        const outputs = await es.stack.outputs();
        assert.equal(outputs.k3sSettings.value.clusterCidr, "10.42.0.0/16");
        assert.equal(outputs.k3sSettings.value.version, "v1.36.1+k3s1");
    });

    it("k3s.allowDowngrade: true lets the older version through, and the next run compares with it", async () => {
        await es.stack.setAllConfig(config({ ...created, version: "v1.35.4+k3s1", allowDowngrade: true }));
        const res = await es.stack.up();
        assert.deepEqual(changes(res.summary), {});
        assert.equal(res.outputs.k3sSettings.value.version, "v1.35.4+k3s1");
    });

    it("an upgrade and sqlite → etcd (k3s converts a single server with cluster-init) pass", async () => {
        await es.stack.setAllConfig(config({ ...created, version: "v1.36.2+k3s1", datastore: "etcd" }));
        const res = await es.stack.up();
        assert.equal(res.outputs.k3sSettings.value.datastore, "etcd");
        assert.equal(res.outputs.k3sSettings.value.version, "v1.36.2+k3s1");
    });

    it("nothing but the refusal itself was left unhandled by the inline runs", async () => {
        await new Promise((r) => setTimeout(r, 200));
        for (const e of late) {
            assert.ok(pulumi.RunError.isInstance(e), `unexpected late rejection: ${String(e)}`);
            assert.match((e as Error).message, /^4 problems in the config:/);
        }
    });
});
