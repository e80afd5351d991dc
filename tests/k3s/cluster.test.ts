import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { Datastore, FailoverProfile, K3sCluster, K3sClusterArgs, k3sClusterInternals, KUBECONFIG_BEGIN, KUBECONFIG_END } from "../../components/src/k3s";
import { record, Recording, RecordedResource, settle } from "../harness/mocks";
import { assertHostScript, extractProgram } from "../harness/shellcheck";
import { TEST_KEY } from "../harness/fixtures";
import { agent, DSN, server } from "./fixtures";

const CMD = "command:remote:Command";
const K3S_YAML = "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: Q0E=\n    server: https://127.0.0.1:6443\n  name: default\nusers:\n- name: default\n  user:\n    client-key-data: S0VZLXNlY3JldA==\n";

/** Fakes the kubeconfig step's stdout (log lines around the markers, as the prelude prints them). */
const outputs = {
    [CMD]: ({ name }: { name: string }) =>
        name.endsWith("-k3s-kubeconfig")
            ? { stdout: `[x/k3s-kubeconfig] waiting\n${KUBECONFIG_BEGIN}\n${K3S_YAML}${KUBECONFIG_END}\n[x/k3s-kubeconfig] done (no change)\n`, stderr: "" }
            : { stdout: "", stderr: "" },
};

/** Stands for the overlay: one host step the cluster must wait for. */
function overlay(): command.remote.Command {
    return new command.remote.Command("overlay-wg-up", { connection: { host: "198.51.100.1", privateKey: pulumi.secret(TEST_KEY) }, create: "true" });
}

function small(extra: Partial<K3sClusterArgs> = {}): K3sClusterArgs {
    return {
        interfaceName: "wg0",
        version: "v1.36.1+k3s1",
        nodes: [
            server("tokyo-1", "10.100.0.1", "tokyo", { publicAddress: "203.0.113.10" }),
            agent("home-pc", "10.100.0.20", "home", { taints: ["edge=true:NoSchedule"] }),
            agent("home-nas", "10.100.0.21", "home"),
        ],
        ...extra,
    };
}

function etcd3(extra: Partial<K3sClusterArgs> = {}): K3sClusterArgs {
    return {
        interfaceName: "wg0",
        version: "v1.36.1+k3s1",
        failoverProfile: FailoverProfile.Fast,
        nodes: [
            server("tokyo-1", "10.100.0.1"),
            server("tokyo-2", "10.100.0.2"),
            server("tokyo-3", "10.100.0.3"),
            agent("home-pc", "10.100.0.20"),
        ],
        ...extra,
    };
}

async function run(args: K3sClusterArgs, preview = false): Promise<{ rec: Recording; cluster: K3sCluster }> {
    let cluster: K3sCluster | undefined;
    const rec = await record(
        () => {
            const o = overlay();
            cluster = new K3sCluster("c", args, { dependsOn: [o] });
        },
        { outputs, preview },
    );
    return { rec, cluster: cluster! };
}

function deps(rec: Recording, name: string): string[] {
    return [...rec.byName(name).dependencyNames].sort();
}

function secretValueOf(rec: Recording, stepName: string, secret: string): string {
    const stdin: string = rec.byName(stepName).inputs.stdin;
    const line = stdin.split("\n").find((l) => l.startsWith(`${secret} `));
    assert.ok(line, `${stepName} gets ${secret} on stdin`);
    return Buffer.from(line.split(" ")[1], "base64").toString("utf8");
}

function assertNoPlainSecret(rec: Recording, secrets: string[]): void {
    for (const r of rec.resources) {
        for (const text of rec.plainStrings(r)) {
            for (const s of secrets) assert.ok(!text.includes(s), `a secret leaked into a plain input of ${r.name}`);
        }
    }
}

function assertScripts(rec: Recording): void {
    for (const r of rec.byType(CMD).filter((c) => c.name.startsWith("c-"))) {
        assertHostScript({ script: extractProgram(r.inputs.create), command: r.inputs.create }, `${r.name} create`);
        if (r.inputs.delete !== undefined) assertHostScript({ script: extractProgram(r.inputs.delete), command: r.inputs.delete }, `${r.name} delete`);
    }
}

