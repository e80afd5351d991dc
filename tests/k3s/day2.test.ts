/**
 * Changes to a running cluster that k3s does not make in place (issue 16 §2): the recorded settings and the
 * comparison the stack program runs before registering anything (the real engine's side of it is
 * tests/engine/day2.test.ts). Exact texts: each names the key path, shows both values and gives the fix.
 */
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import {
    compareK3sVersions,
    Datastore,
    K3sCluster,
    K3sClusterArgs,
    k3sClusterInternals,
    K3sRecordedSettings,
    k3sChangeProblems,
    NodeRole,
    recordK3sSettings,
    renderTokenRotateScript,
} from "../../components/src/k3s";
import { configProblems } from "../harness/config";
import { TEST_KEY } from "../harness/fixtures";
import { record, Recording } from "../harness/mocks";
import { assertHostScript, extractProgram } from "../harness/shellcheck";
import { agent, server } from "./fixtures";
import { assertSnapshot } from "./snapshot";
import { RENDER_OUTPUTS } from "../../tools/render-lib";

const servers = (...names: string[]) => names.map((name) => ({ name, role: NodeRole.Server }));
const created: K3sRecordedSettings = recordK3sSettings({ version: "v1.36.1+k3s1", nodes: [...servers("tokyo-1"), { name: "home-pc", role: NodeRole.Agent }] });

function messages(previous: unknown, next: K3sRecordedSettings, optIns = {}): string[] {
    return k3sChangeProblems(previous, next, optIns).map((e) => e.message);
}

describe("the recorded k3s settings", () => {
    it("state k3s's defaults, the derived datastore and the server that started the cluster", () => {
        assert.deepEqual(created, {
            version: "v1.36.1+k3s1",
            datastore: "sqlite",
            firstServer: "tokyo-1",
            servers: ["tokyo-1"],
            clusterCidr: "10.42.0.0/16",
            serviceCidr: "10.43.0.0/16",
            flannelBackend: "vxlan",
            secretsEncryption: false,
            tokenRotation: 0,
        });
        assert.equal(recordK3sSettings({ nodes: servers("a"), tokenRotation: 3 }).tokenRotation, 3);
        assert.equal(recordK3sSettings({ nodes: servers("a", "b", "c") }).datastore, "etcd");
        assert.equal(recordK3sSettings({ nodes: servers("a", "b"), datastore: Datastore.External }).firstServer, undefined);
        assert.equal(recordK3sSettings({ nodes: servers("a"), channel: "stable" }).version, undefined);
    });

    it("order k3s versions, release candidates before their release", () => {
        assert.equal(compareK3sVersions("v1.35.4+k3s1", "v1.36.1+k3s1"), -1);
        assert.equal(compareK3sVersions("v1.36.1+k3s2", "v1.36.1+k3s1"), 1);
        assert.equal(compareK3sVersions("v1.36.0-rc1+k3s1", "v1.36.0+k3s1"), -1);
        assert.equal(compareK3sVersions("v1.36.0-rc2+k3s1", "v1.36.0-rc1+k3s1"), 1);
        assert.equal(compareK3sVersions("v1.36.1+k3s1", "v1.36.1+k3s1"), 0);
        assert.equal(compareK3sVersions("v1.10.0+k3s1", "v1.9.9+k3s1"), 1);
        assert.equal(compareK3sVersions("latest", "v1.36.1+k3s1"), undefined);
    });
});

