// The overlay heals itself (issue 13 §8): every host's wg-config step installs a watchdog (a systemd timer or an
// OpenRC service) that brings the interface back when wireguard-go dies and starts a new handshake with a peer
// it dials when that peer (a hub) restarted and lost the session. The lab measures it (tests/lab/hubRestart);
// here: what is rendered, that systemd accepts the units, and the script's decisions against fake tools.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { HybridCluster, HybridClusterArgs } from "../../components/src/cluster";
import { renderWatchdogScript, watchdogIntervalSeconds, watchdogPaths, WgPeerSpec } from "../../components/src/wireguard";
import { record } from "../harness/mocks";
import { TEST_KEY } from "../harness/fixtures";
import { assertHostScript, assertShellcheck, extractProgram } from "../harness/shellcheck";
import { RENDER_OUTPUTS } from "../../tools/render-lib";

const CMD = "command:remote:Command";
const paths = watchdogPaths("wg0");

/** A public hub, a public agent, two home agents behind NAT. */
function hosts(keepalive?: number): Pick<HybridClusterArgs, "hosts"> & { overlay?: { kind: "wireguard"; keepalive: number } } {
    return {
        hosts: [
            { name: "cloud-hub", ssh: { address: "203.0.113.10" }, location: "cloud", publicEndpoint: "203.0.113.10", roles: ["hub", "server"] },
            { name: "cloud-2", ssh: { address: "203.0.113.20" }, location: "cloud", publicEndpoint: "203.0.113.20", roles: ["agent"] },
            { name: "home-1", ssh: { address: "192.168.50.11" }, location: "home", roles: ["agent"] },
            { name: "home-2", ssh: { address: "192.168.50.12" }, location: "home", roles: ["agent"] },
        ],
        ...(keepalive !== undefined ? { overlay: { kind: "wireguard", keepalive } } : {}),
    } as never;
}

async function render(keepalive?: number) {
    const args = { sshPrivateKey: pulumi.secret(TEST_KEY), ...hosts(keepalive) } as HybridClusterArgs;
    const rec = await record(() => new HybridCluster("c", args), { outputs: RENDER_OUTPUTS });
    const step = (host: string) => rec.find(CMD, `c-wg-${host}-wg-config`).inputs;
    return {
        program: (host: string) => extractProgram(step(host).create as string),
        command: (host: string) => step(host).create as string,
        deleteProgram: (host: string) => extractProgram(step(host).delete as string),
    };
}

/** The content a `hi_write_file <path>` heredoc writes, from a rendered program. */
function fileIn(program: string, filePath: string): string {
    const m = new RegExp(`hi_write_file ${filePath.replace(/[.]/g, "\\.")} [^\\n]*<<'(HI_FILE_EOF[A-Z_0-9]*)'\\n([\\s\\S]*?)\\n\\1\\n`).exec(program);
    assert.ok(m, `${filePath} is not written`);
    return `${m[2]}\n`;
}

