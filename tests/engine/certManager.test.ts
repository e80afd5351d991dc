/**
 * TLS from cert-manager (`ingress.tls: cert-manager`), applied by the REAL Pulumi engine and pulumi-kubernetes
 * provider to a REAL control plane into which cert-manager's own CRDs were installed first: those of the
 * release the add-on pins (`CERT_MANAGER_VERSION`), taken unmodified from the github.com/cert-manager/cert-manager
 * Go module by `bash tools/kube/build.sh certmanager` into .tools/share/cert-manager/crds.yaml.
 *
 * What is applied: `CertManager` with `install: false` (cert-manager already in the cluster: the chart itself
 * cannot be fetched here, no internet) and an `acmeEmail`, which makes the `letsencrypt` ACME ClusterIssuer;
 * and an `ExposedApp` in tls mode `cert-manager`, which makes a `Certificate` for its hostnames into the TLS
 * Secret its Ingress names. What cannot run here: cert-manager's controller (its binary's module is not
 * fetchable through the Go module proxy) and Let's Encrypt, so no certificate is issued; the test covers what
 * cert-manager's real schemas accept and the wiring from issuer to Certificate to the Ingress's Secret.
 *
 * Without the binaries or the CRD file this file skips, unless HYBRIDINFRA_REQUIRE_CONTROLPLANE=1 or
 * HYBRIDINFRA_REQUIRE_ENGINE=1, which turn a missing part into a failure.
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import yaml from "js-yaml";
import { acmeClusterIssuer, CertManager, CERT_MANAGER_VERSION, ExposedApp, LETS_ENCRYPT_PRODUCTION, TlsMode } from "../../components/src";
import { ControlPlane, createNodes, installCrds, KubeClient, REPO_ROOT, startControlPlane } from "../harness/controlplane";
import { changes, createEngineStack, EngineStack, skipIngressAwait } from "../harness/engine";
import { realPartsSkipReason } from "../harness/realParts";

/** Written by tools/kube/build.sh (certmanager) from the module of the pinned release. */
const CERT_MANAGER_CRDS = path.join(REPO_ROOT, ".tools", "share", "cert-manager", "crds.yaml");

const why = realPartsSkipReason(CERT_MANAGER_CRDS);

interface Crd {
    kind: string;
    metadata: { name: string; labels?: Record<string, string> };
    spec: { versions: { name: string; served: boolean }[] };
}