describe("changes k3s does not support in place", () => {
    it("nothing is refused on the first run, for an unchanged config, or for fields an older record lacks", () => {
        assert.deepEqual(messages(undefined, created), []);
        assert.deepEqual(messages({}, created), []);
        assert.deepEqual(messages("garbage", created), []);
        assert.deepEqual(messages(created, created), []);
        assert.deepEqual(messages({ datastore: "sqlite" }, { ...created, clusterCidr: "10.52.0.0/16" }), []);
    });

    it("k3s.clusterCidr and k3s.serviceCidr are creation-only", () => {
        assert.deepEqual(messages(created, { ...created, clusterCidr: "10.52.0.0/16", serviceCidr: "10.53.0.0/16" }), [
            'k3s.clusterCidr: is "10.52.0.0/16" but this cluster was created with "10.42.0.0/16"; k3s sets the pod network (cluster-cidr) only when the cluster is created: existing nodes, pods and Services keep addresses from the old one. Fix: set k3s.clusterCidr back to "10.42.0.0/16" (k3s\'s default: remove the key), or create a new cluster (a new stack) with it and move the workloads',
            'k3s.serviceCidr: is "10.53.0.0/16" but this cluster was created with "10.43.0.0/16"; k3s sets the service network (service-cidr) only when the cluster is created: existing nodes, pods and Services keep addresses from the old one. Fix: set k3s.serviceCidr back to "10.43.0.0/16" (k3s\'s default: remove the key), or create a new cluster (a new stack) with it and move the workloads',
        ]);
        assert.deepEqual(messages({ ...created, clusterCidr: "10.60.0.0/16" }, created), [
            'k3s.clusterCidr: is "10.42.0.0/16" but this cluster was created with "10.60.0.0/16"; k3s sets the pod network (cluster-cidr) only when the cluster is created: existing nodes, pods and Services keep addresses from the old one. Fix: set k3s.clusterCidr back to "10.60.0.0/16", or create a new cluster (a new stack) with it and move the workloads',
        ]);
    });

    it("the datastore kind is creation-only, except sqlite → etcd, which k3s converts", () => {
        const etcd = recordK3sSettings({ nodes: servers("tokyo-1", "tokyo-2", "tokyo-3") });
        assert.deepEqual(messages(created, { ...created, datastore: Datastore.Etcd }), []);
        assert.deepEqual(messages(etcd, { ...etcd, datastore: Datastore.External, firstServer: undefined }), [
            'k3s.datastore: is "external" but this cluster was created with "etcd"; k3s has no migration between datastores except sqlite to embedded etcd, so the servers would start on an empty datastore. Fix: set k3s.datastore back to "etcd" (with k3s.datastore unset, one server means "sqlite" and more mean "etcd"), or create a new cluster (a new stack) with it and move the workloads',
        ]);
        assert.equal(messages({ ...etcd, datastore: "external", firstServer: undefined }, etcd).length, 1);
    });

    it("the server that started the cluster (sqlite's data, etcd's cluster-init) stays first, unless an etcd member takes over", () => {
        const etcd = recordK3sSettings({ nodes: servers("tokyo-1", "tokyo-2", "tokyo-3") });
        // Issue 17 §1: with etcd every server holds the data, so a member may become the first server (to retire tokyo-1).
        assert.deepEqual(messages(etcd, recordK3sSettings({ nodes: servers("tokyo-2", "tokyo-1", "tokyo-3") })), []);
        assert.deepEqual(messages(etcd, recordK3sSettings({ nodes: servers("tokyo-2", "tokyo-3") })), [], "tokyo-1 leaving (remove: true) with tokyo-2 first");
        assert.deepEqual(messages(etcd, recordK3sSettings({ nodes: servers("tokyo-4", "tokyo-1", "tokyo-2") })), [
            'hosts: make "tokyo-4" the first server, but "tokyo-1" started the embedded etcd cluster (cluster-init); the new first server would start a second, empty cluster. Fix: keep "tokyo-1" first, or list first a server that is already a member of this etcd cluster ("tokyo-1", "tokyo-2", "tokyo-3"): add the new server after the others, run pulumi up, then move it',
        ]);
        const { servers: _unrecorded, ...older } = etcd;
        assert.deepEqual(messages(older, recordK3sSettings({ nodes: servers("tokyo-2", "tokyo-1", "tokyo-3") })).length, 1, "a record without the server list (older stacks) keeps refusing");
        assert.deepEqual(messages(created, { ...created, firstServer: "home-nas" }), [
            'hosts: make "home-nas" the first server, but "tokyo-1" holds the cluster\'s sqlite datastore; the new first server would start a second, empty cluster. Fix: keep "tokyo-1" as the first host with role "server" in hosts (add new servers after it), or create a new cluster (a new stack) with it and move the workloads',
        ]);
        const external = recordK3sSettings({ nodes: servers("a", "b"), datastore: Datastore.External });
        assert.deepEqual(messages(external, recordK3sSettings({ nodes: servers("b", "a"), datastore: Datastore.External })), []);
    });

    it("flannel's backend is creation-only", () => {
        assert.deepEqual(messages({ ...created, flannelBackend: "wireguard-native" }, created), [
            'flannel-backend: would be "vxlan" but this cluster was created with "wireguard-native"; k3s chooses flannel\'s backend only when the cluster is created. Fix: keep the HybridInfra version that deployed this cluster, or create a new cluster (a new stack) with it and move the workloads',
        ]);
    });

    it("secrets encryption can be neither turned on nor off by a flag change", () => {
        assert.deepEqual(messages(created, { ...created, secretsEncryption: true }), [
            'k3s.secretsEncryption: is true but this cluster was created without secrets encryption; k3s does not support turning it on later (docs.k3s.io/cli/secrets-encrypt: "Starting K3s without encryption and enabling it at a later time is currently not supported"), and restarting the servers with the flag would leave them disagreeing about the key. Fix: set k3s.secretsEncryption back to false, or create a new cluster (a new stack) with it and move the workloads',
        ]);
        assert.deepEqual(messages({ ...created, secretsEncryption: true }, created), [
            "k3s.secretsEncryption: is false but this cluster encrypts Secrets at rest; a server started without the flag no longer loads the encryption key and cannot read the Secrets already stored. Fix: set k3s.secretsEncryption back to true; to stop encrypting, keep it true and run on one server `k3s secrets-encrypt disable`, restart k3s on every server one at a time, then `k3s secrets-encrypt reencrypt --force --skip` (docs.k3s.io/cli/secrets-encrypt)",
        ]);
    });

    it("a lower k3s.version is refused unless k3s.allowDowngrade is true; upgrades and channels pass", () => {
        const older = { ...created, version: "v1.35.4+k3s1" };
        assert.deepEqual(messages(created, older), [
            'k3s.version: is "v1.35.4+k3s1", older than "v1.36.1+k3s1" that the last `pulumi up` installed; the install step would install it like an upgrade, but Kubernetes does not support downgrades: the older API server may not read what the newer one stored. Fix: set k3s.version to "v1.36.1+k3s1" or newer; to downgrade anyway (e.g. to undo a failed upgrade, with an etcd snapshot or datastore backup from before it), also set k3s.allowDowngrade: true',
        ]);
        assert.deepEqual(messages(created, older, { allowDowngrade: true }), []);
        assert.deepEqual(messages(created, { ...created, version: "v1.36.2+k3s1" }), []);
        const { version: _v, ...channel } = created;
        assert.deepEqual(messages(created, channel), []);
        assert.deepEqual(messages(channel, older), []);
    });

    it("every problem is reported at once", () => {
        const all = messages(created, { ...created, version: "v1.30.0+k3s1", datastore: Datastore.External, firstServer: undefined, clusterCidr: "10.52.0.0/16", secretsEncryption: true });
        assert.deepEqual(
            all.map((m) => m.slice(0, m.indexOf(":"))),
            ["k3s.datastore", "k3s.clusterCidr", "k3s.secretsEncryption", "k3s.version"],
        );
    });

    it("the stack config accepts k3s.allowDowngrade as a boolean only", () => {
        const cfg = (k3s: Record<string, unknown>) => ({ hosts: [{ name: "a", ssh: { address: "203.0.113.10" }, location: "x", roles: ["hub", "server"], publicEndpoint: "203.0.113.10" }], k3s });
        assert.deepEqual(configProblems(cfg({ version: "v1.36.1+k3s1", allowDowngrade: true })), []);
        assert.deepEqual(configProblems(cfg({ allowDowngrade: "yes" })), ['k3s.allowDowngrade: expected boolean, received string, got "yes". Fix: use true to accept a k3s.version older than the one the last `pulumi up` installed, or false (the default)']);
    });
});

