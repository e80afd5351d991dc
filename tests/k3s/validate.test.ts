import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import fc from "fast-check";
import { Datastore, FailoverProfile, k3sClusterProblems, K3sClusterArgs, K3sNodeArgs, NodeRole, planK3s, validateK3sCluster } from "../../components/src/k3s";
import { HybridInfraConfigErrors } from "../../components/src/util/errors";
import { record } from "../harness/mocks";
import { K3sCluster } from "../../components/src/k3s";
import { agent, server } from "./fixtures";

const s1 = server("tokyo-1", "10.100.0.1");
const s2 = server("tokyo-2", "10.100.0.2");
const s3home = server("home-1", "10.100.0.3", "home");
const base = { interfaceName: "wg0" };

const cases: [string, K3sClusterArgs, string][] = [
    [
        "an even etcd server count",
        { ...base, nodes: [s1, s2] },
        'k3s.datastore: is "etcd" with 2 servers (tokyo-1, tokyo-2); embedded etcd needs an odd number of servers to keep quorum. Fix: use 1, 3 or 5 servers, or datastore "external"',
    ],
    [
        "etcd servers in different locations without the override",
        { ...base, nodes: [s1, s2, s3home] },
        'k3s.datastore: is "etcd" but the servers are in 2 locations (tokyo: tokyo-1, tokyo-2; home: home-1); etcd across a WAN is not supported upstream. Fix: put all servers in one location, use datastore "external", or set k3s.allowEtcdAcrossLocations: true to accept the risk',
    ],
    [
        "an agent with no server",
        { ...base, nodes: [agent("home-pc", "10.100.0.20")] },
        'nodes[0].role: is "agent" but no host has role "server", so "home-pc" has no server to join. Fix: give at least one host role "server" (the first server initialises the cluster)',
    ],
    [
        "sqlite with two servers",
        { ...base, nodes: [s1, s2], datastore: Datastore.Sqlite },
        'k3s.datastore: is "sqlite" but 2 hosts have role "server" (tokyo-1, tokyo-2); sqlite lives on one server and cannot be shared. Fix: use "etcd" (an odd number of servers in one location), or "external" with k3s.datastoreEndpoint, or keep one server',
    ],
    [
        "an unknown k3s flag in the extra args (with the nearest known flag)",
        { ...base, nodes: [s1], kubeletArgs: ["node-status-update-frequncy=4s"] },
        'k3s.kubeletArgs[0]: unknown kubelet flag "node-status-update-frequncy" in "node-status-update-frequncy=4s" (checked against Kubernetes v1.36 as embedded by k3s). Fix: did you mean "node-status-update-frequency"? Write it as "node-status-update-frequency=4s"',
    ],
    [
        "an unknown flag with no near match",
        { ...base, nodes: [s1], kubeletArgs: ["max-pods=100", "--zzzz-qqq=1"] },
        'k3s.kubeletArgs[1]: unknown kubelet flag "zzzz-qqq" in "--zzzz-qqq=1" (checked against Kubernetes v1.36 as embedded by k3s). Fix: use a flag listed by `kubelet --help`, written as name=value',
    ],
    [
        "the removed pod-eviction-timeout",
        { ...base, nodes: [s1], kubeControllerManagerArgs: ["pod-eviction-timeout=30s"] },
        'k3s.kubeControllerManagerArgs[0]: sets "pod-eviction-timeout", which was removed in Kubernetes 1.27 (kube-controller-manager refuses to start with it). Fix: remove it and choose k3s.failoverProfile ("default", "lossy-link", "fast"); "fast" evicts pods in under 60 s',
    ],
    [
        "a flag the failover profile owns",
        { ...base, nodes: [s1], kubeControllerManagerArgs: ["node-monitor-grace-period=30s"] },
        'k3s.kubeControllerManagerArgs[0]: sets "node-monitor-grace-period", which the failover profile "default" controls (the exported eviction bound is computed from it). Fix: remove it and choose k3s.failoverProfile ("default", "lossy-link", "fast")',
    ],
    [
        "a version string that is not a k3s version",
        { ...base, nodes: [s1], version: "v1.36.1" },
        'k3s.version: is not a k3s version, got "v1.36.1". Fix: use a k3s release tag such as "v1.36.1+k3s1" (see https://github.com/k3s-io/k3s/releases), or remove it and set the channel',
    ],
    [
        "an unknown role",
        { ...base, nodes: [s1, { ...agent("x", "10.100.0.9"), role: "master" as NodeRole }] },
        'nodes[1].role: must be "server" or "agent", got "master". Fix: use "server" for the control plane and "agent" for workers',
    ],
    [
        "an external datastore without endpoint",
        { ...base, nodes: [s1], datastore: Datastore.External },
        "k3s.datastoreEndpoint: is missing but k3s.datastore is \"external\". Fix: set it as a secret, e.g. `pulumi config set --secret k3sDatastoreEndpoint 'mysql://k3s:…@tcp(db:3306)/k3s'`",
    ],
];

