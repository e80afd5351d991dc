import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { renderHostScript } from "../../components/src/host";
import {
    chainNames,
    firewalldRecordPath,
    FirewallKind,
    hostFirewallRules,
    interfaceSpecFromPlan,
    planOverlay,
    presharedKeySecret,
    PRIVATE_KEY_SECRET,
    renderConfigBody,
    renderConfigDeleteBody,
    renderInstallBody,
    renderInstallDeleteBody,
    Topology,
    wireguardPublicKey,
} from "../../components/src/wireguard";
import { assertHostScript } from "../harness/shellcheck";
import { renderWgQuickConfig, seedHosts } from "./fixtures";

function wg(args: string[], input?: string): string {
    const res = spawnSync("wg", args, { input, encoding: "utf8" });
    if (res.error) throw new Error(`wg could not run (${res.error.message}); install wireguard-tools`);
    assert.equal(res.status, 0, res.stderr);
    return res.stdout.trim();
}

function keysFor(names: string[]): { priv: Record<string, string>; pub: Record<string, string> } {
    const priv: Record<string, string> = {};
    const pub: Record<string, string> = {};
    for (const n of names) {
        priv[n] = crypto.randomBytes(32).toString("base64");
        pub[n] = wireguardPublicKey(priv[n]);
    }
    return { priv, pub };
}

/** Fills the secret placeholders as `hi_write_file` does on the host. */
function fill(text: string, secrets: Record<string, string>): string {
    return text.replace(/@@HI_SECRET:([A-Za-z0-9_]+)@@/g, (_, name: string) => {
        assert.ok(name in secrets, `no secret ${name}`);
        return secrets[name];
    });
}

describe("WireGuard keys", () => {
    it("derives the same public key as `wg pubkey` for 100 random private keys", () => {
        for (let i = 0; i < 100; i++) {
            // Raw random bytes, not `wg genkey` output: X25519 must clamp them exactly as wg does.
            const priv = crypto.randomBytes(32).toString("base64");
            assert.equal(wireguardPublicKey(priv), wg(["pubkey"], `${priv}\n`), `key #${i}`);
        }
    });
    it("rejects a key that is not 32 bytes", () => {
        assert.throws(() => wireguardPublicKey(Buffer.alloc(31).toString("base64")), /32 bytes of base64, got 31 bytes/);
    });
});

describe("wg-quick config", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hi-wg-"));
    const topologies = [Topology.Hub, Topology.Mesh, Topology.Locations];
    for (const topology of topologies) {
        for (const presharedKeys of [false, true]) {
            it(`parses with the real wg-quick strip for every host (${topology}, preshared keys ${presharedKeys})`, () => {
                const plan = planOverlay({ hosts: seedHosts(), topology, presharedKeys, mtu: 1400 });
                const { priv, pub } = keysFor(plan.nodes.map((n) => n.name));
                for (const node of plan.nodes) {
                    const text = renderWgQuickConfig(plan, node.name, pub);
                    assert.match(text, new RegExp(`^PrivateKey = @@HI_SECRET:${PRIVATE_KEY_SECRET}@@$`, "m"), "the private key is a placeholder");
                    const psk = crypto.randomBytes(32).toString("base64");
                    const secrets: Record<string, string> = { [PRIVATE_KEY_SECRET]: priv[node.name] };
                    for (const p of node.peers) secrets[presharedKeySecret(p.name)] = psk;
                    const file = path.join(dir, "wg0.conf");
                    fs.writeFileSync(file, fill(text, secrets), { mode: 0o600 });
                    const res = spawnSync("wg-quick", ["strip", file], { encoding: "utf8" });
                    assert.equal(res.status, 0, `wg-quick strip failed for ${node.name}: ${res.stderr}`);
                    const stripped = res.stdout;
                    assert.doesNotMatch(stripped, /^(Address|MTU)\s*=/m, "wg-quick keys are stripped");
                    assert.equal(stripped.match(/^\[Peer\]$/gm)?.length ?? 0, node.peers.length);
                    assert.match(stripped, new RegExp(`^PrivateKey = ${priv[node.name].replace(/[+/]/g, "\\$&")}$`, "m"));
                    for (const p of node.peers) {
                        assert.ok(stripped.includes(`PublicKey = ${pub[p.name]}`), `${node.name} lists ${p.name}`);
                        if (presharedKeys) assert.ok(stripped.includes(`PresharedKey = ${psk}`));
                    }
                    assert.match(text, new RegExp(`^Address = ${node.address.replace(/\./g, "\\.")}/24$`, "m"));
                    assert.match(text, /^MTU = 1400$/m);
                }
            });
        }
    }

    it("renders the hub's config exactly (seed 000 shape)", () => {
        const plan = planOverlay({ hosts: seedHosts() });
        const pub = { "cloud-hub": "H".repeat(43) + "=", "cloud-peer": "P".repeat(43) + "=", "home-pc": "C".repeat(43) + "=", "home-mac": "M".repeat(43) + "=" };
        const a = Object.fromEntries(plan.nodes.map((n) => [n.name, n.address]));
        assert.equal(
            renderWgQuickConfig(plan, "cloud-hub", pub),
            [
                "# WireGuard interface wg0 of host cloud-hub",
                "[Interface]",
                `Address = ${a["cloud-hub"]}/24`,
                "ListenPort = 51820",
                "MTU = 1420",
                "PrivateKey = @@HI_SECRET:wg_private_key@@",
                "",
                "# peer cloud-peer",
                "[Peer]",
                `PublicKey = ${pub["cloud-peer"]}`,
                "Endpoint = 203.0.113.20:51820",
                `AllowedIPs = ${a["cloud-peer"]}/32`,
                "",
                "# peer home-pc",
                "[Peer]",
                `PublicKey = ${pub["home-pc"]}`,
                `AllowedIPs = ${a["home-pc"]}/32, 192.168.50.0/24`,
                "",
                "# peer home-mac",
                "[Peer]",
                `PublicKey = ${pub["home-mac"]}`,
                `AllowedIPs = ${a["home-mac"]}/32`,
                "",
            ].join("\n"),
        );
        assert.match(renderWgQuickConfig(plan, "home-mac", pub), /\[Peer\]\nPublicKey = H+=\nEndpoint = 203\.0\.113\.10:51820\nAllowedIPs = 10\.100\.0\.0\/24\nPersistentKeepalive = 25\n$/);
    });
});

