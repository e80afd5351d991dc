// How `pulumi up` reaches each host (issue 13 §1): the SSH jump graph is validated before anything is
// registered, and the connection handed to pulumi-command carries the dial settings.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { configProblems } from "../harness/config";
import * as pulumi from "@pulumi/pulumi";
import { addressScope, SSH_DIAL_DEFAULTS, sshReachProblems } from "../../components/src/host";
import { HybridCluster, HybridClusterArgs, HostRole, planCluster, hybridClusterInternals } from "../../components/src/cluster";
import { record } from "../harness/mocks";
import { TEST_KEY } from "../harness/fixtures";
import { RENDER_OUTPUTS } from "../../tools/render-lib";

const CMD = "command:remote:Command";

const README_FIX = (loc: string) =>
    `Fix: reach the hosts in "${loc}" from a machine in "${loc}" (run pulumi up there and remove jumpHost), ` +
    `or forward one port on the "${loc}" router to one host there (set its ssh.address and ssh.port to the router's public address and that port) and use that host as jumpHost for the others, ` +
    'or run pulumi up from a machine already on the overlay (see "How `pulumi up` reaches your hosts" in the README)';

/** The issue's small input: a home machine at its LAN address with the cloud VM as jump host. */
const issueExample = () => ({
    hosts: [
        { name: "cloud-1", ssh: { address: "203.0.113.10" }, location: "cloud", publicEndpoint: "203.0.113.10", roles: ["hub", "server"] },
        { name: "home-1", ssh: { address: "192.168.50.21", jumpHost: "cloud-1" }, location: "home", roles: ["agent"] },
    ],
});

const ISSUE_MESSAGE =
    'hosts[1].ssh.jumpHost: host "home-1" has the private address ssh.address "192.168.50.21" (RFC 1918) in location "home", but is reached through jump host "cloud-1" (hosts[0]), ' +
    'which is in location "cloud" at the public address "203.0.113.10": nothing routes from there into the "home" LAN before the overlay exists, and the overlay is built over this SSH path. ' +
    README_FIX("home");

function clusterArgs(cfg: ReturnType<typeof issueExample>): HybridClusterArgs {
    return { sshPrivateKey: pulumi.secret(TEST_KEY), ...(cfg as unknown as Pick<HybridClusterArgs, "hosts">) };
}


describe("SSH reachability: a private address behind a public jump host in another location", () => {
    it("rejects the issue's example in the stack config, with path, value and fix", () => {
        assert.deepEqual(configProblems(issueExample()), [ISSUE_MESSAGE]);
    });

    it("rejects the issue's example in the HybridCluster component before registering anything", async () => {
        const rec = await record(() => {
            assert.throws(
                () => new HybridCluster("c", clusterArgs(issueExample())),
                (e: Error) => {
                    assert.equal(e.message, ISSUE_MESSAGE);
                    return true;
                },
            );
        });
        assert.deepEqual(rec.resources.filter((r) => r.type !== "pulumi:pulumi:Stack"), []);
    });

    it("rejects a CGNAT address at an office reached through a cloud VM named by DNS (own example)", () => {
        const cfg = {
            hosts: [
                { name: "bastion", ssh: { address: "bastion.example.org" }, location: "fra", publicEndpoint: "bastion.example.org", roles: ["hub", "server"] },
                // A Starlink or carrier-NAT office: its LAN is CGNAT space, unroutable from the cloud.
                { name: "office-pc", ssh: { address: "100.72.1.2", jumpHost: "bastion" }, location: "office", roles: ["agent"] },
            ],
        };
        assert.deepEqual(configProblems(cfg), [
            'hosts[1].ssh.jumpHost: host "office-pc" has the private address ssh.address "100.72.1.2" (CGNAT, RFC 6598) in location "office", but is reached through jump host "bastion" (hosts[0]), ' +
                'which is in location "fra" at the public address "bastion.example.org": nothing routes from there into the "office" LAN before the overlay exists, and the overlay is built over this SSH path. ' +
                README_FIX("office"),
        ]);
    });

    it("accepts the three working models", () => {
        const fromHome = {
            hosts: [
                { name: "cloud-1", ssh: { address: "203.0.113.10" }, location: "cloud", publicEndpoint: "203.0.113.10", roles: ["hub", "server"] },
                { name: "home-1", ssh: { address: "192.168.50.21" }, location: "home", roles: ["agent"] },
            ],
        };
        const forwardedPort = {
            hosts: [
                { name: "cloud-1", ssh: { address: "203.0.113.10" }, location: "cloud", publicEndpoint: "203.0.113.10", roles: ["hub", "server"] },
                { name: "home-1", ssh: { address: "198.51.100.1", port: 2211 }, location: "home", roles: ["agent"] },
                { name: "home-2", ssh: { address: "192.168.50.22", jumpHost: "home-1" }, location: "home", roles: ["agent"] },
            ],
        };
        const onOverlay = {
            hosts: [
                // From a machine on the overlay: each host at its own overlay address (pinned here).
                { name: "cloud-1", ssh: { address: "10.100.0.1" }, overlayAddress: "10.100.0.1", location: "cloud", publicEndpoint: "203.0.113.10", roles: ["hub", "server"] },
                { name: "home-1", ssh: { address: "10.100.0.2" }, overlayAddress: "10.100.0.2", location: "home", roles: ["agent"] },
            ],
        };
        for (const cfg of [fromHome, forwardedPort, onOverlay]) assert.deepEqual(configProblems(cfg), []);
    });
});

