// Operator peers (issue 13 §2): a WireGuard client config for the machine that runs Pulumi or a laptop,
// planned with the hosts (its address after theirs), a peer of the hub(s) / public hosts / public gateways,
// rendered as a wg-quick file and exported as a secret output.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
    operatorConfigSpec,
    planOverlay,
    PlannedPeer,
    renderOperatorConfig,
    Topology,
    WireGuardHostArgs,
    WireGuardMesh,
    wireGuardMeshInternals,
    wireguardPublicKey,
} from "../../components/src/wireguard";
import { HybridInfraConfigError } from "../../components/src/util/errors";
import { DEFAULT_OUTPUTS, record, settle } from "../harness/mocks";
import { extractProgram } from "../harness/shellcheck";
import { configProblems } from "../harness/config";
import { runStack } from "../../tools/render-lib";
import { newHomeHost, renderWgQuickConfig, seedHosts } from "./fixtures";

const OPS = [{ name: "laptop" }, { name: "ci" }];
/** The seed hosts' addresses (tests/wireguard/plan.test.ts): operators must not move them. */
const HOST_ADDRESSES = { "cloud-hub": "10.100.0.197", "cloud-peer": "10.100.0.75", "home-pc": "10.100.0.37", "home-mac": "10.100.0.227" };
const HUB = "203.0.113.10:51820";
const PEER = "203.0.113.20:51820";
const peer = (name: string, allowedIps: string[], extra: Partial<PlannedPeer> = {}): PlannedPeer => ({ name, ...extra, allowedIps, presharedKey: false } as PlannedPeer);
const dials = (name: string, endpoint: string, allowedIps: string[]): PlannedPeer => ({ name, endpoint, allowedIps, persistentKeepalive: 25, presharedKey: false });
const peersOf = (plan: ReturnType<typeof planOverlay>, host: string) => plan.nodes.find((n) => n.name === host)!.peers;

function configError(fn: () => unknown): string {
    try {
        fn();
    } catch (e) {
        assert.ok(e instanceof HybridInfraConfigError, String(e));
        return e.message;
    }
    assert.fail("no error");
}

describe("operator peers: the plan", () => {
    it("hub: after every host in the address plan; a peer of the hub only, which lists it last with its /32", () => {
        const without = planOverlay({ hosts: seedHosts() });
        const plan = planOverlay({ hosts: seedHosts(), operators: OPS });
        assert.deepEqual(Object.fromEntries(plan.nodes.map((n) => [n.name, n.address])), HOST_ADDRESSES, "no host moves");
        assert.deepEqual(plan.operators, [
            { name: "laptop", address: "10.100.0.43", mtu: 1420, peers: [dials("cloud-hub", HUB, ["10.100.0.0/24", "192.168.50.0/24"])] },
            { name: "ci", address: "10.100.0.5", mtu: 1420, peers: [dials("cloud-hub", HUB, ["10.100.0.0/24", "192.168.50.0/24"])] },
        ]);
        assert.deepEqual(peersOf(plan, "cloud-hub"), [...peersOf(without, "cloud-hub"), peer("laptop", ["10.100.0.43/32"]), peer("ci", ["10.100.0.5/32"])]);
        for (const h of ["cloud-peer", "home-pc", "home-mac"]) assert.deepEqual(peersOf(plan, h), peersOf(without, h), `${h} is unchanged`);
        assert.deepEqual(plan.pairs, without.pairs, "pairs stay host pairs");
    });

    it("mesh: a peer of every host with a public endpoint; hosts behind NAT through the relay, both ways", () => {
        const without = planOverlay({ hosts: seedHosts(), topology: Topology.Mesh });
        const plan = planOverlay({ hosts: seedHosts(), topology: Topology.Mesh, operators: [{ name: "laptop" }] });
        assert.deepEqual(plan.operators[0].peers, [
            dials("cloud-hub", HUB, ["10.100.0.197/32", "10.100.0.37/32", "192.168.50.0/24", "10.100.0.227/32"]),
            dials("cloud-peer", PEER, ["10.100.0.75/32"]),
        ]);
        for (const h of ["cloud-hub", "cloud-peer"]) assert.deepEqual(peersOf(plan, h), [...peersOf(without, h), peer("laptop", ["10.100.0.43/32"])]);
        assert.deepEqual(peersOf(plan, "home-pc")[0], dials("cloud-hub", HUB, ["10.100.0.197/32", "10.100.0.227/32", "10.100.0.43/32"]), "home-pc reaches laptop through the relay");
        assert.deepEqual(peersOf(plan, "home-pc")[1], peersOf(without, "home-pc")[1]);
    });

    it("locations: a peer of every public gateway; a gateway behind NAT meets it through the first public gateway", () => {
        const plan = planOverlay({ hosts: seedHosts(), topology: Topology.Locations, operators: [{ name: "laptop" }] });
        assert.deepEqual(plan.operators[0].peers, [
            dials("cloud-hub", HUB, ["10.100.0.197/32", "10.100.0.37/32", "10.100.0.227/32", "192.168.50.0/24"]),
            dials("cloud-peer", PEER, ["10.100.0.75/32"]),
        ]);
        assert.deepEqual(peersOf(plan, "cloud-hub").at(-1), peer("laptop", ["10.100.0.43/32"]));
        assert.deepEqual(peersOf(plan, "cloud-peer").at(-1), peer("laptop", ["10.100.0.43/32"]));
        // home-pc (the home gateway, behind NAT) routes the operator to the anchor cloud-hub, which forwards.
        assert.deepEqual(
            peersOf(plan, "home-pc").map((p) => [p.name, p.allowedIps]),
            [
                ["home-mac", ["10.100.0.227/32"]],
                ["cloud-hub", ["10.100.0.197/32", "10.100.0.43/32"]],
                ["cloud-peer", ["10.100.0.75/32"]],
            ],
        );
        assert.deepEqual(peersOf(plan, "home-mac"), peersOf(planOverlay({ hosts: seedHosts(), topology: Topology.Locations }), "home-mac"), "members still route the overlay to their gateway");
    });

    it("a host appended after the operators keeps its own address and moves no host; the operator keeps its address unless the new host takes it", () => {
        const plan = planOverlay({ hosts: [...seedHosts(), newHomeHost()], operators: OPS });
        assert.deepEqual(Object.fromEntries(plan.nodes.map((n) => [n.name, n.address])), { ...HOST_ADDRESSES, "home-nas": planOverlay({ hosts: [...seedHosts(), newHomeHost()] }).nodes[4].address });
        assert.deepEqual(plan.operators.map((o) => o.address), ["10.100.0.43", "10.100.0.5"]);
    });

    it("with preshared keys, every operator pair has one", () => {
        const plan = planOverlay({ hosts: seedHosts(), presharedKeys: true, operators: [{ name: "laptop" }] });
        assert.ok(plan.operators[0].peers.every((p) => p.presharedKey));
        assert.equal(peersOf(plan, "cloud-hub").at(-1)!.presharedKey, true);
    });
});

