import * as assert from "node:assert/strict";
import * as k8s from "@pulumi/kubernetes";
import { UNKNOWN, type Recording, type RecordedResource } from "../harness/mocks";

/** Every kubernetes:* resource must name the cluster provider created by the test. */
export function assertAllOnProvider(rec: Recording, providerName: string): void {
    const provider = rec.find("pulumi:providers:kubernetes", providerName);
    const k8sResources = rec.resources.filter((r) => r.custom && r.type.startsWith("kubernetes:"));
    assert.ok(k8sResources.length > 0, "no kubernetes resources were registered");
    for (const r of k8sResources) {
        assert.notEqual(r.provider, "", `${r.type} ${r.name} uses the default provider`);
        assert.ok(r.provider.startsWith(`${provider.urn}::`), `${r.type} ${r.name} uses provider ${r.provider}, not ${provider.urn}`);
    }
}

export function clusterProvider(): k8s.Provider {
    return new k8s.Provider("cluster", { kubeconfig: "apiVersion: v1\nkind: Config\n", enableServerSideApply: true });
}

export function assertSubset(sub: Record<string, string>, sup: Record<string, string>, what: string): void {
    for (const [k, v] of Object.entries(sub)) assert.equal(sup[k], v, `${what}: label ${k}`);
}

function isUnknown(v: unknown): boolean {
    return v === UNKNOWN || (typeof v === "object" && v !== null && (v as { __pulumiUnknown?: boolean }).__pulumiUnknown === true);
}

/**
 * A secret input is marked secret; in preview a value computed by a provider is unknown instead (it has no
 * value to leak yet, and the mock monitor cannot see secret-ness on unknowns), which is accepted there only.
 */
export function assertSecretInput(rec: Recording, r: RecordedResource, path: string, preview: boolean): void {
    const value = path.split(".").reduce<any>((o, k) => (o === undefined ? undefined : o[k]), r.inputs);
    if (preview && isUnknown(value)) return;
    assert.ok(rec.isSecret(r, path), `${r.type} ${r.name}: ${path} is not secret`);
}

export function plainSecretFree(rec: Recording, r: RecordedResource, secrets: string[]): void {
    for (const text of rec.plainStrings(r)) {
        for (const s of secrets) assert.ok(!text.includes(s), `secret ${s.slice(0, 12)}… leaked into a plain input of ${r.type} ${r.name}`);
    }
}

