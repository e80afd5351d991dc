// Issue 17 §1: a host leaves in a safe order (`hosts[i].remove: true`): the first server drains it while the
// overlay still reaches it, the other hosts' overlay steps wait for that, and its own steps are left to
// Pulumi's delete phase. Mock engine: what is registered and what depends on what. (The order of a real run:
// tests/lab/removal.test.ts; the drain itself with a real kubectl and API server: tests/controlplane/drain.)
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { planCluster, HybridCluster, HybridClusterArgs, HostRole, removalProblems, vanishedHostProblems } from "../../components/src/cluster";
import { preferredAddress } from "../../components/src/wireguard";
import { Datastore } from "../../components/src/k3s";
import { record } from "../harness/mocks";
import { TEST_KEY } from "../harness/fixtures";
import { RENDER_OUTPUTS } from "../../tools/render-lib";

const spec = (leave: string[] = []): HybridClusterArgs => ({
    sshPrivateKey: pulumi.secret(TEST_KEY),
    hosts: [
        { name: "cloud", ssh: { address: "203.0.113.10" }, location: "cloud", publicEndpoint: "203.0.113.10", roles: [HostRole.Hub, HostRole.Server] },
        { name: "home1", ssh: { address: "192.168.50.11" }, location: "home", roles: [HostRole.Agent] },
        { name: "home2", ssh: { address: "192.168.50.12" }, location: "home", roles: [HostRole.Agent] },
    ].map((h) => (leave.includes(h.name) ? { ...h, remove: true } : h)),
});

