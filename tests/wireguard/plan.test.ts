import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fc from "fast-check";
import { cidr, cidrContains, parseCidr, parseIpv4 } from "../../components/src/util/cidr";
import {
    OverlayPlan,
    planOverlay,
    planOverlayAddresses,
    PlannedNode,
    preferredAddress,
    Topology,
    WireGuardHostArgs,
} from "../../components/src/wireguard";
import { TEST_KEY } from "../harness/fixtures";
import { newHomeHost, renderWgQuickConfig, seedHosts } from "./fixtures";

const hostName = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);
const smallCidr = fc.constantFrom("10.100.0.0/24", "10.100.0.0/26", "10.100.0.0/27", "172.16.8.0/28");

function check(addrs: Record<string, string>, names: string[], block: string): void {
    const c = cidr(block);
    const values = names.map((n) => addrs[n]);
    assert.equal(new Set(values).size, names.length, "no two hosts share an address");
    for (const v of values) {
        assert.ok(cidrContains(c, v), `${v} lies inside ${block}`);
        const ip = parseIpv4(v)!;
        assert.notEqual(ip, c.network, "not the network address");
        assert.notEqual(ip, c.network + 2 ** (32 - c.prefix) - 1, "not the broadcast address");
    }
}

describe("overlay address planning (properties)", () => {
    const names = (max: number) => fc.uniqueArray(hostName, { minLength: 1, maxLength: max });

    it("gives unique addresses inside the CIDR, never network or broadcast", () => {
        fc.assert(
            fc.property(smallCidr, names(14), (block, ns) => {
                check(planOverlayAddresses(ns.map((name) => ({ name })), block), ns, block);
            }),
        );
    });

    it("fills a CIDR completely without collisions", () => {
        const ns = Array.from({ length: 14 }, (_, i) => `h${i}`);
        check(planOverlayAddresses(ns.map((name) => ({ name })), "172.16.8.0/28"), ns, "172.16.8.0/28");
    });

    it("is stable when a host is appended: no other host moves", () => {
        fc.assert(
            fc.property(smallCidr, names(13), hostName, (block, ns, extra) => {
                fc.pre(!ns.includes(extra));
                const before = planOverlayAddresses(ns.map((name) => ({ name })), block);
                const after = planOverlayAddresses([...ns, extra].map((name) => ({ name })), block);
                for (const n of ns) assert.equal(after[n], before[n], `${n} moved when ${extra} was added`);
            }),
        );
    });

    it("is stable when a host is inserted anywhere whose preferred address is free", () => {
        fc.assert(
            fc.property(smallCidr, names(13), hostName, fc.nat(), (block, ns, extra, at) => {
                fc.pre(!ns.includes(extra));
                const before = planOverlayAddresses(ns.map((name) => ({ name })), block);
                fc.pre(!Object.values(before).includes(preferredAddress(extra, block)));
                const list = [...ns];
                list.splice(at % (ns.length + 1), 0, extra);
                const after = planOverlayAddresses(list.map((name) => ({ name })), block);
                for (const n of ns) assert.equal(after[n], before[n], `${n} moved when ${extra} was inserted`);
                assert.equal(after[extra], preferredAddress(extra, block));
            }),
        );
    });

    it("never moves a host holding its preferred address when another host is removed", () => {
        fc.assert(
            fc.property(smallCidr, names(14), fc.nat(), (block, ns, which) => {
                fc.pre(ns.length >= 2);
                const before = planOverlayAddresses(ns.map((name) => ({ name })), block);
                const removed = ns[which % ns.length];
                const after = planOverlayAddresses(ns.filter((n) => n !== removed).map((name) => ({ name })), block);
                for (const n of ns) {
                    if (n !== removed && before[n] === preferredAddress(n, block)) assert.equal(after[n], before[n], `${n} moved when ${removed} was removed`);
                }
            }),
        );
    });

    it("keeps pinned addresses and routes others around them", () => {
        fc.assert(
            fc.property(names(10), fc.uniqueArray(fc.integer({ min: 1, max: 62 }), { minLength: 1, maxLength: 5 }), (ns, offsets) => {
                const block = "10.100.0.0/26";
                const pins = new Map(ns.slice(0, offsets.length).map((n, i) => [n, `10.100.0.${offsets[i]}`]));
                const hosts = ns.map((name) => ({ name, ...(pins.has(name) ? { overlayAddress: pins.get(name)! } : {}) }));
                const addrs = planOverlayAddresses(hosts, block);
                check(addrs, ns, block);
                for (const [n, a] of pins) assert.equal(addrs[n], a);
            }),
        );
    });

    it("depends only on the host list (deterministic)", () => {
        const hosts = seedHosts();
        assert.deepEqual(planOverlay({ hosts }).nodes.map((n) => n.address), planOverlay({ hosts: seedHosts() }).nodes.map((n) => n.address));
    });
});

