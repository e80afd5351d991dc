import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import fc from "fast-check";
import { ConfigValidationError, parseClusterConfig } from "../../infra/config";
import { listStacks, loadStack } from "../../tools/stack";

const good = () => ({
    hosts: [
        { name: "cloud", ssh: { address: "203.0.113.10" }, location: "cloud", publicEndpoint: "203.0.113.10", roles: ["hub", "server"] },
        { name: "home", ssh: { address: "192.168.50.10" }, location: "home", roles: ["agent"] },
    ],
    overlay: { kind: "wireguard", topology: "hub", cidr: "10.100.0.0/24" },
    k3s: { datastore: "sqlite" },
    ingress: { mode: "traefik", tls: "private-ca" },
    apps: [{ name: "web", image: "nginx:1.27", ports: [{ containerPort: 80 }], hostnames: ["web.example.com"] }],
});

type Mutate = (c: any) => void;
/** [what, mutation, exact config path, text the message must also contain] */
const BAD: [string, Mutate, string, string][] = [
    ["ssh port out of range", (c) => (c.hosts[1].ssh.port = 70000), "hosts[1].ssh.port", "got 70000"],
    ["ssh port not a number", (c) => (c.hosts[0].ssh.port = "22"), "hosts[0].ssh.port", 'got "22"'],
    ["typo in an ssh key", (c) => (c.hosts[0].ssh.prot = 22), "hosts[0].ssh.prot", "did you mean `port`?"],
    ["the old key ssh.host (renamed address)", (c) => ((c.hosts[0].ssh.host = c.hosts[0].ssh.address), delete c.hosts[0].ssh.address), "hosts[0].ssh.host", "it was renamed: use `address`"],
    ["typo at the top level", (c) => ((c.overlays = {}), delete c.overlay), "overlays", "did you mean `overlay`?"],
    ["typo in overlay", (c) => (c.overlay.topolgy = "mesh"), "overlay.topolgy", "did you mean `topology`?"],
    ["missing ssh host", (c) => delete c.hosts[0].ssh.address, "hosts[0].ssh.address", "is required"],
    ["empty ssh host", (c) => (c.hosts[0].ssh.address = ""), "hosts[0].ssh.address", 'got ""'],
    ["host name with capitals", (c) => (c.hosts[1].name = "Home_PC"), "hosts[1].name", 'got "Home_PC"'],
    ["unknown role", (c) => (c.hosts[1].roles = ["worker"]), "hosts[1].roles[0]", "use one of: hub, server, agent, ingress"],
    ["no roles", (c) => (c.hosts[1].roles = []), "hosts[1].roles", "got []"],
    ["LAN not a CIDR", (c) => (c.hosts[1].lan = ["192.168.50.0"]), "hosts[1].lan[0]", "192.168.50.0/24"],
    ["bad taint effect", (c) => (c.hosts[0].taints = ["a=b:Never"]), "hosts[0].taints[0]", "NoSchedule"],
    ["pinned overlay address not an IP", (c) => (c.hosts[0].overlayAddress = "10.100.0"), "hosts[0].overlayAddress", "inside overlay.cidr"],
    ["overlay CIDR malformed", (c) => (c.overlay.cidr = "10.100.0.0/33"), "overlay.cidr", 'got "10.100.0.0/33"'],
    ["unknown overlay kind", (c) => (c.overlay.kind = "zerotier"), "overlay.kind", "use one of: wireguard, tailscale"],
    ["unknown topology", (c) => (c.overlay.topology = "star"), "overlay.topology", "use one of: hub, mesh, locations"],
    ["listen port out of range", (c) => (c.overlay.listenPort = 0), "overlay.listenPort", "got 0"],
    ["unknown datastore", (c) => (c.k3s.datastore = "postgres"), "k3s.datastore", "use one of: sqlite, etcd, external"],
    ["unknown failover profile", (c) => (c.k3s.failoverProfile = "quick"), "k3s.failoverProfile", "use one of: default, lossy-link, fast"],
    ["typo in k3s", (c) => (c.k3s.verison = "v1.31.4+k3s1"), "k3s.verison", "did you mean `version`?"],
    ["unknown ingress mode", (c) => (c.ingress.mode = "nginx"), "ingress.mode", "traefik, cloudflare-tunnel, cloud-forward"],
    ["cloudflare account id malformed", (c) => (c.ingress.cloudflare = { accountId: "abc", zoneId: "0123456789abcdef0123456789abcdef" }), "ingress.cloudflare.accountId", "32-character"],
    ["app hostname invalid", (c) => (c.apps[0].hostnames = ["web_example"]), "apps[0].hostnames[0]", 'got "web_example"'],
    ["app replicas below 1", (c) => (c.apps[0].replicas = 0), "apps[0].replicas", "got 0"],
    ["app port out of range", (c) => (c.apps[0].ports[0].containerPort = 65536), "apps[0].ports[0].containerPort", "got 65536"],
    ["app without image", (c) => delete c.apps[0].image, "apps[0].image", "is required"],
    ["app env name invalid", (c) => (c.apps[0].env = { "1BAD": "x" }), "apps[0].env.1BAD", ""],
    ["typo in app", (c) => (c.apps[0].hostname = ["a.example.com"]), "apps[0].hostname", "did you mean `hostnames`?"],
    ["no hosts", (c) => (c.hosts = []), "hosts", "got []"],
    ["probe path without slash", (c) => (c.apps[0].readinessProbe = { path: "health", port: 80 }), "apps[0].readinessProbe.path", 'got "health"'],
];

