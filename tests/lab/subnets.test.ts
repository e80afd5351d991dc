/**
 * Subnet routing in the lab (issue 13 §7), with seed 002's three private subnets and one `lan:` router per site:
 *
 *   site oracle:  cloud1 (the hub) routes 10.0.0.0/24: lan0 10.0.0.1 <-veth-> plain host nas-a 10.0.0.50
 *   site tencent: cloud2 routes 10.0.16.0/24: lan0 10.0.16.1 <-veth-> plain host nas-b 10.0.16.50
 *   site home:    home1 routes the lab's home LAN 192.168.50.0/24; home2 is an overlay host there too, home3 a
 *                 plain host (no WireGuard) whose default gateway stays the home router 192.168.50.1
 *
 * nas-a and nas-b are network namespaces of this test (`hil-sn-…`, removed in `after` even on failure) whose
 * default route is their router, as when the router is the site's gateway. home3 is the usual home case: its
 * default gateway is the NAT router, so it takes the routes home1's wg-config step prints (`lanReturnRoutes`). Every
 * router's FORWARD policy is DROP (as on hosts with Docker): the overlay step's own rules must carry the traffic.
 *
 * Shown, in the hub topology (cloud1) and then in the mesh (cloud1 the relay): every overlay host reaches a
 * plain host on every site's LAN (the router masquerades the overlay: home3 needs no route for that), home2 keeps
 * its own LAN off wg0, and each plain host reaches the other sites' plain hosts and every overlay host (home2,
 * at home3's own site, at its LAN address: not at its overlay address, documented); home3 without the return
 * routes does not hear from another site's LAN. The lab's own up/down and topology are
 * unchanged; all traffic stays inside the lab's namespaces.
 */
import { after, before, it } from "node:test";
import * as assert from "node:assert/strict";
import { hybridClusterInternals } from "../../components/src/cluster";
import { lanReturnRouteCommands, lanReturnRoutes, OverlayPlan, WireGuardMesh, wireGuardMeshInternals } from "../../components/src/wireguard";
import { inHost, labHostState, LabState, run as labRun, RunResult } from "../../lab/lab";
import { runStack } from "../../tools/render-lib";
import { describeFailures, planRun, runPlan, Step, stepsFromRecording, StepStatus } from "./runner";
import { labStackConfig, MESH_NAME } from "./scenario";
import { labSuite } from "./suite";

const OVERLAY_HOSTS = ["cloud1", "cloud2", "home1", "home2"] as const;
/** Each router: its site (location), its LAN, and (cloud hosts) the LAN interface this test adds. */
const SITES = {
    cloud1: { location: "oracle", lan: "10.0.0.0/24", routerLan: "10.0.0.1" },
    cloud2: { location: "tencent", lan: "10.0.16.0/24", routerLan: "10.0.16.1" },
    home1: { location: "home", lan: "192.168.50.0/24", routerLan: "192.168.50.11" },
} as const;
/** The plain hosts: a namespace of this test, or the lab's home3 (not in the stack: it runs no WireGuard). */
const PLAIN = [
    { name: "nas-a", netns: "hil-sn-nas-a", address: "10.0.0.50", router: "cloud1" },
    { name: "nas-b", netns: "hil-sn-nas-b", address: "10.0.16.50", router: "cloud2" },
    { name: "home3", netns: undefined, address: "192.168.50.13", router: "home1" },
] as const;
type Plain = (typeof PLAIN)[number];
const locationOf = (h: string): string => (h === "home2" ? "home" : SITES[h as keyof typeof SITES].location);

/** A command on the machine: `run` reports any exit, `must` fails the test on a non-zero one (lab/lab.ts's runner). */
const run = (argv: readonly string[], timeoutMs = 20_000): RunResult => labRun(argv[0], argv.slice(1), { check: false, timeoutMs });
const must = (argv: readonly string[]): RunResult => labRun(argv[0], argv.slice(1));

/** The lab stack with seed 002's sites: locations oracle/tencent/home, a `lan` on each router. */
function subnetStackConfig(state: LabState, topology: "hub" | "mesh"): Record<string, string> {
    const base = labStackConfig(false, [], state);
    const cluster = JSON.parse(base.cluster) as { hosts: { name: string; location: string; lan?: string[] }[]; overlay: Record<string, unknown> };
    for (const h of cluster.hosts) {
        h.location = locationOf(h.name);
        const site = SITES[h.name as keyof typeof SITES] as (typeof SITES)[keyof typeof SITES] | undefined;
        if (site !== undefined) h.lan = [site.lan];
    }
    cluster.overlay.topology = topology;
    return { ...base, cluster: JSON.stringify(cluster) };
}

