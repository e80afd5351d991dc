/**
 * Destroy leaves hosts as they were (issue 17 §4), in the lab: every lab host (cloud1, cloud2, home1, home2)
 * is snapshotted before the first `up` (files our steps can write, with checksums, modes and owners; links,
 * addresses, routes, rules, the filter and nat tables, the sysctls our steps and wg-quick set, the host's own
 * processes, the installed packages), then every step of the shipped lab stack runs (the first `up`), the
 * overlay is shown to work and the snapshot to have changed, then every step is deleted (`pulumi destroy`,
 * or removing the whole cluster from config: both delete every step), and the snapshot must equal the first.
 * Packages are compared apart: those there before must still be there (packages the steps installed may stay).
 *
 * The engine: the real Pulumi engine cannot run the host steps here (the pulumi-command plugin cannot be
 * built: the Go module proxy refuses github.com/pulumi/pulumi-command/provider), so the lab runner
 * (tests/lab/runner.ts) stands in for it: first `up` = `planRun(undefined, steps)`, destroy =
 * `planRun(steps, [])`, every step deleted over real SSH, dependents first.
 *
 * What this cannot prove: the k3s steps (k3s-config, k3s-install, k3s-kubeconfig, k3s-node) are skipped by
 * the runner's explicit rule (no k3s binaries offline), in the up and in the destroy. For them, the last test
 * checks the delete texts the destroy would run: the k3s installer's own uninstall script per role (it
 * removes k3s, its data, /etc/rancher/k3s and its units), our files under /etc/rancher/k3s, and the drain and
 * Node deletion on the first server before an agent's uninstall. Nor does the lab exercise: systemd or OpenRC
 * (its hosts have no init system, so the unit enablement branches are not run), kernel WireGuard (it uses
 * wireguard-go), firewalld or ufw (plain iptables), or a package install (the tools are present, so the
 * packages check only shows that the deletes remove none).
 *
 * Found by this test and fixed: a destroyed hub kept net.ipv4.ip_forward = 1 (the config step now records the
 * value it found and its delete restores it).
 */
import { it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { inHost, labHostState, labPids } from "../../lab/lab";
import { labSuite } from "./suite";
import { OverlayPlan } from "../../components/src/wireguard";
import { Action, describeFailures, planRun, runPlan, Step, StepStatus, stepsFromRecording } from "./runner";
import { MESH_NAME, runLabStack } from "./scenario";


const HOSTS = ["cloud1", "cloud2", "home1", "home2"] as const;

/**
 * Every path the lab stack's rendered steps can write (`npm run render -- --stack lab`, the scripts and
 * their deletes), and where wg-quick and wireguard-go keep state. Directories are listed whole.
 */
const WATCHED_PATHS = [
    "/etc/wireguard", // wg0.conf
    "/etc/sysctl.d", // 99-hybridinfra-wg0.conf
    "/etc/systemd/system", // wg-quick@ enablement, re-resolve units, k3s units
    "/etc/init.d", // wg-quick.wg0 (OpenRC), k3s services
    "/etc/runlevels", // OpenRC enablement
    "/etc/periodic", // re-resolve job (OpenRC)
    "/etc/modules-load.d",
    "/etc/rancher", // k3s config.yaml, token, kubeconfig
    "/var/lib/hybridinfra", // firewalld record, the forwarding value found before the up
    "/var/lib/rancher", // k3s-config.sha256, air-gap uploads, k3s data
    "/usr/local/bin", // k3s, its killall and uninstall scripts
    "/usr/local/sbin", // re-resolve script
    "/run/wireguard", // wireguard-go's control socket
] as const;

/** Sysctls the steps (config step: ip_forward) and wg-quick (src_valid_mark) can set. */
const WATCHED_SYSCTLS = ["net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding", "net.ipv4.conf.default.forwarding", "net.ipv4.conf.all.src_valid_mark"] as const;

/** One host's state: each key a sorted list of lines. */
type Snapshot = Record<string, string[]>;

/** Per key, the lines only in `a` (-) and only in `b` (+); empty when equal. */
function describeDiff(a: Snapshot, b: Snapshot): string {
    const out: string[] = [];
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
        const x = a[key] ?? [];
        const y = b[key] ?? [];
        const gone = x.filter((l) => !y.includes(l));
        const added = y.filter((l) => !x.includes(l));
        if (gone.length > 0 || added.length > 0 || x.length !== y.length) out.push(`  ${key}:`, ...gone.map((l) => `    - ${l}`), ...added.map((l) => `    + ${l}`));
    }
    return out.join("\n");
}