describe("SSH reachability: the jump graph", () => {
    it("rejects a jump loop once, naming every host of the loop", () => {
        const cfg = {
            hosts: [
                { name: "a", ssh: { address: "203.0.113.10", jumpHost: "b" }, location: "cloud", publicEndpoint: "203.0.113.10", roles: ["hub", "server"] },
                { name: "b", ssh: { address: "203.0.113.11", jumpHost: "c" }, location: "cloud", roles: ["agent"] },
                { name: "c", ssh: { address: "203.0.113.12", jumpHost: "a" }, location: "cloud", roles: ["agent"] },
            ],
        };
        assert.deepEqual(configProblems(cfg), [
            'hosts[0].ssh.jumpHost: forms a jump loop a → b → c → a (got "b"); no host of the loop can ever be reached. Fix: remove jumpHost from the host that pulumi up reaches directly (e.g. "a" at its public or LAN address)',
        ]);
    });

    it("rejects a chain of two hops instead of flattening it to the first hop", async () => {
        const cfg = {
            hosts: [
                { name: "cloud-1", ssh: { address: "203.0.113.10" }, location: "cloud", publicEndpoint: "203.0.113.10", roles: ["hub", "server"] },
                { name: "home-1", ssh: { address: "198.51.100.1", port: 2211 }, location: "home", roles: ["agent"] },
                { name: "home-2", ssh: { address: "192.168.50.22", jumpHost: "home-1" }, location: "home", roles: ["agent"] },
                { name: "home-3", ssh: { address: "192.168.50.23", jumpHost: "home-2" }, location: "home", roles: ["agent"] },
            ],
        };
        const message =
            'hosts[3].ssh.jumpHost: names "home-2" (hosts[2]), which itself goes through jump host "home-1": a chain of 2 hops, and a connection through pulumi-command takes one jump host (its proxy connection has no proxy of its own). ' +
            "Fix: jump through a host that pulumi up reaches directly, e.g. `jumpHost: home-1`";
        assert.deepEqual(configProblems(cfg), [message]);
        // The component rejects it too (before, the chain was silently cut to its first hop: home-3 was
        // dialled from home-2 with no way to reach home-2).
        assert.throws(() => planCluster(clusterArgs(cfg as never)), (e: Error) => e.message === message);
    });

    it("reports every jump problem at once", () => {
        const cfg = {
            hosts: [
                { name: "cloud-1", ssh: { address: "203.0.113.10" }, location: "cloud", publicEndpoint: "203.0.113.10", roles: ["hub", "server"] },
                { name: "home-1", ssh: { address: "192.168.50.21", jumpHost: "cloud-1" }, location: "home", roles: ["agent"] },
                { name: "home-2", ssh: { address: "192.168.50.22", jumpHost: "nas" }, location: "home", roles: ["agent"] },
                { name: "home-3", ssh: { address: "192.168.50.23", jumpHost: "home-3" }, location: "home", roles: ["agent"] },
            ],
        };
        const problems = configProblems(cfg);
        assert.deepEqual(
            problems.map((p) => p.slice(0, p.indexOf(":"))),
            ["hosts[1].ssh.jumpHost", "hosts[2].ssh.jumpHost", "hosts[3].ssh.jumpHost"],
        );
        assert.equal(problems[1], 'hosts[2].ssh.jumpHost: refers to an unknown host "nas". Fix: use the name of another host in hosts (known: cloud-1, home-1, home-2, home-3)');
        assert.equal(problems[2], 'hosts[3].ssh.jumpHost: points at the host itself ("home-3"). Fix: remove it, or name the host pulumi up reaches first');
        assert.throws(
            () => planCluster(clusterArgs(cfg as never)),
            (e: Error) => e.message === `3 problems in the config:\n  - ${problems.join("\n  - ")}`,
        );
    });

    it("classifies addresses by where they route", () => {
        const cases: [string, string, string | undefined][] = [
            ["192.168.50.21", "private", "RFC 1918"],
            ["172.31.255.1", "private", "RFC 1918"],
            ["172.32.0.1", "public", undefined],
            ["10.100.0.7", "private", "RFC 1918"],
            ["100.64.0.1", "private", "CGNAT, RFC 6598"],
            ["100.128.0.1", "public", undefined],
            ["169.254.10.1", "private", "link-local"],
            ["127.0.0.1", "loopback", undefined],
            ["fd7a:115c:a1e0::1", "private", "IPv6 ULA"],
            ["fe80::1", "private", "IPv6 link-local"],
            ["2001:db8::1", "public", undefined],
            ["203.0.113.10", "public", undefined],
            ["home.example.org", "name", undefined],
        ];
        for (const [address, scope, block] of cases) assert.deepEqual(addressScope(address), { scope, ...(block !== undefined ? { block } : {}) }, address);
    });

    it("leaves the location rule out for hosts without a location (a bare list of SSH hosts)", () => {
        const problems = sshReachProblems([
            { name: "cloud", address: "203.0.113.10" },
            { name: "home", address: "192.168.50.10", jumpHost: "cloud" },
        ]);
        assert.deepEqual(problems, []);
    });
});