describe("node removal in a safe order (issue 17 §1)", () => {
    it("remove: true registers none of the host's steps, and one node removal step on the first server that fails instead of forcing", async () => {
        const rec = await record(() => new HybridCluster("c", spec(["home2"])), { outputs: RENDER_OUTPUTS });
        const steps = rec.byType("command:remote:Command").map((r) => r.name);
        assert.deepEqual(steps.filter((n) => n.includes("home2")), ["c-node-removal-home2"]);
        const removal = rec.byName("c-node-removal-home2");
        assert.match(removal.inputs.create, /^# hybridinfra: cloud\/node-removal-home2$/m, "it runs on the first server");
        assert.match(removal.inputs.create, /k3s kubectl drain "\$k3s_node" --ignore-daemonsets --delete-emptydir-data --timeout=300s/);
        assert.match(removal.inputs.create, /hi_fail "drain of \$k3s_node did not finish within 300s: a PodDisruptionBudget blocks an eviction/);
        assert.equal(removal.inputs.delete, undefined, "nothing to undo: the node is gone");
    });

    it("every overlay step of the staying hosts waits for the drain, so the hub drops the peer only after it", async () => {
        const rec = await record(() => new HybridCluster("c", spec(["home2"])), { outputs: RENDER_OUTPUTS });
        for (const h of ["cloud", "home1"]) {
            assert.ok(rec.byName(`c-wg-${h}-wg-install`).dependencyNames.includes("c-node-removal-home2"), `${h}'s wg-install waits for the removal`);
            assert.ok(rec.byName(`c-wg-${h}-wg-config`).dependencyNames.includes(`c-wg-${h}-wg-install`), `${h}'s wg-config follows its install`);
        }
        assert.doesNotMatch(rec.byName("c-wg-cloud-wg-config").inputs.create, /# peer home2/, "the hub's config no longer has the peer");
        const plain = await record(() => new HybridCluster("c", spec()), { outputs: RENDER_OUTPUTS });
        assert.deepEqual(plain.byType("command:remote:Command").filter((r) => r.name.includes("node-removal")), [], "no removal step without remove: true");
    });

    it("the staying hosts keep their overlay addresses, even one that probed past the leaving host's", () => {
        // Find a name whose preferred address collides with home1's: without home1 it would take that address.
        const cidr = "10.100.0.0/24";
        let twin = "";
        for (let i = 0; twin === "" && i < 100000; i++) if (preferredAddress(`n${i}`, cidr) === preferredAddress("home1", cidr)) twin = `n${i}`;
        const args = spec(["home1"]);
        args.hosts.push({ name: twin, ssh: { address: "192.168.50.13" }, location: "home", roles: [HostRole.Agent] });
        const before = planCluster({ ...args, hosts: args.hosts.map((h) => ({ ...h, remove: false })) }).plannedAddresses;
        const during = planCluster(args).plannedAddresses;
        assert.notEqual(before[twin], preferredAddress(twin, cidr), "the twin probed past home1's address");
        assert.equal(during[twin], before[twin], `${twin} keeps ${before[twin]}`);
        assert.equal(during.home2, before.home2);
        assert.equal(during.home1, undefined);
    });

    it("retiring the first server of an etcd cluster (replaced in the same run, keeping 3): another member listed first drains it and takes over joins", async () => {
        const etcd = (order: string[], leave: string[] = []): HybridClusterArgs => ({
            sshPrivateKey: pulumi.secret(TEST_KEY),
            k3s: { datastore: Datastore.Etcd },
            hosts: [
                { name: "hub", ssh: { address: "203.0.113.9" }, location: "cloud", publicEndpoint: "203.0.113.9", roles: [HostRole.Hub] },
                ...order.map((n, i) => ({ name: n, ssh: { address: `203.0.113.${10 + i}` }, location: "tokyo", publicEndpoint: `203.0.113.${10 + i}`, roles: [HostRole.Server], ...(leave.includes(n) ? { remove: true } : {}) })),
            ],
        });
        const rec = await record(() => new HybridCluster("c", etcd(["tokyo-2", "tokyo-3", "tokyo-1", "tokyo-4"], ["tokyo-1"])), { outputs: RENDER_OUTPUTS });
        assert.match(rec.byName("c-node-removal-tokyo-1").inputs.create, /^# hybridinfra: tokyo-2\/node-removal-tokyo-1$/m, "the new first server drains the old one");
        assert.match(rec.byName("c-k3s-tokyo-3-k3s-config").inputs.create, /server: "https:\/\/10\.100\.0\.\d+:6443"/, "joins go through the new first server");
        assert.ok(rec.byName("c-k3s-tokyo-2-k3s-config").inputs.create.includes("cluster-init: true"), "cluster-init on a member with data is a no-op in k3s");
    });

    it("the first server, a hub and a jump host cannot leave this way, all reported at once", () => {
        const hosts = [
            { name: "cloud", roles: ["hub", "server"], ssh: {}, remove: true },
            { name: "home1", roles: ["agent"], ssh: {}, remove: true },
            { name: "home2", roles: ["agent"], ssh: { jumpHost: "home1" } },
        ];
        assert.deepEqual(
            removalProblems(hosts).map((e) => e.message),
            [
                'hosts[0].remove: is true on "cloud", the first server: it holds the datastore (sqlite) or started it (etcd), every node joins through it and the node removal runs on it. Fix: with k3s.datastore etcd, list first another server that is already a member (it takes over joins and the kubeconfig), then this one can leave; with sqlite the data lives only here: move the workloads to a new stack',
                'hosts[0].remove: is true on "cloud", a WireGuard hub: every other host reaches the overlay through it. Fix: give another host with a publicEndpoint the role "hub" in the same run, and remove "hub" from "cloud"\'s roles',
                'hosts[1].remove: is true on "home1", the SSH jump host of hosts[2] ("home2"). Fix: give hosts[2].ssh another jumpHost first, or remove "home2" in the same run',
            ],
        );
    });

    it("an entry deleted without a remove: true run first is refused, naming the host and the two-step fix", () => {
        const hosts = spec().hosts.filter((h) => h.name !== "home2");
        assert.deepEqual(
            vanishedHostProblems(["cloud", "home1", "home2"], hosts).map((e) => e.message),
            [
                'hosts: no longer lists "home2", which is in the cluster: deleting the entry directly drops its WireGuard peers before its drain, so its pods get no clean shutdown and the drain waits out its timeout. Fix: put the entry back with `remove: true`, run `pulumi up` (it drains "home2" while it is still reachable, then removes it), then delete the entry',
            ],
        );
        assert.deepEqual(vanishedHostProblems(["cloud", "home1"], hosts), [], "after the remove: true run, the entry may go");
        assert.deepEqual(vanishedHostProblems(undefined, hosts), [], "no record (first run, or deployed before the record existed): nothing refused");
    });
});