describe("real engine + real control plane: cert-manager TLS (ClusterIssuer, Certificate, Ingress) with cert-manager's own CRDs", { skip: why }, () => {
    let cp: ControlPlane;
    let client: KubeClient;
    let es: EngineStack;

    before(async () => {
        cp = await startControlPlane();
        client = cp.client;
        await createNodes(cp.kubeconfig, [{ name: "node-a" }]);
        es = await createEngineStack({
            project: "hybridinfra-cert-manager",
            stack: "cert-manager",
            config: { "test:kubeconfig": { value: cp.kubeconfig, secret: true } },
            program: async () => {
                skipIngressAwait();
                const provider = new k8s.Provider("cluster", { kubeconfig: new pulumi.Config("test").requireSecret("kubeconfig"), enableServerSideApply: true });
                const opts = { providers: { kubernetes: provider } };
                // As components/src/cluster/component.ts creates them for `ingress.tls: cert-manager` with `certManager: false`.
                const cm = new CertManager("cert-manager", { install: false, acmeEmail: "ops@example.com" }, opts);
                const app = new ExposedApp(
                    "blog",
                    { appName: "blog", image: "traefik/whoami:v1.10.3", ports: [{ containerPort: 80 }], hostnames: ["blog.example.com", "www.example.com"], tls: { mode: TlsMode.CertManager } },
                    { ...opts, dependsOn: [cm] },
                );
                return { issuer: cm.clusterIssuerName, urls: app.urls };
            },
        });
    });

    after(async () => {
        try {
            await es?.dispose(true);
        } finally {
            await cp?.stop();
        }
    });

    it(`cert-manager ${CERT_MANAGER_VERSION}'s CRDs install and become Established; their schemas are in force`, async () => {
        const crds = yaml.loadAll(readFileSync(CERT_MANAGER_CRDS, "utf8")).filter((d): d is Crd => d !== null && typeof d === "object") as Crd[];
        assert.deepEqual(crds.map((c) => c.metadata.name).sort(), [
            "certificaterequests.cert-manager.io",
            "certificates.cert-manager.io",
            "challenges.acme.cert-manager.io",
            "clusterissuers.cert-manager.io",
            "issuers.cert-manager.io",
            "orders.acme.cert-manager.io",
        ]);
        await installCrds(client, crds);
        // A Certificate without an issuerRef is refused: the API server validates against cert-manager's schema.
        const bad = await client.raw("POST", "/apis/cert-manager.io/v1/namespaces/default/certificates", {
            apiVersion: "cert-manager.io/v1",
            kind: "Certificate",
            metadata: { name: "schema-probe" },
            spec: { secretName: "probe-tls", dnsNames: ["probe.example.com"] },
        });
        assert.equal(bad.status, 422, `an invalid Certificate must be refused: ${bad.status} ${bad.body}`);
        assert.match(bad.body, /issuerRef/);
    });

    it("`pulumi up` creates the ACME ClusterIssuer, the app's Certificate, and an Ingress serving the Certificate's Secret", async () => {
        const res = await es.stack.up();
        assert.equal(res.summary.result, "succeeded");
        assert.equal(res.outputs.issuer.value, "letsencrypt");
        assert.deepEqual(res.outputs.urls.value, ["https://blog.example.com/", "https://www.example.com/"]);

        const issuer = await client.get("/apis/cert-manager.io/v1/clusterissuers/letsencrypt");
        assert.deepEqual(issuer.spec, acmeClusterIssuer("letsencrypt", "ops@example.com", LETS_ENCRYPT_PRODUCTION));
        assert.deepEqual(issuer.spec.acme.solvers, [{ http01: { ingress: { ingressClassName: "traefik" } } }], "HTTP-01 through k3s's Traefik");

        const cert = await client.get("/apis/cert-manager.io/v1/namespaces/default/certificates/blog-tls");
        assert.deepEqual(cert.spec, { secretName: "blog-tls", dnsNames: ["blog.example.com", "www.example.com"], issuerRef: { name: "letsencrypt", kind: "ClusterIssuer", group: "cert-manager.io" } });

        const ingress = await client.get("/apis/networking.k8s.io/v1/namespaces/default/ingresses/blog");
        assert.deepEqual(ingress.spec.tls, [{ hosts: ["blog.example.com", "www.example.com"], secretName: cert.spec.secretName }], "the Ingress serves the Secret cert-manager writes");
        assert.equal(ingress.metadata.annotations["traefik.ingress.kubernetes.io/router.entrypoints"], "websecure");
        assert.equal(ingress.metadata.annotations["cert-manager.io/cluster-issuer"], undefined, "no ingress-shim annotation: the explicit Certificate is the only one");
        // No controller runs here, so the Secret is not there: nothing in the program pretends to issue it.
        const secret = await client.raw("GET", "/api/v1/namespaces/default/secrets/blog-tls");
        assert.equal(secret.status, 404);
    });

    it("a second `pulumi up` changes nothing (the engine's own summary)", async () => {
        const res = await es.stack.up();
        assert.deepEqual(changes(res.summary), {});
    });

    it("`pulumi destroy` removes the Certificate and the ClusterIssuer", async () => {
        await es.stack.destroy();
        assert.equal((await client.raw("GET", "/apis/cert-manager.io/v1/namespaces/default/certificates/blog-tls")).status, 404);
        assert.equal((await client.raw("GET", "/apis/cert-manager.io/v1/clusterissuers/letsencrypt")).status, 404);
    });
});
