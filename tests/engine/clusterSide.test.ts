/**
 * The cluster side of every shipped stack, applied by the REAL Pulumi engine and the REAL pulumi-kubernetes
 * provider to a REAL control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler; kwok
 * plays the kubelets). Nodes mirror the stack's k3s nodes as our k3s config registers them (name, region
 * label from the location, user labels and taints).
 *
 * What stays out, and why (README "What cannot run here"):
 * - host steps (@pulumi/command): its plugin cannot be built here;
 * - TLS from the private CA (@pulumi/tls) and Cloudflare resources (@pulumi/cloudflare): their plugins cannot
 *   be built here. Apps in `private-ca` mode are applied in `existing-secret` mode, which yields the same
 *   Deployment, Service, Ingress and PodDisruptionBudget and differs only by the TLS Secret's origin.
 */
import * as assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import type { ConfigValue, EngineEvent } from "@pulumi/pulumi/automation";
import { CLOUDFLARED_IMAGE, planCluster, createCloudflaredConnector, ExposedApp, ExposedAppArgs, IngressMode, planNodeConfig, TlsMode, REGION_LABEL, NodeRole } from "../../components/src";
import { parseClusterConfig } from "../../infra/config";
import { clusterArgsFromConfig } from "../../infra/program";
import { listStacks, loadStack, PROJECT } from "../../tools/stack";
import { ControlPlane, createNodes, KubeClient, startControlPlane, waitFor } from "../harness/controlplane";
import { changes, createEngineStack, EngineStack, skipIngressAwait } from "../harness/engine";
import { realPartsSkipReason } from "../harness/realParts";

const why = realPartsSkipReason();

/** The stack's config as `pulumi config set` would store it (placeholder secrets, marked secret). */
function stackConfig(stack: string): Record<string, ConfigValue> {
    const loaded = loadStack(stack);
    return Object.fromEntries(Object.entries(loaded.config).map(([k, v]) => [k, { value: v, secret: loaded.secretKeys.includes(k) }]));
}

/**
 * The cluster side as the composition hands it down: the apps (TLS from the private CA swapped for a named
 * secret) and, in tunnel mode, the tunnel's name (the connector gets a placeholder token: no Cloudflare API).
 */
function clusterSide(): { apps: ExposedAppArgs[]; tunnelName?: string } {
    const cfg = parseClusterConfig(new pulumi.Config(PROJECT).requireObject("cluster"));
    const args = clusterArgsFromConfig(cfg);
    const c = planCluster(args);
    const apps = c.apps.map((a) => (a.tls?.mode === TlsMode.PrivateCa ? { ...a, tls: { mode: TlsMode.ExistingSecret, secretName: `${a.appName}-tls` } } : a));
    const tunnel = c.ingressMode === IngressMode.CloudflareTunnel;
    return { apps, ...(tunnel ? { tunnelName: args.ingress?.cloudflare?.tunnelName ?? pulumi.getStack() } : {}) };
}

/** The k3s nodes of a stack as kubelets would register them with our rendered config. */
function nodesOf(stack: string) {
    const cfg = parseClusterConfig(JSON.parse(loadStack(stack).config[`${PROJECT}:cluster`]));
    return cfg.hosts
        .filter((h) => h.roles.includes("server") || h.roles.includes("agent"))
        .map((h) => {
            const planned = planNodeConfig({
                role: h.roles.includes("server") ? NodeRole.Server : NodeRole.Agent,
                node: { name: h.name, location: h.location, ...(h.labels !== undefined ? { labels: h.labels } : {}), ...(h.taints !== undefined ? { taints: h.taints } : {}) },
                nodeIp: "10.0.0.1",
                interfaceName: "wg0",
            });
            return { name: h.name, labels: planned.labels, taints: planned.taints };
        });
}

interface PodView {
    name: string;
    node?: string;
    ready: boolean;
    deleting: boolean;
}