describe("K3sCluster: 1 server + 2 agents (mock engine)", () => {
    it("registers per-node components and steps with the documented names", async () => {
        const { rec, cluster } = await run(small());
        assert.deepEqual(rec.byType("hybridinfra:index:K3sServer").map((r) => r.name), ["c-tokyo-1"]);
        assert.deepEqual(rec.byType("hybridinfra:index:K3sAgent").map((r) => r.name).sort(), ["c-home-nas", "c-home-pc"]);
        const steps = k3sClusterInternals(cluster).steps;
        assert.deepEqual(Object.keys(steps).sort(), ["home-nas", "home-pc", "tokyo-1"]);
        const stepNames = async (host: string) => Promise.all(steps[host].map(async (s) => String((await settle(s.urn)).value).split("::").pop()));
        assert.deepEqual(await stepNames("tokyo-1"), ["c-tokyo-1-k3s-config", "c-tokyo-1-k3s-install", "c-tokyo-1-k3s-kubeconfig"]);
        assert.deepEqual(await stepNames("home-pc"), ["c-home-pc-k3s-config", "c-home-pc-k3s-drain", "c-home-pc-k3s-install", "c-home-pc-k3s-node"]);
        const names = rec.byType(CMD).map((r) => r.name).sort();
        assert.deepEqual(names, [
            "c-home-nas-k3s-config",
            "c-home-nas-k3s-drain",
            "c-home-nas-k3s-install",
            "c-home-nas-k3s-node",
            "c-home-pc-k3s-config",
            "c-home-pc-k3s-drain",
            "c-home-pc-k3s-install",
            "c-home-pc-k3s-node",
            "c-tokyo-1-k3s-config",
            "c-tokyo-1-k3s-install",
            "c-tokyo-1-k3s-kubeconfig",
            "overlay-wg-up",
        ]);
        for (const n of names.filter((x) => x.startsWith("c-tokyo-1-"))) assert.equal(rec.byName(n).parent, n.endsWith("kubeconfig") ? "c" : "c-tokyo-1");
        assert.equal(k3sClusterInternals(cluster).firstServer, "tokyo-1");
        assertScripts(rec);
    });

    it("orders steps from registered dependencies: configs at once; overlay → first server's install → new agents in parallel: drain, install, Ready", async () => {
        const { rec } = await run(small());
        for (const n of ["tokyo-1", "home-pc", "home-nas"]) {
            assert.deepEqual(deps(rec, `c-${n}-k3s-config`), ["c-token"], `${n}'s config.yaml is written without waiting for the overlay or a server`);
        }
        assert.deepEqual(deps(rec, "c-tokyo-1-k3s-install"), ["c-tokyo-1-k3s-config", "overlay-wg-up"], "the overlay gates the start of k3s on the first server");
        // No deployedNodes: a first install, so both agents join in parallel right after the server.
        assert.deepEqual(deps(rec, "c-home-pc-k3s-drain"), ["c-tokyo-1-k3s-install"], "a new agent's turn starts after the server");
        assert.deepEqual(deps(rec, "c-home-nas-k3s-drain"), ["c-tokyo-1-k3s-install"], "and so does the other new agent's: no batches on a first install");
        for (const a of ["home-pc", "home-nas"]) {
            assert.deepEqual(deps(rec, `c-${a}-k3s-install`), [`c-${a}-k3s-config`, `c-${a}-k3s-drain`], `${a} is drained before its k3s starts or restarts`);
            assert.deepEqual(deps(rec, `c-${a}-k3s-node`), [`c-${a}-k3s-install`], "drain/delete runs before the uninstall on removal");
            assert.equal(rec.byName(`c-${a}-k3s-drain`).inputs.connection.host, "198.51.100.1", "drains run on the first server");
        }
        assert.deepEqual(deps(rec, "c-tokyo-1-k3s-kubeconfig"), ["c-tokyo-1-k3s-install"]);
    });

    it("agents k3s already runs on (deployedNodes) roll one per location at a time (k3s.agentsPerBatch, default 1); new ones join in parallel", async () => {
        const args = small({ deployedNodes: ["tokyo-1", "home-pc", "home-nas"] });
        const { rec } = await run({ ...args, nodes: [...args.nodes, agent("home-pi", "10.100.0.22", "home"), agent("osaka-1", "10.100.0.23", "osaka")] });
        assert.deepEqual(deps(rec, "c-home-pc-k3s-drain"), ["c-tokyo-1-k3s-install"], "batch 0 after the server");
        assert.deepEqual(
            deps(rec, "c-home-nas-k3s-drain"),
            ["c-home-pc-k3s-node", "c-home-pi-k3s-node", "c-osaka-1-k3s-node"],
            "the second deployed agent of home waits until the whole first batch (home-pc, and the new agents joining) is Ready and uncordoned",
        );
        for (const a of ["home-pi", "osaka-1"]) assert.deepEqual(deps(rec, `c-${a}-k3s-drain`), ["c-tokyo-1-k3s-install"], `${a} is new: it joins right after the server`);
        const two = await run(small({ deployedNodes: ["tokyo-1", "home-pc", "home-nas"], agentsPerBatch: 2 }));
        assert.deepEqual(deps(two.rec, "c-home-nas-k3s-drain"), ["c-tokyo-1-k3s-install"], "agentsPerBatch 2: both home agents in one batch");
    });

    it("a config change re-runs that node's install step (which restarts k3s only if config.yaml changed), nothing else", async () => {
        const a = await run(small());
        const args = small();
        const b = await run({ ...args, nodes: args.nodes.map((n) => (n.name === "home-pc" ? { ...n, labels: { disk: "ssd" } } : n)) });
        const changed = b.rec
            .byType(CMD)
            .filter((r) => r.inputs.create !== a.rec.byName(r.name).inputs.create)
            .map((r) => r.name)
            .sort();
        assert.deepEqual(changed, ["c-home-pc-k3s-config", "c-home-pc-k3s-drain", "c-home-pc-k3s-install", "c-home-pc-k3s-node"], "config, the drain before its apply, its apply (install), and the Ready check, uncordon and label sync");
        const before = extractProgram(a.rec.byName("c-home-pc-k3s-install").inputs.create);
        const after = extractProgram(b.rec.byName("c-home-pc-k3s-install").inputs.create);
        const strip = (s: string) => s.replace(/^# config\.yaml revision [0-9a-f]{16}: .*$/m, "");
        assert.notEqual(before, after);
        assert.equal(strip(before), strip(after), "only the config revision line differs");
        assert.match(after, /elif \[ "\$want_sum" != "\$have_sum" \]; then\n {2}hi_log "[^"]*restarting \$K3S_SERVICE"/, "the restart is decided on the host from config.yaml");
    });

    it("keeps the token and kubeconfig secret and builds the Provider from the kubeconfig", async () => {
        const { rec, cluster } = await run(small());
        const token = rec.find("random:index/randomPassword:RandomPassword", "c-token");
        assert.equal(token.parent, "c");
        assert.ok(token.additionalSecretOutputs.includes("result"));
        const tokenValue = secretValueOf(rec, "c-home-pc-k3s-config", "k3s_token");
        assert.equal(secretValueOf(rec, "c-tokyo-1-k3s-config", "k3s_token"), tokenValue, "one token shared by servers and agents");
        for (const step of rec.byType(CMD).filter((r) => r.name.endsWith("-k3s-config"))) assert.ok(rec.isSecret(step, "stdin"));
        assertNoPlainSecret(rec, [tokenValue, "S0VZLXNlY3JldA=="]);

        const kc = await settle(cluster.kubeconfig);
        assert.ok(kc.secret, "kubeconfig output is secret");
        assert.equal(kc.value, K3S_YAML.replace("https://127.0.0.1:6443", "https://203.0.113.10:6443"));
        const kstep = rec.byName("c-tokyo-1-k3s-kubeconfig");
        assert.ok(kstep.additionalSecretOutputs.includes("stdout"));
        assert.equal(kstep.inputs.logging, "none");
        assert.equal(kstep.inputs.connection.host, "198.51.100.1");

        const provider = rec.find("pulumi:providers:kubernetes", "c-k8s");
        assert.equal(provider.parent, "c");
        assert.ok(rec.isSecret(provider, "kubeconfig"));
        assert.equal(provider.inputs.kubeconfig, kc.value);
        assert.deepEqual(provider.dependencyNames, ["c-tokyo-1-k3s-kubeconfig"]);
        const internals = k3sClusterInternals(cluster);
        assert.equal((await settle(internals.kubeconfig)).value, kc.value);
        assert.equal((await settle(cluster.apiEndpoint)).value, "https://203.0.113.10:6443");
        assert.equal((await settle(cluster.failoverBoundSeconds)).value, 368, "default profile, two agents at home: 358 s + 10 s for the second node (upstream eviction rate 0.1 per second)");
    });

    it("agents join the first server over the overlay; node steps run on the first server", async () => {
        const { rec } = await run(small());
        const cfg = extractProgram(rec.byName("c-home-pc-k3s-config").inputs.create);
        assert.match(cfg, /server: "https:\/\/10\.100\.0\.1:6443"/);
        assert.match(cfg, /node-ip: "10\.100\.0\.20"/);
        assert.match(cfg, /flannel-iface: "wg0"/);
        assert.match(cfg, /- "edge=true:NoSchedule"/);
        const node = rec.byName("c-home-pc-k3s-node");
        assert.equal(node.inputs.connection.host, "198.51.100.1", "kubectl runs on the first server");
        assert.match(extractProgram(node.inputs.create), /k3s kubectl wait --for=condition=Ready "node\/\$k3s_node"/);
        const install = rec.byName("c-home-pc-k3s-install");
        assert.equal(install.inputs.connection.host, "192.168.50.20");
        assert.match(extractProgram(install.inputs.create), /K3S_WANT_VERSION=v1\.36\.1\+k3s1/);
    });

    it("removing an agent drops exactly its steps, whose deletes drain, delete the Node and uninstall", async () => {
        const before = await run(small());
        const args = small();
        const after = await run({ ...args, nodes: args.nodes.filter((n) => n.name !== "home-nas") });
        const names = (r: Recording) => new Set(r.resources.map((x) => x.name));
        const removed = [...names(before.rec)].filter((n) => !names(after.rec).has(n)).sort();
        assert.deepEqual(removed, ["c-home-nas", "c-home-nas-k3s-config", "c-home-nas-k3s-drain", "c-home-nas-k3s-install", "c-home-nas-k3s-node"]);
        // Nothing else changes: no config rewrite, no restart anywhere else.
        for (const r of after.rec.byType(CMD)) {
            const old = before.rec.byName(r.name);
            assert.equal(r.inputs.create, old.inputs.create, `${r.name} is unchanged`);
        }
        const node = before.rec.byName("c-home-nas-k3s-node");
        assert.equal(node.inputs.connection.host, "198.51.100.1", "the drain runs on the first server");
        const drain = extractProgram(node.inputs.delete);
        assert.match(drain, /k3s_node=home-nas\n/);
        assert.match(drain, /k3s kubectl drain "\$k3s_node" --ignore-daemonsets --delete-emptydir-data --timeout=300s/);
        assert.match(drain, /k3s kubectl delete node "\$k3s_node"/);
        const uninstall = before.rec.byName("c-home-nas-k3s-install");
        assert.equal(uninstall.inputs.connection.host, "192.168.50.21");
        assert.match(extractProgram(uninstall.inputs.delete), /\/usr\/local\/bin\/k3s-agent-uninstall\.sh/);
        assert.match(extractProgram(before.rec.byName("c-home-nas-k3s-config").inputs.delete), /hi_remove_managed_file \/etc\/rancher\/k3s\/config.yaml/);
        // Pulumi deletes dependents first: the drain step depends on the install step it must precede.
        assert.ok(node.dependencyNames.includes("c-home-nas-k3s-install"));
    });

    it("registers the same steps in preview, with the kubeconfig unknown", async () => {
        const { rec, cluster } = await run(small(), true);
        assert.equal(rec.byType(CMD).length, 12);
        assert.equal((await settle(cluster.kubeconfig)).known, false);
        assert.match(extractProgram(rec.byName("c-tokyo-1-k3s-config").inputs.create), /node-ip: "10\.100\.0\.1"/, "WireGuard addresses are known in preview");
    });
});

describe("K3sCluster: 3 etcd servers (mock engine)", () => {
    it("serialises joining servers, then the agents after the last server, renders cluster-init once", async () => {
        const { rec, cluster } = await run(etcd3());
        for (const n of ["tokyo-1", "tokyo-2", "tokyo-3", "home-pc"]) assert.deepEqual(deps(rec, `c-${n}-k3s-config`), ["c-token"]);
        assert.deepEqual(deps(rec, "c-tokyo-1-k3s-install"), ["c-tokyo-1-k3s-config", "overlay-wg-up"]);
        assert.deepEqual(deps(rec, "c-tokyo-2-k3s-drain"), ["c-tokyo-1-k3s-install"]);
        assert.deepEqual(deps(rec, "c-tokyo-2-k3s-install"), ["c-tokyo-2-k3s-config", "c-tokyo-2-k3s-drain"]);
        assert.deepEqual(deps(rec, "c-tokyo-3-k3s-drain"), ["c-tokyo-2-k3s-node"], "one joining server at a time (after the previous one is Ready)");
        assert.deepEqual(deps(rec, "c-home-pc-k3s-drain"), ["c-tokyo-3-k3s-node"], "agents wait for the last server");
        assert.deepEqual(deps(rec, "c-home-pc-k3s-install"), ["c-home-pc-k3s-config", "c-home-pc-k3s-drain"]);
        assert.deepEqual(deps(rec, "c-tokyo-2-k3s-node"), ["c-tokyo-2-k3s-install"]);
        // A server's install waits for its API (readyz), which is what the next server joins through.
        assert.match(extractProgram(rec.byName("c-tokyo-2-k3s-install").inputs.create), /until k3s kubectl get --raw=\/readyz/);
        const cfg = (n: string) => extractProgram(rec.byName(`c-${n}-k3s-config`).inputs.create);
        assert.match(cfg("tokyo-1"), /\ncluster-init: true\n/);
        assert.ok(!cfg("tokyo-1").includes("\nserver:"));
        for (const n of ["tokyo-2", "tokyo-3"]) {
            assert.match(cfg(n), /\nserver: "https:\/\/10\.100\.0\.1:6443"\n/);
            assert.ok(!cfg(n).includes("cluster-init"));
        }
        assert.match(cfg("tokyo-2"), /- "node-monitor-grace-period=20s"/);
        assert.match(cfg("home-pc"), /- "node-status-update-frequency=4s"/);
        const bound = await settle(cluster.failoverBoundSeconds);
        assert.ok(bound.value! < 60);
        assert.equal(k3sClusterInternals(cluster).plan.datastore, Datastore.Etcd);
        assert.equal((await settle(cluster.apiEndpoint)).value, "https://198.51.100.1:6443", "no public address: the SSH address pulumi up reaches the first server at");
        assertScripts(rec);
    });

    it("a version change updates the install steps and, around each but the first server's, its drain and Ready check: a roll server by server, then agents", async () => {
        const a = await run(etcd3());
        const b = await run(etcd3({ version: "v1.36.2+k3s1" }));
        const changed = b.rec
            .byType(CMD)
            .filter((r) => r.inputs.create !== a.rec.byName(r.name).inputs.create)
            .map((r) => r.name)
            .sort();
        assert.deepEqual(changed, [
            "c-home-pc-k3s-drain",
            "c-home-pc-k3s-install",
            "c-home-pc-k3s-node",
            "c-tokyo-1-k3s-install",
            "c-tokyo-2-k3s-drain",
            "c-tokyo-2-k3s-install",
            "c-tokyo-2-k3s-node",
            "c-tokyo-3-k3s-drain",
            "c-tokyo-3-k3s-install",
            "c-tokyo-3-k3s-node",
        ]);
        // Each install transitively depends on the previous server's install.
        const reach = (from: string, to: string): boolean => {
            const seen = new Set<string>();
            const walk = (n: string): boolean => {
                if (n === to) return true;
                if (seen.has(n)) return false;
                seen.add(n);
                return b.rec.resources.find((r: RecordedResource) => r.name === n)?.dependencyNames.some(walk) ?? false;
            };
            return walk(from);
        };
        assert.ok(reach("c-tokyo-2-k3s-install", "c-tokyo-1-k3s-install"));
        assert.ok(reach("c-tokyo-3-k3s-install", "c-tokyo-2-k3s-install"));
        assert.ok(reach("c-home-pc-k3s-install", "c-tokyo-3-k3s-install"));
        assert.ok(!reach("c-tokyo-1-k3s-install", "c-tokyo-2-k3s-install"));
        // Each node's turn: drain, then install, then Ready at the new version; the next turn after that.
        assert.ok(reach("c-tokyo-3-k3s-drain", "c-tokyo-2-k3s-node"), "the next server is drained only once the previous one is Ready again");
        assert.match(extractProgram(b.rec.byName("c-tokyo-2-k3s-drain").inputs.create), /k3s_want_version=v1\.36\.2\+k3s1\n/);
        assert.match(extractProgram(b.rec.byName("c-tokyo-2-k3s-node").inputs.create), /\[ "\$k3s_version" = v1\.36\.2\+k3s1 \] \|\| hi_fail "node \$k3s_node is Ready but runs \$k3s_version, not v1\.36\.2\+k3s1/);
    });

    it("warns when etcd spans locations under the override", async () => {
        const args = etcd3({ allowEtcdAcrossLocations: true });
        const nodes = args.nodes.map((n) => (n.name === "tokyo-3" ? { ...n, location: "osaka" } : n));
        const { cluster } = await run({ ...args, nodes });
        assert.equal(k3sClusterInternals(cluster).plan.warnings.length, 1);
    });
});

describe("K3sCluster: external datastore and Tailscale addresses", () => {
    it("passes the endpoint only on stdin and renders a placeholder", async () => {
        const { rec } = await run({
            interfaceName: "tailscale0",
            datastore: Datastore.External,
            datastoreEndpoint: pulumi.secret(DSN),
            nodes: [server("tokyo-1", "10.100.0.1"), server("home-1", "10.100.0.2", "home"), agent("home-pc", "10.100.0.20")],
        });
        for (const n of ["tokyo-1", "home-1"]) {
            const step = `c-${n}-k3s-config`;
            assert.equal(JSON.parse(`"${secretValueOf(rec, step, "k3s_datastore_endpoint")}"`), DSN);
            assert.match(extractProgram(rec.byName(step).inputs.create), /datastore-endpoint: "@@HI_SECRET:k3s_datastore_endpoint@@"/);
        }
        assert.ok(!extractProgram(rec.byName("c-home-1-k3s-config").inputs.create).includes("\nserver:"), "external datastore servers share the DB, no join URL");
        assertNoPlainSecret(rec, [DSN, "pa\\\"ss"]);
        assertScripts(rec);
    });

    it("renders config.yaml once an overlay address that is an Output resolves", async () => {
        const tsAddr = pulumi.output("100.64.0.7");
        const { rec } = await run({ interfaceName: "tailscale0", nodes: [server("tokyo-1", "100.64.0.1"), agent("home-pc", "100.64.0.2", "home", { overlayAddress: tsAddr })] });
        assert.match(extractProgram(rec.byName("c-home-pc-k3s-config").inputs.create), /node-ip: "100\.64\.0\.7"\nflannel-iface: "tailscale0"/);
        assert.ok(rec.isSecret(rec.byName("c-home-pc-k3s-config"), "stdin"));
    });

    it("uploads air-gap files with CopyToRemote before the install", async () => {
        const { rec } = await run({ ...small(), airgap: { binaryPath: "/tmp/k3s", imagesPath: "/tmp/k3s-airgap-images-amd64.tar.zst" } });
        const copies = rec.byType("command:remote:CopyToRemote").filter((r) => r.name.startsWith("c-home-pc"));
        assert.deepEqual(copies.map((r) => r.name).sort(), ["c-home-pc-k3s-airgap-binary", "c-home-pc-k3s-airgap-images"]);
        assert.equal(rec.byName("c-home-pc-k3s-airgap-images").inputs.remotePath, "/var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst");
        assert.deepEqual(deps(rec, "c-home-pc-k3s-install"), ["c-home-pc-k3s-airgap-binary", "c-home-pc-k3s-airgap-images", "c-home-pc-k3s-config", "c-home-pc-k3s-drain"]);
        assert.match(extractProgram(rec.byName("c-home-pc-k3s-install").inputs.create), /INSTALL_K3S_SKIP_DOWNLOAD=true/);
    });
});
