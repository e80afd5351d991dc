// K3sServer and K3sAgent: used alone they validate and plan their own args (planK3sServer / planK3sAgent); in a
// K3sCluster they get the decisions planK3s made (nodeDecisions) and only the Inputs from their args.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import {
    Datastore,
    FailoverProfile,
    K3sAgent,
    K3sCluster,
    K3sClusterArgs,
    K3sServer,
    KUBECONFIG_BEGIN,
    KUBECONFIG_END,
    NodeRole,
    nodeDecisions,
    planK3s,
} from "../../components/src/k3s";
import { HybridInfraConfigErrors } from "../../components/src/util/errors";
import { record, Recording } from "../harness/mocks";
import { agent, server } from "./fixtures";

const VERSION = "v1.36.1+k3s1";
const tokyo1 = server("tokyo-1", "10.100.0.1", "tokyo", { publicAddress: "203.0.113.10" });
const homePc = agent("home-pc", "10.100.0.20", "home", { labels: { "hybridinfra.io/edge": "true" }, taints: ["edge=true:NoSchedule"] });

const clusterArgs: K3sClusterArgs = {
    interfaceName: "wg0",
    version: VERSION,
    failoverProfile: FailoverProfile.Fast,
    kubeletArgs: ["--max-pods=200"],
    kubeApiServerArgs: ["audit-log-maxage=7"],
    disable: ["servicelb"],
    backup: { retention: 3 },
    nodes: [tokyo1, homePc],
};

/** Fakes the kubeconfig step's stdout, as cluster.test.ts does. */
const outputs = {
    "command:remote:Command": ({ name }: { name: string }) =>
        name.endsWith("-k3s-kubeconfig")
            ? { stdout: `${KUBECONFIG_BEGIN}\napiVersion: v1\nclusters:\n- cluster:\n    server: https://127.0.0.1:6443\n  name: default\n${KUBECONFIG_END}\n`, stderr: "" }
            : { stdout: "", stderr: "" },
};

function createsOf(rec: Recording): Map<string, string> {
    return new Map(rec.byType("command:remote:Command").map((r) => [r.name, String(r.inputs.create)]));
}