async function podsOf(client: KubeClient, namespace: string, app: string): Promise<PodView[]> {
    const items = await client.list(`/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(`app.kubernetes.io/name=${app}`)}`);
    return items.map((p) => ({
        name: p.metadata.name,
        node: p.spec.nodeName,
        ready: (p.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True"),
        deleting: p.metadata.deletionTimestamp !== undefined,
    }));
}

const stacks = (process.env.HYBRIDINFRA_ENGINE_STACKS?.split(",") ?? listStacks()).filter((s) => s !== "");

describe("real engine + real control plane: the cluster side of every shipped stack", { skip: why }, () => {
    for (const stack of stacks) {
        describe(stack, () => {
            let cp: ControlPlane;
            let es: EngineStack;
            let client: KubeClient;
            let image: string | undefined;
            const ops: { op: string; type: string; urn: string }[] = [];
            const nodes = nodesOf(stack);

            before(async () => {
                cp = await startControlPlane();
                client = cp.client;
                await createNodes(cp.kubeconfig, nodes);
                await waitFor("every node Ready", async () => {
                    const ns = await client.list("/api/v1/nodes");
                    return ns.length === nodes.length && ns.every((n) => n.status?.conditions?.some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True"));
                });
                es = await createEngineStack({
                    project: PROJECT,
                    stack,
                    config: { ...stackConfig(stack), "test:kubeconfig": { value: cp.kubeconfig, secret: true }, "test:image": { value: "" } },
                    program: async () => {
                        skipIngressAwait();
                        const provider = new k8s.Provider("cluster", { kubeconfig: new pulumi.Config("test").requireSecret("kubeconfig"), enableServerSideApply: true });
                        const override = new pulumi.Config("test").get("image");
                        const side = clusterSide();
                        side.apps.forEach((a, i) => new ExposedApp(`${stack}-${a.appName}`, i === 0 && override ? { ...a, image: override } : a, { providers: { kubernetes: provider } }));
                        if (side.tunnelName !== undefined) {
                            createCloudflaredConnector(
                                `${stack}-tunnel`,
                                { tunnelName: side.tunnelName, namespace: "cloudflared", token: pulumi.secret("placeholder-tunnel-token"), replicas: 2, image: CLOUDFLARED_IMAGE },
                                { provider },
                            );
                        }
                        return { apps: side.apps.map((a) => a.appName), tunnel: side.tunnelName !== undefined };
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

            it("a first `pulumi up` creates every object, and the API server accepts each", async () => {
                const res = await es.stack.up();
                const created = changes(res.summary);
                assert.deepEqual(Object.keys(created), ["create"], `the first up only creates: ${JSON.stringify(created)}`);
                const apps = res.outputs.apps.value as string[];
                assert.ok(apps.length > 0);
                for (const a of apps) {
                    await client.get(`/apis/apps/v1/namespaces/default/deployments/${a}`);
                    await client.get(`/api/v1/namespaces/default/services/${a}`);
                    await client.get(`/apis/networking.k8s.io/v1/namespaces/default/ingresses/${a}`);
                }
            });

            it("in tunnel mode, the cloudflared Deployment and its token Secret are accepted and its pods run", async (t) => {
                if (!((await es.stack.outputs()).tunnel?.value as boolean)) {
                    t.diagnostic(`${stack}: no Cloudflare Tunnel in this stack`);
                    assert.notEqual(parseClusterConfig(JSON.parse(loadStack(stack).config[`${PROJECT}:cluster`])).ingress?.mode, "cloudflare-tunnel");
                    return;
                }
                const secrets = await client.list("/api/v1/namespaces/cloudflared/secrets");
                assert.equal(secrets.length, 1, "one token Secret");
                assert.equal(Buffer.from(Object.values(secrets[0].data as Record<string, string>)[0], "base64").toString(), "placeholder-tunnel-token");
                await waitFor("cloudflared Ready", async () => {
                    const d = await client.get("/apis/apps/v1/namespaces/cloudflared/deployments/cloudflared");
                    return d.status?.readyReplicas === 2 ? d : undefined;
                });
            });

            it("the real scheduler runs every replica and spreads them across the allowed sites", async () => {
                const cfg = parseClusterConfig(JSON.parse(loadStack(stack).config[`${PROJECT}:cluster`]));
                const regionOf = new Map(nodes.map((n) => [n.name, n.labels[REGION_LABEL]]));
                for (const app of cfg.apps ?? []) {
                    const replicas = app.replicas ?? 1;
                    const pods = await waitFor(`${app.name}: ${replicas} Ready pods`, async () => {
                        const p = (await podsOf(client, app.namespace ?? "default", app.name)).filter((x) => !x.deleting);
                        return p.length === replicas && p.every((x) => x.ready) ? p : undefined;
                    });
                    // Sites the app may run in; a PreferNoSchedule taint outweighs the soft spread in the
                    // scheduler's scoring (hybrid-edge's tainted cloud server gets no replica while home has room).
                    const eligible = nodes
                        .filter((n) => n.taints.every((t) => !/:(NoSchedule|NoExecute)$/.test(t)))
                        .filter((n) => app.placement?.locations === undefined || app.placement.locations.includes(n.labels[REGION_LABEL]));
                    const preferred = eligible.filter((n) => n.taints.every((t) => !t.endsWith(":PreferNoSchedule")));
                    const allowed = new Set((preferred.length > 0 ? preferred : eligible).map((n) => n.labels[REGION_LABEL]));
                    const regions = new Set(pods.map((p) => regionOf.get(p.node!)));
                    for (const r of regions) assert.ok(allowed.has(r!), `${app.name}: a pod runs in ${r}, outside ${[...allowed].join(", ")}`);
                    if (app.spreadAcrossLocations !== false) {
                        assert.equal(regions.size, Math.min(replicas, allowed.size), `${app.name}: ${replicas} replicas over sites ${[...allowed].join(", ")} landed in ${[...regions].join(", ")}`);
                    }
                }
            });

            it("a PodDisruptionBudget makes the real eviction API refuse an eviction that would break it", async (t) => {
                const withPdb = (await client.list("/apis/policy/v1/namespaces/default/poddisruptionbudgets"))[0];
                if (withPdb === undefined) {
                    // Only apps with more than one replica get a PDB; say so rather than pass silently.
                    t.diagnostic(`${stack}: no app has more than one replica, so no PodDisruptionBudget to test`);
                    assert.ok(((parseClusterConfig(JSON.parse(loadStack(stack).config[`${PROJECT}:cluster`])).apps ?? []).every((a) => (a.replicas ?? 1) < 2)));
                    return;
                }
                const app = withPdb.metadata.name as string;
                await waitFor(`${app}: PDB status observed`, async () => {
                    const pdb = await client.get(`/apis/policy/v1/namespaces/default/poddisruptionbudgets/${app}`);
                    return pdb.status?.observedGeneration === pdb.metadata.generation && pdb.status?.disruptionsAllowed !== undefined ? pdb : undefined;
                });
                const pdb = await client.get(`/apis/policy/v1/namespaces/default/poddisruptionbudgets/${app}`);
                const allowed = pdb.status.disruptionsAllowed as number;
                const pods = (await podsOf(client, "default", app)).filter((p) => !p.deleting);
                const evict = (name: string) =>
                    client.raw("POST", `/api/v1/namespaces/default/pods/${name}/eviction`, { apiVersion: "policy/v1", kind: "Eviction", metadata: { name, namespace: "default" } });
                // As `kubectl drain` does: cordon first, so an evicted pod's replacement cannot become Ready
                // elsewhere in between and the budget stays spent.
                const cordon = (unschedulable: boolean) =>
                    Promise.all(nodes.map((n) => client.request("PATCH", `/api/v1/nodes/${n.name}`, { spec: { unschedulable } }, "application/merge-patch+json")));
                await cordon(true);
                const codes: number[] = [];
                try {
                    for (const p of pods.slice(0, allowed + 1)) codes.push((await evict(p.name)).status);
                } finally {
                    await cordon(false);
                }
                assert.deepEqual(codes, [...Array(allowed).fill(201), 429], `${app}: ${allowed} eviction(s) allowed, then refused (HTTP 429); got ${codes.join(", ")}`);
            });

            it("a second `pulumi up` changes nothing (the engine's own summary)", async () => {
                const res = await es.stack.up();
                assert.deepEqual(changes(res.summary), {});
            });

            it("an image change updates only that app's Deployment", async () => {
                const first = (await es.stack.outputs()).apps.value[0] as string;
                const dep = await client.get(`/apis/apps/v1/namespaces/default/deployments/${first}`);
                image = `${dep.spec.template.spec.containers[0].image as string}-next`;
                await es.stack.setConfig("test:image", { value: image });
                const res = await es.stack.up({
                    onEvent: (e: EngineEvent) => {
                        const m = e.resOutputsEvent?.metadata;
                        if (m !== undefined && m.op !== "same") ops.push({ op: m.op, type: m.type, urn: m.urn });
                    },
                });
                assert.deepEqual(changes(res.summary), { update: 1 });
                assert.deepEqual(ops.map((o) => [o.op, o.type]), [["update", "kubernetes:apps/v1:Deployment"]]);
                const after = await client.get(`/apis/apps/v1/namespaces/default/deployments/${first}`);
                assert.equal(after.spec.template.spec.containers[0].image, image);
            });
        });
    }
});