// ---- peers ----

function lpm(node: PlannedNode, ip: string): string | undefined {
    let best: { name: string; prefix: number } | undefined;
    for (const p of node.peers) {
        for (const a of p.allowedIps) {
            const c = parseCidr(a)!;
            if (cidrContains(c, ip) && (best === undefined || c.prefix > best.prefix)) best = { name: p.name, prefix: c.prefix };
        }
    }
    return best?.name;
}

/** Follows cryptokey routing hop by hop from `from` to `to`'s overlay address; returns the hops or throws. */
function route(plan: OverlayPlan, from: string, to: string): string[] {
    const byName = new Map(plan.nodes.map((n) => [n.name, n]));
    const src = byName.get(from)!.address;
    const dst = byName.get(to)!.address;
    const hops = [from];
    let at = byName.get(from)!;
    while (at.name !== to) {
        if (hops.length > 1 && !at.forward) throw new Error(`${hops.join(" → ")}: ${at.name} does not forward`);
        const nextName = lpm(at, dst);
        if (nextName === undefined) throw new Error(`${hops.join(" → ")}: no route to ${to}`);
        const next = byName.get(nextName)!;
        const out = at.peers.find((p) => p.name === nextName)!;
        const back = next.peers.find((p) => p.name === at.name);
        if (back === undefined) throw new Error(`${nextName} has no peer ${at.name}`);
        if (out.endpoint === undefined && back.endpoint === undefined) throw new Error(`${at.name} and ${nextName} cannot find each other (no endpoint either way)`);
        // WireGuard drops packets whose source is not routed back to the sending peer.
        if (lpm(next, src) !== at.name) throw new Error(`${nextName} would drop ${from}'s packets arriving from ${at.name}`);
        hops.push(nextName);
        if (hops.length > 5) throw new Error(`loop: ${hops.join(" → ")}`);
        at = next;
    }
    return hops;
}

const topologyArb = fc.constantFrom<Topology>(Topology.Hub, Topology.Mesh, Topology.Locations);
const hostsArb = fc
    .array(fc.record({ location: fc.constantFrom("tokyo", "osaka", "home"), endpoint: fc.boolean(), hub: fc.boolean() }), { minLength: 1, maxLength: 7 })
    .map((specs) =>
        specs.map(
            (s, i): WireGuardHostArgs => ({
                name: `h${i}`,
                address: `192.0.2.${i + 1}`,
                privateKey: TEST_KEY,
                location: s.location,
                ...(s.endpoint || i === 0 ? { publicEndpoint: `198.51.100.${i + 1}` } : {}),
                ...(s.hub && (s.endpoint || i === 0) ? { hub: true } : {}),
            }),
        ),
    );

function tryPlan(hosts: WireGuardHostArgs[], topology: Topology): OverlayPlan | undefined {
    try {
        return planOverlay({ hosts, topology });
    } catch (e) {
        if ((e as Error).name === "HybridInfraConfigError") return undefined;
        throw e;
    }
}

