/**
 * Measures failover on a real control plane: a whole site goes dark and we time how long until every
 * replica of an app is Ready on another site.
 *
 * - The control plane gets the kube-controller-manager and kube-apiserver flags our k3s config renders for
 *   the profile (`failoverTimings(profile)`), so the node lifecycle controller, the taint-based eviction and
 *   the DefaultTolerationSeconds admission are upstream's, with our values.
 * - The app is an `ExposedApp` applied by the real engine and the real kubernetes provider.
 * - kwok plays the kubelets. The surviving site's nodes are managed by the control plane's kwok, the dark
 *   site's by a second kwok process of their own (annotation `kwok.x-k8s.io/node=<site>`). "The site goes
 *   dark" is: that process is killed, so nothing renews the site's Leases or node status any more, as when
 *   its power or uplink fails. (Changing a node's annotation does not make a running kwok let go of it.)
 * - The clock starts at the site's last heartbeat, the newest of its Leases' `renewTime` and its nodes'
 *   Ready `lastHeartbeatTime`, read from the API after the fact. It stops when the last replacement pod is
 *   Ready (polled every 250 ms, so the measurement is up to 0.25 s late).
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { ExposedApp, Exposure, FailoverProfile, failoverTimings, REGION_LABEL, TlsMode } from "../../components/src";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { freePorts, KUBE_BIN_DIR, KubeClient, nodeObject, startControlPlane, waitFor } from "./controlplane";
import { createEngineStack, skipIngressAwait } from "./engine";

export interface FailoverMeasurement {
    readonly profile: FailoverProfile;
    /** `failoverBoundSeconds` as exported for the profile. */
    readonly boundSeconds: number;
    /** Last heartbeat of the dark site until every replica is Ready elsewhere. */
    readonly measuredSeconds: number;
    /** When the dark site's nodes were marked NotReady/unknown, seconds after the last heartbeat. */
    readonly notReadyAfterSeconds: number;
}

const SITES = { dark: "east", alive: "west" } as const;
/** Two nodes a site, so the eviction rate between a site's nodes is part of what is measured. */
const NODES_PER_SITE = 2;
const MANAGED = "kwok.x-k8s.io/node";

interface Pod {
    metadata: { name: string; deletionTimestamp?: string };
    spec: { nodeName?: string };
    status?: { conditions?: { type: string; status: string }[] };
}

