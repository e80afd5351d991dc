// MTU (issue 13 §5): flannel takes its VXLAN MTU from the overlay interface only when k3s starts, so an MTU
// change must re-run the k3s install step (which restarts k3s when config.yaml changed) on the affected nodes.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { loadStack } from "../../tools/stack";
import { runStack } from "../../tools/render-lib";
import { extractProgram } from "../harness/shellcheck";

async function k3sScripts(stack: string, mutate: (cfg: any) => void): Promise<Map<string, { config: string; install: string }>> {
    const cfg = JSON.parse(loadStack(stack).config["hybrid-infra:cluster"]);
    mutate(cfg);
    const { recording } = await runStack(stack, { extraConfig: { cluster: JSON.stringify(cfg) } });
    const out = new Map<string, { config: string; install: string }>();
    for (const r of recording.byType("command:remote:Command")) {
        const m = new RegExp(`^${stack}-k3s-(.+)-k3s-config$`).exec(r.name);
        if (m === null) continue;
        const install = recording.byName(`${stack}-k3s-${m[1]}-k3s-install`);
        out.set(m[1], { config: extractProgram(r.inputs.create as string), install: install.inputs.create as string });
    }
    return out;
}

describe("overlay MTU and k3s", () => {
    it("states the VXLAN MTU (wg MTU − 50) in config.yaml", async () => {
        const nodes = await k3sScripts("ha-homelab", () => undefined);
        for (const [name, { config }] of nodes) {
            assert.ok(
                config.includes("\n# wg0 MTU 1380: flannel's VXLAN MTU is 1330 (1380 - 50 bytes of VXLAN overhead), read when k3s starts.\n"),
                `${name} states its VXLAN MTU`,
            );
        }
    });

    it("an overlay.mtu change 1420 → 1380 re-runs the k3s install (restart) on every node (the issue's example)", async () => {
        const before = await k3sScripts("hybrid-edge", (c) => (c.overlay.mtu = 1420));
        const after = await k3sScripts("hybrid-edge", (c) => (c.overlay.mtu = 1380));
        assert.deepEqual([...after.keys()].sort(), ["cloud-vm", "home-mac-vm", "home-pc"]);
        for (const [name, a] of after) {
            const b = before.get(name)!;
            assert.notEqual(a.install, b.install, `${name}: the install step must re-run so k3s restarts`);
            assert.match(a.config, /flannel's VXLAN MTU is 1330 \(1380 - 50/);
            assert.match(b.config, /flannel's VXLAN MTU is 1370 \(1420 - 50/);
        }
    });

    it("a per-host MTU change restarts k3s on that host only (own example: PPPoE at home, 1412)", async () => {
        const before = await k3sScripts("hybrid-edge", () => undefined);
        const after = await k3sScripts("hybrid-edge", (c) => (c.hosts.find((h: { name: string }) => h.name === "home-pc").mtu = 1412));
        const changed = [...after].filter(([n, a]) => a.install !== before.get(n)!.install).map(([n]) => n);
        assert.deepEqual(changed, ["home-pc"]);
        assert.match(after.get("home-pc")!.config, /# wg0 MTU 1412: flannel's VXLAN MTU is 1362 /);
    });

    it("Tailscale's interface MTU is not ours to set: nothing is stated", async () => {
        const nodes = await k3sScripts("tailnet", () => undefined);
        assert.equal(nodes.size, 3);
        for (const [name, { config }] of nodes) assert.doesNotMatch(config, /VXLAN MTU/, name);
    });
});