describe("peer planning (properties)", () => {
    it("every host reaches every other host by cryptokey routing, in every topology", () => {
        fc.assert(
            fc.property(hostsArb, topologyArb, (hosts, topology) => {
                const plan = tryPlan(hosts, topology);
                fc.pre(plan !== undefined);
                for (const a of plan!.nodes) for (const b of plan!.nodes) if (a !== b) route(plan!, a.name, b.name);
            }),
            { numRuns: 300 },
        );
    });

    it("never gives a NAT'd host as Endpoint across locations; NAT'd hosts keep their mappings alive", () => {
        fc.assert(
            fc.property(hostsArb, topologyArb, (hosts, topology) => {
                const plan = tryPlan(hosts, topology);
                fc.pre(plan !== undefined);
                const byName = new Map(plan!.nodes.map((n) => [n.name, n]));
                for (const n of plan!.nodes) {
                    const seen = new Set<string>();
                    for (const p of n.peers) {
                        const peer = byName.get(p.name)!;
                        if (peer.nat && peer.location !== n.location) assert.equal(p.endpoint, undefined, `${n.name} has an endpoint for NAT'd ${p.name}`);
                        if (peer.nat && topology !== Topology.Locations) assert.equal(p.endpoint, undefined);
                        if (n.nat) assert.equal(p.persistentKeepalive, 25, `${n.name} is behind NAT`);
                        else assert.equal(p.persistentKeepalive, undefined);
                        for (const a of p.allowedIps) {
                            assert.ok(!seen.has(a), `${n.name}: ${a} is routed to two peers`);
                            seen.add(a);
                        }
                    }
                }
            }),
            { numRuns: 300 },
        );
    });
});

describe("peer planning (seed 000 shape)", () => {
    it("hub topology: the hub lists every spoke, spokes route the overlay through it", () => {
        const plan = planOverlay({ hosts: seedHosts() });
        const [hub, peer, pc, mac] = plan.nodes;
        assert.deepEqual(hub.peers.map((p) => p.name), ["cloud-peer", "home-pc", "home-mac"]);
        assert.deepEqual(hub.peers.find((p) => p.name === "home-pc")!.allowedIps, [`${pc.address}/32`, "192.168.50.0/24"]);
        assert.equal(hub.peers.find((p) => p.name === "cloud-peer")!.endpoint, "203.0.113.20:51820");
        for (const p of hub.peers.filter((x) => x.name.startsWith("home"))) assert.equal(p.endpoint, undefined);
        assert.ok(hub.forward && pc.forward && !peer.forward && !mac.forward, "the hub and the subnet router forward");
        assert.deepEqual(peer.peers, [{ name: "cloud-hub", endpoint: "203.0.113.10:51820", allowedIps: ["10.100.0.0/24", "192.168.50.0/24"], presharedKey: false }]);
        // home-mac sits on home-pc's LAN: it must not route that LAN into the tunnel.
        assert.deepEqual(mac.peers, [{ name: "cloud-hub", endpoint: "203.0.113.10:51820", allowedIps: ["10.100.0.0/24"], persistentKeepalive: 25, presharedKey: false }]);
        assert.deepEqual(pc.peers[0].persistentKeepalive, 25);
    });

    it("mesh topology: public pairs peer directly, NAT'd pairs go through the hub", () => {
        const plan = planOverlay({ hosts: seedHosts(), topology: Topology.Mesh });
        const byName = new Map(plan.nodes.map((n) => [n.name, n]));
        const mac = byName.get("home-mac")!;
        assert.deepEqual(mac.peers.map((p) => p.name), ["cloud-hub", "cloud-peer"]);
        assert.deepEqual(mac.peers[0].allowedIps, [`${byName.get("cloud-hub")!.address}/32`, `${byName.get("home-pc")!.address}/32`]);
        assert.deepEqual(route(plan, "home-mac", "home-pc"), ["home-mac", "cloud-hub", "home-pc"]);
        assert.deepEqual(route(plan, "cloud-peer", "home-pc"), ["cloud-peer", "home-pc"]);
        assert.deepEqual(byName.get("cloud-peer")!.peers.map((p) => p.name), ["cloud-hub", "home-pc", "home-mac"]);
    });

    it("locations topology: full mesh inside a location, gateways between locations", () => {
        const hosts: WireGuardHostArgs[] = [
            ...seedHosts().map((h) => ({ ...h, hub: false })),
            { name: "tokyo-2", address: "203.0.113.11", privateKey: TEST_KEY, location: "tokyo" },
        ];
        const plan = planOverlay({ hosts, topology: Topology.Locations });
        const byName = new Map(plan.nodes.map((n) => [n.name, n]));
        assert.deepEqual(plan.nodes.filter((n) => n.gateway).map((n) => n.name), ["cloud-hub", "cloud-peer", "home-pc"]);
        const pc = byName.get("home-pc")!;
        // Inside a location hosts meet at their SSH address.
        assert.equal(pc.peers.find((p) => p.name === "home-mac")!.endpoint, "192.168.50.11:51820");
        assert.deepEqual(route(plan, "home-mac", "tokyo-2"), ["home-mac", "home-pc", "cloud-hub", "tokyo-2"]);
        assert.deepEqual(
            byName.get("cloud-peer")!.peers.find((p) => p.name === "home-pc")!.allowedIps,
            [`${pc.address}/32`, `${byName.get("home-mac")!.address}/32`, "192.168.50.0/24"],
        );
    });

    it("appending a host changes only the hub's peers in hub topology", () => {
        const before = planOverlay({ hosts: seedHosts() });
        const after = planOverlay({ hosts: [...seedHosts(), newHomeHost()] });
        for (const n of before.nodes) {
            const m = after.nodes.find((x) => x.name === n.name)!;
            if (n.name === "cloud-hub") assert.notDeepEqual(m.peers, n.peers);
            else assert.deepEqual(m, n);
        }
    });
});