const ready = (p: Pod) => (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

export async function measureFailover(profile: FailoverProfile, replicas = 2): Promise<FailoverMeasurement> {
    const t = failoverTimings(profile, NODES_PER_SITE);
    const cp = await startControlPlane({
        controllerManagerArgs: t.kubeControllerManagerArgs,
        apiServerArgs: t.kubeApiServerArgs,
        // The control plane's kwok keeps the surviving site; the dark site gets a kwok of its own below.
        kwokArgs: ["manage-all-nodes=false", `manage-nodes-with-annotation-selector=${MANAGED}=fake`],
    });
    const client: KubeClient = cp.client;
    const nodes = [...Array(NODES_PER_SITE).keys()].flatMap((i) => Object.values(SITES).map((site) => ({ name: `${site}-${i}`, labels: { [REGION_LABEL]: site } })));
    const stack = await createEngineStack({
        project: "failover",
        stack: profile,
        config: { "test:kubeconfig": { value: cp.kubeconfig, secret: true } },
        program: async () => {
            skipIngressAwait();
            const provider = new k8s.Provider("cluster", { kubeconfig: new pulumi.Config("test").requireSecret("kubeconfig") });
            new ExposedApp(
                "web",
                { appName: "web", image: "traefik/whoami:v1.10", replicas, ports: [{ containerPort: 80 }], hostnames: ["web.example.com"], tls: { mode: TlsMode.None }, exposure: Exposure.Ingress },
                { providers: { kubernetes: provider } },
            );
        },
    });
    const [darkPort] = await freePorts(1);
    const pki = (f: string) => path.join(cp.dir, "pki", f);
    const darkKwok = spawn(
        path.join(KUBE_BIN_DIR, "kwok"),
        [
            `--kubeconfig=${cp.kubeconfigPath}`,
            `--config=${path.join(cp.dir, "kwok.yaml")}`,
            "--manage-all-nodes=false",
            `--manage-nodes-with-annotation-selector=${MANAGED}=${SITES.dark}`,
            "--node-lease-duration-seconds=40",
            "--node-ip=127.0.0.1",
            `--server-address=127.0.0.1:${darkPort}`,
            `--node-port=${darkPort}`,
            `--tls-cert-file=${pki("apiserver.crt")}`,
            `--tls-private-key-file=${pki("apiserver.key")}`,
        ],
        { stdio: "ignore" },
    );
    const darkExited = new Promise((r) => darkKwok.once("exit", r));
    try {
        for (const n of nodes) {
            const site = n.labels[REGION_LABEL];
            const obj = nodeObject(n) as { metadata: { annotations: Record<string, string> } };
            obj.metadata.annotations[MANAGED] = site === SITES.dark ? SITES.dark : "fake";
            await client.create("/api/v1/nodes", obj);
        }
        await waitFor("nodes Ready", async () => {
            const ns = await client.list("/api/v1/nodes");
            return ns.length === nodes.length && ns.every((n) => n.status?.conditions?.some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True"));
        });
        await stack.stack.up();
        const pods = () => client.list<Pod>("/api/v1/namespaces/default/pods?labelSelector=app.kubernetes.io%2Fname%3Dweb");
        const darkNodes = nodes.filter((n) => n.labels[REGION_LABEL] === SITES.dark).map((n) => n.name);
        await waitFor("replicas Ready on both sites", async () => {
            const p = (await pods()).filter((x) => !x.metadata.deletionTimestamp && ready(x));
            return p.length === replicas && p.some((x) => darkNodes.includes(x.spec.nodeName ?? "")) ? p : undefined;
        });

        darkKwok.kill("SIGKILL");
        await darkExited;
        const limitMs = (t.boundSeconds * 2 + 120) * 1000;
        const notReadyAt = waitFor(
            "dark site NotReady",
            async () => {
                const ns = await Promise.all(darkNodes.map((n) => client.get(`/api/v1/nodes/${n}`)));
                return ns.every((n) => n.status.conditions.some((c: { type: string; status: string }) => c.type === "Ready" && c.status !== "True")) ? Date.now() : undefined;
            },
            limitMs,
        );
        const doneAt = await waitFor(
            "every replica Ready on the other site",
            async () => {
                const p = (await pods()).filter((x) => !x.metadata.deletionTimestamp);
                return p.length === replicas && p.every((x) => ready(x) && !darkNodes.includes(x.spec.nodeName ?? "")) ? Date.now() : undefined;
            },
            limitMs,
        );
        const beats: number[] = [];
        for (const n of darkNodes) {
            const lease = await client.get(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${n}`);
            beats.push(Date.parse(lease.spec.renewTime));
            const node = await client.get(`/api/v1/nodes/${n}`);
            const c = node.status.conditions.find((x: { type: string }) => x.type === "Ready");
            if (c?.lastHeartbeatTime) beats.push(Date.parse(c.lastHeartbeatTime));
        }
        const lastBeat = Math.max(...beats);
        return {
            profile,
            boundSeconds: t.boundSeconds,
            measuredSeconds: Math.round((doneAt - lastBeat) / 100) / 10,
            notReadyAfterSeconds: Math.round(((await notReadyAt) - lastBeat) / 100) / 10,
        };
    } finally {
        if (darkKwok.exitCode === null && darkKwok.signalCode === null) darkKwok.kill("SIGKILL");
        try {
            await stack.dispose(false);
        } finally {
            await cp.stop();
        }
    }
}
