/**
 * The doctor's pure parts (tools/doctor-lib.ts), without hosts: parsing `wg show dump`, which files a step
 * writes only under a condition, the masking that keeps secrets on the hosts, and the diagnosis of a
 * NAT'd host without keepalive. The lab test (tests/lab/doctor.test.ts) runs it against real hosts.
 */
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { expectedState, lineHashes, linkDirection, LiveHost, maskedLines, parseDump, peerFindings } from "../../tools/doctor-lib";

const ROOT = path.join(__dirname, "..", "..");

describe("doctor (offline parts)", () => {
    it("parses `wg show <if> dump` peer lines (preshared key already cut on the host)", () => {
        const dump = "AAA=\t-\t203.0.113.10:51820\t10.100.0.0/24\t1764560000\t1184\t2216\t25\nBBB=\t-\t(none)\t10.100.0.74/32,192.168.50.0/24\t0\t0\t0\toff\n";
        assert.deepEqual(parseDump(dump), [
            { publicKey: "AAA=", endpoint: "203.0.113.10:51820", allowedIps: ["10.100.0.0/24"], latestHandshake: 1764560000, rxBytes: 1184, txBytes: 2216, keepalive: 25 },
            { publicKey: "BBB=", allowedIps: ["10.100.0.74/32", "192.168.50.0/24"], latestHandshake: 0, rxBytes: 0, txBytes: 0 },
        ]);
    });

    it("expects the lab stack's files: wg0.conf and the watchdog always, init units only under their init system; secrets and public keys masked", async () => {
        const e = await expectedState("lab");
        const home2 = e.hosts.find((h) => h.name === "home2")!;
        assert.deepEqual(
            home2.files.map((f) => `${f.path} ${f.mode} ${f.step} ${f.conditional ? "conditional" : "always"}`),
            [
                "/etc/init.d/hybridinfra-wg-watchdog-wg0 755 wg-config conditional",
                "/etc/init.d/wg-quick.wg0 755 wg-config conditional",
                "/etc/rancher/k3s/config.yaml 600 k3s-config always",
                "/etc/systemd/system/hybridinfra-wg-watchdog-wg0.service 644 wg-config conditional",
                "/etc/systemd/system/hybridinfra-wg-watchdog-wg0.timer 644 wg-config conditional",
                "/etc/wireguard/wg0.conf 600 wg-config always",
                "/usr/local/sbin/hybridinfra-wg-watchdog-wg0 755 wg-config always",
            ],
        );
        const conf = home2.files.find((f) => f.path === "/etc/wireguard/wg0.conf")!.content;
        const lines = conf.split("\n");
        assert.deepEqual(maskedLines(conf).map((n) => lines[n - 1].split(" = ")[0]), ["PrivateKey", "PublicKey"]);
        // A different key on the host hashes the same: the masked lines never carry their content.
        const other = conf.replace(/^PublicKey = .*$/m, "PublicKey = xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=").replace("@@HI_SECRET:wg_private_key@@", "secret");
        assert.deepEqual(lineHashes(other, maskedLines(conf)), lineHashes(conf, maskedLines(conf)));
        assert.deepEqual(home2.connection.proxy?.host, "203.0.113.1");
        assert.deepEqual(linkDirection(e.plan!, "cloud1", "home2"), ["home2", "cloud1"]);
        assert.deepEqual(linkDirection(e.plan!, "cloud1", "cloud2"), ["cloud2", "cloud1"], "both can initiate: the spoke pings the hub");
    });

    it("a NAT'd host without keepalive: named with the consequence", async () => {
        const e = await expectedState("lab");
        const node = e.plan!.nodes.find((n) => n.name === "home1")!;
        const peer = node.peers[0];
        const live: LiveHost = {
            now: 1000,
            link: "unknown",
            userspaceSocket: true,
            service: "no init system",
            publicKey: "HOME1=",
            listenPort: 51820,
            peers: [{ publicKey: "HUB=", endpoint: peer.endpoint!, allowedIps: [...peer.allowedIps], latestHandshake: 700, rxBytes: 1, txBytes: 1 }],
            blockingRules: [],
        };
        const [f] = peerFindings(node, live, new Map([["cloud1", "HUB="]]), 1000);
        assert.equal(f.ok, false);
        assert.equal(f.detail, "keepalive off, planned 25");
        assert.equal(f.cause, "home1 is behind NAT and has no keepalive: once the NAT mapping expires, cloud1 cannot reach it");
    });

    it("`npm run doctor` without an SSH key says which flag to pass, and exits 2", () => {
        const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "tools/doctor.ts"), "--stack", "lab"], { cwd: ROOT, encoding: "utf8" });
        assert.equal(r.status, 2);
        assert.match(r.stderr, /^no SSH key: the stack file holds none \(sshPrivateKey is a secret in the Pulumi config\)\.\nPass the key the hosts accept: --ssh-key ~\/\.ssh\/id_ed25519/);
    });
});