describe("explicit keepalive (issue 13 §8)", () => {
    const keepalives = (plan: ReturnType<typeof planOverlay>) =>
        Object.fromEntries(plan.nodes.map((n) => [n.name, n.peers.map((p) => `${p.name}=${String(p.persistentKeepalive)}`)]));

    it("seed 001: keepalive 20 on three public cloud VMs in a mesh reaches every peer of every host", () => {
        const plan = planOverlay({
            topology: Topology.Mesh,
            keepalive: 20,
            hosts: [
                { name: "tokyo-1", address: "203.0.113.31", privateKey: TEST_KEY, location: "tokyo", publicEndpoint: "203.0.113.31", hub: true },
                { name: "frankfurt-1", address: "198.51.100.32", privateKey: TEST_KEY, location: "frankfurt", publicEndpoint: "198.51.100.32" },
                { name: "virginia-1", address: "198.51.100.33", privateKey: TEST_KEY, location: "virginia", publicEndpoint: "198.51.100.33" },
            ],
        });
        assert.deepEqual(keepalives(plan), {
            "tokyo-1": ["frankfurt-1=20", "virginia-1=20"],
            "frankfurt-1": ["tokyo-1=20", "virginia-1=20"],
            "virginia-1": ["tokyo-1=20", "frankfurt-1=20"],
        });
        const conf = renderWgQuickConfig(plan, "frankfurt-1", { "tokyo-1": "A".repeat(43) + "=", "virginia-1": "B".repeat(43) + "=" });
        assert.equal(conf.match(/^PersistentKeepalive = 20$/gm)?.length, 2);
    });

    it("a public hub sends an explicit keepalive to its NAT'd spokes too (own example); unset, only NAT'd hosts send it", () => {
        const hosts = seedHosts();
        assert.deepEqual(keepalives(planOverlay({ hosts, keepalive: 15 }))["cloud-hub"], ["cloud-peer=15", "home-pc=15", "home-mac=15"]);
        assert.deepEqual(keepalives(planOverlay({ hosts, keepalive: 15 }))["home-pc"], ["cloud-hub=15"]);
        assert.deepEqual(keepalives(planOverlay({ hosts }))["cloud-hub"], ["cloud-peer=undefined", "home-pc=undefined", "home-mac=undefined"]);
        assert.deepEqual(keepalives(planOverlay({ hosts }))["home-pc"], ["cloud-hub=25"]);
    });
});