describe("watchdog: what every wg-config step installs", () => {
    it("every host gets the script; a spoke's script probes the hub at its overlay address, the hub's probes the public spoke it dials", async () => {
        const r = await render();
        for (const h of ["cloud-hub", "cloud-2", "home-1", "home-2"]) {
            assert.ok(r.program(h).includes(`hi_write_file ${paths.script} 0755 root:root '' <<'HI_FILE_EOF'`), `${h} writes the watchdog`);
            assertHostScript({ script: r.program(h), command: r.command(h) }, `${h}/wg-config`);
        }
        const spoke = fileIn(r.program("home-1"), paths.script);
        assert.match(spoke, /<<'HI_PEERS'\ncloud-hub [A-Za-z0-9+/]{43}= 10\.100\.0\.\d+\nHI_PEERS\n/);
        const hub = fileIn(r.program("cloud-hub"), paths.script);
        // The hub has no endpoint for NAT'd spokes: it dials (and probes) cloud-2 only.
        assert.match(hub, /<<'HI_PEERS'\ncloud-2 [A-Za-z0-9+/]{43}= 10\.100\.0\.\d+\nHI_PEERS\n/);
        assertShellcheck(spoke, "watchdog script");
    });

    it("the interval follows the keepalive: 20 s with the default 25 s keepalive, 10 s with keepalive 10; at least 2 s", async () => {
        assert.match(fileIn((await render()).program("home-1"), paths.timer), /\nOnUnitActiveSec=20\nAccuracySec=1s\n/);
        assert.match(fileIn((await render(10)).program("home-1"), paths.timer), /\nOnUnitActiveSec=10\n/);
        const peer = (k?: number): WgPeerSpec => ({ name: "hub", publicKey: "K", allowedIps: [], presharedKey: false, ...(k !== undefined ? { persistentKeepalive: k } : {}) });
        assert.deepEqual([undefined, 1, 2, 5, 25, 300].map((k) => watchdogIntervalSeconds({ peers: [peer(k)] })), [20, 2, 2, 5, 20, 20]);
        // Worst case after a hub restart: one interval, two 1 s pings, a handshake: within keepalive + 5 s.
        for (const k of [1, 2, 5, 10, 25, 60]) assert.ok(watchdogIntervalSeconds({ peers: [peer(k)] }) + 2 + 1 < k + 5, `keepalive ${k}`);
    });

    it("systemd accepts the service and timer (systemd-analyze verify)", { skip: spawnSync("systemd-analyze", ["--version"]).error ? "systemd-analyze is not installed" : false }, async () => {
        const program = (await render()).program("home-1");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wg-watchdog-"));
        try {
            const script = path.join(dir, "watchdog");
            fs.writeFileSync(script, fileIn(program, paths.script), { mode: 0o755 });
            const service = fileIn(program, paths.service);
            assert.match(service, /\nType=oneshot\nExecStart=\/usr\/local\/sbin\/hybridinfra-wg-watchdog-wg0\n/);
            // ExecStart must exist for verify: the same unit, pointing at the script written here.
            fs.writeFileSync(path.join(dir, `${paths.unit}.service`), service.replace(paths.script, script));
            fs.writeFileSync(path.join(dir, `${paths.unit}.timer`), fileIn(program, paths.timer));
            const res = spawnSync("systemd-analyze", ["verify", "--man=no", path.join(dir, `${paths.unit}.timer`), path.join(dir, `${paths.unit}.service`)], { encoding: "utf8" });
            assert.equal(res.status, 0, `${res.stdout}${res.stderr}`);
            assert.doesNotMatch(`${res.stdout}${res.stderr}`, /hybridinfra-wg-watchdog/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("OpenRC: a supervised service runs the script with --every; without an init system the step says how to run it", async () => {
        const program = (await render()).program("home-1");
        const openrc = fileIn(program, paths.openrc);
        assert.match(openrc, /^#!\/sbin\/openrc-run\n/);
        assert.match(openrc, /\nsupervisor=supervise-daemon\ncommand=\/usr\/local\/sbin\/hybridinfra-wg-watchdog-wg0\ncommand_args="--every 20"\n/);
        assert.match(program, /hi_service_enable hybridinfra-wg-watchdog-wg0/);
        assert.match(program, /hi_warn "no init system: run '\/usr\/local\/sbin\/hybridinfra-wg-watchdog-wg0 --every 20' in the background/);
    });

    it("the delete stops the watchdog before it takes the interface down, and removes its files", async () => {
        const del = (await render()).deleteProgram("home-1");
        const stop = del.indexOf("systemctl disable --now hybridinfra-wg-watchdog-wg0.timer");
        assert.ok(stop > 0 && stop < del.indexOf('wg-quick down "$WG_IF"'), "the watchdog stops first");
        assert.ok(del.includes(`for f in ${paths.timer} ${paths.service} ${paths.openrc} ${paths.script}; do`));
    });
});

describe("watchdog script against fake wg, ip, ping and wg-quick", () => {
    const HUB_KEY = "H".repeat(43) + "=";
    const script = renderWatchdogScript("wg0", [{ name: "hub", publicKey: HUB_KEY, endpoint: "203.0.113.10:51820", address: "10.100.0.1", allowedIps: ["10.100.0.0/24"], persistentKeepalive: 25, presharedKey: false }]);

    /** Runs the script once with fake tools; `state` files drive them; returns its output and the tools' calls. */
    function run(state: { link: boolean; handshake: number; answers: boolean; answersAfterReadd?: boolean }): { out: string; calls: string[]; status: number | null } {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wg-watchdog-run-"));
        try {
            const bin = path.join(dir, "bin");
            fs.mkdirSync(bin);
            const fake = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/usr/bin/env bash\nS=${dir}\necho "${name} $*" >>"$S/calls"\n${body}\n`, { mode: 0o755 });
            if (state.link) fs.writeFileSync(path.join(dir, "link"), "");
            if (state.answers) fs.writeFileSync(path.join(dir, "answers"), "");
            fake("ip", '[ -e "$S/link" ]');
            fake("wg-quick", 'touch "$S/link"');
            fake("ping", '[ -e "$S/answers" ]');
            fake(
                "wg",
                [
                    'case "$1 $3" in',
                    `  "show latest-handshakes") printf '%s\\t%s\\n' ${HUB_KEY} ${state.handshake} ;;`,
                    `  "showconf "*) printf '[Interface]\\nListenPort = 51820\\nPrivateKey = secret\\n\\n[Peer]\\nPublicKey = ${HUB_KEY}\\nAllowedIPs = 10.100.0.0/24\\nEndpoint = 203.0.113.10:51820\\nPersistentKeepalive = 25\\n' ;;`,
                    `  "addconf "*) cat "$3" >"$S/added"; ${state.answersAfterReadd ? 'touch "$S/answers"' : "true"} ;;`,
                    "esac",
                ].join("\n"),
            );
            // The config file the interface is brought up from.
            const conf = path.join(dir, "wg0.conf");
            fs.writeFileSync(conf, "[Interface]\n");
            const text = script.replace("CONF=/etc/wireguard/wg0.conf", `CONF=${conf}`);
            const res = spawnSync("bash", ["-c", text, "watchdog"], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
            const calls = fs.existsSync(path.join(dir, "calls")) ? fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n") : [];
            const added = fs.existsSync(path.join(dir, "added")) ? fs.readFileSync(path.join(dir, "added"), "utf8") : undefined;
            if (added !== undefined) assert.equal(added, `[Peer]\nPublicKey = ${HUB_KEY}\nAllowedIPs = 10.100.0.0/24\nEndpoint = 203.0.113.10:51820\nPersistentKeepalive = 25\n`, "the peer goes back with its own settings only");
            return { out: res.stdout + res.stderr, calls, status: res.status };
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }

    it("a healthy overlay: one ping, nothing repaired, nothing printed", () => {
        const r = run({ link: true, handshake: 1_700_000_000, answers: true });
        assert.deepEqual([r.out, r.status], ["", 0]);
        assert.deepEqual(r.calls.filter((c) => c.startsWith("wg set") || c.startsWith("wg-quick")), []);
    });

    it("the hub restarted (a handshake before, no answer now): the peer is removed and added back, and the repair is reported", () => {
        const r = run({ link: true, handshake: Math.floor(Date.now() / 1000) - 40, answers: false, answersAfterReadd: true });
        assert.equal(r.status, 0);
        assert.ok(r.calls.includes(`wg set wg0 peer ${HUB_KEY} remove`), r.calls.join("\n"));
        assert.ok(r.calls.some((c) => c.startsWith("wg addconf wg0 ")));
        assert.match(r.out, /^hybridinfra-wg-watchdog wg0: repaired: peer hub \(10\.100\.0\.1\) stopped answering 4\d s after the last handshake \(it restarted\?\); re-added it: a new handshake completed, it answers\n$/);
    });

    it("no handshake yet (the hub is down, or new): nothing is removed, WireGuard is handshaking already", () => {
        const r = run({ link: true, handshake: 0, answers: false });
        assert.deepEqual([r.out, r.status], ["", 0]);
        assert.ok(!r.calls.some((c) => c.startsWith("wg set")));
    });

    it("the interface is gone (wireguard-go died): wg-quick up brings it back, and that is reported", () => {
        const r = run({ link: false, handshake: 0, answers: false });
        assert.equal(r.status, 0);
        assert.ok(r.calls.includes("wg-quick up wg0"));
        assert.match(r.out, /^hybridinfra-wg-watchdog wg0: repaired: wg0 was gone \(its WireGuard process died or the interface was deleted\); brought it up with wg-quick up\n$/);
    });
});
