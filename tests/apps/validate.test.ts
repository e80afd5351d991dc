import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { validateApps, ExposedApp } from "../../components/src/apps";
import type { AppLike, AppValidationContext } from "../../components/src/apps/validate";
import { isValidHostname } from "../../components/src/util/hostname";
import { PublicIngressForwardArgs } from "../../components/src/ingress";
import { validateForward } from "../../components/src/ingress/plan";
import { record } from "../harness/mocks";
import { TEST_KEY } from "../harness/fixtures";
import { clusterProvider } from "./helpers";

const ctx: AppValidationContext = { knownLocations: ["tokyo", "home", "tokyo"], cloudflare: { accountId: "0123456789abcdef0123456789abcdef", zoneId: "fedcba9876543210fedcba9876543210" } };
const app: AppLike = { image: "nginx:1.27", ports: [{ containerPort: 80 }], hostnames: ["blog.example.com"] };

describe("validateApps", () => {
    const cases: [string, AppLike[], AppValidationContext, string][] = [
        [
            "a duplicate hostname across apps",
            [app, { ...app, hostnames: ["blog.example.com"] }],
            ctx,
            'apps[1].hostnames[0]: duplicates apps[0].hostnames[0] "blog.example.com". Fix: serve each hostname from one app',
        ],
        [
            "an invalid hostname",
            [{ ...app, hostnames: ["Blog_Site"] }],
            ctx,
            'apps[0].hostnames[0]: is not a valid DNS hostname, got "Blog_Site". Fix: use a lowercase fully qualified name such as `app.example.com`',
        ],
        [
            "a container port out of range",
            [{ ...app, ports: [{ containerPort: 70000 }] }],
            ctx,
            "apps[0].ports[0].containerPort: must be an integer from 1 to 65535, got 70000. Fix: use the port the container listens on",
        ],
        [
            "a service port of zero",
            [{ ...app, ports: [{ containerPort: 8080, servicePort: 0 }] }],
            ctx,
            "apps[0].ports[0].servicePort: must be an integer from 1 to 65535, got 0. Fix: use a port from 1 to 65535, or leave it out to reuse the container port",
        ],
        [
            "replicas < 1",
            [{ ...app, replicas: 0 }],
            ctx,
            "apps[0].replicas: must be an integer of at least 1, got 0. Fix: set replicas to 1 or more (2 or more to keep serving while a site is down)",
        ],
        [
            "tunnel mode without a Cloudflare account or zone",
            [{ ...app, exposure: "tunnel" }],
            { knownLocations: ["tokyo"] },
            'apps[0].exposure: is "tunnel" but the Cloudflare account and zone are not configured (missing cloudflare.accountId and cloudflare.zoneId). Fix: set cloudflare.accountId and cloudflare.zoneId in the stack config, or use exposure "ingress"',
        ],
        [
            "tunnel mode without a zone",
            [app, { ...app, hostnames: ["shop.example.com"], exposure: "tunnel" }],
            { knownLocations: ["tokyo"], cloudflare: { accountId: "0123456789abcdef0123456789abcdef" } },
            'apps[1].exposure: is "tunnel" but the Cloudflare zone is not configured (missing cloudflare.zoneId). Fix: set cloudflare.zoneId in the stack config, or use exposure "ingress"',
        ],
        [
            "placement on a location no host has",
            [{ ...app, placement: { locations: ["tokyo", "osaka"] } }],
            ctx,
            'apps[0].placement.locations[1]: names location "osaka", which no host has (known: home, tokyo). Fix: use a location of one of the hosts, or add a host in that location',
        ],
        [
            "a misspelled location",
            [{ ...app, placement: { locations: ["tokio"] } }],
            ctx,
            'apps[0].placement.locations[0]: names location "tokio", which no host has (known: home, tokyo). Fix: did you mean "tokyo"? Use a location of one of the hosts',
        ],
        [
            "an existing-secret TLS mode without a name",
            [{ ...app, tls: { mode: "existing-secret" } }],
            ctx,
            'apps[0].tls.secretName: is required with mode "existing-secret", got nothing (the key is missing). Fix: name the kubernetes.io/tls Secret in the app\'s namespace',
        ],
        [
            "an unknown exposure",
            [{ ...app, exposure: "nodeport" }],
            ctx,
            'apps[0].exposure: must be one of ingress, tunnel, got "nodeport". Fix: use "ingress" (Traefik) or "tunnel" (Cloudflare Tunnel)',
        ],
        [
            "a probe on a port the app does not have",
            [{ ...app, readinessProbe: { path: "/ready", port: 9090 } }],
            ctx,
            "apps[0].readinessProbe.port: is not one of the app's container ports (80), got 9090. Fix: probe a port listed in ports, or leave it out to probe the first one",
        ],
    ];
    for (const [label, apps, c, message] of cases) {
        it(`rejects ${label}`, () => {
            assert.throws(() => validateApps(apps, c), (e: Error) => {
                assert.equal(e.name, "HybridInfraConfigError");
                assert.equal(e.message, message);
                return true;
            });
        });
    }
    it("accepts valid apps, including a shared hostname-free second app and a wildcard ingress host", () => {
        validateApps([app, { ...app, hostnames: ["*.apps.example.com"], replicas: 3, exposure: "ingress", placement: { locations: ["home"] } }, { ...app, hostnames: ["t.example.com"], exposure: "tunnel" }], ctx);
    });
    it("uses the given config path", () => {
        assert.throws(() => validateApps([{ ...app, replicas: -1 }], ctx, "cluster.apps"), /^HybridInfraConfigError: cluster\.apps\[0\]\.replicas: /);
    });
    it("knows hostnames", () => {
        for (const h of ["a.example.com", "x-1.b.example.co.uk", "*.example.com"]) assert.ok(isValidHostname(h), h);
        for (const h of ["example", "-a.example.com", "a..example.com", "A.example.com", "a.example.123", "a_b.example.com", "*", "a.*.example.com"]) assert.ok(!isValidHostname(h), h);
    });
});

