/**
 * The benchmark's structural targets, untimed, on N = 10 and N = 50 (hub and mesh), with the same library
 * code as `npm run bench`: the critical path of host steps stays at most 6 and does not grow with N; adding
 * a host touches only what it must and restarts nothing; changing an app's image touches no host step.
 */
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { ADDED_HOST, generateCluster, Topology } from "../../bench/generate";
import { blastRadius, criticalPath, hostSteps, renderedBytes, runCluster } from "../../bench/lib";
import type { Recording } from "../harness/mocks";

const SIZES = [10, 50] as const;

async function runs(topology: Topology, n: number): Promise<{ base: Recording; added: Recording; image: Recording }> {
    return {
        base: await runCluster(generateCluster({ topology, n })),
        added: await runCluster(generateCluster({ topology, n, addHost: true })),
        image: await runCluster(generateCluster({ topology, n, appImage: "nginx:1.27.4" })),
    };
}

describe("bench: generated clusters", () => {
    it("have N hosts: one hub, one server, the rest agents, a fifth to two fifths public, NAT'd hosts behind their site's public host", () => {
        for (const n of [10, 50, 1000]) {
            const c = generateCluster({ topology: Topology.Hub, n });
            assert.equal(c.hosts.length, n);
            assert.deepEqual(c.hosts.filter((h) => h.roles.includes("hub")).map((h) => h.name), ["hub"]);
            assert.deepEqual(c.hosts.filter((h) => h.roles.includes("server")).map((h) => h.name), ["server"]);
            assert.equal(c.hosts.filter((h) => h.roles.includes("agent")).length, n - 2);
            const pub = c.hosts.filter((h) => h.publicEndpoint !== undefined).length;
            assert.ok(pub >= n / 6 && pub <= (2 * n) / 5, `${pub} of ${n} public`);
            for (const h of c.hosts.filter((x) => x.publicEndpoint === undefined)) {
                const jump = c.hosts.find((x) => x.name === h.ssh.jumpHost);
                assert.ok(jump?.publicEndpoint !== undefined && jump.location === h.location, `${h.name} is reached through a public host of its site`);
            }
        }
        const added = generateCluster({ topology: Topology.Mesh, n: 10, addHost: true });
        const extra = added.hosts[added.hosts.length - 1];
        assert.equal(extra.name, ADDED_HOST);
        assert.equal(extra.publicEndpoint, undefined, "the added host is a NAT'd home agent");
        assert.deepEqual(added.hosts.slice(0, 10), generateCluster({ topology: Topology.Mesh, n: 10 }).hosts, "the change only appends");
    });
});

