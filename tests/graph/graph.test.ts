/**
 * The topology graph (tools/graph.ts) against the render it is drawn from: for every shipped stack, the
 * graph data has exactly the WireGuard peers of the rendered wg0.conf files, the LANs the rendered steps
 * route and masquerade (or advertise, under Tailscale), the SSH connections of the host steps and the
 * kubeconfig's API endpoint; and the committed docs/graphs/<stack>.dot is what the tool generates now.
 * The checks read the graph data, not the drawing.
 */
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { listStacks } from "../../tools/stack";
import { renderTree, runStack, stepIdentity, StackRun } from "../../tools/render-lib";
import { GraphData, GraphRole, graphData, sshPathOf, SshPathKind, stableSvg, toDot } from "../../tools/graph";
import { cidr, cidrContainsCidr } from "../../components/src/util/cidr";
import { settle } from "../harness/mocks";

const CMD = "command:remote:Command";
const GRAPHS = path.join(__dirname, "..", "..", "docs", "graphs");

/** One `[Peer]` section of a rendered config, named by the `# peer <name>` comment above it. */
interface ConfPeer {
    readonly host: string;
    readonly peer: string;
    readonly publicKey: string;
    readonly endpoint?: string;
    readonly allowedIps: readonly string[];
    readonly persistentKeepalive?: number;
}

function parseWgConf(host: string, text: string): ConfPeer[] {
    const out: ConfPeer[] = [];
    let name: string | undefined;
    let cur: Record<string, string> | undefined;
    const flush = () => {
        if (cur === undefined) return;
        assert.ok(name !== undefined, `${host}: a [Peer] without a "# peer <name>" comment`);
        out.push({
            host,
            peer: name,
            publicKey: cur.PublicKey,
            ...(cur.Endpoint !== undefined ? { endpoint: cur.Endpoint } : {}),
            allowedIps: cur.AllowedIPs.split(",").map((s) => s.trim()),
            ...(cur.PersistentKeepalive !== undefined ? { persistentKeepalive: Number(cur.PersistentKeepalive) } : {}),
        });
        cur = undefined;
        name = undefined;
    };
    for (const line of text.split("\n")) {
        const comment = /^# peer (\S+)$/.exec(line);
        if (comment) {
            flush();
            name = comment[1];
            continue;
        }
        if (line === "[Peer]") {
            cur = {};
            continue;
        }
        if (line.startsWith("[")) {
            flush();
            continue;
        }
        const kv = /^(\w+) = (.*)$/.exec(line);
        if (kv && cur !== undefined) cur[kv[1]] = kv[2];
    }
    flush();
    return out;
}

const key = (p: { host: string; peer: string }) => `${p.host} -> ${p.peer}`;
const sortBy = <T>(xs: readonly T[], k: (x: T) => string): T[] => [...xs].sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0));

interface Loaded {
    readonly run: StackRun;
    readonly tree: Map<string, string>;
    readonly graph: GraphData;
}

/** SSH paths the tests expect, by stack and host: `direct`, `forwarded port`, or `jump via <host>`. */
const EXPECTED_SSH: Record<string, Record<string, string>> = {
    "cross-cloud": { "frankfurt-1": "direct", "tokyo-1": "direct", "virginia-1": "direct" },
    "ha-homelab": {
        "hub-vm": "direct",
        "lab-server-1": "direct",
        "lab-server-2": "direct",
        "lab-server-3": "direct",
        "office-nas": "forwarded port",
        "parents-pi": "forwarded port",
    },
    "hybrid-edge": { "cloud-vm": "direct", "home-mac-vm": "direct", "home-pc": "direct" },
    lab: { cloud1: "direct", cloud2: "direct", home1: "forwarded port", home2: "jump via home1" },
    "private-ingress": { "cloud-ingress": "direct", "home-server": "direct", "home-worker-1": "direct", "home-worker-2": "direct" },
    tailnet: { "home-pc": "direct", "oracle-1": "direct", "tencent-1": "direct" },
};

