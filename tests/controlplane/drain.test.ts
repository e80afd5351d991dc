/**
 * The drain our k3s node removal runs (`renderNodeRemoveScript`: `k3s kubectl drain …`, then
 * `k3s kubectl delete node …`), run with a REAL kubectl (built from the pinned k8s.io/kubernetes by
 * `bash tools/kube/build.sh`) and the very arguments the script renders (`nodeRemovalKubectlArgs`), against a
 * REAL control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler; kwok plays the kubelets
 * and, like a kubelet, removes a pod once it has a deletionTimestamp).
 *
 * The app is the project's ExposedApp (2 replicas, so it gets a PodDisruptionBudget with minAvailable 1),
 * applied by the REAL Pulumi engine and pulumi-kubernetes provider. It is applied while only `home-1` exists,
 * so both replicas run there (as after the other site was down); then `home-2` and `cloud-1` join. Draining
 * `home-1` must evict both, and the budget lets the second go only once the first one's replacement is Ready
 * elsewhere.
 *
 * Without the binaries this file skips, unless HYBRIDINFRA_REQUIRE_CONTROLPLANE=1 or HYBRIDINFRA_REQUIRE_ENGINE=1,
 * which turn a missing binary into a failure.
 */
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { ExposedApp, NodeRole, planNodeConfig, REGION_LABEL } from "../../components/src";
import { nodeRemovalKubectlArgs, renderNodeRemoveScript } from "../../components/src/k3s/scripts";
import { ControlPlane, createNodes, KUBE_BIN_DIR, KubeClient, NodeSpec, startControlPlane, waitFor } from "../harness/controlplane";
import { changes, createEngineStack, EngineStack, skipIngressAwait } from "../harness/engine";
import { realPartsSkipReason } from "../harness/realParts";

/** Built by tools/kube/build.sh from the same pinned k8s.io/kubernetes as the control plane. */
export const KUBECTL = path.join(KUBE_BIN_DIR, "kubectl");

const why = realPartsSkipReason(KUBECTL);

const APP = "web";
const DRAINED = "home-1";

/** Nodes as our k3s config registers them (region label from the location). */
function node(name: string, location: string): NodeSpec {
    const planned = planNodeConfig({ role: NodeRole.Agent, node: { name, location }, nodeIp: "10.0.0.1", interfaceName: "wg0" });
    return { name, labels: planned.labels, taints: planned.taints };
}

interface PodView {
    name: string;
    node?: string;
    ready: boolean;
    deleting: boolean;
}

async function pods(client: KubeClient): Promise<PodView[]> {
    const items = await client.list(`/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent(`app.kubernetes.io/name=${APP}`)}`);
    return items.map((p) => ({
        name: p.metadata.name,
        node: p.spec.nodeName,
        ready: (p.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True"),
        deleting: p.metadata.deletionTimestamp !== undefined,
    }));
}

/** Counts a healthy replica as the disruption controller does: Ready and not being deleted. */
const healthy = (ps: PodView[]) => ps.filter((p) => p.ready && !p.deleting);

/** One pod state from the watch, in the API server's (etcd revision) order. */
interface PodEvent extends PodView {
    type: string;
    /** The reason of the pod's DisruptionTarget condition ("EvictionByEvictionAPI" when evicted). */
    disruption: string;
}

// One line per watch event; kubectl prints the WatchEvent ({type, object}) through the template.
const WATCH_TEMPLATE =
    '{{.type}} {{.object.metadata.name}} {{or .object.spec.nodeName "-"}}' +
    ' {{range .object.status.conditions}}{{if eq .type "Ready"}}{{.status}}{{end}}{{end}}' +
    ' {{if .object.metadata.deletionTimestamp}}deleting{{else}}live{{end}}' +
    ' {{range .object.status.conditions}}{{if eq .type "DisruptionTarget"}}{{.reason}}{{end}}{{end}}{{"\\n"}}';

function parseEvent(line: string): PodEvent {
    const [type, name, nodeName, ready, state, disruption] = line.split(" ");
    return { type, name, node: nodeName === "-" ? undefined : nodeName, ready: ready === "True", deleting: state === "deleting", disruption: disruption ?? "" };
}

/** `kubectl get pods --watch`: every change of the app's pods, in order, until `stop()`. */
function watchPods(kubeconfigPath: string, home: string) {
    const child = spawn(
        KUBECTL,
        ["get", "pods", "-n", "default", "-l", `app.kubernetes.io/name=${APP}`, "--watch", "--output-watch-events", "-o", `go-template=${WATCH_TEMPLATE}`, `--kubeconfig=${kubeconfigPath}`],
        { env: { PATH: process.env.PATH ?? "", HOME: home }, stdio: ["ignore", "pipe", "pipe"] },
    );
    const events: PodEvent[] = [];
    let buf = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split("\n");
        buf = lines.pop()!;
        for (const l of lines) if (l.trim() !== "") events.push(parseEvent(l.trim()));
    });
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
    return {
        events,
        stderr: () => err,
        async stop() {
            child.kill("SIGTERM");
            await closed;
        },
    };
}