describe("ExposedApp validates before registering anything", () => {
    it("rejects a location no host has, using knownLocations", async () => {
        const rec = await record(() => {
            const provider = clusterProvider();
            assert.throws(
                () => new ExposedApp("blog", { image: "nginx:1.27", ports: [{ containerPort: 80 }], hostnames: ["blog.example.com"], placement: { locations: ["mars"] }, knownLocations: ["home"] }, { provider }),
                (e: Error) => (assert.equal(e.message, 'blog.placement.locations[0]: names location "mars", which no host has (known: home). Fix: use a location of one of the hosts, or add a host in that location'), true),
            );
        });
        assert.deepEqual(rec.resources.filter((r) => r.type.startsWith("kubernetes:") || r.type.startsWith("hybridinfra:")), []);
    });
});

describe("validateForward", () => {
    const fwd: PublicIngressForwardArgs = { name: "edge", address: "203.0.113.7", privateKey: TEST_KEY, targets: ["10.100.0.2"], overlayInterface: "wg0" };
    const cases: [string, PublicIngressForwardArgs, string][] = [
        ["no targets", { ...fwd, targets: [] }, "ingressForward.targets: must list at least one overlay address, got []. Fix: list the overlay IPs of the nodes that run Traefik's load balancer"],
        ["a target that is not an IPv4 address", { ...fwd, targets: ["node-1"] }, 'ingressForward.targets[0]: must be an IPv4 overlay address, got "node-1". Fix: use a node\'s overlay address such as `10.100.0.2`'],
        ["a port out of range", { ...fwd, ports: [80, 65536] }, "ingressForward.ports[1]: must be an integer from 1 to 65535, got 65536. Fix: use TCP ports such as 80 and 443"],
        ["forwarding the SSH port", { ...fwd, ports: [22] }, "ingressForward.ports[0]: is the node's SSH port 22: forwarding it would lock HybridInfra out. Fix: forward other ports, or move sshd"],
        ["a bad interface name", { ...fwd, overlayInterface: "wg0; reboot" }, 'ingressForward.overlayInterface: must be a network interface name (at most 15 letters, digits, \'.\', \'-\', \'_\'), got "wg0; reboot". Fix: use the overlay\'s interface, e.g. `wg0`'],
        ["the overlay as public interface", { ...fwd, publicInterface: "wg0" }, 'ingressForward.publicInterface: is the overlay interface "wg0". Fix: name the interface internet traffic arrives on'],
    ];
    for (const [label, args, message] of cases) {
        it(`rejects ${label}`, () => assert.throws(() => validateForward(args), (e: Error) => (assert.equal(e.message, message), true)));
    }
});
