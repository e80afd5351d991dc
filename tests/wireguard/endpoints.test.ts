// Endpoints that are names, and home IPs that change (issue 13 §6): `host:port` endpoints are accepted by
// the stack config and rendered as given; hosts whose peers have DNS-name endpoints re-resolve them.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { parseClusterConfig } from "../../infra/config";
import { HybridCluster, HybridClusterArgs } from "../../components/src/cluster";
import { nameEndpointPeers, renderReresolveScript, reresolvePaths } from "../../components/src/wireguard";
import { record } from "../harness/mocks";
import { TEST_KEY } from "../harness/fixtures";
import { assertHostScript, assertShellcheck, extractProgram } from "../harness/shellcheck";
import { RENDER_OUTPUTS } from "../../tools/render-lib";

const CMD = "command:remote:Command";

/** A hub at home behind a router that forwards 51821, reached by name; a cloud server; a home agent. */
const homeHub = () => ({
    hosts: [
        { name: "home-hub", ssh: { address: "192.168.50.2" }, location: "home", publicEndpoint: "home.example.org:51821", roles: ["hub"] },
        { name: "cloud-1", ssh: { address: "203.0.113.10" }, location: "cloud", publicEndpoint: "203.0.113.10", roles: ["server"] },
        { name: "home-pc", ssh: { address: "192.168.50.21" }, location: "home", roles: ["agent"] },
    ],
});

async function render(cfg: ReturnType<typeof homeHub>) {
    const args = { sshPrivateKey: pulumi.secret(TEST_KEY), ...(cfg as unknown as Pick<HybridClusterArgs, "hosts">) };
    const rec = await record(() => new HybridCluster("c", args), { outputs: RENDER_OUTPUTS });
    const program = (host: string, step = "wg-config") => extractProgram(rec.find(CMD, `c-wg-${host}-${step}`).inputs.create as string);
    return Object.assign(program, { command: (host: string) => rec.find(CMD, `c-wg-${host}-wg-config`).inputs.create as string });
}

describe("host:port endpoints", () => {
    it("accepts home.example.org:51821 in the stack config (it was rejected by the schema)", () => {
        assert.equal(parseClusterConfig(homeHub()).hosts[0].publicEndpoint, "home.example.org:51821");
    });

    it("rejects an endpoint with a scheme, naming the form to use", () => {
        const cfg = homeHub();
        cfg.hosts[0].publicEndpoint = "udp://home.example.org:51821";
        assert.throws(
            () => parseClusterConfig(cfg),
            (e: Error) =>
                e.message.includes(
                    'hosts[0].publicEndpoint: has the wrong format, got "udp://home.example.org:51821". Fix: use the public IP or DNS name, with :port when the router forwards another port, e.g. `203.0.113.10` or `home.example.org:51821`',
                ),
        );
    });

    it("renders Endpoint = home.example.org:51821 for the hub's peers, and k3s gets the name without the port", async () => {
        const script = await render(homeHub());
        assert.match(script("cloud-1"), /\n# peer home-hub\n\[Peer\]\nPublicKey = [^\n]+\nEndpoint = home\.example\.org:51821\n/);
        assert.match(script("home-pc"), /\nEndpoint = home\.example\.org:51821\n/);
        // A hub with a name endpoint is no k3s node here; give the cloud server a name endpoint with a port.
        const cfg = homeHub();
        cfg.hosts[1].publicEndpoint = "cloud.example.org:51900";
        const args = { sshPrivateKey: pulumi.secret(TEST_KEY), ...(cfg as unknown as Pick<HybridClusterArgs, "hosts">) };
        const rec = await record(() => new HybridCluster("c", args), { outputs: RENDER_OUTPUTS });
        const k3sConfig = extractProgram(rec.find(CMD, "c-k3s-cloud-1-k3s-config").inputs.create as string);
        assert.match(k3sConfig, /\ntls-san:\n {2}- "cloud\.example\.org"\n/);
        assert.doesNotMatch(k3sConfig, /51900/);
    });
});

describe("re-resolving DNS-name endpoints", () => {
    it("installs the re-resolve script and a 30 s systemd timer on hosts whose peers have name endpoints", async () => {
        const script = await render(homeHub());
        const paths = reresolvePaths("wg0");
        for (const host of ["cloud-1", "home-pc"]) {
            const s = script(host);
            assert.ok(s.includes(`hi_write_file ${paths.script} 0755 root:root '' <<'HI_FILE_EOF'`), `${host} writes the script`);
            assert.match(s, /\n[A-Za-z0-9+/]{43}= home\.example\.org:51821\nHI_PEERS\n/);
            assert.match(s, /\nOnUnitActiveSec=30\n/);
            assert.match(s, /systemctl enable --now hybridinfra-wg-reresolve-wg0\.timer/);
            assertHostScript({ script: s, command: script.command(host) }, `${host}/wg-config`);
        }
        // The hub's own peers are reached at no name: nothing to re-resolve, and any leftover is removed.
        const hub = script("home-hub");
        assert.ok(!hub.includes("hi_write_file /usr/local/sbin/hybridinfra-wg-reresolve-wg0"));
        assert.match(hub, /systemctl disable --now hybridinfra-wg-reresolve-wg0\.timer/);
        assert.match(script("home-hub"), /hi_remove_managed_file "\$f"/);
    });

    it("re-resolves only name endpoints, a name without a port included (own example), never IP endpoints", () => {
        const peers = [
            { name: "hub", publicKey: "H".repeat(43) + "=", endpoint: "vpn.example.org:51820", allowedIps: ["10.100.0.0/24"], presharedKey: false },
            { name: "cloud", publicKey: "C".repeat(43) + "=", endpoint: "203.0.113.10:51820", allowedIps: ["10.100.0.5/32"], presharedKey: false },
            { name: "v6", publicKey: "S".repeat(43) + "=", endpoint: "[2001:db8::1]:51820", allowedIps: ["10.100.0.6/32"], presharedKey: false },
            { name: "nat", publicKey: "N".repeat(43) + "=", allowedIps: ["10.100.0.7/32"], presharedKey: false },
        ];
        assert.deepEqual(nameEndpointPeers({ peers }).map((p) => p.name), ["hub"]);
        const text = renderReresolveScript("wg0", nameEndpointPeers({ peers }));
        assert.match(text, /\nHHHH[H]+= vpn\.example\.org:51820\nHI_PEERS\n$/);
        assert.match(text, /-gt 135 \]/);
        assertShellcheck(text, "reresolve script");
    });

    it("removes the script and units when the interface is deleted", async () => {
        const args = { sshPrivateKey: pulumi.secret(TEST_KEY), ...(homeHub() as unknown as Pick<HybridClusterArgs, "hosts">) };
        const rec = await record(() => new HybridCluster("c", args), { outputs: RENDER_OUTPUTS });
        const del = extractProgram(rec.find(CMD, "c-wg-home-pc-wg-config").inputs.delete as string);
        assert.match(del, /systemctl disable --now hybridinfra-wg-reresolve-wg0\.timer/);
        assert.ok(del.includes("for f in /etc/systemd/system/hybridinfra-wg-reresolve-wg0.timer /etc/systemd/system/hybridinfra-wg-reresolve-wg0.service"));
    });
});