const CMD = "command:remote:Command";

function etcd3(extra: Partial<K3sClusterArgs> = {}): K3sClusterArgs {
    return {
        interfaceName: "wg0",
        version: "v1.36.1+k3s1",
        nodes: [server("tokyo-1", "10.100.0.1"), server("tokyo-2", "10.100.0.2"), server("tokyo-3", "10.100.0.3"), agent("home-pc", "10.100.0.20")],
        ...extra,
    };
}

async function run(args: K3sClusterArgs): Promise<{ rec: Recording; cluster: K3sCluster }> {
    let cluster: K3sCluster | undefined;
    const rec = await record(() => {
        const overlay = new command.remote.Command("overlay-wg-up", { connection: { host: "198.51.100.1", privateKey: pulumi.secret(TEST_KEY) }, create: "true" });
        cluster = new K3sCluster("c", args, { dependsOn: [overlay] });
    }, { outputs: RENDER_OUTPUTS });
    return { rec, cluster: cluster! };
}

const stdinSecret = (rec: Recording, step: string, name: string): string => {
    const line = String(rec.byName(step).inputs.stdin).split("\n").find((l) => l.startsWith(`${name} `));
    assert.ok(line, `${step} gets ${name} on stdin`);
    return Buffer.from(line.split(" ")[1], "base64").toString("utf8");
};