describe("K3sServer / K3sAgent: plan once, hand the plan down", () => {
    it("planK3s decides each node's settings and the install once; nodeDecisions hands those very objects down", () => {
        const plan = planK3s(clusterArgs);
        assert.equal(plan.datastore, Datastore.Sqlite);
        for (const p of plan.nodes) {
            const d = nodeDecisions(plan, p);
            assert.equal(d.install, plan.install, "the install plan is not unpacked into args and planned again");
            assert.equal(d.settings, p.settings);
            // The profile's flags are the plan's own timings, not a profile planned again per node.
            assert.deepEqual(d.settings.kubeletArgs, [...plan.timings.kubeletArgs, "max-pods=200"]);
            if (p.role === NodeRole.Server) {
                assert.deepEqual(d.settings.kubeControllerManagerArgs, [...plan.timings.kubeControllerManagerArgs]);
                assert.deepEqual(d.settings.kubeApiServerArgs, [...plan.timings.kubeApiServerArgs, "audit-log-maxage=7"]);
                assert.ok(d.sqliteBackup !== undefined, "the sqlite server's backup is planned with the cluster");
            } else {
                assert.equal(d.sqliteBackup, undefined);
            }
        }
        assert.deepEqual(plan.nodes.find((p) => p.name === "home-pc")!.settings.labels, { "topology.kubernetes.io/region": "home", "hybridinfra.io/edge": "true" });
    });

    it("used alone, they render the same steps as in their K3sCluster (their own plan equals the handed-down one)", async () => {
        const inCluster = createsOf(await record(() => new K3sCluster("c", clusterArgs), { outputs }));
        const alone = createsOf(
            await record(() => {
                new K3sServer("c-tokyo-1", {
                    node: tokyo1,
                    interfaceName: "wg0",
                    token: "t0ken",
                    install: { version: VERSION },
                    failoverProfile: FailoverProfile.Fast,
                    kubeletArgs: ["--max-pods=200"],
                    kubeApiServerArgs: ["audit-log-maxage=7"],
                    disable: ["servicelb"],
                    backup: { retention: 3 },
                });
                new K3sAgent("c-home-pc", {
                    node: homePc,
                    interfaceName: "wg0",
                    token: "t0ken",
                    install: { version: VERSION },
                    failoverProfile: FailoverProfile.Fast,
                    kubeletArgs: ["--max-pods=200"],
                    serverUrl: "https://10.100.0.1:6443",
                    controlHost: tokyo1,
                });
            }),
        );
        const steps = ["c-tokyo-1-k3s-config", "c-tokyo-1-k3s-install", "c-tokyo-1-k3s-backup", "c-home-pc-k3s-config", "c-home-pc-k3s-drain", "c-home-pc-k3s-install", "c-home-pc-k3s-node"];
        assert.deepEqual([...alone.keys()].sort(), [...steps].sort());
        for (const step of steps) assert.equal(alone.get(step), inCluster.get(step), `${step} is the same alone and in the cluster`);
        const serverConfig = alone.get("c-tokyo-1-k3s-config")!;
        for (const line of ['  - "node-monitor-grace-period=20s"', '  - "max-pods=200"', '  - "audit-log-maxage=7"', '  - "servicelb"', '  - "203.0.113.10"']) assert.ok(serverConfig.includes(line), line);
        assert.ok(alone.get("c-home-pc-k3s-config")!.includes('server: "https://10.100.0.1:6443"'));
    });

    it("K3sServer alone validates its own args once: every problem at once, at its own arg paths, nothing registered under it", async () => {
        const expected = [
            "node.labels.topology.kubernetes.io/region: is set by HybridInfra from node.location. Fix: remove the label and set the location instead",
            'install.version: is not a k3s version, got "1.36". Fix: use a k3s release tag such as "v1.36.1+k3s1" (see https://github.com/k3s-io/k3s/releases), or remove it and set the channel',
            'failoverProfile: is not a failover profile, got "quick". Fix: use one of "default", "lossy-link", "fast"',
            'kubeletArgs[0]: sets "pod-eviction-timeout", which was removed in Kubernetes 1.27 (kubelet refuses to start with it). Fix: remove it and choose k3s.failoverProfile ("default", "lossy-link", "fast"); "fast" evicts pods in under 60 s',
            'datastoreEndpoint: is missing but datastore is "external". Fix: pass the endpoint as a secret',
        ];
        const rec = await record(() => {
            assert.throws(
                () =>
                    new K3sServer("s", {
                        node: { ...tokyo1, labels: { "topology.kubernetes.io/region": "x" } },
                        interfaceName: "wg0",
                        token: "t0ken",
                        install: { version: "1.36" },
                        failoverProfile: "quick" as FailoverProfile,
                        kubeletArgs: ["pod-eviction-timeout=30s"],
                        datastore: Datastore.External,
                    }),
                (e: unknown) => {
                    assert.ok(e instanceof HybridInfraConfigErrors);
                    assert.deepEqual(
                        e.errors.map((p) => p.message),
                        expected,
                    );
                    return true;
                },
            );
        });
        assert.deepEqual(
            rec.resources.map((r) => r.type).filter((t) => t !== "pulumi:pulumi:Stack"),
            ["hybridinfra:index:K3sServer"],
        );
    });

    it("K3sAgent alone reports its own arg paths too (a server node's role once, not as an unknown role)", async () => {
        await record(() => {
            assert.throws(
                () => new K3sAgent("a", { node: tokyo1, interfaceName: "wg 0", token: "t0ken", serverUrl: "https://10.100.0.1:6443" }),
                (e: unknown) => {
                    assert.ok(e instanceof HybridInfraConfigErrors);
                    assert.deepEqual(
                        e.errors.map((p) => p.path),
                        ["node.role", "interfaceName"],
                    );
                    return true;
                },
            );
        });
    });
});
