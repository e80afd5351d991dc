import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { ExposedApp, exposedAppInternals, TlsMode, Exposure } from "../../components/src/apps";
import { REGION_LABEL } from "../../components/src/kube";
import { PrivateCa, privateCaInternals } from "../../components/src/pki";
import { record, settle } from "../harness/mocks";
import { assertAllOnProvider, assertSecretInput, assertSubset, clusterProvider, plainSecretFree } from "./helpers";

const DEPLOY = "kubernetes:apps/v1:Deployment";
const SVC = "kubernetes:core/v1:Service";
const ING = "kubernetes:networking.k8s.io/v1:Ingress";
const PDB = "kubernetes:policy/v1:PodDisruptionBudget";
const SECRET = "kubernetes:core/v1:Secret";
const KEY = "tls:index/privateKey:PrivateKey";

describe("ExposedApp with Traefik ingress and a private CA", () => {
    const program = () => {
        const provider = clusterProvider();
        const ca = new PrivateCa("cluster-ca", {});
        const app = new ExposedApp(
            "blog",
            {
                namespace: "web",
                createNamespace: true,
                image: "ghost:5.105",
                replicas: 3,
                ports: [{ containerPort: 2368, servicePort: 80 }, { name: "metrics", containerPort: 9100 }],
                hostnames: ["blog.example.com", "www.example.com"],
                paths: ["/", "/api"],
                env: { NODE_ENV: "production" },
                secretEnv: { DB_PASSWORD: pulumi.secret("hunter2-db-password") },
                resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } },
                livenessProbe: { path: "/healthz", initialDelaySeconds: 5 },
                readinessProbe: { path: "/ready", port: 2368 },
                placement: { locations: ["tokyo", "home"], arch: "amd64", labels: { "hybridinfra.dev/disk": "ssd" } },
                tls: { mode: TlsMode.PrivateCa, caCertPem: privateCaInternals(ca).certPem, caPrivateKeyPem: privateCaInternals(ca).privateKeyPem },
                knownLocations: ["tokyo", "home", "frankfurt"],
            },
            { providers: { kubernetes: provider } },
        );
        return { app, internals: exposedAppInternals(app) };
    };

    for (const preview of [false, true]) {
        it(`registers Deployment, Service, Ingress, PDB and TLS Secret with matching selectors (${preview ? "preview" : "update"})`, async () => {
            const rec = await record(program, { preview });
            const dep = rec.find(DEPLOY, "blog-deploy");
            const svc = rec.find(SVC, "blog-svc");
            const ing = rec.find(ING, "blog-ingress");
            const pdb = rec.find(PDB, "blog-pdb");
            for (const r of [dep, svc, ing, pdb]) {
                assert.equal(r.parent, "blog");
                assert.equal(r.inputs.metadata.name, "blog");
                assert.equal(r.inputs.metadata.namespace, "web");
                assert.deepEqual(r.inputs.metadata.labels, {
                    "app.kubernetes.io/name": "blog",
                    "app.kubernetes.io/instance": "blog",
                    "app.kubernetes.io/component": "web",
                    "app.kubernetes.io/part-of": "hybridinfra",
                    "app.kubernetes.io/managed-by": "pulumi",
                });
            }
            const podLabels = dep.inputs.spec.template.metadata.labels;
            assertSubset(dep.inputs.spec.selector.matchLabels, podLabels, "deployment selector");
            assertSubset(svc.inputs.spec.selector, podLabels, "service selector");
            assertSubset(pdb.inputs.spec.selector.matchLabels, podLabels, "pdb selector");
            assert.equal(dep.inputs.spec.replicas, 3);
            assert.equal(pdb.inputs.spec.minAvailable, 1);

            const pod = dep.inputs.spec.template.spec;
            assert.deepEqual(pod.topologySpreadConstraints[0], {
                maxSkew: 1,
                topologyKey: REGION_LABEL,
                whenUnsatisfiable: "ScheduleAnyway",
                labelSelector: { matchLabels: dep.inputs.spec.selector.matchLabels },
            });
            assert.deepEqual(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions, [
                { key: REGION_LABEL, operator: "In", values: ["home", "tokyo"] },
                { key: "kubernetes.io/arch", operator: "In", values: ["amd64"] },
                { key: "hybridinfra.dev/disk", operator: "In", values: ["ssd"] },
            ]);
            const c = pod.containers[0];
            assert.equal(c.image, "ghost:5.105");
            assert.deepEqual(c.ports, [
                { name: "http", containerPort: 2368, protocol: "TCP" },
                { name: "metrics", containerPort: 9100, protocol: "TCP" },
            ]);
            assert.deepEqual(c.env, [
                { name: "NODE_ENV", value: "production" },
                { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "blog-env", key: "DB_PASSWORD" } } },
            ]);
            assert.deepEqual(c.resources, { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } });
            assert.deepEqual(c.livenessProbe.httpGet, { path: "/healthz", port: "http" });
            assert.equal(c.livenessProbe.initialDelaySeconds, 5);
            assert.deepEqual(c.readinessProbe.httpGet, { path: "/ready", port: "http" });

            // The Ingress routes to the Service's port, which targets the container port by name.
            assert.equal(ing.inputs.spec.ingressClassName, "traefik");
            assert.deepEqual(svc.inputs.spec.ports[0], { name: "http", port: 80, targetPort: "http", protocol: "TCP" });
            assert.deepEqual(
                ing.inputs.spec.rules.map((r: any) => [r.host, r.http.paths.map((p: any) => `${p.path} ${p.pathType} ${p.backend.service.name}:${p.backend.service.port.number}`)]),
                [
                    ["blog.example.com", ["/ Prefix blog:80", "/api Prefix blog:80"]],
                    ["www.example.com", ["/ Prefix blog:80", "/api Prefix blog:80"]],
                ],
            );
            assert.equal(ing.inputs.spec.rules[0].http.paths[0].backend.service.name, svc.inputs.metadata.name);
            assert.deepEqual(ing.inputs.spec.tls, [{ hosts: ["blog.example.com", "www.example.com"], secretName: "blog-tls" }]);
            assert.equal(ing.inputs.metadata.annotations["traefik.ingress.kubernetes.io/router.tls"], "true");
            assert.ok(ing.dependencyNames.includes("blog-tls"), "the Ingress waits for its TLS Secret");
            assert.ok(dep.dependencyNames.includes("blog-env"), "the Deployment waits for its env Secret");
            assert.ok(dep.dependencyNames.includes("blog-ns"), "the Deployment waits for its namespace");

            // TLS: a leaf for both hostnames signed by the shared CA; private keys are secret everywhere.
            const csr = rec.find("tls:index/certRequest:CertRequest", "blog-tls-csr");
            assert.deepEqual(csr.inputs.dnsNames, ["blog.example.com", "www.example.com"]);
            assertSecretInput(rec, csr, "privateKeyPem", preview);
            const leaf = rec.find("tls:index/locallySignedCert:LocallySignedCert", "blog-tls-cert");
            assertSecretInput(rec, leaf, "caPrivateKeyPem", preview);
            assert.ok(leaf.inputs.allowedUses.includes("server_auth"));
            assert.equal(rec.find("tls:index/selfSignedCert:SelfSignedCert", "cluster-ca-cert").inputs.isCaCertificate, true);
            assert.equal(rec.byType("tls:index/selfSignedCert:SelfSignedCert").length, 1, "the app uses the shared CA, not one of its own");
            for (const key of rec.byType(KEY)) assert.ok(key.additionalSecretOutputs.includes("privateKeyPem"), `${key.name}'s key output is secret`);
            const tlsSecret = rec.find(SECRET, "blog-tls");
            assert.equal(tlsSecret.inputs.type, "kubernetes.io/tls");
            assert.equal(tlsSecret.inputs.metadata.name, "blog-tls");
            assertSecretInput(rec, tlsSecret, "stringData", preview);
            const envSecret = rec.find(SECRET, "blog-env");
            assert.ok(rec.isSecret(envSecret, "stringData"), "secret env is secret");
            if (!preview) {
                assert.equal(envSecret.inputs.stringData.DB_PASSWORD, "hunter2-db-password");
                assert.match(tlsSecret.inputs.stringData["tls.key"], /PRIVATE KEY/);
                assert.match(tlsSecret.inputs.stringData["tls.crt"], /LEAF[\s\S]*SELF/, "the chain is leaf then CA");
            }
            for (const r of rec.resources) plainSecretFree(rec, r, ["hunter2-db-password", "PRIVATE KEY"]);
            assertAllOnProvider(rec, "cluster");

            const { app, internals } = rec.result as { app: ExposedApp; internals: ReturnType<typeof exposedAppInternals> };
            assert.deepEqual((await settle(app.urls)).value, ["https://blog.example.com/", "https://blog.example.com/api", "https://www.example.com/", "https://www.example.com/api"]);
            assert.equal((await settle(app.namespace)).value, "web");
            assert.deepEqual([internals.serviceName, internals.servicePort, internals.namespace, internals.exposure], ["blog", 80, "web", Exposure.Ingress]);
            assert.deepEqual(internals.hostnames, ["blog.example.com", "www.example.com"]);
            assert.deepEqual(internals.tunnelRoutes, []);
            if (!preview) assert.equal((await settle(app.serviceName)).value, "blog");
        });
    }

    it("keeps a single replica free of a PDB, and spreads only when asked", async () => {
        const rec = await record(() => {
            const provider = clusterProvider();
            new ExposedApp("one", { image: "nginx:1.27", ports: [{ containerPort: 80 }], hostnames: ["one.example.com"], spreadAcrossLocations: false }, { provider });
        });
        assert.equal(rec.byType(PDB).length, 0);
        assert.equal(rec.byType(SECRET).length, 0);
        const dep = rec.find(DEPLOY, "one-deploy");
        assert.equal(dep.inputs.metadata.namespace, "default");
        assert.equal(dep.inputs.spec.template.spec.topologySpreadConstraints, undefined);
        assert.equal(dep.inputs.spec.template.spec.affinity, undefined);
        const ing = rec.find(ING, "one-ingress");
        assert.equal(ing.inputs.spec.tls, undefined);
        assert.equal(ing.inputs.metadata.annotations["traefik.ingress.kubernetes.io/router.entrypoints"], "web");
        assertAllOnProvider(rec, "cluster");
    });

    it("makes its own CA when none is shared, and uses an existing secret by name", async () => {
        const rec = await record(() => {
            const provider = clusterProvider();
            new ExposedApp("own", { image: "nginx:1.27", ports: [{ containerPort: 80 }], hostnames: ["own.example.com"], tls: { mode: TlsMode.PrivateCa } }, { provider });
            new ExposedApp("given", { image: "nginx:1.27", ports: [{ containerPort: 80 }], hostnames: ["given.example.com"], tls: { mode: TlsMode.ExistingSecret, secretName: "wildcard-tls" } }, { provider });
        });
        assert.equal(rec.find("tls:index/selfSignedCert:SelfSignedCert", "own-ca-cert").parent, "own");
        assert.equal(rec.find("tls:index/privateKey:PrivateKey", "own-ca-key").parent, "own");
        assert.equal(rec.find(SECRET, "own-tls").inputs.type, "kubernetes.io/tls");
        assert.deepEqual(rec.find(ING, "given-ingress").inputs.spec.tls, [{ hosts: ["given.example.com"], secretName: "wildcard-tls" }]);
        assert.equal(rec.byType(SECRET).length, 1, "an existing secret is referenced, not created");
        assertAllOnProvider(rec, "cluster");
    });

    it("refuses to run without a kubernetes provider, before registering anything", async () => {
        const rec = await record(() => {
            assert.throws(
                () => new ExposedApp("lost", { image: "nginx:1.27", ports: [{ containerPort: 80 }], hostnames: ["lost.example.com"] }),
                (e: Error) => {
                    assert.match(e.message, /^ExposedApp "lost": no kubernetes provider was given, so its objects would go to whatever cluster the local kubeconfig points at\. Fix: pass the cluster's provider/);
                    return true;
                },
            );
        });
        assert.deepEqual(rec.resources.map((r) => r.type), ["pulumi:pulumi:Stack"]);
    });

    it("accepts the provider from a parent component", async () => {
        const rec = await record(() => {
            const provider = clusterProvider();
            const parent = new pulumi.ComponentResource("test:index:Cluster", "c", {}, { providers: [provider] });
            new ExposedApp("child", { image: "nginx:1.27", ports: [{ containerPort: 80 }], hostnames: ["child.example.com"] }, { parent });
        });
        assertAllOnProvider(rec, "cluster");
    });
});
