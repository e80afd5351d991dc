/**
 * The rolling upgrade's two control-host scripts (issue 17 §2), the very text the k3s-drain and k3s-node
 * steps run (prelude included), run with bash against a REAL control plane (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler; kwok plays the kubelets and, like a kubelet, removes a pod once it
 * has a deletionTimestamp).
 *
 * The scripts call `k3s kubectl …`. `k3s kubectl` is upstream kubectl compiled into the k3s binary; k3s cannot
 * be had here, so the test puts a two-line `k3s` on PATH that runs the REAL kubectl built from the same pinned
 * k8s.io/kubernetes (`bash tools/kube/build.sh`) for `k3s kubectl` and refuses anything else.
 *
 * What cannot run: the k3s upgrade itself (the install step between the two scripts). Where a node "comes back
 * at the new version", the test writes the new kubelet version into the Node's status, as the kubelet of the
 * upgraded k3s would report it; nothing else of the node changes.
 *
 * Without the binaries this file skips, unless HYBRIDINFRA_REQUIRE_CONTROLPLANE=1 or HYBRIDINFRA_REQUIRE_ENGINE=1.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { renderHostScript } from "../../components/src/host/script";
import { CONFIG_REVISION_ANNOTATION, renderNodeDrainScript, renderNodeReadyScript } from "../../components/src/k3s/scripts";
import { ControlPlane, createNodes, KUBE_BIN_DIR, KubeClient, startControlPlane, waitFor } from "../harness/controlplane";
import { realPartsSkipReason } from "../harness/realParts";

const KUBECTL = path.join(KUBE_BIN_DIR, "kubectl");
const why = realPartsSkipReason(KUBECTL);

const OLD = "v1.36.1+k3s1";
const NEW = "v1.36.2+k3s1";
const NODE = "home-pc";

describe("real kubectl + real control plane: the rolling upgrade's drain and Ready scripts", { skip: why }, () => {
    let cp: ControlPlane;
    let client: KubeClient;
    let dir: string;
    let kubeconfigPath: string;

    /** Runs a step body as the step would (prelude, `hi_detect`, body, `hi_done`) with `k3s kubectl` = kubectl. */
    function runStep(step: string, body: string): { code: number | null; out: string } {
        const { script } = renderHostScript({ host: "tokyo-1", step, body });
        const r = spawnSync("bash", ["-c", script], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, encoding: "utf8", timeout: 120_000 });
        return { code: r.status, out: `${r.stdout}${r.stderr}` };
    }
    const kubectl = (...args: string[]) => spawnSync(KUBECTL, ["--kubeconfig", kubeconfigPath, ...args], { encoding: "utf8" });
    const node = () => client.get(`/api/v1/nodes/${NODE}`);
    const setKubeletVersion = (v: string) =>
        client.request("PATCH", `/api/v1/nodes/${NODE}/status`, { status: { nodeInfo: { kubeletVersion: v } } }, "application/merge-patch+json");
    const podsOn = async (n: string) =>
        (await client.list("/api/v1/namespaces/default/pods")).filter((p) => p.spec?.nodeName === n && p.metadata?.deletionTimestamp === undefined && p.metadata?.labels?.app === "web");

    before(async () => {
        cp = await startControlPlane();
        client = cp.client;
        dir = mkdtempSync(path.join(os.tmpdir(), "hil-rolling-"));
        kubeconfigPath = cp.kubeconfigPath;
        const shim = path.join(dir, "k3s");
        writeFileSync(shim, `#!/bin/sh\n[ "$1" = kubectl ] || { echo "only 'k3s kubectl' exists here" >&2; exit 1; }\nshift\nexec ${KUBECTL} --kubeconfig ${kubeconfigPath} "$@"\n`);
        chmodSync(shim, 0o755);
        await createNodes(cp.kubeconfig, [{ name: "tokyo-1" }, { name: NODE }, { name: "home-nas" }]);
        for (const n of ["tokyo-1", NODE, "home-nas"]) {
            await client.request("PATCH", `/api/v1/nodes/${n}/status`, { status: { nodeInfo: { kubeletVersion: OLD } } }, "application/merge-patch+json");
        }
        await waitFor("every node Ready", async () => {
            const ns = await client.list("/api/v1/nodes");
            return ns.length === 3 && ns.every((n) => n.status?.conditions?.some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True"));
        });
        // Four replicas, one forced onto the node under upgrade.
        assert.equal(kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=4").status, 0);
        await waitFor("web's pods Running", async () => (await client.list("/api/v1/namespaces/default/pods")).filter((p) => p.status?.phase === "Running").length === 4);
        if ((await podsOn(NODE)).length === 0) {
            const other = (await client.list("/api/v1/namespaces/default/pods")).find((p) => p.metadata?.labels?.app === "web")!;
            assert.equal(kubectl("cordon", "tokyo-1").status, 0);
            assert.equal(kubectl("cordon", "home-nas").status, 0);
            assert.equal(kubectl("delete", "pod", other.metadata.name, "--wait=false").status, 0);
            await waitFor(`a web pod on ${NODE}`, async () => (await podsOn(NODE)).length > 0);
            assert.equal(kubectl("uncordon", "tokyo-1", "home-nas").status, 0);
        }
    });

    after(async () => {
        try {
            await cp?.stop();
        } finally {
            if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
        }
    });

    it("nothing to restart (same version, no recorded revision yet): not drained", async () => {
        const r = runStep(`k3s-drain-${NODE}`, renderNodeDrainScript({ nodeName: NODE, version: OLD, configRevision: "0123456789abcdef" }));
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, /node home-pc: nothing to upgrade or restart, not draining/);
        assert.notEqual((await node()).spec.unschedulable, true);
        assert.ok((await podsOn(NODE)).length > 0, "its pods stay");
    });

    it("a new version: cordoned and drained through the eviction API, before the install step", async () => {
        const r = runStep(`k3s-drain-${NODE}`, renderNodeDrainScript({ nodeName: NODE, version: NEW, configRevision: "0123456789abcdef" }));
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, /cordoning and draining home-pc before its k3s restart \(upgrade from v1\.36\.1\+k3s1 to v1\.36\.2\+k3s1\)/);
        assert.equal((await node()).spec.unschedulable, true);
        await waitFor("no web pod left on home-pc", async () => (await podsOn(NODE)).length === 0);
        await waitFor("4 web pods Running elsewhere", async () => (await client.list("/api/v1/namespaces/default/pods")).filter((p) => p.status?.phase === "Running" && p.metadata?.deletionTimestamp === undefined).length === 4);
    });

    it("the Ready check fails while the node still reports the old version, and leaves it cordoned (the roll stops)", async () => {
        const r = runStep(`k3s-node-${NODE}`, renderNodeReadyScript({ nodeName: NODE, labels: {}, version: NEW, configRevision: "0123456789abcdef" }));
        assert.notEqual(r.code, 0);
        assert.match(r.out, /node home-pc is Ready but runs v1\.36\.1\+k3s1, not v1\.36\.2\+k3s1: the upgrade did not take; the roll stops here/);
        assert.equal((await node()).spec.unschedulable, true);
    });

    it("at the new version: the Ready check records the revision and uncordons", async () => {
        await setKubeletVersion(NEW);
        const r = runStep(`k3s-node-${NODE}`, renderNodeReadyScript({ nodeName: NODE, labels: { disk: "ssd" }, version: NEW, configRevision: "0123456789abcdef" }));
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, /uncordoned home-pc/);
        const n = await node();
        assert.notEqual(n.spec.unschedulable, true);
        assert.equal(n.metadata.annotations[CONFIG_REVISION_ANNOTATION], "0123456789abcdef");
        assert.equal(n.metadata.labels.disk, "ssd");
    });

    it("the same version and revision again: not drained; a new config.yaml revision: drained", async () => {
        const same = runStep(`k3s-drain-${NODE}`, renderNodeDrainScript({ nodeName: NODE, version: NEW, configRevision: "0123456789abcdef" }));
        assert.equal(same.code, 0, same.out);
        assert.match(same.out, /nothing to upgrade or restart, not draining/);
        const changed = runStep(`k3s-drain-${NODE}`, renderNodeDrainScript({ nodeName: NODE, version: NEW, configRevision: "fedcba9876543210" }));
        assert.equal(changed.code, 0, changed.out);
        assert.match(changed.out, /config\.yaml changed \(revision 0123456789abcdef to fedcba9876543210\)/);
        assert.equal((await node()).spec.unschedulable, true);
        const back = runStep(`k3s-node-${NODE}`, renderNodeReadyScript({ nodeName: NODE, labels: {}, version: NEW, configRevision: "fedcba9876543210" }));
        assert.equal(back.code, 0, back.out);
        assert.notEqual((await node()).spec.unschedulable, true);
    });

    it("a PodDisruptionBudget that cannot be met: the drain fails within its timeout, the node stays cordoned, nothing else ran", async () => {
        assert.equal(kubectl("create", "deployment", "db", "--image=postgres:17", "--replicas=1").status, 0);
        assert.equal(kubectl("create", "poddisruptionbudget", "db", "--selector=app=db", "--min-available=1").status, 0);
        // Put db's only replica on the node.
        assert.equal(kubectl("cordon", "tokyo-1", "home-nas").status, 0);
        await waitFor("db Running on home-pc", async () => (await client.list("/api/v1/namespaces/default/pods")).some((p) => p.metadata?.labels?.app === "db" && p.spec?.nodeName === NODE && p.status?.phase === "Running"));
        assert.equal(kubectl("uncordon", "tokyo-1", "home-nas").status, 0);
        await setKubeletVersion(OLD);
        const r = runStep(`k3s-drain-${NODE}`, renderNodeDrainScript({ nodeName: NODE, version: NEW, configRevision: "fedcba9876543210", drainTimeoutSeconds: 5 }));
        assert.notEqual(r.code, 0);
        assert.match(r.out, /drain of home-pc did not finish within 5s: a PodDisruptionBudget blocks an eviction \(kubectl get pdb -A\) or a pod does not stop; the roll stops here: home-pc stays cordoned and nothing was upgraded/);
        assert.equal((await node()).spec.unschedulable, true);
        assert.ok((await client.list("/api/v1/namespaces/default/pods")).some((p) => p.metadata?.labels?.app === "db" && p.spec?.nodeName === NODE && p.metadata?.deletionTimestamp === undefined), "the budget kept db's only replica");
    });
});