describe("validateK3sCluster", () => {
    for (const [label, args, message] of cases) {
        it(`rejects ${label}, before any resource is registered`, async () => {
            assert.throws(() => validateK3sCluster(args), (e: Error) => {
                assert.equal(e.message, message);
                return true;
            });
            const rec = await record(() => {
                assert.throws(() => new K3sCluster("v", args), (e: Error) => e.message === message);
            });
            assert.deepEqual(
                rec.resources.map((r) => r.type).filter((t) => t !== "pulumi:pulumi:Stack"),
                ["hybridinfra:index:K3sCluster"],
                "nothing but the component itself is registered",
            );
        });
    }

    it("accepts etcd across locations with the override, and warns", () => {
        const plan = planK3s({ ...base, nodes: [s1, s2, s3home], allowEtcdAcrossLocations: true });
        assert.equal(plan.datastore, Datastore.Etcd);
        assert.deepEqual(plan.warnings, [
            "k3s: embedded etcd spans locations tokyo, home because k3s.allowEtcdAcrossLocations is true; etcd across a WAN is not supported upstream: expect slow writes and leader elections when a link degrades",
        ]);
        assert.deepEqual(planK3s({ ...base, nodes: [s1] }).warnings, []);
    });

    it("defaults to sqlite for one server and etcd for more; version pins, channel otherwise", () => {
        assert.equal(planK3s({ ...base, nodes: [s1] }).datastore, Datastore.Sqlite);
        assert.equal(planK3s({ ...base, nodes: [s1, s2, server("tokyo-3", "10.100.0.3")] }).datastore, Datastore.Etcd);
        assert.deepEqual(planK3s({ ...base, nodes: [s1] }).install, { channel: "stable" });
        assert.deepEqual(planK3s({ ...base, nodes: [s1], version: "v1.36.1+k3s1" }).install, { version: "v1.36.1+k3s1" });
    });
});

