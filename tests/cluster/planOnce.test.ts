/**
 * Plan once and hand plans down (issue 15): a config with several independent mistakes reports them all in
 * one run, each with its path and fix; and each host's SSH settings are validated once per run.
 */
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { Session } from "node:inspector/promises";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { loadStack, PROJECT } from "../../tools/stack";
import { RENDER_CALLS, RENDER_OUTPUTS } from "../../tools/render-lib";
import { runProgram } from "../../infra/program";
import { record } from "../harness/mocks";

/**
 * The stack's config, changed by `mutate`, through the whole program (schema, secrets, planCluster, the
 * components) under the mock engine; rejects with what the program threw.
 */
async function runMutated(stack: string, mutate: (cfg: any) => void): Promise<void> {
    const cfg = JSON.parse(loadStack(stack).config[`${PROJECT}:cluster`]);
    mutate(cfg);
    const loaded = loadStack(stack, { cluster: JSON.stringify(cfg) });
    let thrown: unknown;
    await record(
        () => {
            try {
                return runProgram().outputs;
            } catch (e) {
                thrown = e;
                return {};
            }
        },
        { config: loaded.config, secretKeys: loaded.secretKeys, project: PROJECT, stack, outputs: RENDER_OUTPUTS, calls: RENDER_CALLS },
    );
    if (thrown !== undefined) throw thrown;
}

describe("one error channel: every mistake in one run", () => {
    it("three independent mistakes in three layers (overlay, k3s, apps) are reported together, each with its path and fix", async () => {
        await assert.rejects(
            runMutated("ha-homelab", (c) => {
                c.hosts[2].overlayAddress = "10.100.1.5"; // outside overlay.cidr 10.100.0.0/24
                c.k3s.kubeletArgs = ["--node-status-update-frequency=4s"]; // the fast failover profile sets it
                c.apps[0].placement = { locations: ["mars"] }; // no host is in "mars"
            }),
            (e: Error) => {
                const lines = e.message.split("\n").filter((l) => l.startsWith("  - "));
                assert.equal(lines.length, 3, `three problems, one per line:\n${e.message}`);
                assert.match(e.message, /^3 problems in the config:/);
                const [overlay, k3s, apps] = ["hosts[2].overlayAddress", "k3s.kubeletArgs[0]", "apps[0].placement.locations[0]"].map((p) => lines.find((l) => l.startsWith(`  - ${p}:`)));
                for (const [what, line] of Object.entries({ overlay, k3s, apps })) {
                    assert.ok(line !== undefined, `the ${what} mistake is reported with its path:\n${e.message}`);
                    assert.match(line, /\. Fix: \S/, `the ${what} mistake says its fix`);
                }
                assert.match(overlay!, /10\.100\.1\.5/, "the overlay problem shows the value received");
                assert.match(apps!, /"mars"/, "the apps problem shows the value received");
                return true;
            },
        );
    });

    it("k3s problems found on the k3s nodes (servers first) carry the host's own index in hosts", async () => {
        // ha-homelab lists the hub-vm agent first: it is k3s node 3 (after the three servers) but hosts[0].
        await assert.rejects(
            runMutated("ha-homelab", (c) => (c.hosts[0].labels = { "topology.kubernetes.io/region": "elsewhere" })),
            (e: Error) => {
                assert.match(e.message, /^hosts\[0\]\.labels/, e.message);
                return true;
            },
        );
    });
});

/** How many times `fn` (a function in `file`) ran while `run` ran, by V8's precise coverage (call counts). */
async function callCount(file: string, fn: string, run: () => Promise<void>): Promise<number> {
    const session = new Session();
    session.connect();
    try {
        await session.post("Profiler.enable");
        await session.post("Profiler.startPreciseCoverage", { callCount: true, detailed: true });
        await session.post("Profiler.takePreciseCoverage"); // reset the counts
        await run();
        const { result } = await session.post("Profiler.takePreciseCoverage");
        await session.post("Profiler.stopPreciseCoverage");
        // The function itself is the longest one of that name: the module's export getter (`validateSshHosts: () =>
        // validateSshHosts`, which the transpiler adds) has the same name and is called on every import access.
        const named = result.filter((script) => script.url.endsWith(file)).flatMap((script) => script.functions.filter((f) => f.functionName === fn));
        assert.ok(named.length > 0, `no function ${fn} in ${file} was loaded`);
        const span = (f: (typeof named)[number]) => f.ranges[0].endOffset - f.ranges[0].startOffset;
        const count = named.reduce((a, b) => (span(b) > span(a) ? b : a)).ranges[0].count;
        return count;
    } finally {
        session.disconnect();
    }
}

