// Issue 16 §3 at the component: TLS that really issues. `ingress.tls: cert-manager` makes cert-manager (or
// uses one already there), the `letsencrypt` ACME ClusterIssuer and a Certificate per app into the Secret its
// Ingress serves; Origin CA certificates outside a Cloudflare Tunnel are rejected for the true reason; the
// certificates Pulumi issues report their expiry. (The same objects under the real engine and API server:
// tests/engine/certManager.test.ts.)
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { HybridCluster, HybridClusterArgs, HostRole, IngressMode } from "../../components/src/cluster";
import { TlsMode } from "../../components/src/apps";
import { CERT_MANAGER_VERSION } from "../../components/src/addons";
import { record, settle } from "../harness/mocks";
import { TEST_KEY } from "../harness/fixtures";
import { composeMessage } from "../harness/config";
import { RENDER_OUTPUTS } from "../../tools/render-lib";

const base = (ingress: HybridClusterArgs["ingress"]): HybridClusterArgs => ({
    sshPrivateKey: pulumi.secret(TEST_KEY),
    hosts: [
        { name: "cloud", ssh: { address: "203.0.113.10" }, location: "cloud", publicEndpoint: "203.0.113.10", roles: [HostRole.Hub, HostRole.Server] },
        { name: "home", ssh: { address: "192.168.50.10" }, location: "home", roles: [HostRole.Agent] },
    ],
    ...(ingress !== undefined ? { ingress } : {}),
    apps: [{ name: "blog", image: "nginx:1.27", ports: [{ containerPort: 80 }], hostnames: ["blog.example.com"] }],
});

const messageOf = composeMessage;

describe("TLS modes that issue (issue 16 §3)", () => {
    it("tls cert-manager: the chart, the letsencrypt ClusterIssuer, and a Certificate into the Secret the Ingress serves", async () => {
        const rec = await record(() => new HybridCluster("c", base({ tls: TlsMode.CertManager, acmeEmail: "ops@example.com" })), { outputs: RENDER_OUTPUTS });
        const release = rec.byType("kubernetes:helm.sh/v3:Release");
        assert.deepEqual(release.map((r) => [r.name, r.inputs.chart, r.inputs.version]), [["c-cert-manager-release", "cert-manager", CERT_MANAGER_VERSION]]);
        const [issuer] = rec.byType("kubernetes:cert-manager.io/v1:ClusterIssuer");
        assert.equal(issuer.inputs.metadata.name, "letsencrypt");
        assert.equal(issuer.inputs.spec.acme.email, "ops@example.com");
        assert.deepEqual(issuer.dependencyNames, ["c-cert-manager-release"], "the issuer waits for the chart (its CRDs and webhook)");
        const [cert] = rec.byType("kubernetes:cert-manager.io/v1:Certificate");
        assert.deepEqual(cert.inputs.spec, { secretName: "blog-tls", dnsNames: ["blog.example.com"], issuerRef: { name: "letsencrypt", kind: "ClusterIssuer", group: "cert-manager.io" } });
        const [ingress] = rec.byType("kubernetes:networking.k8s.io/v1:Ingress");
        assert.deepEqual(ingress.inputs.spec.tls, [{ hosts: ["blog.example.com"], secretName: "blog-tls" }]);
        assert.equal(rec.byType("kubernetes:core/v1:Secret").filter((s) => s.inputs.type === "kubernetes.io/tls").length, 0, "cert-manager writes the TLS Secret, Pulumi does not");
        assert.equal(rec.byType("tls:index/locallySignedCert:LocallySignedCert").length, 0, "no private CA");
        assert.deepEqual(cert.dependencyNames, ["c-cert-manager-issuer"], "the app's Certificate waits for the issuer (through its issuerName), which waits for the chart");
    });

    it("tls cert-manager with certManager: false uses the cert-manager already there (the issuer alone)", async () => {
        const rec = await record(() => new HybridCluster("c", base({ tls: TlsMode.CertManager, acmeEmail: "ops@example.com", certManager: false })), { outputs: RENDER_OUTPUTS });
        assert.equal(rec.byType("kubernetes:helm.sh/v3:Release").length, 0);
        assert.equal(rec.byType("kubernetes:cert-manager.io/v1:ClusterIssuer").length, 1);
        assert.equal(rec.byType("kubernetes:cert-manager.io/v1:Certificate").length, 1);
    });

    it("tls cert-manager without acmeEmail names the key and why", () => {
        assert.equal(
            messageOf(base({ tls: TlsMode.CertManager })),
            'ingress.acmeEmail: is not set, but ingress.tls is "cert-manager": the apps\' certificates come from the "letsencrypt" ACME ClusterIssuer, whose account needs an email. Fix: set ingress.acmeEmail to the address Let\'s Encrypt sends expiry notices to',
        );
    });

    it("acmeEmail with no cert-manager in use has no effect: an error", () => {
        assert.equal(
            messageOf(base({ acmeEmail: "ops@example.com" })),
            'ingress.acmeEmail: is "ops@example.com", but ingress.tls is "private-ca" (the default) and ingress.certManager is not true: no ACME issuer is made, so it has no effect. Fix: remove ingress.acmeEmail, or set ingress.tls: cert-manager (or ingress.certManager: true for the issuer alone)',
        );
        assert.equal(messageOf(base({ certManager: true, acmeEmail: "ops@example.com" })), undefined, "certManager: true with an email makes the issuer alone");
    });

    it("Origin CA under ingress.mode traefik: rejected for the true reason (today: 'missing cloudflare.zoneId')", () => {
        assert.equal(
            messageOf(base({ mode: IngressMode.Traefik, tls: TlsMode.CloudflareOriginCa })),
            'ingress.tls: is "cloudflare-origin-ca", but ingress.mode is "traefik": an Origin CA certificate is trusted only by Cloudflare\'s proxy, and in this mode browsers reach Traefik directly (HybridInfra makes no proxied DNS record here), so every browser would reject it. Fix: use ingress.tls cert-manager (a publicly trusted ACME certificate, renewed in the cluster), private-ca or existing-secret; or ingress.mode cloudflare-tunnel, where Cloudflare\'s edge is in front',
        );
    });

    it("private-ca certificates report when they expire (they renew only on a pulumi up within 30 days of it)", async () => {
        const rec = await record(() => {
            const c = new HybridCluster("c", base(undefined));
            return c.certificateExpiry;
        }, { outputs: RENDER_OUTPUTS });
        const [leaf] = rec.byType("tls:index/locallySignedCert:LocallySignedCert");
        assert.equal(leaf.inputs.earlyRenewalHours, 720);
        assert.deepEqual((await settle(rec.result)).value, { blog: "2027-12-01T00:00:00Z" }, "the leaf's validityEndTime");
    });
});
