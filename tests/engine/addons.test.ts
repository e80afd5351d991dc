/**
 * The Traefik dashboard add-on's HelmChartConfig (helm.cattle.io/v1, the way k3s takes values for its bundled
 * Traefik chart), applied by the REAL Pulumi engine and pulumi-kubernetes provider to a REAL control plane
 * (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) into which k3s's helm-controller CRDs
 * were installed first. The CRDs are helm-controller's own definitions (github.com/k3s-io/helm-controller
 * v0.17.7, the version k3s pins next to k8s.io/kubernetes v1.36.3), printed by our tools/kube/helmcrds at
 * build time (`bash tools/kube/build.sh`) into .tools/share/helm-controller/crds.yaml; nothing of them is
 * copied into this repository.
 *
 * What is applied: `TraefikDashboard` as the cluster composition creates it (`ingress.traefikDashboard: true`
 * gives `new TraefikDashboard(name, {})`): the `traefik` HelmChartConfig in kube-system, nothing else.
 * What is left out, and why: the published variant (`hostname` set), which adds a basic-auth Secret, a
 * `random.RandomPassword` and a Traefik `Middleware` (traefik.io/v1alpha1). The Middleware needs Traefik's
 * CRDs, which k3s's Traefik chart installs and which we have no source for here, and the password needs the
 * @pulumi/random plugin, which is not built here. Nothing of k3s runs here either: no helm-controller acts on
 * the HelmChartConfig (no Traefik is deployed); the test covers what the API server accepts and stores.
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
import { standardLabels, TRAEFIK_CHART_CONFIG, TraefikDashboard, traefikDashboardValues } from "../../components/src";
import { ControlPlane, installCrds, KubeClient, REPO_ROOT, startControlPlane } from "../harness/controlplane";
import { changes, createEngineStack, EngineStack } from "../harness/engine";
import { realPartsSkipReason } from "../harness/realParts";

/** Written by tools/kube/build.sh (helmcrds) from the pinned helm-controller module. */
const HELM_CRDS = path.join(REPO_ROOT, ".tools", "share", "helm-controller", "crds.yaml");

const why = realPartsSkipReason(HELM_CRDS);

const HCC_PATH = `/apis/helm.cattle.io/v1/namespaces/kube-system/helmchartconfigs/${TRAEFIK_CHART_CONFIG}`;

interface Crd {
    apiVersion: string;
    kind: string;
    metadata: { name: string };
    spec: { group: string; names: { kind: string }; versions: { name: string; served: boolean }[] };
}

describe("real engine + real control plane: the Traefik dashboard's HelmChartConfig with k3s's helm-controller CRDs", { skip: why }, () => {
    let cp: ControlPlane;
    let client: KubeClient;
    let es: EngineStack;

    before(async () => {
        cp = await startControlPlane();
        client = cp.client;
        es = await createEngineStack({
            project: "hybridinfra-addons",
            stack: "addons",
            config: { "test:kubeconfig": { value: cp.kubeconfig, secret: true } },
            program: async () => {
                const provider = new k8s.Provider("cluster", { kubeconfig: new pulumi.Config("test").requireSecret("kubeconfig"), enableServerSideApply: true });
                // As components/src/cluster/component.ts creates it for `ingress.traefikDashboard: true`.
                const d = new TraefikDashboard("traefik-dashboard", {}, { providers: { kubernetes: provider } });
                return { url: d.url, username: d.username };
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

    it("helm-controller's CRDs (HelmChart, HelmChartConfig in helm.cattle.io/v1) install and become Established", async () => {
        const crds = yaml.loadAll(readFileSync(HELM_CRDS, "utf8")).filter((d): d is Crd => d !== null && typeof d === "object") as Crd[];
        assert.deepEqual(crds.map((c) => `${c.kind} ${c.metadata.name}`).sort(), [
            "CustomResourceDefinition helmchartconfigs.helm.cattle.io",
            "CustomResourceDefinition helmcharts.helm.cattle.io",
        ]);
        for (const c of crds) assert.ok(c.spec.versions.some((v) => v.name === "v1" && v.served), `${c.metadata.name} serves v1`);
        await installCrds(client, crds);
        // The schema is in force: a HelmChartConfig whose valuesContent is not a string is refused.
        const bad = await client.raw("POST", "/apis/helm.cattle.io/v1/namespaces/kube-system/helmchartconfigs", {
            apiVersion: "helm.cattle.io/v1",
            kind: "HelmChartConfig",
            metadata: { name: "schema-probe", namespace: "kube-system" },
            spec: { valuesContent: { not: "a string" } },
        });
        assert.equal(bad.status, 422, `an invalid HelmChartConfig must be refused: ${bad.status} ${bad.body}`);
        assert.match(bad.body, /valuesContent/);
    });

    it("`pulumi up` creates the HelmChartConfig, and the API server stores it as the component rendered it", async () => {
        const res = await es.stack.up();
        assert.deepEqual(changes(res.summary), { create: 4 }, "stack, provider, TraefikDashboard component, HelmChartConfig");
        assert.equal(res.outputs.url.value, "", "not published: reached with kubectl port-forward only");
        assert.equal(res.outputs.username.value, "admin");
        const hcc = await client.get(HCC_PATH);
        assert.equal(hcc.apiVersion, "helm.cattle.io/v1");
        assert.equal(hcc.kind, "HelmChartConfig");
        assert.equal(hcc.metadata.namespace, "kube-system");
        for (const [k, v] of Object.entries(standardLabels("traefik-dashboard", "dashboard"))) assert.equal(hcc.metadata.labels?.[k], v, `label ${k}`);
        // The stored spec is what the component rendered plus the defaults of helm-controller's schema (the
        // API server applies them; v0.17.7 defaults `failurePolicy`), read from the installed CRD itself.
        const crd = await client.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/helmchartconfigs.helm.cattle.io");
        const specProps = crd.spec.versions.find((v: { name: string }) => v.name === "v1").schema.openAPIV3Schema.properties.spec.properties as Record<string, { default?: unknown }>;
        const defaults = Object.fromEntries(Object.entries(specProps).flatMap(([k, v]) => (v.default !== undefined ? [[k, v.default]] : [])));
        const rendered = { valuesContent: JSON.stringify(traefikDashboardValues({ username: "admin" }), null, 2) };
        assert.deepEqual(hcc.spec, { ...defaults, ...rendered });
        // What helm-controller would hand to the chart: YAML (JSON is YAML) turning on the dashboard.
        assert.deepEqual(yaml.load(hcc.spec.valuesContent), { ingressRoute: { dashboard: { enabled: true } } });
    });

    it("a second `pulumi up` changes nothing (the engine's own summary)", async () => {
        const res = await es.stack.up();
        assert.deepEqual(changes(res.summary), {});
    });

    it("`pulumi destroy` removes it", async () => {
        await es.stack.destroy();
        const res = await client.raw("GET", HCC_PATH);
        assert.equal(res.status, 404, `GET after destroy: ${res.status} ${res.body}`);
    });
});
