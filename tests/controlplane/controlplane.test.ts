/**
 * A real control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) from
 * `bash tools/kube/build.sh`: nodes that mirror a stack's hosts become Ready through kwok's heartbeats, and
 * a Deployment's pods are placed by the real scheduler and marked Running/Ready by kwok.
 *
 * Without the binaries this file skips, unless HYBRIDINFRA_REQUIRE_CONTROLPLANE=1 (set by .ci/run), which
 * turns a missing binary into a failure.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { BUILD_HINT, createNodes, missingControlPlaneBinaries, pidAlive, portOpen, startControlPlane, waitFor, type ControlPlane, type KubeClient, type NodeSpec } from "../harness/controlplane";

const REGION = "topology.kubernetes.io/region";
const required = process.env.HYBRIDINFRA_REQUIRE_CONTROLPLANE === "1";
const missing = missingControlPlaneBinaries();

const NODES: NodeSpec[] = [
    { name: "hel-1", labels: { [REGION]: "eu-north", "node-role.kubernetes.io/control-plane": "true" }, arch: "amd64" },
    { name: "hel-nas", labels: { [REGION]: "eu-north" }, arch: "arm64", taints: ["hybridinfra.io/storage=nas:NoSchedule"] },
    { name: "ash-1", labels: { [REGION]: "us-east" }, arch: "amd64" },
];

interface Condition {
    type: string;
    status: string;
}
interface Pod {
    metadata: { name: string };
    spec: { nodeName?: string };
    status: { phase?: string; podIP?: string; conditions?: Condition[] };
}
interface Node {
    metadata: { name: string; labels: Record<string, string> };
    spec: { taints?: { key: string; value?: string; effect: string }[] };
    status: { conditions?: Condition[]; nodeInfo?: { architecture?: string } };
}

const isTrue = (conds: Condition[] | undefined, type: string) => conds?.some((c) => c.type === type && c.status === "True") ?? false;

if (missing.length > 0) {
    describe("control plane", () => {
        if (required) {
            it("can run here (HYBRIDINFRA_REQUIRE_CONTROLPLANE=1)", () => {
                assert.fail(`control plane binaries missing: ${missing.join(", ")}; ${BUILD_HINT}`);
            });
        } else {
            it(`skipped: ${missing.join(", ")} missing; ${BUILD_HINT} (HYBRIDINFRA_REQUIRE_CONTROLPLANE=1 makes this a failure)`, { skip: true }, () => {});
        }
    });
} else {
    describe("control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)", { timeout: 600_000 }, () => {
        let cp: ControlPlane | undefined;
        let client: KubeClient;
        let startError: unknown;

        before(async () => {
            try {
                cp = await startControlPlane({
                    // The failover flags a k3s server config renders for kube-controller-manager.
                    controllerManagerArgs: ["node-monitor-period=2s", "node-monitor-grace-period=20s"],
                });
                client = cp.client;
            } catch (e) {
                startError = e; // reported by every test below, so a failed start counts as failures
            }
        });
        /** The running control plane, or the error that kept it from starting. */
        const started = (): ControlPlane => {
            if (!cp) throw startError ?? new Error("control plane not running");
            return cp;
        };

        after(async () => {
            await cp?.stop();
        });

        it("serves /readyz and reports v1.36 from the built binaries", async () => {
            started();
            const v = await client.get<{ gitVersion: string; major: string; minor: string }>("/version");
            assert.match(v.gitVersion, /^v1\.36\.\d+$/);
            assert.equal(v.minor, "36");
            const r = await client.raw("GET", "/readyz?verbose");
            assert.equal(r.status, 200, r.body);
            assert.match(r.body, /readyz check passed/);
            assert.match(started().kubeconfig, /client-certificate-data:/);
        });

        it("nodes mirroring the stack's hosts register and become Ready through kwok heartbeats", async () => {
            await createNodes(started().kubeconfig, NODES);
            // Ready through kwok, and kube-controller-manager's node lifecycle controller has lifted the
            // node.kubernetes.io/not-ready taint it put on each new node.
            const settled = (n: Node) => isTrue(n.status.conditions, "Ready") && !(n.spec.taints ?? []).some((t) => t.key.startsWith("node.kubernetes.io/"));
            const ready = await waitFor(
                "3 Ready nodes",
                async () => {
                    const nodes = await client.list<Node>("/api/v1/nodes");
                    return nodes.length === NODES.length && nodes.every(settled) ? nodes : undefined;
                },
                120_000,
            );
            const byName = new Map(ready.map((n) => [n.metadata.name, n]));
            for (const want of NODES) {
                const n = byName.get(want.name);
                assert.ok(n, `node ${want.name} exists`);
                assert.equal(n.metadata.labels[REGION], want.labels?.[REGION]);
                assert.equal(n.metadata.labels["kubernetes.io/arch"], want.arch);
                assert.equal(n.status.nodeInfo?.architecture, want.arch);
            }
            assert.deepEqual(byName.get("hel-nas")?.spec.taints, [{ key: "hybridinfra.io/storage", value: "nas", effect: "NoSchedule" }]);
            assert.deepEqual(new Set(ready.map((n) => n.metadata.labels[REGION])), new Set(["eu-north", "us-east"]));
            // Heartbeats go through node Leases in kube-node-lease, renewed by kwok.
            const leases = await waitFor("node leases", async () => {
                const l = await client.list<{ metadata: { name: string } }>("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases");
                return l.length === NODES.length ? l : undefined;
            });
            assert.deepEqual(leases.map((l) => l.metadata.name).sort(), NODES.map((n) => n.name).sort());
        });

        it("the real scheduler spreads a Deployment over regions, avoiding the tainted node, and kwok runs the pods", async () => {
            started();
            await client.create("/apis/apps/v1/namespaces/default/deployments", {
                apiVersion: "apps/v1",
                kind: "Deployment",
                metadata: { name: "web" },
                spec: {
                    replicas: 3,
                    selector: { matchLabels: { app: "web" } },
                    template: {
                        metadata: { labels: { app: "web" } },
                        spec: {
                            containers: [{ name: "web", image: "registry.invalid/web:1", resources: { requests: { cpu: "100m", memory: "64Mi" } } }],
                            topologySpreadConstraints: [
                                { maxSkew: 1, topologyKey: REGION, whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app: "web" } } },
                            ],
                        },
                    },
                },
            });
            const pods = await waitFor(
                "3 Running, Ready pods",
                async () => {
                    const ps = await client.list<Pod>("/api/v1/namespaces/default/pods?labelSelector=app%3Dweb");
                    return ps.length === 3 && ps.every((p) => p.status.phase === "Running" && isTrue(p.status.conditions, "Ready")) ? ps : undefined;
                },
                180_000,
            );
            const region = new Map(NODES.map((n) => [n.name, n.labels?.[REGION]]));
            const perRegion = new Map<string, number>();
            for (const p of pods) {
                assert.ok(p.spec.nodeName && region.has(p.spec.nodeName), `pod ${p.metadata.name} bound to one of our nodes, got ${p.spec.nodeName}`);
                assert.notEqual(p.spec.nodeName, "hel-nas", "no pod on the node tainted NoSchedule");
                assert.ok(isTrue(p.status.conditions, "PodScheduled"));
                assert.ok(p.status.podIP, `pod ${p.metadata.name} got an IP from kwok`);
                const r = region.get(p.spec.nodeName)!;
                perRegion.set(r, (perRegion.get(r) ?? 0) + 1);
            }
            // maxSkew 1 over two regions with 3 pods: 2 + 1.
            assert.deepEqual([...perRegion.values()].sort(), [1, 2]);
            const deploy = await waitFor("deployment status", async () => {
                const d = await client.get<{ status: { readyReplicas?: number; availableReplicas?: number } }>("/apis/apps/v1/namespaces/default/deployments/web");
                return d.status.readyReplicas === 3 ? d : undefined;
            });
            assert.equal(deploy.status.availableReplicas, 3);
        });

        it("stop() leaves no process, port or temp dir behind", async () => {
            const running = started();
            assert.equal(running.processes.length, 5);
            for (const p of running.processes) assert.ok(pidAlive(p.pid), `${p.name} (pid ${p.pid}) runs before stop`);
            assert.ok(existsSync(running.dir));
            await running.stop();
            cp = undefined;
            for (const p of running.processes) assert.equal(pidAlive(p.pid), false, `${p.name} (pid ${p.pid}) still alive after stop`);
            for (const port of running.ports) assert.equal(await portOpen(port), false, `port ${port} still open after stop`);
            assert.equal(existsSync(running.dir), false, `${running.dir} removed`);
            await running.stop(); // idempotent
        });
    });
}
