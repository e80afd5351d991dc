import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as cloudflare from "@pulumi/cloudflare";
import { ExposedApp, exposedAppInternals, Exposure, TlsMode } from "../../components/src/apps";
import { CloudflareTunnel, CloudflareTunnelArgs } from "../../components/src/cloudflare";
import { CATCH_ALL_SERVICE, tunnelIngressRules, validateTunnel } from "../../components/src/cloudflare/plan";
import { record, settle } from "../harness/mocks";
import { assertAllOnProvider, assertSecretInput, assertSubset, clusterProvider, plainSecretFree } from "./helpers";

const TOKEN_FN = "cloudflare:index/getZeroTrustTunnelCloudflaredToken:getZeroTrustTunnelCloudflaredToken";
const ACCOUNT = "0123456789abcdef0123456789abcdef";
const ZONE = "fedcba9876543210fedcba9876543210";
const TOKEN = "eyJhIjoiZmFrZS10dW5uZWwtdG9rZW4ifQ";

function tunnelProgram() {
    const provider = clusterProvider();
    const cf = new cloudflare.Provider("cf", { apiToken: "not-a-real-token" });
    const app = new ExposedApp(
        "shop",
        { image: "ghcr.io/example/shop:1.2.3", replicas: 2, ports: [{ containerPort: 3000 }], hostnames: ["shop.example.com"], exposure: Exposure.Tunnel },
        { providers: { kubernetes: provider } },
    );
    const routes = exposedAppInternals(app).tunnelRoutes;
    const tunnel = new CloudflareTunnel(
        "home",
        { accountId: ACCOUNT, zoneId: ZONE, ingress: [...routes, { hostname: "grafana.example.com", service: "http://grafana.monitoring.svc.cluster.local:3000" }] },
        { providers: { kubernetes: provider, cloudflare: cf } },
    );
    return { app, tunnel };
}

const calls = { [TOKEN_FN]: (inputs: Record<string, any>) => ({ accountId: inputs.accountId, tunnelId: inputs.tunnelId, token: TOKEN }) };