describe("operator peers: validation", () => {
    const msg = (ops: { name: string }[], hosts: WireGuardHostArgs[] = seedHosts(), extra: object = {}) => configError(() => planOverlay({ hosts, operators: ops, ...extra }));

    it("an operator named like a host, or like another operator, names both keys", () => {
        assert.equal(
            msg([{ name: "home-pc" }]),
            'overlay.operators[0].name: is "home-pc", the name of hosts[2] too: an operator and a host share the overlay\'s address plan and the peer names in every WireGuard config, so one would take the other\'s place. Fix: give the operator a name no host has, e.g. "home-pc-op"',
        );
        assert.equal(
            msg([{ name: "laptop" }, { name: "laptop" }]),
            'overlay.operators[1].name: is "laptop", the name of overlay.operators[0] too: each operator gets its own key, address and config under its name. Fix: give overlay.operators[1] a name no other operator has',
        );
        assert.equal(msg([{ name: "Laptop" }]), `overlay.operators[0].name: must be a lowercase name (letters, digits, '-'), got "Laptop". Fix: name the machine, e.g. "laptop"`);
    });

    it("the overlay block must hold the hosts and the operators", () => {
        assert.equal(
            msg([{ name: "laptop" }], seedHosts(), { cidr: "10.100.0.0/30" }),
            "overlay.cidr: 10.100.0.0/30 has room for 2 hosts, got 4 hosts and 1 operator. Fix: use a larger block: a /29 or shorter prefix",
        );
    });

    it("an operator needs something to dial: a hub, a relay for hosts behind NAT, a public location gateway", () => {
        const lone: WireGuardHostArgs[] = [{ ...seedHosts()[0], hub: false }];
        assert.equal(
            msg([{ name: "laptop" }], lone),
            'overlay.operators[0]: operator "laptop" dials the hub of topology "hub", but no host has hub: true. Fix: set hub: true on a host with a public endpoint (candidates: cloud-hub)',
        );
        const noRelay = seedHosts().map((h) => ({ ...h, hub: false })).filter((h) => h.name !== "home-mac");
        assert.equal(
            msg([{ name: "laptop" }], noRelay, { topology: Topology.Mesh }),
            'overlay.operators[0]: operator "laptop" cannot reach host "home-pc" (hosts[2]): an operator is behind NAT, so is that host (no endpoint), and no hub relays between them. Fix: set hub: true on a host with a public endpoint (it relays), or give "home-pc" a publicEndpoint',
        );
        const homeOnly = seedHosts().filter((h) => h.location === "home");
        assert.equal(
            msg([{ name: "laptop" }], homeOnly, { topology: Topology.Locations }),
            'overlay.operators[0]: operator "laptop" dials the location gateways that have a public endpoint, but none has one (gateway "home-pc" of location "home", hosts[0], is behind NAT). Fix: give a host a public endpoint and set gateway: true on it, or use overlay.topology hub or mesh',
        );
    });
});

