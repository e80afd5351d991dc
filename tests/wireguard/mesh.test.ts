import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import {
    Topology,
    WireGuardMesh,
    WireGuardMeshArgs,
    wireGuardMeshInternals,
    WireGuardNode,
    wireGuardNodeInternals,
    wireguardPublicKey,
} from "../../components/src/wireguard";
import { DEFAULT_OUTPUTS, record, RecordedResource, Recording, settle, UNKNOWN } from "../harness/mocks";
import { assertHostScript, extractProgram } from "../harness/shellcheck";
import { TEST_KEY } from "../harness/fixtures";
import { newHomeHost, seedHosts } from "./fixtures";

const CMD = "command:remote:Command";
const BYTES = "random:index/randomBytes:RandomBytes";
const HOSTS = ["cloud-hub", "cloud-peer", "home-pc", "home-mac"];

/** The private key the harness fakes for a RandomBytes resource name. */
function fakeKey(name: string): string {
    return DEFAULT_OUTPUTS[BYTES]({ type: BYTES, name, inputs: { length: 32 }, preview: false }).base64 as string;
}

function configText(rec: Recording, host: string, mesh = "wg"): string {
    return extractProgram(rec.find(CMD, `${mesh}-${host}-wg-config`).inputs.create as string);
}

/** The `[Peer]` section for `peer` in a rendered program. */
function peerSection(program: string, peer: string): string {
    const m = new RegExp(`# peer ${peer}\\n\\[Peer\\]\\n([\\s\\S]*?)(?=\\n\\n|\\nHI_FILE_EOF)`).exec(program);
    assert.ok(m, `no peer ${peer}`);
    return m[1];
}