for (const topology of [Topology.Hub, Topology.Mesh]) {
    describe(`bench structure: ${topology} topology, N = ${SIZES.join(" and ")}`, () => {
        const results = new Map<number, Awaited<ReturnType<typeof runs>>>();
        const get = async (n: number) => {
            if (!results.has(n)) results.set(n, await runs(topology, n));
            return results.get(n)!;
        };

        it("critical path: at most 6 host steps, the same for every N: wg-install, wg-config, server install, agent drain (a no-op on a first install), agent install, node Ready", async () => {
            const paths = [];
            for (const n of SIZES) paths.push(criticalPath((await get(n)).base));
            for (const p of paths) {
                assert.ok(p.length <= 6, `critical path ${p.length}: ${p.chain.join(" → ")}`);
                assert.equal(p.chain.length, p.length);
            }
            assert.equal(new Set(paths.map((p) => p.length)).size, 1, `does not grow with N: ${paths.map((p) => p.length).join(", ")}`);
            const kinds = paths[0].chain.map((s) => s.split("/")[1].replace(/^k3s-(node|drain)-.*/, "k3s-$1"));
            assert.deepEqual(kinds, ["wg-install", "wg-config", "k3s-install", "k3s-drain", "k3s-install", "k3s-node"]);
        });

        it("every k3s install waits (transitively) for every host's wg-config, and k3s-config steps wait for nothing on a host", async () => {
            const rec = (await get(10)).base;
            const byUrn = new Map(rec.resources.map((r) => [r.urn, r]));
            const steps = hostSteps(rec);
            const wgConfigs = new Set(steps.filter((s) => s.step === "wg-config").map((s) => s.resource.urn));
            for (const s of steps.filter((x) => x.step === "k3s-config")) {
                assert.deepEqual(s.resource.dependencies.map((d) => byUrn.get(d)!.type), ["random:index/randomPassword:RandomPassword"], `${s.resource.name} depends on the token only`);
            }
            const reach = (urn: string, seen = new Set<string>()): Set<string> => {
                for (const d of byUrn.get(urn)!.dependencies) {
                    if (!seen.has(d)) {
                        seen.add(d);
                        reach(d, seen);
                    }
                }
                return seen;
            };
            for (const s of steps.filter((x) => x.step === "k3s-install")) {
                const before = reach(s.resource.urn);
                assert.ok([...wgConfigs].every((w) => before.has(w)), `${s.resource.name} starts after the whole overlay`);
            }
        });

        it("adding a NAT'd home agent changes only wg-config steps on existing hosts (the hub's alone in hub topology) and restarts nothing", async () => {
            for (const n of SIZES) {
                const { base, added } = await get(n);
                const b = blastRadius(base, added);
                assert.equal(b.restarts, 0, `n=${n}: no restart`);
                assert.deepEqual(b.restartedHosts, []);
                assert.deepEqual(b.removedSteps, []);
                assert.ok(b.changedSteps.every((c) => c.step === "wg-config"), `n=${n}: only wg-config changes: ${b.changedSteps.map((c) => c.name).join(", ")}`);
                if (topology === Topology.Hub) {
                    assert.deepEqual(b.changedSteps.map((c) => `${c.host}/${c.step}`), ["hub/wg-config"]);
                } else {
                    // Every host gains a peer (or a relayed address on its relay peer): config syncs only.
                    assert.equal(b.changedSteps.length, n);
                }
                // The only new step on an existing host is the new node's Ready wait on the server.
                assert.deepEqual(b.newStepsOnExistingHosts, [`server/k3s-drain-${ADDED_HOST}`, `server/k3s-node-${ADDED_HOST}`]);
            }
        });

        it("changing an app's image changes no host step, only the app's Deployment", async () => {
            for (const n of SIZES) {
                const { base, image } = await get(n);
                const b = blastRadius(base, image);
                assert.deepEqual(b.changedSteps, []);
                assert.deepEqual(b.newStepsOnExistingHosts, []);
                assert.equal(b.otherResourcesChanged, 1);
                const changed = image.resources.filter((r) => {
                    const old = base.resources.find((o) => o.urn === r.urn);
                    return old !== undefined && JSON.stringify(old.inputs) !== JSON.stringify(r.inputs);
                });
                assert.deepEqual(changed.map((r) => r.type), ["kubernetes:apps/v1:Deployment"]);
            }
        });

        if (topology === Topology.Mesh) {
            it("mesh config per host grows by the same amount for every added peer (linear in N)", async () => {
                const [small, large] = await Promise.all(SIZES.map(async (n) => renderedBytes((await get(n)).base).wgConfigLargest));
                const perPeer = (large - small) / (SIZES[1] - SIZES[0]);
                assert.ok(perPeer > 0 && perPeer < 400, `about one [Peer] section per added host: ${perPeer} bytes`);
            });
        }
    });
}

describe("bench blast radius rules", () => {
    it("counts a k3s config change as one k3s restart on its host (its install step re-runs and restarts k3s)", async () => {
        const base = await runCluster(generateCluster({ topology: Topology.Hub, n: 10 }));
        const cfg = generateCluster({ topology: Topology.Hub, n: 10 });
        const changed = await runCluster({ ...cfg, hosts: cfg.hosts.map((h) => (h.name === "cloud-0" ? { ...h, labels: { disk: "ssd" } } : h)) });
        const b = blastRadius(base, changed);
        assert.deepEqual(b.changedSteps.map((c) => `${c.host}/${c.step}`).sort(), ["cloud-0/k3s-config", "cloud-0/k3s-install", "server/k3s-drain-cloud-0", "server/k3s-node-cloud-0"]);
        assert.deepEqual(b.restartedHosts, ["cloud-0"]);
        assert.equal(b.restarts, 1);
        assert.equal(b.changedSteps.find((c) => c.step === "k3s-node-cloud-0")?.restart, undefined, "a label sync is not a restart");
        assert.equal(b.changedSteps.find((c) => c.step === "k3s-drain-cloud-0")?.restart, undefined, "the drain before it is not a restart");
    });
});