describe("operator peers: the config", () => {
    const key = (i: number) => Buffer.alloc(32, i).toString("base64");

    it("renders a wg-quick client config: /32 address, private key, MTU, the hub with endpoint and keepalive", () => {
        const plan = planOverlay({ hosts: seedHosts(), operators: [{ name: "laptop" }] });
        const text = renderOperatorConfig(operatorConfigSpec(plan, "laptop", { privateKey: key(9), publicKeys: { "cloud-hub": wireguardPublicKey(key(1)) } }));
        assert.equal(
            text,
            [
                "# WireGuard config of operator laptop for the HybridInfra overlay 10.100.0.0/24.",
                "# It holds this machine's private key: keep it secret (chmod 600).",
                "# Bring it up with `wg-quick up ./<file>.conf` (the interface is named after the file).",
                "[Interface]",
                "Address = 10.100.0.43/32",
                "PrivateKey = CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=",
                "MTU = 1420",
                "",
                "# peer cloud-hub",
                "[Peer]",
                "PublicKey = pOCSkrZRwni5dyxWn1+puxPZBrRqtoyd+dwrRAn4ogk=",
                "Endpoint = 203.0.113.10:51820",
                "AllowedIPs = 10.100.0.0/24, 192.168.50.0/24",
                "PersistentKeepalive = 25",
                "",
            ].join("\n"),
        );
    });

    it("parses with the real wg-quick strip, and the hub's wg0.conf gets a [Peer] with the operator's public key and /32", () => {
        const plan = planOverlay({ hosts: seedHosts(), topology: Topology.Mesh, presharedKeys: true, operators: [{ name: "laptop" }] });
        const publicKeys = Object.fromEntries([...plan.nodes.map((n, i) => [n.name, wireguardPublicKey(key(i + 1))]), ["laptop", wireguardPublicKey(key(9))]]);
        const text = renderOperatorConfig(
            operatorConfigSpec(plan, "laptop", { privateKey: key(9), publicKeys, presharedKeys: { "cloud-hub": key(20), "cloud-peer": key(21) } }),
        );
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hi-op-"));
        try {
            const file = path.join(dir, "wg-laptop.conf");
            fs.writeFileSync(file, text, { mode: 0o600 });
            const res = spawnSync("wg-quick", ["strip", file], { encoding: "utf8" });
            assert.equal(res.status, 0, res.stderr);
            assert.match(res.stdout, new RegExp(`PresharedKey = ${key(21).replace(/[+/]/g, "\\$&")}\nEndpoint = ${PEER}\nAllowedIPs = 10.100.0.75/32\nPersistentKeepalive = 25`));
            assert.doesNotMatch(res.stdout, /Address|MTU/, "wg-quick's own keys are stripped");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
        const hub = renderWgQuickConfig(plan, "cloud-hub", publicKeys);
        assert.match(hub, new RegExp(`# peer laptop\n\\[Peer\\]\nPublicKey = ${publicKeys.laptop.replace(/[+/]/g, "\\$&")}\nPresharedKey = @@HI_SECRET:wg_psk_laptop@@\nAllowedIPs = 10.100.0.43/32\n$`));
    });
});

describe("operator peers under the mock engine", () => {
    const BYTES = "random:index/randomBytes:RandomBytes";
    const fakeKey = (name: string) => DEFAULT_OUTPUTS[BYTES]({ type: BYTES, name, inputs: { length: 32 }, preview: false }).base64 as string;

    it("WireGuardMesh: a key per operator, the hub's step lists it, operatorConfigs is secret and its key is in no plain input", async () => {
        let mesh: WireGuardMesh | undefined;
        const rec = await record(() => {
            mesh = new WireGuardMesh("wg", { hosts: seedHosts(), operators: [{ name: "laptop" }] });
        });
        const opKey = rec.byType(BYTES).find((k) => k.name === "wg-laptop-operator-key")!;
        assert.deepEqual([...opKey.additionalSecretOutputs].sort(), ["base64", "hex"]);
        const configs = await settle(mesh!.operatorConfigs);
        assert.equal(configs.secret, true, "operatorConfigs is a secret output");
        const text = configs.value!.laptop;
        const priv = fakeKey("wg-laptop-operator-key");
        assert.match(text, new RegExp(`^PrivateKey = ${priv.replace(/[+/]/g, "\\$&")}$`, "m"));
        assert.match(text, new RegExp(`^PublicKey = ${wireguardPublicKey(fakeKey("wg-cloud-hub-wg-key")).replace(/[+/]/g, "\\$&")}$`, "m"));
        for (const r of rec.resources) for (const s of rec.plainStrings(r)) assert.ok(!s.includes(priv), `${r.name} holds the operator's private key in plain text`);
        const hubScript = extractProgram(rec.find("command:remote:Command", "wg-cloud-hub-wg-config").inputs.create as string);
        assert.match(hubScript, new RegExp(`# peer laptop\n\\[Peer\\]\nPublicKey = ${wireguardPublicKey(priv).replace(/[+/]/g, "\\$&")}\nAllowedIPs = 10.100.0.43/32\n`));
        assert.deepEqual(Object.keys((await settle(mesh!.publicKeys)).value!), Object.keys(HOST_ADDRESSES), "publicKeys stays by host");
        assert.equal(wireGuardMeshInternals(mesh!).plan.operators[0].address, "10.100.0.43");
        const spoke = extractProgram(rec.find("command:remote:Command", "wg-home-pc-wg-config").inputs.create as string);
        assert.doesNotMatch(spoke, /laptop/, "a spoke's config does not change");
    });

    it("the stack program: overlay.operators gives the secret output operatorConfigs, empty without operators", async () => {
        const cluster = JSON.parse((await import("../../tools/stack")).loadStack("lab").config["hybrid-infra:cluster"]);
        const plain = await runStack("lab");
        assert.deepEqual(await settle(plain.outputs.operatorConfigs), { value: {}, known: true, secret: true });
        cluster.overlay.operators = [{ name: "laptop" }];
        const run = await runStack("lab", { extraConfig: { cluster: JSON.stringify(cluster) } });
        const out = await settle(run.outputs.operatorConfigs);
        assert.equal(out.secret, true);
        assert.deepEqual(Object.keys(out.value!), ["laptop"]);
        assert.match(out.value!.laptop, /^Endpoint = 203\.0\.113\.10:51820\nAllowedIPs = 10\.100\.0\.0\/24\nPersistentKeepalive = 25$/m);
        const preview = await runStack("lab", { preview: true, extraConfig: { cluster: JSON.stringify(cluster) } });
        assert.equal((await settle(preview.outputs.operatorConfigs)).known, false, "the keys are only known after up");
    });

    it("the stack config: operators under tailscale are the other mode's key; a clash names both keys", () => {
        const hosts = [
            { name: "cloud", ssh: { address: "203.0.113.10" }, location: "cloud", publicEndpoint: "203.0.113.10", roles: ["server"] },
            { name: "home", ssh: { address: "192.168.50.10" }, location: "home", roles: ["agent"] },
        ];
        assert.deepEqual(configProblems({ hosts, overlay: { kind: "tailscale", operators: [{ name: "laptop" }] } }), [
            'overlay.operators: is [{"name":"laptop"}], but overlay.kind is "tailscale": a machine joins a tailnet with Tailscale\'s own client (`tailscale up`), not with a WireGuard config from the stack, so it has no effect; only overlay.kind "wireguard" uses it. Fix: remove overlay.operators, or set overlay.kind: wireguard',
        ]);
        const wg = [{ ...hosts[0], roles: ["hub", "server"] }, hosts[1]];
        assert.deepEqual(configProblems({ hosts: wg, overlay: { operators: [{ name: "home" }, { name: "laptop" }, { name: "laptop" }] } }), [
            'overlay.operators[0].name: is "home", the name of hosts[1] too: an operator and a host share the overlay\'s address plan and the peer names in every WireGuard config, so one would take the other\'s place. Fix: give the operator a name no host has, e.g. "home-op"',
            'overlay.operators[2].name: is "laptop", the name of overlay.operators[1] too: each operator gets its own key, address and config under its name. Fix: give overlay.operators[2] a name no other operator has',
        ]);
        assert.deepEqual(configProblems({ hosts: wg, overlay: { operators: [{ name: "laptop", address: "10.100.0.9" }] } }), [
            "overlay.operators[0].address: unknown key. Fix: known keys here: name",
        ]);
    });
});
