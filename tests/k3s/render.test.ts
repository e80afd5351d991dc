import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { renderHostScript } from "../../components/src/host";
import {
    configKeys,
    Datastore,
    extractKubeconfig,
    FailoverProfile,
    failoverTimings,
    K3S_AGENT_FLAGS,
    K3S_SERVER_FLAGS,
    K3sConfigValues,
    NodeRole,
    parseGoDuration,
    RESCHEDULE_SECONDS,
    planNodeConfig,
    renderConfigDelete,
    renderConfigStep,
    renderInstallScript,
    renderK3sConfig,
    renderKubeconfigScript,
    renderNodeReadyScript,
    renderNodeRemoveScript,
    renderUninstallScript,
    validateFailoverTimings,
    yamlQuotedInner,
    KUBECONFIG_BEGIN,
    KUBECONFIG_END,
} from "../../components/src/k3s";
import { assertHostScript } from "../harness/shellcheck";
import { assertSnapshot } from "./snapshot";
import { agent, DSN, server } from "./fixtures";

/** The list under `key:` in a rendered config.yaml (JSON-quoted items). */
function listOf(text: string, key: string): string[] {
    const lines = text.split("\n");
    const i = lines.indexOf(`${key}:`);
    if (i < 0) return [];
    const out: string[] = [];
    for (let j = i + 1; j < lines.length && lines[j].startsWith("  - "); j++) out.push(JSON.parse(lines[j].slice(4)));
    return out;
}

function scalarOf(text: string, key: string): unknown {
    const line = text.split("\n").find((l) => l.startsWith(`${key}: `));
    return line === undefined ? undefined : JSON.parse(line.slice(key.length + 2));
}

function assertKnownKeys(text: string, role: NodeRole): void {
    const known = role === NodeRole.Server ? K3S_SERVER_FLAGS : K3S_AGENT_FLAGS;
    const keys = configKeys(text);
    assert.ok(keys.length > 0);
    for (const k of keys) assert.ok(known.includes(k), `${k} is not a k3s ${role} flag`);
    assert.equal(new Set(keys).size, keys.length, "no key twice");
}

const URL1 = "https://10.100.0.1:6443";
const tokyo1 = server("tokyo-1", "10.100.0.1", "tokyo", { publicAddress: "203.0.113.10" });
const tokyo2 = server("tokyo-2", "10.100.0.2");
const tokyo3 = server("tokyo-3", "10.100.0.3");
const homePc = agent("home-pc", "10.100.0.20", "home", { labels: { "hybridinfra.io/edge": "true" }, taints: ["edge=true:NoSchedule"] });

// The profiles' flags as a plan hands them down (`K3sPlan.timings`).
const FAST = failoverTimings(FailoverProfile.Fast);
const LOSSY = failoverTimings(FailoverProfile.LossyLink);

const cases: { name: string; datastore: Datastore; servers: K3sConfigValues[]; agent: K3sConfigValues }[] = [
    {
        name: "sqlite",
        datastore: Datastore.Sqlite,
        servers: [planNodeConfig({ role: NodeRole.Server, node: tokyo1, nodeIp: "10.100.0.1", interfaceName: "wg0", disable: ["servicelb"] })],
        agent: planNodeConfig({ role: NodeRole.Agent, node: homePc, nodeIp: "10.100.0.20", interfaceName: "wg0", serverUrl: URL1 }),
    },
    {
        name: "etcd",
        datastore: Datastore.Etcd,
        servers: [
            planNodeConfig({ role: NodeRole.Server, node: tokyo1, nodeIp: "10.100.0.1", interfaceName: "wg0", clusterInit: true, failover: FAST }),
            planNodeConfig({ role: NodeRole.Server, node: tokyo2, nodeIp: "10.100.0.2", interfaceName: "wg0", serverUrl: URL1, failover: FAST }),
            planNodeConfig({ role: NodeRole.Server, node: tokyo3, nodeIp: "10.100.0.3", interfaceName: "wg0", serverUrl: URL1, failover: FAST }),
        ],
        agent: planNodeConfig({ role: NodeRole.Agent, node: homePc, nodeIp: "10.100.0.20", interfaceName: "wg0", serverUrl: URL1, failover: FAST }),
    },
    {
        name: "external",
        datastore: Datastore.External,
        servers: [
            planNodeConfig({
                role: NodeRole.Server,
                node: tokyo1,
                nodeIp: "10.100.0.1",
                interfaceName: "tailscale0",
                externalDatastore: true,
                failover: LOSSY,
                secretsEncryption: true,
                kubeApiServerArgs: ["--audit-log-maxage=7"],
                extraTlsSans: ["k3s.example.com"],
            }),
            planNodeConfig({ role: NodeRole.Server, node: tokyo2, nodeIp: "10.100.0.2", interfaceName: "tailscale0", externalDatastore: true, failover: LOSSY, secretsEncryption: true }),
        ],
        agent: planNodeConfig({ role: NodeRole.Agent, node: homePc, nodeIp: "10.100.0.20", interfaceName: "tailscale0", serverUrl: URL1, failover: LOSSY, kubeletArgs: ["max-pods=50"] }),
    },
];

