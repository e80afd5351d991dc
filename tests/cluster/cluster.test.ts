import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { HybridCluster, HybridClusterArgs, HostRole, IngressMode, OverlayKind } from "../../components/src/cluster";
import { record } from "../harness/mocks";
import { customDependencies, RENDER_OUTPUTS } from "../../tools/render-lib";
import { TEST_KEY } from "../harness/fixtures";

const base = (): HybridClusterArgs => ({
    sshPrivateKey: pulumi.secret(TEST_KEY),
    hosts: [
        { name: "cloud", ssh: { address: "203.0.113.10" }, location: "cloud", publicEndpoint: "203.0.113.10", roles: [HostRole.Hub, HostRole.Server] },
        { name: "home", ssh: { address: "192.168.50.10" }, location: "home", roles: [HostRole.Agent] },
    ],
    apps: [{ name: "web", image: "nginx:1.27", ports: [{ containerPort: 80 }], hostnames: ["web.example.com"] }],
});

type Mutate = (a: any) => void;
const BAD: [string, Mutate, string][] = [
    [
        "no server",
        (a) => (a.hosts[0].roles = [HostRole.Hub]),
        'hosts: no host has the role "server" (roles given: cloud=[hub] home=[agent]). Fix: add `server` to the roles of the machine that should run the control plane (usually the most reliable one)',
    ],
    [
        "a jump host that is not a host",
        (a) => (a.hosts[1].ssh.jumpHost = "bastion"),
        'hosts[1].ssh.jumpHost: refers to an unknown host "bastion". Fix: use the name of another host in hosts (known: cloud, home)',
    ],
    [
        "cloud-forward with an unknown forward host",
        (a) => (a.ingress = { mode: IngressMode.CloudForward, forwardHost: "edge" }),
        'ingress.forwardHost: names an unknown host "edge". Fix: use one of: cloud, home',
    ],
    [
        "cloud-forward from a host without a public endpoint",
        (a) => (a.ingress = { mode: IngressMode.CloudForward, forwardHost: "home" }),
        'ingress.forwardHost: names "home", which has no publicEndpoint. Fix: forward from a machine with a public IP, and set its publicEndpoint',
    ],
    [
        "traefik with no public k3s node",
        (a) => ((a.hosts[0].roles = [HostRole.Hub]), (a.hosts[1].roles = [HostRole.Server])),
        'ingress.mode: is "traefik", but no k3s node has a publicEndpoint, so nothing on the internet can reach Traefik. Fix: use `cloud-forward` with a public cloud node, or `cloudflare-tunnel`, or give a k3s node a publicEndpoint',
    ],
    [
        "a tunnel without the Cloudflare account and zone",
        (a) => (a.ingress = { mode: IngressMode.CloudflareTunnel }),
        "ingress.cloudflare: is missing; the tunnel needs the Cloudflare account and zone. Fix: set ingress.cloudflare.accountId and ingress.cloudflare.zoneId",
    ],
    [
        "a tunnel without an API token",
        (a) => (a.ingress = { mode: IngressMode.CloudflareTunnel, cloudflare: { accountId: "0".repeat(32), zoneId: "f".repeat(32) } }),
        "cloudflareApiToken: is not set; the tunnel, its config and DNS records are created with it. Fix: run `pulumi config set --secret cloudflareApiToken <token>`",
    ],
    [
        "tailscale without an auth key",
        (a) => ((a.overlay = { kind: OverlayKind.Tailscale }), (a.hosts[0].roles = [HostRole.Server])),
        "tailscaleAuthKey: is not set; hosts join the tailnet with it. Fix: run `pulumi config set --secret tailscaleAuthKey <reusable auth key>`",
    ],
    [
        "a hub role on a tailnet",
        (a) => ((a.overlay = { kind: OverlayKind.Tailscale }), (a.tailscaleAuthKey = "k")),
        'hosts[0].roles: has "hub", but overlay.kind is tailscale, which has no hub. Fix: remove `hub` from the roles, or use overlay.kind wireguard',
    ],
    [
        "an app placed on a location no host has",
        (a) => (a.apps[0].placement = { locations: ["mars"] }),
        "apps[0].placement.locations[0]",
    ],
];

describe("HybridCluster spec validation", () => {
    for (const [what, mutate, message] of BAD) {
        it(`rejects ${what} before registering anything`, async () => {
            const args = base();
            mutate(args);
            const rec = await record(() => {
                assert.throws(
                    () => new HybridCluster("c", args),
                    (e: Error) => {
                        // Alone, or among the other problems of the same spec (all are reported at once).
                        assert.ok(e.message.startsWith(message) || e.message.includes(`\n  - ${message}`), `got: ${e.message}`);
                        return true;
                    },
                );
            });
            assert.deepEqual(rec.resources.map((r) => r.type).filter((t) => t !== "pulumi:pulumi:Stack"), [], "nothing is registered for a bad spec");
        });
    }
});

describe("HybridCluster composition", () => {
    it("creates the overlay, then k3s on it, then the apps through the cluster's provider", async () => {
        const rec = await record(() => new HybridCluster("c", base()), { outputs: RENDER_OUTPUTS });
        const cluster = rec.find("hybridinfra:index:HybridCluster", "c");
        const mesh = rec.find("hybridinfra:index:WireGuardMesh", "c-wg");
        const k3s = rec.find("hybridinfra:index:K3sCluster", "c-k3s");
        assert.equal(mesh.parent, cluster.name);
        assert.equal(k3s.parent, cluster.name);
        // The overlay is up before k3s is installed anywhere: every install step's dependencies (components
        // expanded to their steps, followed transitively) include every host's WireGuard config step.
        const deps = customDependencies(rec);
        const closure = (urn: string, seen = new Set<string>()): Set<string> => {
            for (const d of deps.get(urn) ?? []) if (!seen.has(d)) closure(d, seen.add(d));
            return seen;
        };
        const wgConfigs = rec.resources.filter((r) => r.name.endsWith("-wg-config")).map((r) => r.urn);
        assert.equal(wgConfigs.length, 2);
        for (const install of rec.resources.filter((r) => r.name.endsWith("-k3s-install"))) {
            const before = closure(install.urn);
            for (const w of wgConfigs) assert.ok(before.has(w), `${install.name} can start before ${w}`);
        }
        const provider = rec.find("pulumi:providers:kubernetes", "c-k3s-k8s");
        const k8s = rec.resources.filter((r) => r.type.startsWith("kubernetes:"));
        assert.ok(k8s.length >= 3, "the app's objects are registered");
        for (const r of k8s) assert.ok(r.provider.startsWith(provider.urn), `${r.type} ${r.name} does not use the cluster's provider`);
    });
});