describe("WireGuardMesh under the mock engine (seed 000 shape)", () => {
    it("registers a key, a node and install + config steps per host, with secrets kept secret", async () => {
        let mesh: WireGuardMesh | undefined;
        const rec = await record(() => {
            mesh = new WireGuardMesh("wg", { hosts: seedHosts() });
        });
        assert.equal(rec.byType("hybridinfra:index:WireGuardMesh").length, 1);
        assert.deepEqual(
            rec.byType("hybridinfra:index:WireGuardNode").map((n) => [n.name, n.parent]),
            HOSTS.map((h) => [`wg-${h}`, "wg"]),
        );
        assert.deepEqual(
            rec.byType(BYTES).map((k) => [k.name, k.parent, k.inputs.length]),
            HOSTS.map((h) => [`wg-${h}-wg-key`, "wg", 32]),
        );
        for (const k of rec.byType(BYTES)) assert.deepEqual([...k.additionalSecretOutputs].sort(), ["base64", "hex"]);
        assert.deepEqual(
            rec.byType(CMD).map((c) => c.name).sort(),
            HOSTS.flatMap((h) => [`wg-${h}-wg-config`, `wg-${h}-wg-install`]).sort(),
        );
        for (const h of HOSTS) {
            const install = rec.find(CMD, `wg-${h}-wg-install`);
            const config = rec.find(CMD, `wg-${h}-wg-config`);
            assert.equal(install.parent, `wg-${h}`);
            assert.equal(config.parent, `wg-${h}`);
            assert.ok(config.dependencyNames.includes(`wg-${h}-wg-install`), "config runs after install");
            assert.equal(install.inputs.stdin, undefined, "install reads no secret");
            assert.ok(rec.isSecret(config, "stdin") && rec.isSecret(config, "connection") && rec.isSecret(install, "connection"));
            assert.equal(config.inputs.update, config.inputs.create, "changes apply in place, never by replacement");
            assert.equal(config.inputs.triggers, undefined);
            assert.match(extractProgram(install.inputs.create), /hi_ensure_cmd wg-quick /);
            assert.match(extractProgram(config.inputs.delete), /hi_remove_managed_file "\$WG_CONF"/);
            for (const field of ["create", "delete"]) {
                assertHostScript({ script: extractProgram(install.inputs[field]), command: install.inputs[field] }, `${install.name}.${field}`);
                assertHostScript({ script: extractProgram(config.inputs[field]), command: config.inputs[field] }, `${config.name}.${field}`);
            }
            const key = fakeKey(`wg-${h}-wg-key`);
            assert.equal(config.inputs.stdin, `wg_private_key ${Buffer.from(key).toString("base64")}\n`);
            assert.match(extractProgram(config.inputs.create), /^PrivateKey = @@HI_SECRET:wg_private_key@@$/m);
        }
        // No private key value in any plain input of any resource.
        const keys = HOSTS.map((h) => fakeKey(`wg-${h}-wg-key`));
        for (const r of rec.resources) {
            for (const text of rec.plainStrings(r)) {
                for (const k of keys) {
                    assert.ok(!text.includes(k), `private key leaked into ${r.name}`);
                    assert.ok(!text.includes(Buffer.from(k).toString("base64")), `encoded private key leaked into ${r.name}`);
                    assert.ok(!text.includes(Buffer.from(k, "base64").toString("hex")), `hex private key leaked into ${r.name}`);
                }
                assert.ok(!text.includes("PRIVATE KEY"), `SSH key leaked into ${r.name}`);
            }
        }
        // Outputs: addresses, public keys (not secret), interface.
        const m = mesh!;
        const pubs = await settle(m.publicKeys);
        assert.equal(pubs.secret, false, "public keys are not secret");
        assert.deepEqual(pubs.value, Object.fromEntries(HOSTS.map((h) => [h, wireguardPublicKey(fakeKey(`wg-${h}-wg-key`))])));
        const addrs = (await settle(m.addresses)).value!;
        assert.deepEqual(Object.keys(addrs), HOSTS);
        assert.equal((await settle(m.interfaceName)).value, "wg0");
        const internals = wireGuardMeshInternals(m);
        assert.deepEqual(Object.keys(internals.nodes), HOSTS);
        for (const h of HOSTS) {
            const n = internals.nodes[h];
            assert.equal(n.address, addrs[h]);
            assert.equal((await settle(n.node.address)).value, addrs[h]);
            assert.equal((await settle(n.node.publicKey)).value, pubs.value![h]);
            assert.equal(wireGuardNodeInternals(n.node).configStep, n.configStep);
        }
        assert.equal(internals.plan.nodes.length, 4);
    });

    it("the hub's config lists every spoke; NAT'd nodes keep alive and are never an Endpoint", async () => {
        const rec = await record(() => new WireGuardMesh("wg", { hosts: seedHosts() }));
        const pub = (h: string): string => wireguardPublicKey(fakeKey(`wg-${h}-wg-key`));
        const hub = configText(rec, "cloud-hub");
        for (const spoke of ["cloud-peer", "home-pc", "home-mac"]) assert.match(peerSection(hub, spoke), new RegExp(`^PublicKey = ${pub(spoke).replace(/[+/]/g, "\\$&")}$`, "m"));
        assert.match(peerSection(hub, "cloud-peer"), /^Endpoint = 203\.0\.113\.20:51820$/m);
        for (const h of HOSTS) {
            const program = configText(rec, h);
            for (const nat of ["home-pc", "home-mac"]) {
                if (nat !== h && program.includes(`# peer ${nat}\n`)) assert.doesNotMatch(peerSection(program, nat), /Endpoint/);
            }
        }
        for (const nat of ["home-pc", "home-mac"]) {
            const hubPeer = peerSection(configText(rec, nat), "cloud-hub");
            assert.match(hubPeer, /^PersistentKeepalive = 25$/m);
            assert.match(hubPeer, /^Endpoint = 203\.0\.113\.10:51820$/m);
        }
        assert.doesNotMatch(configText(rec, "cloud-peer"), /PersistentKeepalive/);
        assert.doesNotMatch(hub, /PersistentKeepalive/);
    });

    it("registers the same resources in preview, where fresh keys are unknown", async () => {
        const rec = await record(() => new WireGuardMesh("wg", { hosts: seedHosts() }), { preview: true });
        assert.equal(rec.byType(CMD).length, 8);
        assert.equal(rec.byType(BYTES).length, 4);
        const install = rec.find(CMD, "wg-home-pc-wg-install");
        assert.match(extractProgram(install.inputs.create), /hi_ensure_cmd wg /, "install steps are fully known in preview");
        const create: unknown = rec.find(CMD, "wg-home-pc-wg-config").inputs.create;
        // The harness shows an unknown input either as UNKNOWN or as the SDK's unknown marker.
        assert.ok(create === UNKNOWN || JSON.stringify(create) === '{"__pulumiUnknown":true}', `config is unknown until the keys exist, got ${String(create).slice(0, 40)}`);
    });

    it("preshared keys: one secret per peering pair, passed on stdin only", async () => {
        const rec = await record(() => new WireGuardMesh("wg", { hosts: seedHosts(), presharedKeys: true }));
        assert.deepEqual(
            rec.byType(BYTES).map((r) => r.name).filter((n) => n.startsWith("wg-psk-")).sort(),
            ["wg-psk-cloud-hub-cloud-peer", "wg-psk-cloud-hub-home-mac", "wg-psk-cloud-hub-home-pc"],
        );
        const mac = rec.find(CMD, "wg-home-mac-wg-config");
        const psk = fakeKey("wg-psk-cloud-hub-home-mac");
        assert.ok(mac.inputs.stdin.includes(`wg_psk_cloud_hub ${Buffer.from(psk).toString("base64")}\n`));
        assert.match(peerSection(configText(rec, "home-mac"), "cloud-hub"), /^PresharedKey = @@HI_SECRET:wg_psk_cloud_hub@@$/m);
        for (const r of rec.resources) for (const t of rec.plainStrings(r)) assert.ok(!t.includes(psk), `psk leaked into ${r.name}`);
    });

    it("passes the mesh's dependsOn to the first host steps", async () => {
        const rec = await record(() => {
            const before = new random.RandomId("before", { byteLength: 4 });
            return new WireGuardMesh("wg", { hosts: seedHosts() }, { dependsOn: [before] });
        });
        for (const h of HOSTS) assert.ok(rec.find(CMD, `wg-${h}-wg-install`).dependencyNames.includes("before"));
    });
});

