// The Kubernetes API endpoint (issue 13 §2): a given kubeconfigEndpoint must belong to a server or be
// declared the user's own; by default it is derived from the first server pulumi up reaches.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { configProblems } from "../harness/config";
import { loadStack } from "../../tools/stack";
import { runStack } from "../../tools/render-lib";
import { settle } from "../harness/mocks";
import { extractProgram } from "../harness/shellcheck";


const FIX_TAIL = "or use one of the addresses above, or, if it is your own load balancer or DNS name in front of the servers, set k3s.kubeconfigEndpointIsExternal: true";

/** A shipped stack's config with its k3s settings replaced. */
function stackWith(stack: string, k3s: Record<string, unknown>): Record<string, any> {
    const cfg = JSON.parse(loadStack(stack).config["hybrid-infra:cluster"]);
    cfg.k3s = { ...cfg.k3s, ...k3s };
    return cfg;
}

describe("k3s.kubeconfigEndpoint", () => {
    it("rejects private-ingress's stale 10.100.0.10 (the home server's overlay address is .99), showing both", () => {
        assert.deepEqual(configProblems(stackWith("private-ingress", { kubeconfigEndpoint: "10.100.0.10" })), [
            'k3s.kubeconfigEndpoint: "10.100.0.10" is no address of a k3s server (home-server: ssh.address "192.168.50.10", overlay address "10.100.0.99"). ' +
                `Fix: remove it to use the address of the first server pulumi up reaches (home-server at "192.168.50.10"), ${FIX_TAIL}`,
        ]);
    });

    it("rejects ha-homelab's stale 10.100.0.11 (lab-server-1's overlay address is .249)", () => {
        assert.deepEqual(configProblems(stackWith("ha-homelab", { kubeconfigEndpoint: "10.100.0.11" })), [
            'k3s.kubeconfigEndpoint: "10.100.0.11" is no address of a k3s server (lab-server-1: ssh.address "192.168.50.11", overlay address "10.100.0.249"; ' +
                'lab-server-2: ssh.address "192.168.50.12", overlay address "10.100.0.182"; lab-server-3: ssh.address "192.168.50.13", overlay address "10.100.0.153"). ' +
                `Fix: remove it to use the address of the first server pulumi up reaches (lab-server-1 at "192.168.50.11"), ${FIX_TAIL}`,
        ]);
    });

    it("rejects an agent's public address as the API endpoint (own example: no API server listens there)", () => {
        assert.deepEqual(configProblems(stackWith("cross-cloud", { kubeconfigEndpoint: "198.51.100.32" })), [
            'k3s.kubeconfigEndpoint: "198.51.100.32" is no address of a k3s server (tokyo-1: ssh.address "203.0.113.31", publicEndpoint "203.0.113.31", overlay address "10.100.0.173"). ' +
                `Fix: remove it to use the address of the first server pulumi up reaches (tokyo-1 at "203.0.113.31"), ${FIX_TAIL}`,
        ]);
    });

    it("accepts every address of a server: SSH address, public endpoint, overlay address", () => {
        for (const e of ["192.168.50.11", "10.100.0.249", "10.100.0.153"]) assert.deepEqual(configProblems(stackWith("ha-homelab", { kubeconfigEndpoint: e })), [], e);
        assert.deepEqual(configProblems(stackWith("hybrid-edge", { kubeconfigEndpoint: "203.0.113.10" })), []);
    });

    it("accepts the user's own load balancer or DNS name when declared external, and puts it in every server's certificate", async () => {
        const problems = configProblems(stackWith("ha-homelab", { kubeconfigEndpoint: "k8s.example.org" }));
        assert.equal(problems.length, 1);
        assert.match(problems[0], /^k3s\.kubeconfigEndpoint: "k8s\.example\.org" is no address of a k3s server/);
        const cfg = stackWith("ha-homelab", { kubeconfigEndpoint: "k8s.example.org", kubeconfigEndpointIsExternal: true });
        assert.deepEqual(configProblems(cfg), []);
        const { recording, outputs } = await runStack("ha-homelab", { extraConfig: { cluster: JSON.stringify(cfg) } });
        assert.equal((await settle(outputs.apiEndpoint)).value, "https://k8s.example.org:6443");
        for (const s of ["lab-server-1", "lab-server-2", "lab-server-3"]) {
            const config = extractProgram(recording.byName(`ha-homelab-k3s-${s}-k3s-config`).inputs.create);
            assert.match(config, /\ntls-san:\n {2}- "k8s\.example\.org"\n/, s);
        }
    });

    it("rejects kubeconfigEndpointIsExternal without an endpoint", () => {
        assert.deepEqual(configProblems(stackWith("hybrid-edge", { kubeconfigEndpointIsExternal: true })), [
            "k3s.kubeconfigEndpointIsExternal: is true, but k3s.kubeconfigEndpoint is not set. Fix: set k3s.kubeconfigEndpoint to your load balancer or DNS name, or remove kubeconfigEndpointIsExternal to derive the endpoint",
        ]);
    });
});

describe("the derived API endpoint", () => {
    it("is the home server's LAN address when pulumi up runs from home (private-ingress), and is in its certificate", async () => {
        const { recording, outputs } = await runStack("private-ingress");
        assert.equal((await settle(outputs.apiEndpoint)).value, "https://192.168.50.10:6443");
        assert.match(String((await settle(outputs.kubeconfig)).value), /server: https:\/\/192\.168\.50\.10:6443\n/);
        const config = extractProgram(recording.byName("private-ingress-k3s-home-server-k3s-config").inputs.create);
        assert.match(config, /\ntls-san:\n {2}- "192\.168\.50\.10"\n/);
    });

    it("is a cloud server's public address (hybrid-edge), already in its certificate", async () => {
        const { outputs } = await runStack("hybrid-edge");
        assert.equal((await settle(outputs.apiEndpoint)).value, "https://203.0.113.10:6443");
    });

    it("goes only into the certificate of the server it belongs to (ha-homelab)", async () => {
        const { recording, outputs } = await runStack("ha-homelab");
        assert.equal((await settle(outputs.apiEndpoint)).value, "https://192.168.50.11:6443");
        const config = (s: string) => extractProgram(recording.byName(`ha-homelab-k3s-${s}-k3s-config`).inputs.create);
        assert.match(config("lab-server-1"), /\ntls-san:\n {2}- "192\.168\.50\.11"\n/);
        assert.doesNotMatch(config("lab-server-2"), /tls-san/);
    });
});
