/**
 * Runs the rendered wg-install, wg-config and delete programs for real, in two network namespaces
 * (a public hub and a NAT'd spoke) with the real wg, wg-quick and wireguard-go: first run brings the
 * tunnel up, a second run changes nothing, a new peer is applied live without restarting the interface,
 * and delete removes everything.
 */
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { encodeSecretStdin, renderHostScript } from "../../components/src/host";
import {
    chainNames,
    configPath,
    renderConfigBody,
    renderConfigDeleteBody,
    renderInstallBody,
    sysctlPath,
    sysctlRecordPath,
    WgInterfaceSpec,
    wireguardPublicKey,
} from "../../components/src/wireguard";

const id = process.pid % 100000;
const NS_HUB = `hi-wgt-hub-${id}`;
const NS_SPOKE = `hi-wgt-spk-${id}`;
// Distinct names per namespace: wireguard-go's control sockets live in the shared /var/run/wireguard.
const IF_HUB = `hiwa${id}`;
const IF_SPOKE = `hiwb${id}`;
const keyHub = crypto.randomBytes(32).toString("base64");
const keySpoke = crypto.randomBytes(32).toString("base64");

function sh(args: string[], input?: string): { status: number; out: string } {
    const res = spawnSync(args[0], args.slice(1), { input, encoding: "utf8" });
    if (res.error) throw res.error;
    return { status: res.status ?? 1, out: `${res.stdout}${res.stderr}` };
}
function inNs(ns: string, ...cmd: string[]): string {
    const r = sh(["ip", "netns", "exec", ns, ...cmd]);
    assert.equal(r.status, 0, `${cmd.join(" ")} in ${ns}: ${r.out}`);
    return r.out;
}
function runStep(ns: string, host: string, step: string, body: string, secrets?: Record<string, string>): string {
    const { script } = renderHostScript({ host, step, body, readsSecrets: secrets !== undefined });
    const r = sh(["ip", "netns", "exec", ns, "bash", "-c", script, "hybridinfra-test"], secrets !== undefined ? encodeSecretStdin(secrets) : "");
    assert.equal(r.status, 0, `${host}/${step} failed:\n${r.out}`);
    return r.out;
}

const hubSpec = (extraPeers: WgInterfaceSpec["peers"] = []): WgInterfaceSpec => ({
    host: "hub",
    interfaceName: IF_HUB,
    address: "10.251.0.1",
    overlayCidr: "10.251.0.0/24",
    listenPort: 51820,
    mtu: 1420,
    forward: true,
    openListenPort: true,
    trustedSources: ["10.42.0.0/16", "10.43.0.0/16"],
    lan: [],
    peers: [{ name: "spoke", publicKey: wireguardPublicKey(keySpoke), allowedIps: ["10.251.0.2/32"], presharedKey: false }, ...extraPeers],
});
const spokeSpec: WgInterfaceSpec = {
    host: "spoke",
    interfaceName: IF_SPOKE,
    address: "10.251.0.2",
    overlayCidr: "10.251.0.0/24",
    listenPort: 51820,
    mtu: 1380,
    forward: false,
    openListenPort: false,
    trustedSources: [],
    lan: [],
    peers: [{ name: "hub", publicKey: wireguardPublicKey(keyHub), endpoint: "10.250.0.1:51820", allowedIps: ["10.251.0.0/24"], persistentKeepalive: 25, presharedKey: false }],
};