describe("CloudflareTunnel with an ExposedApp in tunnel mode", () => {
    it("creates the tunnel, its config with the catch-all last, and a proxied CNAME per hostname (update)", async () => {
        let tokenInputs: Record<string, any> | undefined;
        const rec = await record(tunnelProgram, { calls: { [TOKEN_FN]: (i) => ((tokenInputs = i), calls[TOKEN_FN](i)) } });
        const secret = rec.find("random:index/randomBytes:RandomBytes", "home-secret");
        assert.equal(secret.inputs.length, 32);
        assert.ok(secret.additionalSecretOutputs.includes("base64") && secret.additionalSecretOutputs.includes("hex"), "the random bytes are secret");
        const tunnel = rec.find("cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared", "home-tunnel");
        assert.equal(tunnel.inputs.accountId, ACCOUNT);
        assert.equal(tunnel.inputs.name, "home");
        assert.equal(tunnel.inputs.configSrc, "cloudflare");
        assert.ok(rec.isSecret(tunnel, "tunnelSecret"), "the tunnel secret is secret");
        assert.equal(Buffer.from(tunnel.inputs.tunnelSecret, "base64").length, 32);
        const cf = rec.find("pulumi:providers:cloudflare", "cf");
        for (const r of rec.resources.filter((x) => x.type.startsWith("cloudflare:"))) {
            assert.ok(r.provider.startsWith(`${cf.urn}::`), `${r.name} uses the given Cloudflare provider`);
        }

        const config = rec.find("cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig", "home-config");
        assert.equal(config.inputs.tunnelId, "home-tunnel-id");
        assert.equal(config.inputs.source, "cloudflare");
        const rules = config.inputs.config.ingresses;
        assert.deepEqual(rules, [
            { hostname: "shop.example.com", service: "http://traefik.kube-system.svc.cluster.local:80" },
            { hostname: "grafana.example.com", service: "http://grafana.monitoring.svc.cluster.local:3000" },
            { service: "http_status:404" },
        ]);
        assert.equal(rules[rules.length - 1].hostname, undefined, "the catch-all rule is last and has no hostname");

        const dns = rec.byType("cloudflare:index/dnsRecord:DnsRecord");
        assert.deepEqual(dns.map((d) => d.name).sort(), ["home-dns-grafana-example-com", "home-dns-shop-example-com"]);
        for (const d of dns) {
            assert.equal(d.inputs.zoneId, ZONE);
            assert.equal(d.inputs.type, "CNAME");
            assert.equal(d.inputs.content, "home-tunnel-id.cfargotunnel.com");
            assert.equal(d.inputs.proxied, true);
            assert.equal(d.inputs.ttl, 1);
        }
        assert.deepEqual(dns.map((d) => d.inputs.name).sort(), ["grafana.example.com", "shop.example.com"]);

        // In the cluster: the token as a secret, read by cloudflared from the environment.
        assert.deepEqual(tokenInputs, { accountId: ACCOUNT, tunnelId: "home-tunnel-id" });
        const tokenSecret = rec.find("kubernetes:core/v1:Secret", "home-token");
        assert.ok(rec.isSecret(tokenSecret, "stringData"), "the tunnel token is secret");
        assert.equal(tokenSecret.inputs.stringData.token, TOKEN);
        assert.equal(tokenSecret.inputs.metadata.namespace, "cloudflared");
        assert.equal(rec.find("kubernetes:core/v1:Namespace", "home-ns").inputs.metadata.name, "cloudflared");
        const dep = rec.find("kubernetes:apps/v1:Deployment", "home-cloudflared");
        const spec = dep.inputs.spec;
        assert.equal(spec.replicas, 2);
        assertSubset(spec.selector.matchLabels, spec.template.metadata.labels, "cloudflared selector");
        const c = spec.template.spec.containers[0];
        assert.match(c.image, /^cloudflare\/cloudflared:\d{4}\.\d+\.\d+$/);
        assert.deepEqual(c.args, ["tunnel", "--no-autoupdate", "--metrics", "0.0.0.0:2000", "run"]);
        assert.deepEqual(c.env, [{ name: "TUNNEL_TOKEN", valueFrom: { secretKeyRef: { name: tokenSecret.inputs.metadata.name, key: "token" } } }]);
        assert.equal(spec.template.spec.topologySpreadConstraints[0].topologyKey, "topology.kubernetes.io/region");
        assert.equal(spec.template.spec.topologySpreadConstraints[0].whenUnsatisfiable, "ScheduleAnyway");
        assert.ok(dep.dependencyNames.includes("home-config"), "connectors start after the config exists");
        assert.ok(dep.dependencyNames.includes("home-token"));
        assert.equal(rec.find("kubernetes:policy/v1:PodDisruptionBudget", "home-pdb").inputs.spec.minAvailable, 1);

        // The app in tunnel mode: plain HTTP at the origin, https at Cloudflare's edge, PDB for 2 replicas.
        const { app, tunnel: t } = rec.result as ReturnType<typeof tunnelProgram>;
        assert.deepEqual((await settle(app.urls)).value, ["https://shop.example.com/"]);
        assert.equal(rec.find("kubernetes:networking.k8s.io/v1:Ingress", "shop-ingress").inputs.spec.tls, undefined);
        assert.equal(rec.find("kubernetes:policy/v1:PodDisruptionBudget", "shop-pdb").inputs.spec.minAvailable, 1);
        assert.equal((await settle(t.tunnelId)).value, "home-tunnel-id");
        assert.equal((await settle(t.cname)).value, "home-tunnel-id.cfargotunnel.com");
        assert.deepEqual((await settle(t.hostnames)).value, ["shop.example.com", "grafana.example.com"]);
        const tokenOut = await settle(t.tunnelId);
        assert.equal(tokenOut.secret, false, "the tunnel id itself is not a secret");

        for (const r of rec.resources) plainSecretFree(rec, r, [TOKEN, tunnel.inputs.tunnelSecret]);
        assertAllOnProvider(rec, "cluster");
    });

    it("registers the same resources in preview, with the tunnel id and token unknown", async () => {
        const rec = await record(tunnelProgram, { preview: true, calls });
        const tokenSecret = rec.find("kubernetes:core/v1:Secret", "home-token");
        assertSecretInput(rec, tokenSecret, "stringData", true);
        assertSecretInput(rec, rec.find("cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared", "home-tunnel"), "tunnelSecret", true);
        assert.equal(rec.byType("cloudflare:index/dnsRecord:DnsRecord").length, 2);
        assertAllOnProvider(rec, "cluster");
    });

    it("gets a Cloudflare Origin CA certificate for an app, with its key secret", async () => {
        const rec = await record(() => {
            const provider = clusterProvider();
            new ExposedApp(
                "api",
                { image: "ghcr.io/example/api:2", ports: [{ containerPort: 8080 }], hostnames: ["api.example.com"], exposure: Exposure.Tunnel, tls: { mode: TlsMode.CloudflareOriginCa } },
                { providers: { kubernetes: provider } },
            );
        });
        const cert = rec.find("cloudflare:index/originCaCertificate:OriginCaCertificate", "api-tls-origin-cert");
        assert.deepEqual(cert.inputs.hostnames, ["api.example.com"]);
        assert.equal(cert.inputs.requestType, "origin-ecc");
        assert.match(cert.inputs.csr, /CERTIFICATE REQUEST/);
        assertSecretInput(rec, rec.find("tls:index/certRequest:CertRequest", "api-tls-csr"), "privateKeyPem", false);
        const tlsSecret = rec.find("kubernetes:core/v1:Secret", "api-tls");
        assert.equal(tlsSecret.inputs.type, "kubernetes.io/tls");
        assertSecretInput(rec, tlsSecret, "stringData", false);
        for (const r of rec.resources) plainSecretFree(rec, r, ["PRIVATE KEY"]);
        assertAllOnProvider(rec, "cluster");
    });

    it("routes a TLS app through Traefik's https entry point with the hostname as SNI", async () => {
        const rec = await record(() => {
            const provider = clusterProvider();
            const app = new ExposedApp(
                "secure",
                { image: "nginx:1.27", ports: [{ containerPort: 80 }], hostnames: ["secure.example.com"], exposure: Exposure.Tunnel, tls: { mode: TlsMode.PrivateCa } },
                { provider },
            );
            return exposedAppInternals(app).tunnelRoutes;
        });
        assert.deepEqual(rec.result, [{ hostname: "secure.example.com", service: "https://traefik.kube-system.svc.cluster.local:443", originServerName: "secure.example.com", noTlsVerify: true }]);
        assert.deepEqual(tunnelIngressRules(rec.result).at(-1), { service: CATCH_ALL_SERVICE });
        assert.deepEqual(tunnelIngressRules(rec.result)[0].originRequest, { originServerName: "secure.example.com", noTlsVerify: true });
    });

    it("orders a hostname's path route before its catch-all route", () => {
        const rules = tunnelIngressRules([
            { hostname: "a.example.com", service: "http://a:80" },
            { hostname: "a.example.com", service: "http://a-api:80", path: "^/api" },
        ]);
        assert.deepEqual(rules.map((r) => `${r.hostname ?? "*"} ${r.path ?? ""} ${r.service}`), ["a.example.com ^/api http://a-api:80", "a.example.com  http://a:80", "*  http_status:404"]);
    });

    it("refuses to run without a kubernetes provider", () => {
        assert.throws(() => new CloudflareTunnel("x", { accountId: ACCOUNT, zoneId: ZONE, ingress: [{ hostname: "a.example.com", service: "http://a:80" }] }), /^Error: CloudflareTunnel "x": no kubernetes provider was given/);
    });

    const base: CloudflareTunnelArgs = { accountId: ACCOUNT, zoneId: ZONE, ingress: [{ hostname: "a.example.com", service: "http://a:80" }] };
    const cases: [string, CloudflareTunnelArgs, string][] = [
        ["a missing account", { ...base, accountId: "" }, 'cloudflare.accountId: must be a Cloudflare ID of 32 lowercase hex digits, got "". Fix: copy the Account ID from the zone\'s Overview page in the Cloudflare dashboard'],
        ["a bad zone", { ...base, zoneId: "example.com" }, 'cloudflare.zoneId: must be a Cloudflare ID of 32 lowercase hex digits, got "example.com". Fix: copy the Zone ID from the zone\'s Overview page in the Cloudflare dashboard'],
        ["no routes", { ...base, ingress: [] }, "cloudflare.ingress: must list at least one hostname, got []. Fix: add the apps to expose through the tunnel"],
        ["a bad origin", { ...base, ingress: [{ hostname: "a.example.com", service: "traefik:80" }] }, 'cloudflare.ingress[0].service: is not a cloudflared origin, got "traefik:80". Fix: use a URL such as `http://traefik.kube-system.svc.cluster.local:80`'],
        ["a duplicate hostname", { ...base, ingress: [...base.ingress, { hostname: "a.example.com", service: "http://b:80" }] }, 'cloudflare.ingress[1].hostname: duplicates cloudflare.ingress[0].hostname "a.example.com". Fix: route each hostname (and path) once'],
    ];
    for (const [label, args, message] of cases) {
        it(`rejects ${label}`, () => assert.throws(() => validateTunnel(args), (e: Error) => (assert.equal(e.message, message), true)));
    }
});
