/**
 * Changes to a running cluster that k3s does not make in place (issue 16 §2): the recorded settings and the
 * comparison the stack program runs before registering anything (the real engine's side of it is
 * tests/engine/day2.test.ts). Exact texts: each names the key path, shows both values and gives the fix.
 */
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { compareK3sVersions, Datastore, K3sRecordedSettings, k3sChangeProblems, NodeRole, recordK3sSettings } from "../../components/src/k3s";
import { configProblems } from "../harness/config";

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
            clusterCidr: "10.42.0.0/16",
            serviceCidr: "10.43.0.0/16",
            flannelBackend: "vxlan",
            secretsEncryption: false,
        });
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

    it("the server that started the cluster (sqlite's data, etcd's cluster-init) stays first", () => {
        const etcd = recordK3sSettings({ nodes: servers("tokyo-1", "tokyo-2", "tokyo-3") });
        assert.deepEqual(messages(etcd, recordK3sSettings({ nodes: servers("tokyo-2", "tokyo-1", "tokyo-3") })), [
            'hosts: make "tokyo-2" the first server, but "tokyo-1" started the embedded etcd cluster (cluster-init); the new first server would start a second, empty cluster. Fix: keep "tokyo-1" as the first host with role "server" in hosts (add new servers after it), or create a new cluster (a new stack) with it and move the workloads',
        ]);
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
        const cfg = (k3s: Record<string, unknown>) => ({ hosts: [{ name: "a", ssh: { host: "203.0.113.10" }, location: "x", roles: ["hub", "server"], publicEndpoint: "203.0.113.10" }], k3s });
        assert.deepEqual(configProblems(cfg({ version: "v1.36.1+k3s1", allowDowngrade: true })), []);
        assert.deepEqual(configProblems(cfg({ allowDowngrade: "yes" })), ['k3s.allowDowngrade: expected boolean, received string, got "yes". Fix: use true to accept a k3s.version older than the one the last `pulumi up` installed, or false (the default)']);
    });
});