describe("k3s config.yaml renderer", () => {
    for (const c of cases) {
        it(`renders ${c.name} servers and agent: snapshot, known keys, node identity, no secret`, () => {
            c.servers.forEach((v, i) => {
                const text = renderK3sConfig(v);
                assertSnapshot(`config-${c.name}-server-${i + 1}.yaml`, text);
                assertKnownKeys(text, NodeRole.Server);
                assert.equal(scalarOf(text, "node-name"), v.nodeName);
                assert.equal(scalarOf(text, "node-ip"), v.nodeIp);
                assert.equal(scalarOf(text, "advertise-address"), v.nodeIp, "every server advertises its overlay address");
                assert.equal(scalarOf(text, "flannel-iface"), v.interfaceName);
                assert.equal(scalarOf(text, "write-kubeconfig-mode"), "0600");
                assert.equal(scalarOf(text, "token-file"), "/etc/rancher/k3s/hybridinfra-token");
                assert.equal(scalarOf(text, "token"), undefined, "the token is never in config.yaml");
                assert.ok(listOf(text, "node-label").includes("topology.kubernetes.io/region=tokyo"));
                assert.ok(!text.includes("pod-eviction-timeout"));
                assert.ok(!text.includes(DSN) && !text.includes(yamlQuotedInner(DSN)), "no datastore secret in the text");
                // Datastore-specific keys.
                assert.equal(scalarOf(text, "cluster-init"), c.datastore === Datastore.Etcd && i === 0 ? true : undefined);
                assert.equal(scalarOf(text, "server"), c.datastore === Datastore.Etcd && i > 0 ? URL1 : undefined);
                assert.equal(scalarOf(text, "datastore-endpoint"), c.datastore === Datastore.External ? "@@HI_SECRET:k3s_datastore_endpoint@@" : undefined);
            });
            const first = renderK3sConfig(c.servers[0]);
            assert.equal(scalarOf(first, "node-external-ip"), "203.0.113.10", "a public server advertises its public IP");
            assert.ok(listOf(first, "tls-san").includes("203.0.113.10"));
            assert.equal(scalarOf(renderK3sConfig(c.servers[1] ?? c.servers[0]), "node-external-ip"), c.servers.length > 1 ? undefined : "203.0.113.10");

            const a = renderK3sConfig(c.agent);
            assertSnapshot(`config-${c.name}-agent.yaml`, a);
            assertKnownKeys(a, NodeRole.Agent);
            assert.equal(scalarOf(a, "server"), URL1);
            assert.equal(scalarOf(a, "node-ip"), "10.100.0.20");
            assert.deepEqual(listOf(a, "node-taint"), ["edge=true:NoSchedule"]);
            assert.deepEqual(listOf(a, "node-label"), ["topology.kubernetes.io/region=home", "hybridinfra.io/edge=true"]);
            for (const k of ["cluster-init", "datastore-endpoint", "tls-san", "advertise-address", "write-kubeconfig-mode", "kube-apiserver-arg", "disable"]) {
                assert.ok(!configKeys(a).includes(k), `agent config has no ${k}`);
            }
        });
    }

    it("makes a public server advertise its overlay address, not its public IP, as the kubernetes Service endpoint (issue 13 §3)", () => {
        // The example: node-ip overlay and node-external-ip public, and nothing else, made k3s advertise
        // 203.0.113.10:6443 as the endpoint of 10.43.0.1.
        const text = renderK3sConfig(planNodeConfig({ role: NodeRole.Server, node: tokyo1, nodeIp: "10.100.0.1", interfaceName: "wg0" }));
        assert.deepEqual(
            text.split("\n").filter((l) => /^(node-ip|node-external-ip|advertise-address|bind-address):/.test(l)),
            ['node-ip: "10.100.0.1"', 'node-external-ip: "203.0.113.10"', 'advertise-address: "10.100.0.1"'],
        );
        // Own example: a server with a public DNS name only (no node-external-ip) on Tailscale's tailscale0.
        const named = renderK3sConfig(
            planNodeConfig({ role: NodeRole.Server, node: { ...tokyo1, publicAddress: "k3s.example.org" }, nodeIp: "100.64.0.7", interfaceName: "tailscale0" }),
        );
        assert.equal(scalarOf(named, "advertise-address"), "100.64.0.7");
        assert.equal(scalarOf(named, "node-external-ip"), undefined);
        assert.deepEqual(listOf(named, "tls-san"), ["k3s.example.org"]);
    });

    it("puts extra args after the profile's, normalised to name=value", () => {
        const text = renderK3sConfig(cases[2].servers[0]);
        assert.deepEqual(listOf(text, "kube-apiserver-arg"), ["default-not-ready-toleration-seconds=300", "default-unreachable-toleration-seconds=300", "audit-log-maxage=7"]);
        assert.deepEqual(listOf(text, "tls-san"), ["203.0.113.10", "k3s.example.com"]);
        assert.equal(scalarOf(text, "secrets-encryption"), true);
        assert.deepEqual(listOf(renderK3sConfig(cases[2].agent), "kubelet-arg"), ["node-status-update-frequency=1m", "max-pods=50"]);
    });

    it("never renders server-only keys for an agent, whatever the values carry", () => {
        const text = renderK3sConfig({ ...cases[2].servers[0], role: NodeRole.Agent, serverUrl: URL1 });
        assertKnownKeys(text, NodeRole.Agent);
        for (const k of ["tls-san", "datastore-endpoint", "secrets-encryption", "kube-apiserver-arg"]) assert.ok(!configKeys(text).includes(k), k);
    });

    it("escapes a datastore endpoint for the double-quoted placeholder", () => {
        const inner = yamlQuotedInner(DSN);
        assert.equal(JSON.parse(`"${inner}"`), DSN, "filling the placeholder yields a YAML/JSON string equal to the DSN");
    });
});