labSuite("destroy in the lab", (lab) => {
    const host = (name: string) => labHostState(lab(), name);
    const sh = (name: string, script: string) => inHost(host(name), ["bash", "-c", script], { check: false });
    const lines = (text: string) => text.split("\n").filter((l) => l !== "").sort();

    /** The commands of the processes in a host's network namespace (holder, sshd, wireguard-go, ...). */
    function processes(h: string): string[] {
        const id = fs.readlinkSync(`/proc/${host(h).holderPid}/ns/net`);
        const comms = labPids(new Set([id])).flatMap((p) => {
            try {
                return [fs.readFileSync(`/proc/${p}/comm`, "utf8").trim()];
            } catch {
                return [];
            }
        });
        // sshd's per-connection processes come and go with the runner's sessions; the listener stays.
        return [...new Set(comms.filter((c) => c !== "sshd-session"))].sort();
    }

    function snapshot(h: string): Snapshot {
        const q = (script: string) => {
            const r = sh(h, script);
            assert.equal(r.status, 0, `${h}: ${script}\n${r.stderr}`);
            return lines(r.stdout);
        };
        const files = `for p in ${WATCHED_PATHS.join(" ")}; do
  [ -e "$p" ] || [ -L "$p" ] || continue
  find "$p" -xdev -printf '%p %y %m %u:%g %l\\n'
  find "$p" -xdev -type f -exec sha256sum {} + | awk '{ print $2, "sha256", $1 }'
done`;
        return {
            files: q(files),
            links: q("ip -o link | sed -E 's/^[0-9]+: //'"),
            addresses: q("ip -4 -o addr | sed -E 's/^[0-9]+: //'"),
            routes: q("ip -4 route show table all"),
            rules: q("ip rule"),
            // Counters change with every packet; the tables are dumped as they are (listing creates none).
            iptables: q("for t in filter nat; do iptables-save -t $t | grep -v '^#' | sed -E 's/\\[[0-9]+:[0-9]+\\]/[0:0]/'; done"),
            sysctls: q(WATCHED_SYSCTLS.map((s) => `printf '%s = %s\\n' ${s} "$(sysctl -n ${s})"`).join("\n")),
            processes: processes(h),
        };
    }
    const packages = (h: string): string[] => lines(sh(h, "dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package} ${Version}\\n' | grep '^ii'").stdout);

    let steps: Step[];
    let plan: OverlayPlan;
    let pristine: Record<string, Snapshot>;
    let pristinePackages: Record<string, string[]>;
    const snapshotAll = () => Object.fromEntries(HOSTS.map((h) => [h, snapshot(h)]));
    const skippedByRule = (r: { status: string; reason?: string }) => r.status === StepStatus.Skipped && /^skip rule .*k3s binaries cannot be fetched here/.test(r.reason ?? "");

    it("snapshots every host before the first up (and a second snapshot equals it: the snapshot is stable)", async () => {
        pristine = snapshotAll();
        pristinePackages = Object.fromEntries(HOSTS.map((h) => [h, packages(h)]));
        for (const h of HOSTS) {
            assert.ok(pristine[h].files.length > 0 && pristine[h].links.length > 0 && pristine[h].iptables.length > 0, `${h}: the snapshot is not empty`);
            assert.ok(pristinePackages[h].some((p) => / wireguard-tools /.test(p)), `${h}: dpkg-query lists the installed packages`);
            assert.ok(!pristine[h].links.some((l) => /^wg0:/.test(l)), `${h} has no wg0 before the first up`);
        }
        assert.equal(HOSTS.map((h) => describeDiff(pristine[h], snapshot(h))).join(""), "", "two snapshots in a row differ");
        const run = await runLabStack(false, [], lab());
        steps = stepsFromRecording(run.recording);
        plan = run.plan;
    });

    it("first up: every overlay step runs (k3s steps skipped by rule), every host pings every other over wg0, and every host changed", async () => {
        const results = await runPlan(planRun(undefined, steps));
        assert.equal(describeFailures(results), "");
        for (const r of results) assert.ok(r.status === StepStatus.Ok || skippedByRule(r), `${r.name}: ${r.status} ${r.reason ?? ""}`);
        assert.deepEqual(
            results.filter((r) => r.status === StepStatus.Ok).map((r) => r.name).sort(),
            HOSTS.flatMap((h) => [`${MESH_NAME}-${h}-wg-config`, `${MESH_NAME}-${h}-wg-install`]).sort(),
        );
        const addr = (h: string) => plan.nodes.find((n) => n.name === h)!.address;
        const failing: string[] = [];
        for (let i = 0; i < 120; i++) {
            failing.length = 0;
            for (const a of HOSTS) for (const b of HOSTS) if (a !== b && sh(a, `ping -c 1 -W 1 ${addr(b)}`).status !== 0) failing.push(`${a}->${b}`);
            if (failing.length === 0) break;
            await new Promise((r) => setTimeout(r, 500));
        }
        assert.deepEqual(failing, [], "pairs that cannot ping over wg0");

        const up = snapshotAll();
        for (const h of HOSTS) {
            const changed = Object.keys(up[h]).filter((k) => describeDiff({ [k]: pristine[h][k] }, { [k]: up[h][k] }) !== "");
            console.log(`${h} after the first up, changed: ${changed.join(", ")}\n${describeDiff(pristine[h], up[h])}`);
            for (const k of ["files", "links", "addresses", "routes", "iptables", "processes"]) assert.ok(changed.includes(k), `${h}: the first up changed ${k}`);
        }
        assert.ok(up.cloud1.sysctls.includes("net.ipv4.ip_forward = 1"), "the hub forwards");
        assert.ok(up.cloud1.files.some((l) => l.startsWith("/var/lib/hybridinfra/sysctl-wg0.before f 600 root:root")), "the hub recorded the forwarding it found");
        assert.match(sh("cloud1", "cat /var/lib/hybridinfra/sysctl-wg0.before").stdout, /^net\.ipv4\.ip_forward = 0$/m);
    });

    it("destroy: every step is deleted (dependents first), then every host equals its snapshot from before the first up", async () => {
        const plan = planRun(steps, []);
        assert.ok(plan.every((p) => p.action === Action.Delete) && plan.length === steps.length, "destroy deletes every step");
        const results = await runPlan(plan);
        assert.equal(describeFailures(results), "");
        for (const r of results) {
            assert.equal(r.action, Action.Delete);
            assert.ok(r.status === StepStatus.Ok || skippedByRule(r), `${r.name}: ${r.status} ${r.reason ?? ""}`);
        }
        assert.deepEqual(
            results.filter((r) => r.status === StepStatus.Ok).map((r) => r.name).sort(),
            HOSTS.flatMap((h) => [`${MESH_NAME}-${h}-wg-config`, `${MESH_NAME}-${h}-wg-install`]).sort(),
        );
        assert.match(results.find((r) => r.name === `${MESH_NAME}-cloud1-wg-config`)!.stdout, /restored net\.ipv4\.ip_forward = 0, its value before wg0 turned forwarding on/);
        // wireguard-go exits once its interface is gone; give it a moment (bounded).
        for (let i = 0; i < 20 && HOSTS.some((h) => processes(h).includes("wireguard-go")); i++) await new Promise((r) => setTimeout(r, 250));

        const now = snapshotAll();
        const diffs = HOSTS.map((h) => [h, describeDiff(pristine[h], now[h])] as const).filter(([, d]) => d !== "");
        assert.equal(diffs.map(([h, d]) => `${h} (- before the first up, + after the destroy):\n${d}`).join("\n"), "", "destroy left hosts different");
        assert.deepEqual(now, pristine);
        for (const h of HOSTS) {
            const after = packages(h);
            const lost = pristinePackages[h].filter((p) => !after.includes(p));
            assert.deepEqual(lost, [], `${h}: packages there before the first up are still there`);
        }
    });

    it("k3s (skipped here): each host's k3s-install delete runs the installer's uninstall script for its role, k3s-config's delete removes our files under /etc/rancher/k3s, agents are drained first", () => {
        const byName = new Map(steps.map((s) => [s.name, s]));
        /** Every step `name` depends on, directly or not: the destroy deletes all of them after it. */
        const dependsOn = (name: string, seen = new Set<string>()): Set<string> => {
            for (const d of byName.get(name)?.dependencies ?? []) if (!seen.has(d)) dependsOn(d, seen.add(d));
            return seen;
        };
        const roles: Record<string, "server" | "agent"> = { cloud1: "server", cloud2: "agent", home1: "agent", home2: "agent" };
        for (const h of HOSTS) {
            const install = byName.get(`lab-k3s-${h}-k3s-install`);
            assert.ok(install?.delete !== undefined, `${h} has a k3s-install step with a delete`);
            const uninstall = roles[h] === "server" ? "/usr/local/bin/k3s-uninstall.sh" : "/usr/local/bin/k3s-agent-uninstall.sh";
            const other = roles[h] === "server" ? "/usr/local/bin/k3s-agent-uninstall.sh" : "/usr/local/bin/k3s-uninstall.sh";
            assert.match(install.delete, new RegExp(`if \\[ -x ${uninstall} \\]; then\\n.*\\n  ${uninstall}\\n`), `${h}'s uninstall runs ${uninstall}`);
            assert.ok(!install.delete.includes(other), `${h} (a ${roles[h]}) does not run ${other}`);
            assert.match(install.delete, /rm -f \/var\/lib\/rancher\/hybridinfra\/k3s-config\.sha256/);

            const config = byName.get(`lab-k3s-${h}-k3s-config`);
            assert.ok(config?.delete !== undefined, `${h} has a k3s-config step with a delete`);
            assert.match(config.delete, /hi_remove_managed_file \/etc\/rancher\/k3s\/config\.yaml\n/);
            assert.match(config.delete, /hi_remove_managed_file \/etc\/rancher\/k3s\/hybridinfra-token --any\n/);
            // The uninstall runs first (it depends on the config), then the config's delete; the overlay goes last.
            assert.ok(install.dependencies.includes(config.name), `${h}: k3s-install depends on k3s-config`);
            assert.ok(dependsOn(install.name).has(`${MESH_NAME}-${h}-wg-config`), `${h}: k3s is uninstalled before its overlay goes`);
            if (roles[h] === "agent") {
                const node = byName.get(`lab-k3s-${h}-k3s-node`);
                assert.ok(node?.delete !== undefined, `the first server has a k3s-node step for ${h}`);
                assert.match(node.delete, /k3s kubectl drain/);
                assert.ok(node.dependencies.includes(install.name), `${h} is drained before it is uninstalled`);
            }
        }
    });
});