labSuite("lab: subnet routing (seed 002: 10.0.0.0/24, 10.0.16.0/24, 192.168.50.0/24, one router per site)", (lab) => {
    let state: LabState;
    let steps: Step[] | undefined;
    let plan: OverlayPlan;

    const sh = (name: string, script: string) => inHost(labHostState(state, name), ["bash", "-c", script], { check: false });
    /** A command on a plain host: in its own namespace, or in home3. */
    const onPlain = (p: Plain, script: string): RunResult => (p.netns !== undefined ? run(["ip", "netns", "exec", p.netns, "bash", "-c", script]) : sh(p.name, script));
    const overlayAddr = (h: string) => plan.nodes.find((n) => n.name === h)!.address;

    function removePlainNamespaces(): void {
        for (const p of PLAIN) if (p.netns !== undefined) run(["ip", "netns", "del", p.netns]);
    }

    before(() => {
        state = lab();
        removePlainNamespaces();
        for (const p of PLAIN) {
            if (p.netns === undefined) continue;
            const router = labHostState(state, p.router).netns;
            const site = SITES[p.router as keyof typeof SITES];
            must(["ip", "netns", "add", p.netns]);
            must(["ip", "-n", p.netns, "link", "set", "lo", "up"]);
            must(["ip", "-n", router, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns", p.netns]);
            must(["ip", "-n", router, "addr", "add", `${site.routerLan}/24`, "dev", "lan0"]);
            must(["ip", "-n", router, "link", "set", "lan0", "up"]);
            must(["ip", "-n", p.netns, "addr", "add", `${p.address}/24`, "dev", "eth0"]);
            must(["ip", "-n", p.netns, "link", "set", "eth0", "up"]);
            must(["ip", "-n", p.netns, "route", "add", "default", "via", site.routerLan]);
        }
        // Routers that forward nothing unless told: the overlay step's FORWARD rules must do it.
        for (const r of Object.keys(SITES)) assert.equal(sh(r, "iptables -w 5 -P FORWARD DROP").status, 0);
    });
    // Also when a test failed (lab down, which follows, would remove hil-* namespaces too).
    after(() => removePlainNamespaces());

    /** Pings until it answers (bounded: a first packet may wait for a handshake). */
    async function reaches(label: string, ping: () => RunResult, attempts = 20): Promise<boolean> {
        for (let i = 0; i < attempts; i++) {
            if (ping().status === 0) return true;
            await new Promise((r) => setTimeout(r, 500));
        }
        console.log(`${label}: no answer`);
        return false;
    }

    /** The `ip route add` lines a router's wg-config step printed for plain hosts on its LAN. */
    let printed: Record<string, string[]> = {};

    async function applyOverlay(topology: "hub" | "mesh"): Promise<void> {
        const stack = await runStack("lab", { extraConfig: subnetStackConfig(state, topology) });
        plan = wireGuardMeshInternals(hybridClusterInternals(stack.cluster).overlay as WireGuardMesh).plan;
        assert.equal(plan.topology, topology);
        const next = stepsFromRecording(stack.recording);
        const results = await runPlan(planRun(steps, next));
        assert.equal(describeFailures(results), "");
        for (const r of results.filter((x) => x.status === StepStatus.Skipped)) {
            assert.ok(!r.name.startsWith(`${MESH_NAME}-`), `overlay step ${r.name} was skipped: ${r.reason}`);
        }
        steps = next;
        printed = {};
        for (const r of results.filter((x) => x.step === "wg-config")) {
            printed[r.host] = [...r.stdout.matchAll(/^\[[^\]]+\] plain hosts on [0-9./]+: (ip route add .*)$/gm)].map((m) => m[1]);
        }
    }

    /** Every overlay host pings every plain host, and the plain hosts ping each other and every overlay host. */
    async function assertEveryoneReachesEverySite(label: string): Promise<void> {
        const failing: string[] = [];
        for (const h of OVERLAY_HOSTS) {
            for (const p of PLAIN) {
                const what = `${h} -> ${p.name} ${p.address}`;
                if (!(await reaches(what, () => sh(h, `ping -c 1 -W 1 ${p.address}`)))) failing.push(what);
            }
        }
        for (const p of PLAIN) {
            for (const q of PLAIN.filter((x) => x !== p)) {
                const what = `${p.name} -> ${q.name} ${q.address}`;
                if (!(await reaches(what, () => onPlain(p, `ping -c 1 -W 1 ${q.address}`)))) failing.push(what);
            }
            for (const h of OVERLAY_HOSTS) {
                // An overlay host at the plain host's own site (home2 for home3) is reached at its LAN address:
                // its overlay address is not, as home2 takes its own LAN from no peer (see README, Subnet routing).
                const target = h !== p.router && locationOf(h) === locationOf(p.router) ? labHostState(state, h).address : overlayAddr(h);
                const what = `${p.name} -> ${h} ${target}`;
                if (!(await reaches(what, () => onPlain(p, `ping -c 1 -W 1 ${target}`)))) failing.push(what);
            }
        }
        console.log(`${label}: ${OVERLAY_HOSTS.length * PLAIN.length + PLAIN.length * (PLAIN.length - 1 + OVERLAY_HOSTS.length) - failing.length} pairs answered`);
        assert.deepEqual(failing, [], `${label}: unanswered`);
    }

    it("before the overlay: no site reaches another site's LAN", () => {
        assert.notEqual(run(["ip", "netns", "exec", "hil-sn-nas-a", "ping", "-c", "1", "-W", "1", "10.0.16.50"]).status, 0);
        assert.notEqual(sh("home2", "ping -c 1 -W 1 10.0.0.50").status, 0);
    });

    it("hub (cloud1): every overlay host reaches a plain host on every site's LAN; home3 needs no route for that (home1 masquerades the overlay)", async () => {
        await applyOverlay("hub");
        assert.deepEqual(
            plan.nodes.map((n) => [n.name, n.location, n.lan, n.forward]),
            [
                ["cloud1", "oracle", ["10.0.0.0/24"], true],
                ["cloud2", "tencent", ["10.0.16.0/24"], true],
                ["home1", "home", ["192.168.50.0/24"], true],
                ["home2", "home", [], false],
            ],
        );
        const failing: string[] = [];
        for (const h of OVERLAY_HOSTS) {
            for (const p of PLAIN) {
                const what = `${h} -> ${p.name} ${p.address}`;
                if (!(await reaches(what, () => sh(h, `ping -c 1 -W 1 ${p.address}`)))) failing.push(what);
            }
        }
        assert.deepEqual(failing, []);
        assert.equal(sh("home3", "ip -4 route show").stdout, "default via 192.168.50.1 dev eth0 \n192.168.50.0/24 dev eth0 proto kernel scope link src 192.168.50.13 \n", "home3 has no route beyond its LAN");
        // home2 is in the router's location: it keeps its own LAN on eth0, never on wg0.
        assert.match(sh("home2", "ip -4 route get 192.168.50.13").stdout, /dev eth0/);
        assert.match(sh("home2", "ip -4 route get 10.0.16.50").stdout, /dev wg0/);
        assert.ok(!sh("home2", "ip -4 route show dev wg0").stdout.includes("192.168.50.0/24"));
    });

    it("hub: home3 (default gateway: the home router) does not hear another site's LAN without the return routes; with them every plain host reaches every other site", async () => {
        // nas-a's echo reaches home3 through home1 unmasqueraded; home3's reply goes to the home router and is lost.
        assert.equal(run(["ip", "netns", "exec", "hil-sn-nas-a", "ping", "-c", "2", "-W", "1", "192.168.50.13"]).status, 1);
        assert.deepEqual(lanReturnRoutes(plan, "home1"), ["10.100.0.0/24", "10.0.0.0/24", "10.0.16.0/24"]);
        assert.deepEqual(lanReturnRoutes(plan, "cloud1"), ["10.100.0.0/24", "10.0.16.0/24", "192.168.50.0/24"]);
        assert.deepEqual(lanReturnRoutes(plan, "home2"), []);
        // What each router's wg-config step printed, with its own address on its LAN, is what the plan says.
        const commands = lanReturnRouteCommands(plan, "home1", SITES.home1.routerLan);
        assert.deepEqual(commands, ["ip route add 10.100.0.0/24 via 192.168.50.11", "ip route add 10.0.0.0/24 via 192.168.50.11", "ip route add 10.0.16.0/24 via 192.168.50.11"]);
        for (const [r, site] of Object.entries(SITES)) assert.deepEqual(printed[r], lanReturnRouteCommands(plan, r, site.routerLan), `${r} printed the routes`);
        assert.deepEqual(printed.home2, []);
        console.log(`home1 printed:\n  ${printed.home1.join("\n  ")}`);
        // home3 takes the printed routes.
        for (const c of printed.home1) assert.equal(sh("home3", c).status, 0, c);
        await assertEveryoneReachesEverySite("hub");
        // Not through home1: home2's overlay address (home2 takes its own LAN from no peer); its LAN address serves.
        assert.equal(sh("home3", `ping -c 2 -W 1 ${overlayAddr("home2")}`).status, 1);
    });

    it("mesh (cloud1 the relay): the same, after the topology change is applied live", async () => {
        await applyOverlay("mesh");
        // The routers whose config changed print the mesh's routes (cloud1's peers are the same as the hub's: no run).
        assert.deepEqual(Object.keys(printed).sort(), ["cloud2", "home1", "home2"]);
        for (const r of ["cloud2", "home1"] as const) assert.deepEqual(printed[r], lanReturnRouteCommands(plan, r, SITES[r].routerLan), `${r} printed the routes`);
        await assertEveryoneReachesEverySite("mesh");
        assert.match(sh("home2", "ip -4 route get 192.168.50.13").stdout, /dev eth0/);
    });
});