/** Step inputs that matter for a change: scripts, stdin and connection. */
function stepInputs(rec: Recording): Map<string, string> {
    const pick = (r: RecordedResource): string =>
        JSON.stringify({ create: r.inputs.create, update: r.inputs.update, delete: r.inputs.delete, stdin: r.inputs.stdin, connection: r.inputs.connection, triggers: r.inputs.triggers });
    return new Map(rec.byType(CMD).map((r) => [r.name, pick(r)]));
}

async function changedSteps(args: WireGuardMeshArgs): Promise<{ added: string[]; changed: string[]; removed: string[] }> {
    const before = stepInputs(await record(() => new WireGuardMesh("wg", args)));
    const after = stepInputs(await record(() => new WireGuardMesh("wg", { ...args, hosts: [...args.hosts, newHomeHost()] })));
    return {
        added: [...after.keys()].filter((k) => !before.has(k)).sort(),
        changed: [...after.keys()].filter((k) => before.has(k) && before.get(k) !== after.get(k)).sort(),
        removed: [...before.keys()].filter((k) => !after.has(k)),
    };
}

describe("adding a home host", () => {
    it("hub topology: only the new host's steps and the hub's config step change", async () => {
        const d = await changedSteps({ hosts: seedHosts() });
        assert.deepEqual(d, { added: ["wg-home-nas-wg-config", "wg-home-nas-wg-install"], changed: ["wg-cloud-hub-wg-config"], removed: [] });
    });

    it("hub topology with preshared keys: still only the hub's config changes", async () => {
        const d = await changedSteps({ hosts: seedHosts(), presharedKeys: true });
        assert.deepEqual(d.changed, ["wg-cloud-hub-wg-config"]);
    });

    it("mesh topology: the changed steps are config syncs, no install step changes", async () => {
        const d = await changedSteps({ hosts: seedHosts(), topology: Topology.Mesh });
        assert.deepEqual(d.added, ["wg-home-nas-wg-config", "wg-home-nas-wg-install"]);
        assert.deepEqual(d.removed, []);
        assert.ok(d.changed.length > 0);
        for (const c of d.changed) assert.match(c, /-wg-config$/);
        // Every existing host learns the new peer: the public ones directly, the NAT'd ones through the hub.
        assert.deepEqual(d.changed, HOSTS.map((h) => `wg-${h}-wg-config`).sort());
    });

    it("locations topology: no install step changes, remote non-gateway hosts untouched", async () => {
        const hosts = [...seedHosts().map((h) => ({ ...h, hub: false })), { name: "tokyo-2", address: "203.0.113.11", privateKey: TEST_KEY, location: "tokyo" }];
        const d = await changedSteps({ hosts, topology: Topology.Locations });
        for (const c of d.changed) assert.match(c, /-wg-config$/);
        assert.ok(!d.changed.includes("wg-tokyo-2-wg-config"), "a non-gateway host elsewhere does not change");
    });
});