describe("host scripts", () => {
    it("pass shellcheck: install (with and without firewall), config of every host in every topology, deletes", () => {
        assertHostScript(renderHostScript({ host: "h", step: "wg-install", body: renderInstallBody({ interfaceName: "wg0", firewall: true }) }), "install+firewall");
        assertHostScript(renderHostScript({ host: "h", step: "wg-install", body: renderInstallBody({ interfaceName: "wg0", firewall: false }) }), "install");
        assertHostScript(renderHostScript({ host: "h", step: "wg-install-delete", body: renderInstallDeleteBody() }), "install delete");
        assertHostScript(renderHostScript({ host: "h", step: "wg-config-delete", body: renderConfigDeleteBody({ interfaceName: "wg0" }) }), "config delete");
        for (const topology of [Topology.Hub, Topology.Mesh, Topology.Locations]) {
            const plan = planOverlay({ hosts: seedHosts().map((h) => (topology === Topology.Locations ? { ...h, hub: false } : h)), topology, presharedKeys: true });
            const { pub } = keysFor(plan.nodes.map((n) => n.name));
            for (const n of plan.nodes) {
                const body = renderConfigBody(interfaceSpecFromPlan(plan, n.name, pub));
                assertHostScript(renderHostScript({ host: n.name, step: "wg-config", body, readsSecrets: true }), `${topology}/${n.name}`);
            }
        }
    });

    it("config step: 0600 file, live syncconf without restart, boot enablement, forwarding only on forwarders", () => {
        const plan = planOverlay({ hosts: seedHosts() });
        const { pub } = keysFor(plan.nodes.map((n) => n.name));
        const hub = renderConfigBody(interfaceSpecFromPlan(plan, "cloud-hub", pub));
        assert.match(hub, /hi_write_file \/etc\/wireguard\/wg0\.conf 0600 root:root '#' <<'HI_FILE_EOF'\n# WireGuard interface wg0 of host cloud-hub\n/);
        assert.match(hub, /wg syncconf "\$WG_IF" <\(wg-quick strip "\$WG_IF"\)/);
        assert.match(hub, /ip -4 route replace "\$r" dev "\$WG_IF"/);
        assert.match(hub, /systemctl enable "wg-quick@\$WG_IF"/);
        assert.match(hub, /rc-update add "wg-quick\.\$WG_IF" default/);
        assert.match(hub, /hi_warn "no init system/);
        // The OpenRC init script's stop() is the only place a create step may name a shutdown.
        const withoutInitScript = hub.replace(/hi_write_file \/etc\/init\.d\/[\s\S]*?\nHI_FILE_EOF\n/, "");
        assert.notEqual(withoutInitScript, hub);
        assert.doesNotMatch(withoutInitScript, /wg-quick down|systemctl (restart|stop)|ip link del/, "the create step never restarts the interface");
        assert.match(hub, /net\.ipv4\.ip_forward = 1/);
        // The live value found before forwarding is turned on is recorded once, for the delete to restore.
        assert.match(hub, /if \[ ! -e "\$WG_SYSCTL_BEFORE" \]; then\n {4}hi_write_file "\$WG_SYSCTL_BEFORE" 0600 root:root '#' <<<"net\.ipv4\.ip_forward = \$\(cat \/proc\/sys\/net\/ipv4\/ip_forward\)"\n {2}fi\n {2}sysctl -w net\.ipv4\.ip_forward=1/);
        const del = renderConfigDeleteBody({ interfaceName: "wg0" });
        assert.match(del, /^WG_SYSCTL_BEFORE=\/var\/lib\/hybridinfra\/sysctl-wg0\.before$/m);
        assert.match(del, /sysctl -w "net\.ipv4\.ip_forward=\$was"/);
        assert.ok(del.indexOf('hi_remove_managed_file "$WG_SYSCTL"\n') < del.indexOf("sysctl -w"), "our own sysctl file is gone before others are asked");
        assert.match(del, /rmdir \/var\/lib\/hybridinfra 2>\/dev\/null \|\| true\n$/);
        assert.match(hub, /hi_wg_chain filter INPUT "\$WG_CHAIN_IN" <<'HI_RULES'\n-i wg0 -j ACCEPT\n-s 10\.42\.0\.0\/16 -j ACCEPT\n-s 10\.43\.0\.0\/16 -j ACCEPT\n-p udp --dport 51820 -j ACCEPT\nHI_RULES/);
        assert.match(hub, /hi_wg_chain filter FORWARD "\$WG_CHAIN_FWD" <<'HI_RULES'\n-i wg0 -o wg0 -j ACCEPT\nHI_RULES/);
        assert.match(hub, /iptables -t "\$table" -C "\$chain" \$rule 2>\/dev\/null \|\| ok=0/);
        const pc = renderConfigBody(interfaceSpecFromPlan(plan, "home-pc", pub));
        assert.match(pc, /-i wg0 -d 192\.168\.50\.0\/24 -j ACCEPT\n-o wg0 -s 192\.168\.50\.0\/24 -j ACCEPT/);
        assert.match(pc, /hi_wg_chain nat POSTROUTING "\$WG_CHAIN_NAT" <<'HI_RULES'\n-s 10\.100\.0\.0\/24 -d 192\.168\.50\.0\/24 -j MASQUERADE\nHI_RULES/);
        const mac = renderConfigBody(interfaceSpecFromPlan(plan, "home-mac", pub));
        assert.doesNotMatch(mac, /ip_forward = 1/);
        assert.match(mac, /hi_wg_chain_remove filter FORWARD "\$WG_CHAIN_FWD"/);
        // Not a forwarder and behind NAT: the overlay is opened, the WireGuard port is not.
        assert.match(mac, /hi_wg_chain filter INPUT "\$WG_CHAIN_IN" <<'HI_RULES'\n-i wg0 -j ACCEPT\n-s 10\.42\.0\.0\/16 -j ACCEPT\n-s 10\.43\.0\.0\/16 -j ACCEPT\nHI_RULES/);
        assert.match(mac, /hi_remove_managed_file "\$WG_SYSCTL"/);
    });

    it("install step calls the package manager only when a tool or the kernel module is missing", () => {
        const body = renderInstallBody({ interfaceName: "wg0", firewall: false });
        assert.match(body, /hi_ensure_cmd wg wireguard-tools wireguard-tools wireguard-tools\nhi_ensure_cmd wg-quick wireguard-tools wireguard-tools wireguard-tools\n/);
        assert.doesNotMatch(body, /iptables/);
        assert.match(body, /ip link add dev hi-wgprobe0 type wireguard/);
        assert.match(body, /elif command -v wireguard-go >\/dev\/null 2>&1; then[\s\S]*apt \| apk\) hi_pkg_install wireguard-go/);
        // Everything outside hi_ensure_cmd and the wireguard-go branch is a check, never an install.
        const installs = body.split("\n").filter((l) => /hi_pkg_install|apt-get|dnf install|apk add/.test(l));
        assert.deepEqual(installs, ["  hi_pkg_install iproute2", "    apt | apk) hi_pkg_install wireguard-go ;;"]);
        assert.match(renderInstallBody({ interfaceName: "wg0", firewall: true }), /hi_ensure_cmd iptables iptables iptables iptables/);
    });
});

describe("host firewall (issue 13 §4)", () => {
    const pubOf = (plan: ReturnType<typeof planOverlay>) => keysFor(plan.nodes.map((n) => n.name)).pub;

    it("opens exactly the overlay interface, the pod and service CIDRs and (public hosts, forwarders) the WireGuard port, per firewall kind", () => {
        const plan = planOverlay({ hosts: seedHosts() });
        const pub = pubOf(plan);
        // cloud-hub: a hub with an endpoint; cloud-peer: public, not a forwarder; home-mac: behind NAT, plain.
        assert.deepEqual(hostFirewallRules(interfaceSpecFromPlan(plan, "cloud-hub", pub)), {
            [FirewallKind.Iptables]: ["-i wg0 -j ACCEPT", "-s 10.42.0.0/16 -j ACCEPT", "-s 10.43.0.0/16 -j ACCEPT", "-p udp --dport 51820 -j ACCEPT"],
            [FirewallKind.Firewalld]: ["interface wg0", "source 10.42.0.0/16", "source 10.43.0.0/16", "port 51820/udp"],
            [FirewallKind.Ufw]: ["allow in on wg0", "allow from 10.42.0.0/16", "allow from 10.43.0.0/16", "allow 51820/udp"],
        });
        assert.deepEqual(hostFirewallRules(interfaceSpecFromPlan(plan, "cloud-peer", pub))[FirewallKind.Ufw], [
            "allow in on wg0",
            "allow from 10.42.0.0/16",
            "allow from 10.43.0.0/16",
            "allow 51820/udp",
        ]);
        assert.deepEqual(hostFirewallRules(interfaceSpecFromPlan(plan, "home-mac", pub)), {
            [FirewallKind.Iptables]: ["-i wg0 -j ACCEPT", "-s 10.42.0.0/16 -j ACCEPT", "-s 10.43.0.0/16 -j ACCEPT"],
            [FirewallKind.Firewalld]: ["interface wg0", "source 10.42.0.0/16", "source 10.43.0.0/16"],
            [FirewallKind.Ufw]: ["allow in on wg0", "allow from 10.42.0.0/16", "allow from 10.43.0.0/16"],
        });
    });

    it("follows the configured pod and service CIDRs, interface name and listen port (k3s.clusterCidr / k3s.serviceCidr reach the mesh as podCidr / serviceCidr)", () => {
        const plan = planOverlay({ hosts: seedHosts(), podCidr: "10.52.0.0/16", serviceCidr: "10.53.0.0/20", interfaceName: "hi0", listenPort: 51999 });
        assert.equal(plan.podCidr, "10.52.0.0/16");
        assert.equal(plan.serviceCidr, "10.53.0.0/20");
        assert.deepEqual(hostFirewallRules(interfaceSpecFromPlan(plan, "cloud-hub", pubOf(plan))), {
            [FirewallKind.Iptables]: ["-i hi0 -j ACCEPT", "-s 10.52.0.0/16 -j ACCEPT", "-s 10.53.0.0/20 -j ACCEPT", "-p udp --dport 51999 -j ACCEPT"],
            [FirewallKind.Firewalld]: ["interface hi0", "source 10.52.0.0/16", "source 10.53.0.0/20", "port 51999/udp"],
            [FirewallKind.Ufw]: ["allow in on hi0", "allow from 10.52.0.0/16", "allow from 10.53.0.0/20", "allow 51999/udp"],
        });
    });

    it("the config step detects the firewall and renders each kind's rules into its branch; every branch removes the other kinds' leftovers", () => {
        const plan = planOverlay({ hosts: seedHosts() });
        const body = renderConfigBody(interfaceSpecFromPlan(plan, "cloud-hub", pubOf(plan)));
        assert.match(body, /^WG_FW_RECORD=\/var\/lib\/hybridinfra\/firewalld-wg0$/m);
        assert.equal(firewalldRecordPath("wg0"), "/var/lib/hybridinfra/firewalld-wg0");
        assert.match(body, /^WG_FW_TAG=hybridinfra-wg0$/m);
        assert.match(body, new RegExp(`^WG_CHAIN_IN=${chainNames("wg0").input}$`, "m"));
        assert.match(body, /^HI_FW_KIND="\$\(hi_fw_kind\)"$/m);
        const branch = (kind: string): string => {
            const start = body.indexOf(`\n  ${kind})\n`, body.indexOf('case "$HI_FW_KIND" in'));
            assert.ok(start >= 0, `no ${kind} branch`);
            const from = start + kind.length + 5;
            return body.slice(from, body.indexOf("\n    ;;\n", from));
        };
        assert.equal(
            branch("firewalld"),
            [
                '    hi_wg_chain_remove filter INPUT "$WG_CHAIN_IN"',
                '    hi_ufw_remove "$WG_FW_TAG"',
                `    hi_fwd_apply "$WG_FW_RECORD" <<'HI_RULES'`,
                "interface wg0",
                "source 10.42.0.0/16",
                "source 10.43.0.0/16",
                "port 51820/udp",
                "HI_RULES",
            ].join("\n"),
        );
        assert.equal(
            branch("ufw"),
            [
                '    hi_wg_chain_remove filter INPUT "$WG_CHAIN_IN"',
                '    hi_fwd_remove "$WG_FW_RECORD"',
                `    hi_ufw_apply "$WG_FW_TAG" <<'HI_RULES'`,
                "allow in on wg0",
                "allow from 10.42.0.0/16",
                "allow from 10.43.0.0/16",
                "allow 51820/udp",
                "HI_RULES",
            ].join("\n"),
        );
        assert.equal(
            branch("*"),
            [
                '    hi_fwd_remove "$WG_FW_RECORD"',
                '    hi_ufw_remove "$WG_FW_TAG"',
                `    hi_wg_chain filter INPUT "$WG_CHAIN_IN" <<'HI_RULES'`,
                "-i wg0 -j ACCEPT",
                "-s 10.42.0.0/16 -j ACCEPT",
                "-s 10.43.0.0/16 -j ACCEPT",
                "-p udp --dport 51820 -j ACCEPT",
                "HI_RULES",
            ].join("\n"),
        );
        // Detection: firewalld when running, ufw when active, else plain iptables.
        assert.ok(
            body.includes(
                [
                    "  if command -v firewall-cmd >/dev/null 2>&1 && firewall-cmd --state >/dev/null 2>&1; then",
                    "    printf 'firewalld\\n'",
                    "  elif command -v ufw >/dev/null 2>&1 && LC_ALL=C ufw status 2>/dev/null | grep -q '^Status: active'; then",
                    "    printf 'ufw\\n'",
                    "  else",
                    "    printf 'iptables\\n'",
                ].join("\n"),
            ),
            "hi_fw_kind: firewalld when running, ufw when active, else iptables",
        );
        // firewalld: interfaces and sources in the trusted zone, the port in the public interface's zone, runtime and permanent.
        assert.match(body, /if \[ "\$kind" = port \]; then zone="\$public"; else zone=trusted; fi/);
        assert.match(body, /add\/interface \| add\/source\) set -- "\$@" "--zone=\$zone" "--change-\$kind=\$value"/);
        assert.match(body, /for p in --permanent --runtime; do/);
    });

    it("delete removes our chain, our ufw rules and the firewalld entries we recorded", () => {
        const del = renderConfigDeleteBody({ interfaceName: "wg0" });
        const tail = del.slice(del.indexOf("# --- end of firewall functions ---"));
        assert.match(tail, /hi_wg_chain_remove filter INPUT "\$WG_CHAIN_IN"\nhi_ufw_remove "\$WG_FW_TAG"\nhi_fwd_remove "\$WG_FW_RECORD"\n/);
        assert.match(del, /^WG_FW_RECORD=\/var\/lib\/hybridinfra\/firewalld-wg0$/m);
        assert.match(del, /^WG_FW_TAG=hybridinfra-wg0$/m);
    });
});

// Keep the helper honest: `wg` must be the real binary.
describe("test tooling", () => {
    it("uses the real wg", () => {
        assert.match(execFileSync("wg", ["--version"], { encoding: "utf8" }), /wireguard-tools/);
    });
});