describe("failover profiles", () => {
    for (const profile of Object.values(FailoverProfile)) {
        it(`${profile}: the bound follows from the rendered controller-manager and apiserver args`, () => {
            const t = failoverTimings(profile);
            const text = renderK3sConfig(planNodeConfig({ role: NodeRole.Server, node: tokyo1, nodeIp: "10.100.0.1", interfaceName: "wg0", failover: t }));
            assert.ok(!text.includes("pod-eviction-timeout"));
            const flags = new Map<string, string>();
            for (const key of ["kubelet-arg", "kube-controller-manager-arg", "kube-apiserver-arg"]) {
                for (const a of listOf(text, key)) flags.set(a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1));
            }
            // Upstream defaults when the profile leaves a flag out (Kubernetes 1.32+ grace period: the larger).
            const grace = parseGoDuration(flags.get("node-monitor-grace-period") ?? "50s");
            const period = parseGoDuration(flags.get("node-monitor-period") ?? "5s");
            const status = parseGoDuration(flags.get("node-status-update-frequency") ?? "10s");
            const notReady = Number(flags.get("default-not-ready-toleration-seconds") ?? 300);
            const unreachable = Number(flags.get("default-unreachable-toleration-seconds") ?? 300);
            assert.equal(t.boundSeconds, grace + period + Math.max(notReady, unreachable) + RESCHEDULE_SECONDS);
            assert.equal(grace % status, 0, "grace period is a multiple of the status update frequency");
            if (profile === FailoverProfile.Default) assert.equal(flags.size, 0, "default runs upstream k3s unmodified");
        });
    }

    it("fast evicts in under a minute; lossy-link is slower than default", () => {
        const fast = failoverTimings(FailoverProfile.Fast);
        assert.ok(fast.boundSeconds < 60, `fast bound ${fast.boundSeconds}`);
        assert.equal(fast.boundSeconds, 20 + 2 + 20 + RESCHEDULE_SECONDS);
        assert.equal(fast.boundSeconds, 45, "seed 004's target");
        assert.deepEqual(fast.kubeletArgs, ["node-status-update-frequency=4s"]);
        assert.deepEqual(fast.kubeControllerManagerArgs, ["node-monitor-grace-period=20s", "node-monitor-period=2s", "node-eviction-rate=1"]);
        assert.deepEqual(fast.kubeApiServerArgs, ["default-not-ready-toleration-seconds=20", "default-unreachable-toleration-seconds=20"]);
        const lossy = failoverTimings(FailoverProfile.LossyLink);
        assert.deepEqual(lossy.kubeletArgs, ["node-status-update-frequency=1m"]);
        assert.deepEqual(lossy.kubeControllerManagerArgs, ["node-monitor-grace-period=5m", "node-monitor-period=5s"]);
        assert.equal(failoverTimings(FailoverProfile.Default).boundSeconds, 358);
        // A dark site's nodes are tainted one per 1/rate seconds: upstream 10 s each, fast 1 s each.
        assert.equal(failoverTimings(FailoverProfile.Default, 3).boundSeconds, 358 + 20);
        assert.equal(failoverTimings(FailoverProfile.Fast, 3).boundSeconds, 45 + 2);
        assert.ok(lossy.boundSeconds > failoverTimings(FailoverProfile.Default).boundSeconds);
    });

    it("rejects a grace period that is not a multiple of the status update frequency", () => {
        const t = { profile: FailoverProfile.Fast, nodeStatusUpdateFrequencySeconds: 6, nodeMonitorGracePeriodSeconds: 20, nodeMonitorPeriodSeconds: 5, notReadyTolerationSeconds: 30, unreachableTolerationSeconds: 30 };
        assert.throws(
            () => validateFailoverTimings(t),
            (e: Error) => {
                assert.equal(
                    e.message,
                    "k3s.failoverProfile: node-monitor-grace-period 20s is not a multiple of node-status-update-frequency 6s. Fix: make the grace period a whole number of status updates (e.g. 20s with 4s), so a node is judged on complete missed updates",
                );
                return true;
            },
        );
    });
});