describe("k3sClusterProblems: every independent problem at once", () => {
    const mistakes: K3sClusterArgs = {
        ...base,
        nodes: [s1, agent("home-pc", "10.100.0.20", "home", { labels: { "bad key!": "x" }, taints: ["edge"] })],
        version: "v1.36.1",
        disable: ["traefk"],
        kubeletArgs: ["max-pods=200", "node-status-update-frequncy=4s"],
        tokenRotation: -1,
        clusterCidr: "10.42.0.0",
    };
    const expected = [
        "nodes[1].labels: has a key that is not a Kubernetes label name: \"bad key!\". Fix: use [prefix/]name with letters, digits, '-', '_', '.'",
        'nodes[1].taints[0]: is not a taint, got "edge". Fix: write key=value:Effect or key:Effect with Effect NoSchedule, PreferNoSchedule or NoExecute, e.g. "edge=true:NoSchedule"',
        'k3s.version: is not a k3s version, got "v1.36.1". Fix: use a k3s release tag such as "v1.36.1+k3s1" (see https://github.com/k3s-io/k3s/releases), or remove it and set the channel',
        'k3s.disable[0]: is not a packaged k3s component, got "traefk". Fix: did you mean "traefik"?',
        'k3s.kubeletArgs[1]: unknown kubelet flag "node-status-update-frequncy" in "node-status-update-frequncy=4s" (checked against Kubernetes v1.36 as embedded by k3s). Fix: did you mean "node-status-update-frequency"? Write it as "node-status-update-frequency=4s"',
        "k3s.tokenRotation: must be a whole number from 0 up, got -1. Fix: use 0 for the token the cluster was created with, and raise it by one to rotate the token",
        'k3s.clusterCidr: is not a CIDR, got "10.42.0.0". Fix: use a network such as 10.42.0.0/16',
    ];

    it("reports several independent k3s mistakes in one throw, at K3sCluster's own arg paths, before any resource is registered", async () => {
        assert.deepEqual(
            k3sClusterProblems(mistakes).map((p) => p.message),
            expected,
        );
        const check = (e: unknown): boolean => {
            assert.ok(e instanceof HybridInfraConfigErrors, "several problems are thrown together");
            assert.deepEqual(
                e.errors.map((p) => p.message),
                expected,
            );
            assert.equal(e.message, `${expected.length} problems in the config:\n  - ${expected.join("\n  - ")}`);
            return true;
        };
        assert.throws(() => validateK3sCluster(mistakes), check);
        const rec = await record(() => {
            assert.throws(() => new K3sCluster("v", mistakes), check);
        });
        assert.deepEqual(
            rec.resources.map((r) => r.type).filter((t) => t !== "pulumi:pulumi:Stack"),
            ["hybridinfra:index:K3sCluster"],
        );
    });

    it("skips checks that depend on a value already reported (roles, datastore, locations) instead of adding noise", () => {
        const paths = (args: K3sClusterArgs) => k3sClusterProblems(args).map((p) => p.path);
        // An unknown role: no "no server to join" for the agent; the datastore's server count is not judged.
        assert.deepEqual(paths({ ...base, nodes: [{ ...s1, role: "master" as NodeRole }, agent("home-pc", "10.100.0.20")], datastore: Datastore.Sqlite }), ["nodes[0].role"]);
        // An unknown datastore: its endpoint and backup are not judged against it.
        assert.deepEqual(
            paths({ ...base, nodes: [s1], datastore: "mysql" as Datastore, datastoreEndpoint: "mysql://x", backup: { retention: 0 } }),
            ["k3s.datastore"],
        );
        // A location that is no label value is not grouped into etcd locations; an unknown profile is reported once.
        assert.deepEqual(
            paths({ ...base, nodes: [s1, s2, { ...server("tokyo-3", "10.100.0.3"), location: "tokyo 3" }], failoverProfile: "quick" as FailoverProfile }),
            ["nodes[2].location", "k3s.failoverProfile"],
        );
        // Independent problems of one node and of the cluster are all there.
        assert.deepEqual(paths({ ...base, nodes: [{ ...s1, location: "", overlayAddress: "10.100.0" }], agentsPerBatch: 0, kubeconfigEndpoint: "https://k3s.example.com" }), [
            "nodes[0].location",
            "nodes[0].overlayAddress",
            "k3s.agentsPerBatch",
            "k3s.kubeconfigEndpoint",
        ]);
    });

    it("no problem: an empty list (validateK3sCluster throws nothing)", () => {
        assert.deepEqual(k3sClusterProblems({ ...base, nodes: [s1, agent("home-pc", "10.100.0.20")] }), []);
        assert.doesNotThrow(() => validateK3sCluster({ ...base, nodes: [s1] }));
    });
});

describe("planK3s ordering (property)", () => {
    it("first server first, joining servers one after another, every new agent after the last server", () => {
        const nodeArb = fc.array(fc.boolean(), { minLength: 1, maxLength: 9 }).filter((roles) => roles.some((r) => r));
        fc.assert(
            fc.property(nodeArb, (roles) => {
                const nodes: K3sNodeArgs[] = roles.map((isServer, i) => (isServer ? server(`n${i}`, `10.100.0.${i + 1}`) : agent(`n${i}`, `10.100.0.${i + 1}`)));
                const serverCount = roles.filter((r) => r).length;
                const plan = planK3s({ ...base, nodes, datastore: serverCount === 1 ? Datastore.Sqlite : Datastore.External, datastoreEndpoint: serverCount === 1 ? undefined : "postgres://x" });
                const servers = nodes.filter((n) => n.role === NodeRole.Server).map((n) => n.name);
                assert.deepEqual(plan.servers, servers);
                assert.equal(plan.firstServer, servers[0]);
                plan.nodes.forEach((p) => {
                    if (p.role === NodeRole.Server) {
                        const i = servers.indexOf(p.name);
                        assert.deepEqual(p.after, i === 0 ? [] : [servers[i - 1]]);
                    } else {
                        // No deployedNodes (a first install): every agent right after the last server.
                        assert.deepEqual(p.after, [servers[servers.length - 1]]);
                    }
                });
                assert.equal(plan.nodes.length, nodes.length);
            }),
        );
    });
});