describe("topology graph", () => {
    const stacks = listStacks();
    const loaded = new Map<string, Loaded>();

    before(async () => {
        for (const stack of stacks) {
            const run = await runStack(stack);
            loaded.set(stack, { run, tree: renderTree(run.recording), graph: graphData(run) });
        }
    });

    it("docs/graphs holds a .dot and an .svg for every shipped stack, and nothing else", () => {
        const expected = stacks.flatMap((s) => [`${s}.dot`, `${s}.svg`]).sort();
        assert.deepEqual(fs.readdirSync(GRAPHS).sort(), expected);
        assert.deepEqual(Object.keys(EXPECTED_SSH).sort(), stacks);
    });

    for (const stack of stacks) {
        describe(stack, () => {
            it("has exactly the [Peer] sections of the rendered WireGuard configs (endpoint, AllowedIPs, keepalive, who can initiate)", () => {
                const { tree, graph } = loaded.get(stack)!;
                const confs = [...tree.entries()].filter(([rel]) => /^hosts\/[^/]+\/files\/etc\/wireguard\/[^/]+\.conf$/.test(rel));
                if (graph.overlay.kind === "tailscale") {
                    assert.deepEqual(confs, [], "a Tailscale stack renders no WireGuard config");
                    assert.deepEqual(graph.peers, []);
                    return;
                }
                const iface = graph.overlay.interfaceName;
                assert.deepEqual(
                    confs.map(([rel]) => rel).sort(),
                    graph.hosts.map((h) => `hosts/${h.name}/files/etc/wireguard/${iface}.conf`).sort(),
                    "one config per host",
                );
                const rendered = confs.flatMap(([rel, text]) => parseWgConf(rel.split("/")[1], text));
                // The `# peer` comments name the peers; every file must give one host the same public key.
                const keys = new Map<string, string>();
                for (const p of rendered) {
                    assert.equal(keys.get(p.peer) ?? p.publicKey, p.publicKey, `${p.peer} has two public keys`);
                    keys.set(p.peer, p.publicKey);
                }
                assert.equal(new Set(keys.values()).size, keys.size, "two hosts share a public key");

                const fromGraph = graph.peers.flatMap((pair) =>
                    pair.sides.map((s, i) => ({
                        host: s.host,
                        peer: pair.hosts[1 - i],
                        ...(s.endpoint !== undefined ? { endpoint: s.endpoint } : {}),
                        allowedIps: [...s.allowedIps],
                        ...(s.persistentKeepalive !== undefined ? { persistentKeepalive: s.persistentKeepalive } : {}),
                    })),
                );
                const strip = ({ publicKey: _k, ...rest }: ConfPeer) => ({ ...rest, allowedIps: [...rest.allowedIps] });
                assert.deepEqual(sortBy(fromGraph, key), sortBy(rendered.map(strip), key));
                for (const pair of graph.peers) {
                    const dialers = rendered.filter((p) => pair.hosts.includes(p.host) && pair.hosts.includes(p.peer) && p.endpoint !== undefined).map((p) => p.host);
                    assert.deepEqual([...pair.initiators], dialers.sort(), `initiators of ${pair.hosts.join("-")}`);
                }
            });

            it("has exactly the LANs the render routes, with the subnet routers that carry them", () => {
                const { tree, graph } = loaded.get(stack)!;
                const routers: { cidr: string; router: string }[] = [];
                for (const [rel, text] of tree) {
                    const m = /^hosts\/([^/]+)\/\d\d-(wg-config|ts-up)\.sh$/.exec(rel);
                    if (!m) continue;
                    if (m[2] === "wg-config") {
                        // A subnet router masquerades the overlay into its LAN.
                        for (const x of text.matchAll(/^-s \S+ -d (\S+) -j MASQUERADE$/gm)) routers.push({ cidr: x[1], router: m[1] });
                    } else {
                        const adv = /^ {2}tailscale up .*--advertise-routes=(\S*)/m.exec(text);
                        assert.ok(adv, `${rel} runs tailscale up`);
                        for (const cidr of adv[1].split(",").filter((c) => c !== "")) routers.push({ cidr, router: m[1] });
                    }
                }
                const k = (l: { cidr: string; router: string }) => `${l.cidr} ${l.router}`;
                assert.deepEqual(
                    graph.lans.map((l) => ({ cidr: l.cidr, router: l.router })),
                    sortBy(routers, k),
                );
                for (const l of graph.lans) {
                    assert.equal(l.location, graph.hosts.find((h) => h.name === l.router)!.location);
                    assert.ok(graph.hosts.find((h) => h.name === l.router)!.roles.includes(GraphRole.SubnetRouter));
                }
                if (graph.overlay.kind === "wireguard") {
                    // Every AllowedIPs entry beyond the overlay is an advertised LAN.
                    const overlay = cidr(graph.overlay.cidr);
                    const routed = new Set(graph.peers.flatMap((p) => p.sides.flatMap((s) => s.allowedIps)).filter((ip) => !cidrContainsCidr(overlay, cidr(ip))));
                    assert.deepEqual([...routed].sort(), [...new Set(graph.lans.map((l) => l.cidr))].sort());
                }
            });

            it("has exactly the SSH connections of the host steps (host, port, user, jump host as proxy)", () => {
                const { run, graph } = loaded.get(stack)!;
                const conns = new Map<string, Set<string>>();
                for (const r of run.recording.byType(CMD)) {
                    const id = stepIdentity(r);
                    if (!id) continue;
                    const c = r.inputs.connection as { host: string; port: number; user: string; proxy?: { host: string; port: number; user: string } };
                    const text = JSON.stringify({ host: c.host, port: c.port, user: c.user, ...(c.proxy ? { proxy: { host: c.proxy.host, port: c.proxy.port, user: c.proxy.user } } : {}) });
                    if (!conns.has(id.host)) conns.set(id.host, new Set());
                    conns.get(id.host)!.add(text);
                }
                const byHost = new Map(graph.ssh.map((p) => [p.host, p]));
                assert.deepEqual([...conns.keys()].sort(), [...byHost.keys()]);
                for (const [host, set] of conns) {
                    assert.equal(set.size, 1, `${host}: every step uses one connection`);
                    const p = byHost.get(host)!;
                    const jump = p.jumpHost !== undefined ? byHost.get(p.jumpHost)! : undefined;
                    const expected = {
                        host: p.address,
                        port: p.port,
                        user: p.user,
                        ...(jump !== undefined ? { proxy: { host: jump.address, port: jump.port, user: jump.user } } : {}),
                    };
                    assert.deepEqual(JSON.parse([...set][0]), expected, host);
                }
                const kinds = Object.fromEntries(graph.ssh.map((p) => [p.host, p.kind === SshPathKind.Jump ? `jump via ${p.jumpHost}` : p.kind]));
                assert.deepEqual(kinds, EXPECTED_SSH[stack]);
            });

            it("points at the kubeconfig's API endpoint, on a k3s server", async () => {
                const { run, graph } = loaded.get(stack)!;
                assert.equal(graph.api.url, (await settle(run.outputs.apiEndpoint)).value);
                assert.ok(graph.api.server !== undefined);
                assert.ok(graph.hosts.find((h) => h.name === graph.api.server)!.roles.includes(GraphRole.Server));
            });

            it("is committed as docs/graphs/" + stack + ".dot, as the tool generates it now, with its SVG", () => {
                const { graph } = loaded.get(stack)!;
                const committed = fs.readFileSync(path.join(GRAPHS, `${stack}.dot`), "utf8");
                assert.equal(committed, toDot(graph), `docs/graphs/${stack}.dot is stale: run npm run graphs`);
                const svg = fs.readFileSync(path.join(GRAPHS, `${stack}.svg`), "utf8");
                assert.equal(/<title>([^<]*)<\/title>/.exec(svg)?.[1], stack.replace(/-/g, "&#45;"));
                assert.equal(stableSvg(svg), svg, "the SVG carries no Graphviz version comment");
                for (const h of graph.hosts) assert.ok(svg.includes(`>${h.name.replace(/-/g, "&#45;")}</text>`), `${stack}.svg shows ${h.name}`);
            });
        });
    }

    it("hosts, roles, NAT, keepalive and the API of hybrid-edge (and the lab's default keepalive)", () => {
        const g = loaded.get("hybrid-edge")!.graph;
        assert.deepEqual(
            g.hosts.map((h) => ({ name: h.name, location: h.location, nat: h.nat, roles: [...h.roles] })),
            [
                { name: "cloud-vm", location: "cloud", nat: false, roles: [GraphRole.Hub, GraphRole.Server, GraphRole.Ingress] },
                { name: "home-mac-vm", location: "home", nat: true, roles: [GraphRole.Agent] },
                { name: "home-pc", location: "home", nat: true, roles: [GraphRole.Agent] },
            ],
        );
        assert.deepEqual(g.pulumiRunsIn, ["home"]);
        assert.deepEqual(g.api, { url: "https://203.0.113.10:6443", address: "203.0.113.10", server: "cloud-vm", via: "public address", reachableFrom: "the internet" });
        const spoke = g.peers.find((p) => p.hosts[1] === "home-pc")!;
        assert.deepEqual(spoke.initiators, ["home-pc"]);
        // keepalive: 25 is set explicitly in the stack, so it applies to every peer of every host (the hub's too).
        assert.deepEqual(spoke.sides.map((s) => s.persistentKeepalive), [25, 25]);
        // The lab stack leaves it at the default: only the end behind NAT keeps the mapping open.
        const lab = loaded.get("lab")!.graph.peers.find((p) => p.hosts.join(" ") === "cloud1 home2")!;
        assert.deepEqual(lab.initiators, ["home2"]);
        assert.deepEqual(lab.sides.map((s) => s.persistentKeepalive), [undefined, 25]);
    });

    it("the mesh's hub is its relay (cross-cloud), and every pair of public hosts can initiate both ways", () => {
        const g = loaded.get("cross-cloud")!.graph;
        assert.deepEqual(g.hosts.find((h) => h.name === "tokyo-1")!.roles, [GraphRole.Relay, GraphRole.Server]);
        assert.deepEqual(
            g.peers.map((p) => [...p.initiators]),
            [
                ["frankfurt-1", "tokyo-1"],
                ["frankfurt-1", "virginia-1"],
                ["tokyo-1", "virginia-1"],
            ],
        );
        assert.deepEqual(g.pulumiRunsIn, []);
    });

    it("a private API endpoint is reached from the LAN pulumi up runs on (ha-homelab, private-ingress)", () => {
        assert.deepEqual(loaded.get("ha-homelab")!.graph.api, {
            url: "https://192.168.50.11:6443",
            address: "192.168.50.11",
            server: "lab-server-1",
            via: "SSH address",
            reachableFrom: "the LAN of location homelab (where pulumi up runs)",
        });
        assert.equal(loaded.get("private-ingress")!.graph.hosts.find((h) => h.name === "cloud-ingress")!.ingress, "forwards public 80/443 over the overlay to Traefik on the k3s servers");
    });

    it("the tailnet stack draws the tailnet, not WireGuard peers", () => {
        const g = loaded.get("tailnet")!.graph;
        assert.deepEqual(g.overlay, { kind: "tailscale", loginServer: "https://headscale.example.com", acceptRoutes: true });
        assert.ok(g.hosts.every((h) => h.overlayAddress === undefined));
        const dot = toDot(g);
        assert.equal(dot.match(/ -> "tailnet"/g)?.length, 3);
    });
});

describe("sshPathOf", () => {
    const h = (extra: Record<string, unknown>) => ({ name: "x", address: "192.168.1.2", privateKey: "k", ...extra });
    it("tells direct, forwarded port and jump apart", () => {
        assert.equal(sshPathOf(h({}), undefined).kind, SshPathKind.Direct);
        assert.equal(sshPathOf(h({ address: "203.0.113.5" }), "203.0.113.5").kind, SshPathKind.Direct);
        assert.equal(sshPathOf(h({ address: "203.0.113.5" }), "203.0.113.5:51821").kind, SshPathKind.Direct);
        assert.equal(sshPathOf(h({ address: "203.0.113.1", port: 2211 }), undefined).kind, SshPathKind.ForwardedPort);
        assert.equal(sshPathOf(h({ address: "home.example.org" }), undefined).kind, SshPathKind.Direct);
        assert.deepEqual(sshPathOf(h({ jumpHost: "j", user: "pi" }), undefined), {
            host: "x",
            kind: SshPathKind.Jump,
            address: "192.168.1.2",
            port: 22,
            user: "pi",
            scope: "private",
            jumpHost: "j",
        });
    });
});
