/**
 * Subnet routing (issue 13 §7), exact values: with seed 002's three sites (10.0.0.0/24, 10.0.16.0/24,
 * 192.168.50.0/24), one `lan:` router per site, what each host routes into the tunnel, which LANs each router
 * masquerades/forwards, and the routes a plain LAN host needs via its router (`lanReturnRoutes`), printed by the
 * router's wg-config step. The lab proves the same with real hosts (tests/lab/subnets.test.ts).
 */
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { renderHostScript } from "../../components/src/host";
import {
    interfaceSpecFromPlan,
    lanReturnRouteCommands,
    lanReturnRoutes,
    lanRoutesFromPeers,
    OverlayPlan,
    planOverlay,
    renderConfigBody,
    renderLanRouteHint,
    Topology,
    WireGuardHostArgs,
} from "../../components/src/wireguard";
import { TEST_KEY } from "../harness/fixtures";
import { assertHostScript } from "../harness/shellcheck";

/** Seed 002 in the lab's shape: a router per site, a second overlay host at home (not a router). */
const hosts: WireGuardHostArgs[] = [
    { name: "oracle-1", address: "203.0.113.10", privateKey: TEST_KEY, location: "oracle", publicEndpoint: "203.0.113.10", hub: true, lan: ["10.0.0.0/24"] },
    { name: "tencent-1", address: "203.0.113.20", privateKey: TEST_KEY, location: "tencent", publicEndpoint: "203.0.113.20", lan: ["10.0.16.0/24"] },
    { name: "home-1", address: "192.168.50.11", privateKey: TEST_KEY, location: "home", lan: ["192.168.50.0/24"] },
    { name: "home-2", address: "192.168.50.12", privateKey: TEST_KEY, location: "home" },
];
const plan = (topology: Topology): OverlayPlan => planOverlay({ hosts, topology, cidr: "10.100.0.0/24" });
const keys = Object.fromEntries(hosts.map((h, i) => [h.name, `${String.fromCharCode(65 + i).repeat(43)}=`]));
/** Every CIDR a host routes into wg0 beyond single overlay addresses. */
const routedBeyondOverlay = (p: OverlayPlan, h: string) => [...new Set(p.nodes.find((n) => n.name === h)!.peers.flatMap((x) => x.allowedIps))].filter((a) => !a.startsWith("10.100.0."));

describe("subnet routing (seed 002: one router per site)", () => {
    for (const topology of [Topology.Hub, Topology.Mesh, Topology.Locations]) {
        it(`${topology}: every host routes every other site's LAN into the tunnel and never its own site's`, () => {
            const p = plan(topology);
            assert.deepEqual(
                Object.fromEntries(hosts.map((h) => [h.name, routedBeyondOverlay(p, h.name).filter((a) => a !== "10.100.0.0/24").sort()])),
                {
                    "oracle-1": ["10.0.16.0/24", "192.168.50.0/24"],
                    "tencent-1": ["10.0.0.0/24", "192.168.50.0/24"],
                    "home-1": ["10.0.0.0/24", "10.0.16.0/24"],
                    "home-2": ["10.0.0.0/24", "10.0.16.0/24"],
                },
            );
            // Whatever the topology, a plain host on a router's LAN routes the overlay and the other sites' LANs via it.
            assert.deepEqual(
                Object.fromEntries(hosts.map((h) => [h.name, [...lanReturnRoutes(p, h.name)].sort()])),
                {
                    "oracle-1": ["10.0.16.0/24", "10.100.0.0/24", "192.168.50.0/24"],
                    "tencent-1": ["10.0.0.0/24", "10.100.0.0/24", "192.168.50.0/24"],
                    "home-1": ["10.0.0.0/24", "10.0.16.0/24", "10.100.0.0/24"],
                    "home-2": [],
                },
            );
        });
    }

    it("hub: the exact routes for a plain host at home, in order (overlay first), and the router's FORWARD/NAT rules", () => {
        const p = plan(Topology.Hub);
        assert.deepEqual(lanReturnRouteCommands(p, "home-1", "192.168.50.11"), [
            "ip route add 10.100.0.0/24 via 192.168.50.11",
            "ip route add 10.0.0.0/24 via 192.168.50.11",
            "ip route add 10.0.16.0/24 via 192.168.50.11",
        ]);
        const body = renderConfigBody(interfaceSpecFromPlan(p, "home-1", keys));
        // Forwarded both ways between wg0 and the LAN; only the overlay's own traffic is masqueraded into it.
        assert.ok(body.includes("-i wg0 -o wg0 -j ACCEPT\n-i wg0 -d 192.168.50.0/24 -j ACCEPT\n-o wg0 -s 192.168.50.0/24 -j ACCEPT\nHI_RULES"), body);
        assert.ok(body.includes("<<'HI_RULES'\n-s 10.100.0.0/24 -d 192.168.50.0/24 -j MASQUERADE\nHI_RULES"), body);
    });

    it("the router's wg-config step prints the routes with its own LAN address; other hosts print nothing", () => {
        const p = plan(Topology.Hub);
        assert.equal(
            renderLanRouteHint(interfaceSpecFromPlan(p, "home-1", keys)),
            [
                "# Plain hosts on 192.168.50.0/24 without this host as their gateway route these via it (see renderLanRouteHint).",
                "WG_LAN_VIA=\"$(ip -4 -o route get 192.168.50.1 2>/dev/null | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p')\"",
                'if [ -n "$WG_LAN_VIA" ]; then',
                '  hi_log "plain hosts on 192.168.50.0/24: ip route add 10.100.0.0/24 via $WG_LAN_VIA"',
                '  hi_log "plain hosts on 192.168.50.0/24: ip route add 10.0.0.0/24 via $WG_LAN_VIA"',
                '  hi_log "plain hosts on 192.168.50.0/24: ip route add 10.0.16.0/24 via $WG_LAN_VIA"',
                "else",
                '  hi_warn "no route to 192.168.50.0/24 here: this host cannot forward into it"',
                "fi",
            ].join("\n"),
        );
        const homeBody = renderConfigBody(interfaceSpecFromPlan(p, "home-1", keys));
        assert.ok(homeBody.includes(renderLanRouteHint(interfaceSpecFromPlan(p, "home-1", keys))));
        assert.equal(renderLanRouteHint(interfaceSpecFromPlan(p, "home-2", keys)), "");
        assert.ok(!renderConfigBody(interfaceSpecFromPlan(p, "home-2", keys)).includes("WG_LAN_VIA"));
        for (const h of hosts) {
            assertHostScript(renderHostScript({ host: h.name, step: "wg-config", body: renderConfigBody(interfaceSpecFromPlan(p, h.name, keys)), readsSecrets: true }), `${h.name} wg-config`);
        }
    });

    it("lanRoutesFromPeers: the overlay first, then what peers route beyond it, once each; nothing without a LAN", () => {
        const peers = [{ allowedIps: ["10.100.0.0/24", "10.0.0.0/24"] }, { allowedIps: ["10.100.0.7/32", "10.0.16.0/24", "10.0.0.0/24"] }];
        assert.deepEqual(lanRoutesFromPeers("10.100.0.0/24", ["192.168.50.0/24"], peers), ["10.100.0.0/24", "10.0.0.0/24", "10.0.16.0/24"]);
        assert.deepEqual(lanRoutesFromPeers("10.100.0.0/24", [], peers), []);
    });
});