describe("plan once: each host's SSH settings are validated once", () => {
    const modelFile = path.join("components", "src", "host", "model.ts");
    for (const stack of ["ha-homelab", "tailnet", "private-ingress"]) {
        it(`${stack}: validateSshHosts runs once for the whole cluster (the plan's check), not once per layer`, async () => {
            // Warm up: module loading and the first run's lazy compilation are not what is counted.
            await runMutated(stack, () => undefined);
            const n = await callCount(modelFile, "validateSshHosts", () => runMutated(stack, () => undefined));
            assert.equal(n, 1, `validateSshHosts ran ${n} times`);
        });
    }

    for (const [stack, file, fn] of [
        ["ha-homelab", path.join("components", "src", "wireguard", "plan.ts"), "decideOverlay"],
        ["ha-homelab", path.join("components", "src", "k3s", "plan.ts"), "planK3s"],
        ["ha-homelab", path.join("components", "src", "k3s", "validate.ts"), "k3sClusterProblems"],
        ["ha-homelab", path.join("components", "src", "wireguard", "validate.ts"), "overlayProblems"],
        ["ha-homelab", path.join("components", "src", "cluster", "plan.ts"), "planCluster"],
        ["tailnet", path.join("components", "src", "k3s", "plan.ts"), "planK3s"],
        ["tailnet", path.join("components", "src", "tailscale", "plan.ts"), "validateTailscale"],
        ["tailnet", path.join("components", "src", "tailscale", "plan.ts"), "planTailscale"],
    ]) {
        it(`${stack}: ${fn} runs once per run (the plan is handed down, not made again)`, async () => {
            await runMutated(stack, () => undefined);
            const n = await callCount(file, fn, () => runMutated(stack, () => undefined));
            assert.equal(n, 1, `${fn} ran ${n} times`);
        });
    }
});

describe("one error channel for component package users (C#, Go, Python, YAML)", () => {
    it("the provider's construct reports every problem of a HybridCluster as one InputPropertiesError, a property error each", async () => {
        const { HybridInfraProvider } = await import("../../components/src/provider");
        const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n";
        const inputs = {
            sshPrivateKey: key,
            hosts: [
                { name: "cloud", ssh: { address: "203.0.113.10" }, location: "cloud", publicEndpoint: "203.0.113.10", roles: ["hub", "server"], overlayAddress: "10.100.1.5" },
                { name: "home", ssh: { address: "192.168.50.10" }, location: "home", roles: ["agent"] },
            ],
            k3s: { kubeletArgs: ["--node-status-update-frequency=4s"] },
            apps: [{ name: "web", image: "nginx:1.27", ports: [{ containerPort: 80 }], hostnames: ["web.example.com"], placement: { locations: ["mars"] } }],
        };
        let thrown: unknown;
        await record(async () => {
            try {
                await new HybridInfraProvider().construct("c", "hybridinfra:index:HybridCluster", inputs, {});
            } catch (e) {
                thrown = e;
            }
            return {};
        });
        assert.ok(pulumi.InputPropertiesError.isInstance(thrown), `not an InputPropertiesError: ${String(thrown)}`);
        const errors = (thrown as pulumi.InputPropertiesError).errors;
        assert.deepEqual(errors.map((e) => e.propertyPath), ["hosts[0].overlayAddress", "k3s.kubeletArgs[0]", "apps[0].placement.locations[0]"]);
        for (const e of errors) assert.match(e.reason, /\. Fix: \S/);
    });
});

describe("paths inside a cluster are the stack config's", () => {
    it("with a host leaving (remove: true), a problem of a host after it names its index in the stack config, in the path and in the text", async () => {
        // ha-homelab: hosts[4] office-nas leaves; hosts[5] parents-pi gets the region label it may not set.
        await assert.rejects(
            runMutated("ha-homelab", (c) => {
                c.hosts[4].remove = true;
                c.hosts[5].labels = { "topology.kubernetes.io/region": "elsewhere" };
            }),
            (e: Error) => {
                // (The app placed on the office, which leaves with its one host, is the other problem.)
                assert.match(e.message, /- hosts\[5\]\.labels\.topology\.kubernetes\.io\/region: is set by HybridInfra from hosts\[5\]\.location\./, e.message);
                assert.doesNotMatch(e.message, /nodes\[|hosts\[4\]/, e.message);
                return true;
            },
        );
    });
});