function run(args: string[], home: string): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve, reject) => {
        // HOME: kubectl keeps its discovery cache under ~/.kube; keep it inside the control plane's temp dir.
        const child = spawn(KUBECTL, args, { env: { PATH: process.env.PATH ?? "", HOME: home }, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        child.stdout.on("data", (d: Buffer) => (output += d.toString()));
        child.stderr.on("data", (d: Buffer) => (output += d.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, output }));
    });
}

describe("real kubectl + real control plane: the drain and node delete of our k3s node removal", { skip: why }, () => {
    let cp: ControlPlane;
    let client: KubeClient;
    let es: EngineStack;
    const args = nodeRemovalKubectlArgs(DRAINED);
    let before_: PodView[] = [];
    let drain: { code: number | null; output: string } = { code: null, output: "" };
    let events: PodEvent[] = [];
    let minAvailable = 0;

    before(async () => {
        cp = await startControlPlane();
        client = cp.client;
        await createNodes(cp.kubeconfig, [node(DRAINED, "home")]);
        await waitFor(`${DRAINED} Ready`, async () => {
            const n = await client.get(`/api/v1/nodes/${DRAINED}`);
            return n.status?.conditions?.some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True");
        });
        es = await createEngineStack({
            project: "hybridinfra-drain",
            stack: "drain",
            config: { "test:kubeconfig": { value: cp.kubeconfig, secret: true } },
            program: async () => {
                skipIngressAwait();
                const provider = new k8s.Provider("cluster", { kubeconfig: new pulumi.Config("test").requireSecret("kubeconfig"), enableServerSideApply: true });
                new ExposedApp(
                    APP,
                    { appName: APP, image: "nginx:1.27", replicas: 2, ports: [{ containerPort: 80 }], hostnames: ["web.example.org"] },
                    { providers: { kubernetes: provider } },
                );
                return {};
            },
        });
    });

    after(async () => {
        try {
            await es?.dispose(true);
        } finally {
            await cp?.stop();
        }
    });

    it("the rendered removal script runs exactly these kubectl arguments", () => {
        const script = renderNodeRemoveScript({ nodeName: DRAINED });
        const shared = nodeRemovalKubectlArgs('"$k3s_node"');
        assert.ok(script.includes(`k3s kubectl ${shared.drain.join(" ")};`), script);
        assert.ok(script.includes(`k3s kubectl ${shared.deleteNode.join(" ")}\n`), script);
        assert.deepEqual(args.drain.slice(0, 2), ["drain", DRAINED]);
    });

    it("ExposedApp through the real engine: both replicas Ready on the only node, PDB minAvailable 1 with 1 disruption allowed", async () => {
        const res = await es.stack.up();
        assert.deepEqual(Object.keys(changes(res.summary)), ["create"]);
        before_ = await waitFor("2 Ready replicas", async () => {
            const ps = healthy(await pods(client));
            return ps.length === 2 ? ps : undefined;
        });
        assert.deepEqual(before_.map((p) => p.node), [DRAINED, DRAINED]);
        const pdb = await waitFor("PDB status observed", async () => {
            const p = await client.get(`/apis/policy/v1/namespaces/default/poddisruptionbudgets/${APP}`);
            return p.status?.observedGeneration === p.metadata.generation && p.status?.currentHealthy === 2 ? p : undefined;
        });
        minAvailable = pdb.spec.minAvailable as number;
        assert.equal(minAvailable, 1);
        assert.equal(pdb.status.disruptionsAllowed, 1);
        // The other nodes join only now (two regions in all), so the drain has somewhere to put the replacements.
        await createNodes(cp.kubeconfig, [node("home-2", "home"), node("cloud-1", "cloud")]);
        await waitFor("3 nodes Ready", async () => {
            const ns = await client.list("/api/v1/nodes");
            return ns.length === 3 && ns.every((n) => n.status?.conditions?.some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True"));
        });
    });

    it("the drain cordons the node, evicts both pods through the eviction API, and exits 0 within its timeout", async (t) => {
        assert.equal(before_.length, 2, "needs the previous test's replicas");
        const watch = watchPods(cp.kubeconfigPath, cp.dir);
        try {
            await waitFor("the watch lists the 2 pods", () => watch.events.length >= 2);
            drain = await run([...args.drain, `--kubeconfig=${cp.kubeconfigPath}`], cp.dir);
            await waitFor("the watch sees 2 Ready replacements", () => {
                const last = new Map(watch.events.map((e) => [e.name, e] as const));
                const live = [...last.values()].filter((e) => e.type !== "DELETED" && !before_.some((b) => b.name === e.name));
                return live.length === 2 && live.every((e) => e.ready && !e.deleting);
            });
        } finally {
            await watch.stop();
        }
        events = watch.events;
        process.stdout.write(drain.output.replace(/^/gm, "    kubectl| "));
        t.diagnostic(`pod watch: ${events.map((e) => `${e.type} ${e.name}@${e.node ?? "-"} ready=${e.ready} ${e.deleting ? "deleting" : "live"} ${e.disruption}`).join("; ")}`);
        assert.equal(drain.code, 0, `kubectl drain exited ${drain.code}:\n${drain.output}`);
        assert.doesNotMatch(drain.output, /global timeout reached|timed out/i);
        assert.match(drain.output, new RegExp(`node/${DRAINED} cordoned`));
        assert.match(drain.output, new RegExp(`node/${DRAINED} drained`));
        for (const p of before_) {
            // kubectl says "evicting" for the eviction API ("deleting" for a plain delete), and the API server
            // marks an evicted pod with a DisruptionTarget condition of reason EvictionByEvictionAPI.
            assert.match(drain.output, new RegExp(`evicting pod default/${p.name}\\b`));
            assert.match(drain.output, new RegExp(`pod/${p.name} evicted`));
            assert.ok(
                events.some((e) => e.name === p.name && e.disruption === "EvictionByEvictionAPI"),
                `${p.name} carries DisruptionTarget=EvictionByEvictionAPI before it goes`,
            );
            assert.ok(events.some((e) => e.name === p.name && e.type === "DELETED"), `${p.name} is gone (kwok, like a kubelet, removes it)`);
        }
        if (/Cannot evict pod as it would violate the pod's disruption budget/.test(drain.output)) {
            t.diagnostic("the API server answered 429 to an eviction and kubectl retried it");
        } else {
            // kubectl sends both evictions at once. The second one's budget update conflicts with the first's,
            // so the API server re-reads the budget 500 ms later (its EvictionsRetry); when the replacement is
            // Ready by then (kwok makes it Ready at once) the eviction goes through instead of answering 429.
            t.diagnostic("no 429 reached kubectl: the API server held the second eviction until the budget allowed it");
        }
        const n = await client.get(`/api/v1/nodes/${DRAINED}`);
        assert.equal(n.spec.unschedulable, true, `${DRAINED} is cordoned`);
    });

    it("the PDB was respected: the second pod was evicted only once a replacement was Ready, and Ready replicas never fell below minAvailable", () => {
        assert.ok(events.length > 0, "needs the drain's pod watch");
        // Replay the watch (the API server's order) and count healthy replicas after each event.
        const state = new Map<string, PodEvent>();
        const healthyNow = () => healthy([...state.values()].filter((e) => e.type !== "DELETED")).length;
        let minHealthy = Number.POSITIVE_INFINITY;
        const evictedAt: number[] = [];
        const replacementsReadyAtEviction: number[] = [];
        for (const e of events) {
            const prev = state.get(e.name);
            state.set(e.name, e);
            minHealthy = Math.min(minHealthy, healthyNow());
            if (before_.some((b) => b.name === e.name) && e.deleting && prev?.deleting !== true) {
                evictedAt.push(events.indexOf(e));
                replacementsReadyAtEviction.push(healthy([...state.values()].filter((x) => x.type !== "DELETED" && !before_.some((b) => b.name === x.name))).length);
            }
        }
        assert.equal(evictedAt.length, 2, `both original pods got a deletionTimestamp: ${JSON.stringify(events)}`);
        assert.ok(minHealthy >= minAvailable, `Ready replicas fell to ${minHealthy} (minAvailable ${minAvailable})`);
        assert.equal(replacementsReadyAtEviction[0], 0, "the first eviction needed no replacement (1 disruption allowed)");
        assert.ok(replacementsReadyAtEviction[1] >= 1, `the second eviction came before any replacement was Ready: ${JSON.stringify(events)}`);
    });

    it("replacements are Ready on the other nodes, none left on the drained node", async () => {
        const now = await waitFor("2 Ready replacements", async () => {
            const ps = await pods(client);
            const h = healthy(ps);
            return ps.length === 2 && h.length === 2 ? h : undefined;
        });
        for (const p of now) {
            assert.notEqual(p.node, DRAINED, `${p.name} runs on the drained node`);
            assert.ok(!before_.some((b) => b.name === p.name), `${p.name} is a replacement`);
        }
        // Both regions' other nodes are eligible; the soft spread over regions puts one replica in each.
        const regionOf = new Map((await client.list("/api/v1/nodes")).map((n) => [n.metadata.name as string, n.metadata.labels[REGION_LABEL] as string]));
        assert.deepEqual(now.map((p) => regionOf.get(p.node!)).sort(), ["cloud", "home"]);
    });

    it("the node delete that follows the drain removes the Node", async () => {
        const del = await run([...args.deleteNode, `--kubeconfig=${cp.kubeconfigPath}`], cp.dir);
        assert.equal(del.code, 0, `kubectl delete node exited ${del.code}:\n${del.output}`);
        assert.match(del.output, new RegExp(`node "${DRAINED}" deleted`));
        const res = await client.raw("GET", `/api/v1/nodes/${DRAINED}`);
        assert.equal(res.status, 404, `GET node after delete: ${res.status} ${res.body}`);
        assert.deepEqual((await client.list("/api/v1/nodes")).map((x) => x.metadata.name).sort(), ["cloud-1", "home-2"]);
    });
});
