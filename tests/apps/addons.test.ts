import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { CertManager, TraefikDashboard, CERT_MANAGER_VERSION } from "../../components/src/addons";
import { validateCertManager, validateTraefikDashboard } from "../../components/src/addons/plan";
import { record, settle } from "../harness/mocks";
import { assertAllOnProvider, assertSecretInput, clusterProvider, plainSecretFree } from "./helpers";

describe("add-ons", () => {
    it("TraefikDashboard without a hostname only enables the internal dashboard", async () => {
        const rec = await record(() => new TraefikDashboard("dash", {}, { providers: { kubernetes: clusterProvider() } }));
        const cfg = rec.find("kubernetes:helm.cattle.io/v1:HelmChartConfig", "dash-chart-config");
        assert.equal(cfg.inputs.metadata.name, "traefik");
        assert.equal(cfg.inputs.metadata.namespace, "kube-system");
        assert.deepEqual(JSON.parse(cfg.inputs.spec.valuesContent), { ingressRoute: { dashboard: { enabled: true } } });
        assert.equal(rec.byType("kubernetes:core/v1:Secret").length, 0);
        const d = rec.result as TraefikDashboard;
        assert.equal((await settle(d.url)).value, "");
        assertAllOnProvider(rec, "cluster");
    });

    for (const preview of [false, true]) {
        it(`TraefikDashboard on a hostname is behind basic auth with a secret password (${preview ? "preview" : "update"})`, async () => {
            const rec = await record(() => new TraefikDashboard("dash", { hostname: "traefik.example.com" }, { providers: { kubernetes: clusterProvider() } }), { preview });
            const cfg = rec.find("kubernetes:helm.cattle.io/v1:HelmChartConfig", "dash-chart-config");
            const values = JSON.parse(cfg.inputs.spec.valuesContent);
            assert.deepEqual(values.ingressRoute.dashboard, {
                enabled: true,
                matchRule: "Host(`traefik.example.com`) && (PathPrefix(`/dashboard`) || PathPrefix(`/api`))",
                entryPoints: ["websecure"],
                middlewares: [{ name: "traefik-dashboard-auth" }],
            });
            const mw = rec.find("kubernetes:traefik.io/v1alpha1:Middleware", "dash-auth-middleware");
            assert.deepEqual(mw.inputs.spec, { basicAuth: { secret: "traefik-dashboard-auth" } });
            assert.ok(cfg.dependencyNames.includes("dash-auth-middleware"), "the route is only enabled once its auth exists");
            const auth = rec.find("kubernetes:core/v1:Secret", "dash-auth");
            assertSecretInput(rec, auth, "stringData", preview);
            if (!preview) assert.match(auth.inputs.stringData.users, /^admin:\$2a\$10\$/);
            const d = rec.result as TraefikDashboard;
            assert.equal((await settle(d.url)).value, "https://traefik.example.com/dashboard/");
            const pw = await settle(d.password);
            assert.equal(pw.secret, true, "the password output is secret");
            if (!preview) for (const r of rec.resources) plainSecretFree(rec, r, [pw.value as string]);
            assertAllOnProvider(rec, "cluster");
        });
    }

    it("CertManager installs the pinned chart with CRDs and an ACME issuer after it", async () => {
        const rec = await record(() => new CertManager("cm", { acmeEmail: "ops@example.com" }, { providers: { kubernetes: clusterProvider() } }));
        const rel = rec.find("kubernetes:helm.sh/v3:Release", "cm-release");
        assert.equal(rel.inputs.chart, "cert-manager");
        assert.equal(rel.inputs.version, CERT_MANAGER_VERSION);
        assert.equal(rel.inputs.repositoryOpts.repo, "https://charts.jetstack.io");
        assert.equal(rel.inputs.namespace, "cert-manager");
        assert.equal(rel.inputs.createNamespace, true);
        assert.deepEqual(rel.inputs.values, { crds: { enabled: true, keep: true } });
        const issuer = rec.find("kubernetes:cert-manager.io/v1:ClusterIssuer", "cm-issuer");
        assert.ok(issuer.dependencyNames.includes("cm-release"), "the issuer waits for the CRDs");
        assert.equal(issuer.inputs.spec.acme.email, "ops@example.com");
        assert.equal(issuer.inputs.spec.acme.server, "https://acme-v02.api.letsencrypt.org/directory");
        assert.deepEqual(issuer.inputs.spec.acme.solvers, [{ http01: { ingress: { ingressClassName: "traefik" } } }]);
        assert.equal((await settle((rec.result as CertManager).clusterIssuerName)).value, "letsencrypt");
        assertAllOnProvider(rec, "cluster");
    });

    it("CertManager without an email creates no issuer", async () => {
        const rec = await record(() => new CertManager("cm", {}, { providers: { kubernetes: clusterProvider() } }));
        assert.equal(rec.byType("kubernetes:cert-manager.io/v1:ClusterIssuer").length, 0);
        assert.equal(rec.byType("kubernetes:helm.sh/v3:Release").length, 1);
        assertAllOnProvider(rec, "cluster");
    });

    it("refuse to run without a kubernetes provider, and reject bad input", () => {
        assert.throws(() => new CertManager("cm", {}), /^Error: CertManager "cm": no kubernetes provider was given/);
        assert.throws(() => new TraefikDashboard("d", {}), /^Error: TraefikDashboard "d": no kubernetes provider was given/);
        assert.throws(() => validateCertManager({ acmeEmail: "ops" }), (e: Error) => (assert.equal(e.message, 'ingress.certManager.acmeEmail: is not an email address, got "ops". Fix: use the address Let\'s Encrypt sends expiry notices to'), true));
        assert.throws(
            () => validateTraefikDashboard({ hostname: "traefik" }),
            (e: Error) => (assert.equal(e.message, 'ingress.traefikDashboard.hostname: is not a valid DNS hostname, got "traefik". Fix: use a name such as `traefik.example.com`, or leave it out to reach the dashboard with kubectl port-forward only'), true),
        );
    });
});