describe("stack config validation", () => {
    it("accepts a good config", () => {
        assert.equal(parseClusterConfig(good()).hosts.length, 2);
    });
    assert.ok(BAD.length >= 20);
    for (const [what, mutate, path, extra] of BAD) {
        it(`rejects ${what} with the exact path ${path}`, () => {
            const c = good();
            mutate(c);
            assert.throws(
                () => parseClusterConfig(c),
                (e: unknown) => {
                    assert.ok(e instanceof ConfigValidationError, `not a validation error: ${String(e)}`);
                    const line = e.problems.find((p) => p.startsWith(`${path}: `));
                    assert.ok(line, `no problem names ${path}; got:\n${e.problems.join("\n")}`);
                    assert.match(line, /\. Fix: /, "every problem says the fix");
                    assert.ok(line.includes(extra), `"${line}" should contain "${extra}"`);
                    return true;
                },
            );
        });
    }
    it("parses every shipped stack", () => {
        const stacks = listStacks();
        assert.ok(stacks.length >= 6, `stacks: ${stacks.join(", ")}`);
        for (const s of stacks) {
            const { config } = loadStack(s);
            assert.doesNotThrow(() => parseClusterConfig(JSON.parse(config["hybrid-infra:cluster"])), s);
        }
    });
    it("never crashes on 1,000 random configs with anything but a validation error", () => {
        const leaf = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.constantFrom("hub", "server", "203.0.113.1", "10.0.0.0/8", "a.example.com"));
        const json = fc.letrec((tie) => ({
            value: fc.oneof({ depthSize: "small" }, leaf, fc.array(tie("value"), { maxLength: 3 }), fc.dictionary(fc.constantFrom("hosts", "ssh", "name", "address", "port", "roles", "overlay", "apps", "k3s", "x"), tie("value"), { maxKeys: 4 })),
        })).value;
        // Half the runs start from a valid config and damage one branch, to reach deep paths.
        const damaged = fc.tuple(fc.constantFrom("hosts", "overlay", "k3s", "ingress", "apps"), json).map(([k, v]) => ({ ...good(), [k]: v }));
        fc.assert(
            fc.property(fc.oneof(json, damaged), (input) => {
                try {
                    parseClusterConfig(input);
                } catch (e) {
                    if (!(e instanceof ConfigValidationError)) throw e;
                    for (const p of e.problems) if (!/: .*\. Fix: /s.test(p)) throw new Error(`problem without path or fix: ${p}`);
                }
            }),
            { numRuns: 1000, seed: 20261121 },
        );
    });
});