describe("host scripts on real network namespaces", () => {
    before(() => {
        for (const ns of [NS_HUB, NS_SPOKE]) assert.equal(sh(["ip", "netns", "add", ns]).status, 0, `ip netns add ${ns} (the test needs root)`);
        inNs(NS_HUB, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", NS_SPOKE);
        inNs(NS_HUB, "ip", "addr", "add", "10.250.0.1/24", "dev", "veth0");
        inNs(NS_SPOKE, "ip", "addr", "add", "10.250.0.2/24", "dev", "veth1");
        for (const [ns, dev] of [[NS_HUB, "veth0"], [NS_SPOKE, "veth1"]]) {
            inNs(ns, "ip", "link", "set", dev, "up");
            inNs(ns, "ip", "link", "set", "lo", "up");
        }
    });
    after(() => {
        for (const ns of [NS_HUB, NS_SPOKE]) {
            for (const i of [IF_HUB, IF_SPOKE]) sh(["ip", "netns", "exec", ns, "ip", "link", "del", i]);
            sh(["ip", "netns", "del", ns]);
        }
        for (const f of [configPath(IF_HUB), configPath(IF_SPOKE), sysctlPath(IF_HUB), sysctlPath(IF_SPOKE), sysctlRecordPath(IF_HUB)]) fs.rmSync(f, { force: true });
    });

    it("install finds the tools and the userspace fallback without touching the package manager", () => {
        const out = runStep(NS_HUB, "hub", "wg-install", renderInstallBody({ interfaceName: IF_HUB, firewall: true }));
        assert.doesNotMatch(out, /installing/);
        assert.match(out, /wg present/);
        assert.match(out, /wg-quick present/);
        assert.match(out, /kernel WireGuard module available|wireguard-go \(present\)/);
        assert.match(out, /done \(no change\)/);
    });

    it("config brings the tunnel up, a second run changes nothing, a new peer syncs live, delete cleans up", () => {
        const hubFirst = runStep(NS_HUB, "hub", "wg-config", renderConfigBody(hubSpec()), { wg_private_key: keyHub });
        assert.match(hubFirst, new RegExp(`brought up ${IF_HUB}`));
        assert.match(hubFirst, /no init system/);
        assert.match(hubFirst, /done \(changed\)/);
        const spokeFirst = runStep(NS_SPOKE, "spoke", "wg-config", renderConfigBody(spokeSpec), { wg_private_key: keySpoke });
        assert.match(spokeFirst, /done \(changed\)/);
        assert.equal((fs.statSync(configPath(IF_HUB)).mode & 0o777).toString(8), "600");
        assert.ok(!fs.readFileSync(configPath(IF_HUB), "utf8").includes("@@HI_SECRET"), "the key was filled in on the host");

        // The tunnel carries traffic (the NAT'd spoke dials the hub).
        inNs(NS_SPOKE, "ping", "-c", "1", "-W", "5", "10.251.0.1");
        assert.match(inNs(NS_SPOKE, "cat", `/sys/class/net/${IF_SPOKE}/mtu`), /^1380/);
        assert.match(inNs(NS_HUB, "cat", "/proc/sys/net/ipv4/ip_forward"), /^1/);
        assert.match(inNs(NS_HUB, "iptables", "-S", chainNames(IF_HUB).input), /--dport 51820 -j ACCEPT/);
        assert.match(inNs(NS_HUB, "iptables", "-S", chainNames(IF_HUB).forward), new RegExp(`-i ${IF_HUB} -o ${IF_HUB} -j ACCEPT`));

        // Idempotent: nothing changes on a second run.
        for (const [ns, host, spec, key] of [
            [NS_HUB, "hub", hubSpec(), keyHub],
            [NS_SPOKE, "spoke", spokeSpec, keySpoke],
        ] as const) {
            const again = runStep(ns, host, "wg-config", renderConfigBody(spec), { wg_private_key: key });
            assert.match(again, /done \(no change\)/, again);
            assert.match(again, /already in sync/);
        }

        // A new spoke: applied with wg syncconf, the interface is not recreated, its route is added.
        const ifindex = inNs(NS_HUB, "cat", `/sys/class/net/${IF_HUB}/ifindex`);
        const third = wireguardPublicKey(crypto.randomBytes(32).toString("base64"));
        const grown = hubSpec([{ name: "nas", publicKey: third, allowedIps: ["10.251.0.3/32", "192.168.77.0/24"], presharedKey: false }]);
        const synced = runStep(NS_HUB, "hub", "wg-config", renderConfigBody(grown), { wg_private_key: keyHub });
        assert.match(synced, /synced .* live with wg syncconf/);
        assert.match(synced, /added route 192\.168\.77\.0\/24/);
        assert.doesNotMatch(synced, /\] brought up /, "not brought up again");
        assert.equal(inNs(NS_HUB, "cat", `/sys/class/net/${IF_HUB}/ifindex`), ifindex, "same interface");
        assert.match(inNs(NS_HUB, "wg", "show", IF_HUB, "peers"), new RegExp(third.replace(/[+/]/g, "\\$&")));
        assert.match(runStep(NS_HUB, "hub", "wg-config", renderConfigBody(grown), { wg_private_key: keyHub }), /done \(no change\)/);
        inNs(NS_SPOKE, "ping", "-c", "1", "-W", "5", "10.251.0.1");

        // Removing the peer again removes its route.
        const shrunk = runStep(NS_HUB, "hub", "wg-config", renderConfigBody(hubSpec()), { wg_private_key: keyHub });
        assert.match(shrunk, /removed stale route 192\.168\.77\.0\/24/);
        assert.match(runStep(NS_HUB, "hub", "wg-config", renderConfigBody(hubSpec()), { wg_private_key: keyHub }), /done \(no change\)/);

        // Delete: interface down, chains and files gone.
        const del = runStep(NS_HUB, "hub", "wg-config-delete", renderConfigDeleteBody({ interfaceName: IF_HUB }));
        assert.match(del, new RegExp(`brought down ${IF_HUB}`));
        assert.notEqual(sh(["ip", "netns", "exec", NS_HUB, "ip", "link", "show", IF_HUB]).status, 0, "interface removed");
        assert.notEqual(sh(["ip", "netns", "exec", NS_HUB, "iptables", "-S", chainNames(IF_HUB).input]).status, 0, "chain removed");
        assert.ok(!fs.existsSync(configPath(IF_HUB)) && !fs.existsSync(sysctlPath(IF_HUB)) && !fs.existsSync(sysctlRecordPath(IF_HUB)));
        assert.match(del, /restored net\.ipv4\.ip_forward = 0/);
        assert.match(inNs(NS_HUB, "cat", "/proc/sys/net/ipv4/ip_forward"), /^0/, "forwarding is off again, as before the config step");
        assert.match(runStep(NS_HUB, "hub", "wg-config-delete", renderConfigDeleteBody({ interfaceName: IF_HUB })), /done \(no change\)/);
        runStep(NS_SPOKE, "spoke", "wg-config-delete", renderConfigDeleteBody({ interfaceName: IF_SPOKE }));
        assert.ok(!fs.existsSync(configPath(IF_SPOKE)));
    });
});