describe("SSH dial settings", () => {
    it("passes dialErrorLimit and perDialTimeout to the connection and to the jump host's proxy connection", async () => {
        const args: HybridClusterArgs = {
            sshPrivateKey: pulumi.secret(TEST_KEY),
            hosts: [
                { name: "cloud-1", ssh: { address: "203.0.113.10" }, location: "cloud", publicEndpoint: "203.0.113.10", roles: [HostRole.Hub, HostRole.Server] },
                { name: "home-1", ssh: { address: "198.51.100.1", port: 2211, dialErrorLimit: 30, perDialTimeout: 45 }, location: "home", roles: [HostRole.Agent] },
                { name: "home-2", ssh: { address: "192.168.50.22", jumpHost: "home-1", dialErrorLimit: -1 }, location: "home", roles: [HostRole.Agent] },
            ],
        };
        const rec = await record(() => hybridClusterInternals(new HybridCluster("c", args)), { outputs: RENDER_OUTPUTS });
        const conn = (name: string) => rec.find(CMD, name).inputs.connection;
        const home1 = conn("c-wg-home-1-wg-config");
        assert.equal(home1.dialErrorLimit, 30);
        assert.equal(home1.perDialTimeout, 45);
        const home2 = conn("c-wg-home-2-wg-config");
        assert.equal(home2.dialErrorLimit, -1);
        assert.equal(home2.perDialTimeout, SSH_DIAL_DEFAULTS.perDialTimeout, "unset: pulumi-command's default (15 s) applies");
        assert.equal(home2.proxy.host, "198.51.100.1");
        assert.equal(home2.proxy.port, 2211);
        assert.equal(home2.proxy.dialErrorLimit, 30);
        assert.equal(home2.proxy.perDialTimeout, 45);
        const cloud = conn("c-wg-cloud-1-wg-config");
        // Unset settings are the documented defaults, the ones pulumi-command fills in itself.
        assert.deepEqual([cloud.dialErrorLimit, cloud.perDialTimeout], [SSH_DIAL_DEFAULTS.dialErrorLimit, SSH_DIAL_DEFAULTS.perDialTimeout]);
    });

    it("rejects dial settings out of range, with the default in the fix", () => {
        const cfg = issueExample();
        (cfg.hosts[1].ssh as Record<string, unknown>) = { address: "192.168.50.21", dialErrorLimit: 0, perDialTimeout: -5 };
        assert.deepEqual(configProblems(cfg), [
            'hosts[1].ssh.dialErrorLimit: 0 is not a limit, got 0. Fix: use -1 (no limit) or a count from 1 to 10000, e.g. 30 for a machine that sleeps (default 10)',
            "hosts[1].ssh.perDialTimeout: Too small: expected number to be >=0, got -5. Fix: use whole seconds from 0 (no limit) to 3600, e.g. 30 for a slow link (default 15)",
        ]);
    });
});