describe("token rotation (k3s.tokenRotation)", () => {
    it("is off by default: no rotate step, no keepers, no generation in config.yaml", async () => {
        const { rec, cluster } = await run(etcd3());
        assert.equal(rec.byType(CMD).filter((r) => r.name.endsWith("-k3s-token-rotate")).length, 0);
        assert.equal(rec.byName("c-token").inputs.keepers, undefined);
        assert.equal(k3sClusterInternals(cluster).tokenRotateStep, undefined);
        for (const r of rec.byType(CMD).filter((c) => c.name.endsWith("-k3s-config"))) assert.doesNotMatch(r.inputs.create, /token generation/);
    });

    it("a generation makes a new token, rotates it on the first server before any restart, and restarts every node", async () => {
        const { rec } = await run(etcd3({ tokenRotation: 2 }));
        assert.deepEqual(rec.byName("c-token").inputs.keepers, { tokenRotation: "2" });
        const rotate = rec.byName("c-tokyo-1-k3s-token-rotate");
        assert.match(rotate.inputs.create, /^# hybridinfra: tokyo-1\/k3s-token-rotate$/m);
        assert.equal(rotate.inputs.connection.host, "198.51.100.1");
        // The new token reaches the host on stdin only, the same value every config step writes.
        const token = stdinSecret(rec, "c-tokyo-1-k3s-token-rotate", "k3s_token");
        assert.ok(rec.isSecret(rotate, "stdin"));
        for (const n of ["tokyo-1", "tokyo-2", "tokyo-3", "home-pc"]) assert.equal(stdinSecret(rec, `c-${n}-k3s-config`, "k3s_token"), token);
        for (const r of rec.resources) for (const text of rec.plainStrings(r)) assert.ok(!text.includes(token), `the token leaked into a plain input of ${r.name}`);
        // Order: rotate → first server's install (restart) → tokyo-2 → tokyo-3 → the agent.
        assert.ok(rec.byName("c-tokyo-1-k3s-install").dependencyNames.includes("c-tokyo-1-k3s-token-rotate"));
        assert.ok(rec.byName("c-tokyo-1-k3s-install").dependencyNames.includes("overlay-wg-up"));
        // The rolling order: each node after the previous one is Ready (its drain step first).
        assert.ok(rec.byName("c-tokyo-2-k3s-drain").dependencyNames.includes("c-tokyo-1-k3s-install"));
        assert.ok(rec.byName("c-tokyo-3-k3s-drain").dependencyNames.includes("c-tokyo-2-k3s-node"));
        assert.ok(rec.byName("c-home-pc-k3s-drain").dependencyNames.includes("c-tokyo-3-k3s-node"));
        for (const n of ["tokyo-2", "tokyo-3", "home-pc"]) assert.ok(rec.byName(`c-${n}-k3s-install`).dependencyNames.includes(`c-${n}-k3s-drain`));
        // config.yaml states the generation on servers and agents, so each install step restarts k3s.
        for (const n of ["tokyo-1", "tokyo-2", "tokyo-3", "home-pc"]) {
            assert.match(rec.byName(`c-${n}-k3s-config`).inputs.create, /^# cluster token generation 2 \(k3s\.tokenRotation\): a new generation restarts k3s here with the rotated token\.$/m);
        }
        for (const r of [rotate]) {
            assertHostScript({ script: extractProgram(r.inputs.create), command: r.inputs.create }, `${r.name} create`);
            assertHostScript({ script: extractProgram(r.inputs.delete), command: r.inputs.delete }, `${r.name} delete`);
        }
    });

    it("the rotate script: k3s's own token is the old one, the new one comes from stdin, a re-run or a fresh host changes nothing", () => {
        const script = renderTokenRotateScript(2);
        assertSnapshot("token-rotate.sh", script);
        assert.match(script, /k3s_old_token="\$\(cat \/var\/lib\/rancher\/k3s\/server\/token\)"/);
        assert.match(script, /k3s_new_token="\$\(hi_secret k3s_token\)"/);
        assert.match(script, /K3S_TOKEN="\$k3s_old_token" k3s token rotate --new-token "\$k3s_new_token"/);
        assert.match(script, /already runs with token generation 2/);
        assert.match(script, /no k3s cluster runs here yet/);
    });

    it("k3s.tokenRotation is a whole number from 0, and never goes down", () => {
        const cfg = (k3s: Record<string, unknown>) => ({ hosts: [{ name: "a", ssh: { address: "203.0.113.10" }, location: "x", roles: ["hub", "server"], publicEndpoint: "203.0.113.10" }], k3s });
        assert.deepEqual(configProblems(cfg({ tokenRotation: 1 })), []);
        assert.deepEqual(configProblems(cfg({ tokenRotation: -1 })), [
            "k3s.tokenRotation: Too small: expected number to be >=0, got -1. Fix: use a whole number from 0 (the token the cluster was created with) up; raise it by one to rotate the cluster token",
        ]);
        assert.deepEqual(messages({ ...created, tokenRotation: 2 }, { ...created, tokenRotation: 1 }), [
            "k3s.tokenRotation: is 1, lower than 2 that the last `pulumi up` rotated the cluster token to; a lower generation would rotate the token again, not restore the old one. Fix: set it back to 2, or to 3 to rotate the token once more",
        ]);
        assert.deepEqual(messages(created, { ...created, tokenRotation: 1 }), []);
    });
});