describe("k3s host scripts", () => {
    const install = { version: "v1.36.1+k3s1" };
    const variants: [string, string][] = [
        ["config", renderConfigStep(renderK3sConfig(cases[2].servers[0]), false)],
        ["config-airgap", renderConfigStep(renderK3sConfig(cases[0].agent), true)],
        ["config-delete", renderConfigDelete(true)],
        ["install-server-version", renderInstallScript({ role: NodeRole.Server, install })],
        ["install-agent-channel", renderInstallScript({ role: NodeRole.Agent, install: { channel: "stable" } })],
        ["install-mirror", renderInstallScript({ role: NodeRole.Server, install: { channel: "v1.36", mirrorUrl: "https://rancher-mirror.rancher.cn" } })],
        ["install-airgap", renderInstallScript({ role: NodeRole.Agent, install: { ...install, airgap: { binaryPath: "./k3s", imagesPath: "./k3s-airgap-images-amd64.tar.zst" } } })],
        [
            "install-airgap-installer",
            renderInstallScript({ role: NodeRole.Server, install: { ...install, airgap: { binaryPath: "./k3s", imagesPath: "./i.tar", installScriptPath: "./install.sh" } } }),
        ],
        ["uninstall-server", renderUninstallScript(NodeRole.Server)],
        ["uninstall-agent", renderUninstallScript(NodeRole.Agent)],
        ["node-ready", renderNodeReadyScript({ nodeName: "home-pc", labels: { "topology.kubernetes.io/region": "home", "a/b": "it's" } })],
        ["node-remove", renderNodeRemoveScript({ nodeName: "home-pc" })],
        ["kubeconfig", renderKubeconfigScript()],
    ];
    for (const [label, body] of variants) {
        it(`${label} passes shellcheck`, () => {
            assertHostScript(renderHostScript({ host: "h", step: label, body, readsSecrets: label.startsWith("config") }), label);
        });
    }

    it("installs with no CLI flags, only the installer's env, and skips/restarts from facts", () => {
        const s = renderInstallScript({ role: NodeRole.Server, install });
        assertSnapshot("install-server.sh", s);
        assert.match(s, /env INSTALL_K3S_EXEC="\$K3S_ROLE" INSTALL_K3S_VERSION=v1\.36\.1\+k3s1 sh "\$k3s_installer"/);
        assert.ok(!/sh "\$k3s_installer" -/.test(s) && !s.includes("sh -s -"), "no flags after the installer");
        assert.match(s, /K3S_WANT_VERSION=v1\.36\.1\+k3s1/);
        assert.match(s, /k3s --version/);
        assert.match(s, /elif \[ "\$want_sum" != "\$have_sum" \]; then\n {2}hi_log "\/etc\/rancher\/k3s\/config.yaml changed since \$K3S_SERVICE last started: restarting \$K3S_SERVICE"/);
        assert.match(s, /hi_log "k3s \$k3s_installed is installed and running with the current config.yaml"/);
        assert.ok(!s.includes("K3S_TOKEN") && !s.includes("K3S_URL"));
        const airgap = renderInstallScript({ role: NodeRole.Agent, install: { ...install, airgap: { binaryPath: "./k3s", imagesPath: "./x/k3s-airgap-images-amd64.tar.zst" } } });
        assert.match(airgap, /INSTALL_K3S_SKIP_DOWNLOAD=true/);
        assert.match(airgap, /\/var\/lib\/rancher\/k3s\/agent\/images\/k3s-airgap-images-amd64\.tar\.zst/);
        const mirror = renderInstallScript({ role: NodeRole.Server, install: { channel: "stable", mirrorUrl: "https://mirror.example.cn" } });
        assert.match(mirror, /K3S_INSTALLER_URL=https:\/\/mirror\.example\.cn\/k3s\/k3s-install\.sh/);
        assert.match(mirror, /INSTALL_K3S_MIRROR=cn INSTALL_K3S_MIRROR_URL=mirror\.example\.cn INSTALL_K3S_CHANNEL=stable/);
    });

    it("removes a node by draining it and deleting the Node object", () => {
        const s = renderNodeRemoveScript({ nodeName: "home-pc" });
        assertSnapshot("node-remove.sh", s);
        assert.match(s, /k3s kubectl drain "\$k3s_node" --ignore-daemonsets --delete-emptydir-data --timeout=300s/);
        assert.match(s, /k3s kubectl delete node "\$k3s_node"/);
        assert.ok(s.indexOf("drain") < s.indexOf("delete node"));
        assert.match(renderUninstallScript(NodeRole.Agent), /\/usr\/local\/bin\/k3s-agent-uninstall\.sh/);
        assert.match(renderUninstallScript(NodeRole.Server), /\/usr\/local\/bin\/k3s-uninstall\.sh/);
    });

    it("writes the token to a 0600 file from a placeholder and config.yaml with mode 0600", () => {
        const s = renderConfigStep("node-name: \"x\"\n", false);
        assert.match(s, /^hi_write_file \/etc\/rancher\/k3s\/hybridinfra-token 0600 root:root '' <<'HI_FILE_EOF'\n@@HI_SECRET:k3s_token@@\nHI_FILE_EOF\n/);
        assert.match(s, /hi_write_file \/etc\/rancher\/k3s\/config.yaml 0600 root:root '#'/);
    });
});

describe("kubeconfig", () => {
    const k3sYaml = "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: Q0E=\n    server: https://127.0.0.1:6443\n  name: default\n";
    it("is cut out of the step's stdout and pointed at the endpoint", () => {
        const stdout = `[tokyo-1/k3s-kubeconfig] something\n${KUBECONFIG_BEGIN}\n${k3sYaml}${KUBECONFIG_END}\n[tokyo-1/k3s-kubeconfig] done (no change)\n`;
        const out = extractKubeconfig(stdout, "203.0.113.10");
        assert.equal(out, k3sYaml.replace("https://127.0.0.1:6443", "https://203.0.113.10:6443"));
        assert.match(extractKubeconfig(stdout, "fd7a:115c::1"), /server: https:\/\/\[fd7a:115c::1\]:6443/);
    });
    it("fails without echoing stdout when the markers are missing", () => {
        assert.throws(() => extractKubeconfig("client-key-data: SECRET", "h"), (e: Error) => !e.message.includes("SECRET"));
    });
});