describe("WireGuardNode on its own", () => {
    it("renders its explicit peers and keeps its key secret", async () => {
        const priv = Buffer.alloc(32, 7).toString("base64");
        const peerPub = wireguardPublicKey(Buffer.alloc(32, 9).toString("base64"));
        let node: WireGuardNode | undefined;
        const rec = await record(() => {
            node = new WireGuardNode("solo", {
                host: { name: "box", address: "198.51.100.7", privateKey: TEST_KEY },
                address: "10.9.0.2",
                overlayCidr: "10.9.0.0/24",
                privateKey: pulumi.secret(priv),
                peers: [{ name: "gw", publicKey: peerPub, endpoint: "198.51.100.1:51820", allowedIps: ["10.9.0.0/24"], persistentKeepalive: 25 }],
            });
        });
        assert.deepEqual(rec.byType(CMD).map((c) => c.name), ["solo-wg-install", "solo-wg-config"]);
        const program = extractProgram(rec.find(CMD, "solo-wg-config").inputs.create);
        assert.match(program, /Address = 10\.9\.0\.2\/24\n/);
        assert.match(peerSection(program, "gw"), new RegExp(`PublicKey = ${peerPub.replace(/[+/]/g, "\\$&")}\\nEndpoint = 198\\.51\\.100\\.1:51820\\nAllowedIPs = 10\\.9\\.0\\.0/24\\nPersistentKeepalive = 25`));
        assert.doesNotMatch(program, /ip_forward = 1/);
        for (const r of rec.resources) for (const t of rec.plainStrings(r)) assert.ok(!t.includes(priv));
        assert.equal((await settle(node!.publicKey)).value, wireguardPublicKey(priv));
        assert.equal((await settle(node!.publicKey)).secret, false);
    });

    it("rejects a peer with a bad AllowedIPs entry", () => {
        assert.throws(
            () =>
                new WireGuardNode("bad", {
                    host: { name: "box", address: "198.51.100.7", privateKey: TEST_KEY },
                    address: "10.9.0.2",
                    overlayCidr: "10.9.0.0/24",
                    privateKey: "x",
                    peers: [{ name: "gw", publicKey: "k", allowedIps: ["10.9.0.1/24"] }],
                }),
            { message: 'node.peers[0].allowedIps[0]: has host bits set, got "10.9.0.1/24". Fix: use the network address "10.9.0.0/24"' },
        );
    });
});
