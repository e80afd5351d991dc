import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { connectionFor, remoteStep, renderHostScript, SshHostArgs, validateSshHosts, writeFileSnippet, secretPlaceholder } from "../../components/src/host";
import { record } from "../harness/mocks";
import { assertHostScript, assertShellcheck, assertShellcheckAll, extractProgram, shellcheck } from "../harness/shellcheck";
import { TEST_KEY } from "../harness/fixtures";

const CMD = "command:remote:Command";

class TestHostSetup extends pulumi.ComponentResource {
    constructor(name: string, hosts: SshHostArgs[], secret: pulumi.Input<string>, opts?: pulumi.ComponentResourceOptions) {
        super("test:index:TestHostSetup", name, {}, opts);
        validateSshHosts(hosts);
        const byName = new Map(hosts.map((h) => [h.name, h]));
        for (const h of hosts) {
            remoteStep(
                `${name}-${h.name}-motd`,
                {
                    host: h.name,
                    step: "motd",
                    connection: connectionFor(h, byName),
                    create: writeFileSnippet("/etc/motd.d/hybridinfra", `token=${secretPlaceholder("token")}\n`, "0600"),
                    delete: "hi_remove_managed_file /etc/motd.d/hybridinfra",
                    secrets: { token: secret },
                },
                { parent: this },
            );
        }
        this.registerOutputs({});
    }
}

const hosts: SshHostArgs[] = [
    { name: "cloud", address: "203.0.113.10", privateKey: TEST_KEY, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO0" },
    { name: "home", address: "192.168.50.10", port: 2222, user: "pi", privateKey: TEST_KEY, jumpHost: "cloud" },
];

describe("host step under the mock engine", () => {
    it("registers create and delete scripts, secret connection and stdin, in update mode", async () => {
        const secret = "s3cr3t-token-value";
        const rec = await record(() => new TestHostSetup("t", hosts, pulumi.secret(secret)));
        const steps = rec.byType(CMD);
        assert.deepEqual(steps.map((s) => s.name).sort(), ["t-cloud-motd", "t-home-motd"]);
        for (const s of steps) {
            assert.equal(s.parent, "t");
            const create = s.inputs.create as string;
            const program = extractProgram(create);
            assert.match(program, /^#!\/usr\/bin\/env bash\n/);
            assert.match(program, /set -euo pipefail/);
            assert.match(program, /\nhi_read_secrets\nhi_detect\nhi_write_file \/etc\/motd.d\/hybridinfra 0600 root:root '#' <<'HI_FILE_EOF'\ntoken=@@HI_SECRET:token@@\nHI_FILE_EOF\nhi_done$/);
            assert.equal(s.inputs.update, create, "update runs the same idempotent script: changes apply in place");
            assert.match(extractProgram(s.inputs.delete), /\nhi_detect\nhi_remove_managed_file \/etc\/motd.d\/hybridinfra\nhi_done$/);
            assert.ok(rec.isSecret(s, "connection"), "connection is secret");
            assert.ok(rec.isSecret(s, "stdin"), "stdin is secret");
            assert.equal(s.inputs.stdin, `token ${Buffer.from(secret).toString("base64")}\n`);
            assert.equal(s.inputs.logging, "stdoutAndStderr");
            for (const text of rec.plainStrings(s)) {
                assert.ok(!text.includes(secret), `secret leaked into a plain input of ${s.name}`);
                assert.ok(!text.includes(Buffer.from(secret).toString("base64")), `encoded secret leaked into ${s.name}`);
                assert.ok(!text.includes("PRIVATE KEY"), `private key leaked into ${s.name}`);
            }
            assertHostScript({ script: program, command: create }, s.name);
        }
        const home = rec.find(CMD, "t-home-motd");
        assert.equal(home.inputs.connection.host, "192.168.50.10");
        assert.equal(home.inputs.connection.port, 2222);
        assert.equal(home.inputs.connection.user, "pi");
        assert.equal(home.inputs.connection.proxy.host, "203.0.113.10");
        assert.equal(home.inputs.connection.proxy.hostKey, hosts[0].hostKey);
        const cloud = rec.find(CMD, "t-cloud-motd");
        assert.equal(cloud.inputs.connection.hostKey, hosts[0].hostKey);
        assert.equal(cloud.inputs.connection.user, "root");
        assert.equal(cloud.inputs.connection.port, 22);
    });

    it("registers the same component in preview mode, with unknown outputs", async () => {
        const rec = await record(() => new TestHostSetup("p", hosts, pulumi.secret("x")), { preview: true });
        assert.equal(rec.byType(CMD).length, 2);
        assert.equal(rec.byType("test:index:TestHostSetup").length, 1);
    });
});

describe("host validation", () => {
    const base: SshHostArgs = { name: "a", address: "198.51.100.1", privateKey: TEST_KEY };
    const cases: [string, SshHostArgs[], string][] = [
        [
            "empty host",
            [{ ...base, address: "" }],
            'hosts[0].ssh.address: is empty for host "a", got "". Fix: set the SSH address of the machine: a bare IPv4 or IPv6 address or DNS name, without a user or port (those are ssh.user and ssh.port)',
        ],
        [
            "port out of range",
            [{ ...base, port: 70000 }],
            "hosts[0].ssh.port: must be an integer from 1 to 65535, got 70000. Fix: use the port sshd listens on (22 by default)",
        ],
        [
            "port zero",
            [{ ...base, port: 0 }],
            "hosts[0].ssh.port: must be an integer from 1 to 65535, got 0. Fix: use the port sshd listens on (22 by default)",
        ],
        [
            "a key that is not a private key",
            [{ ...base, privateKey: "ssh-ed25519 AAAAC3Nza public key pasted by mistake" }],
            'hosts[0].ssh.privateKey: is not a PEM or OpenSSH private key (got 50 characters that do not start with "-----BEGIN … PRIVATE KEY-----"). Fix: set it from the key file, e.g. `pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`',
        ],
        [
            "unknown jump host",
            [base, { ...base, name: "b", jumpHost: "bastion" }],
            'hosts[1].ssh.jumpHost: refers to an unknown host "bastion". Fix: use the name of another host in hosts (known: a, b)',
        ],
        ["duplicate host", [base, { ...base }], 'hosts[1].name: duplicates hosts[0].name "a". Fix: give every host a unique name'],
    ];
    for (const [label, input, message] of cases) {
        it(`rejects ${label} before any resource is registered`, async () => {
            const rec = await record(() => {
                assert.throws(() => new TestHostSetup("v", input, "x"), (e: Error) => {
                    assert.equal(e.message, message);
                    return true;
                });
            });
            // The component's own registration happens in super(); validation must stop every host step.
            assert.equal(rec.byType(CMD).length, 0);
        });
    }
    it("never echoes a rejected key", () => {
        const key = "-----BEGIN PUBLIC KEY-----\nsecretish\n-----END PUBLIC KEY-----";
        assert.throws(() => validateSshHosts([{ ...base, privateKey: key }]), (e: Error) => !e.message.includes("secretish"));
    });
});

describe("rendered scripts", () => {
    it("pass shellcheck, and the check catches a broken script", () => {
        const s = renderHostScript({ host: "h", step: "demo", body: 'hi_ensure_cmd wg wireguard-tools wireguard-tools wireguard-tools\nhi_log "ok"' });
        assertHostScript(s, "demo");
        const broken = renderHostScript({ host: "h", step: "broken", body: "if [ $UNQUOTED = x ]; then\n  rm -rf $DIR/*\nfi" });
        assert.equal(shellcheck(broken.script).ok, false);
        assert.throws(() => assertShellcheck(broken.script, "broken"), /shellcheck failed for broken[\s\S]*SC2086/);
        // The batched check used for rendered stacks catches it too, and names the script.
        assert.doesNotThrow(() => assertShellcheckAll(new Map([["ok.sh", s.script]])));
        assert.throws(() => assertShellcheckAll(new Map([["ok.sh", s.script], ["hosts/x/broken.sh", broken.script]])), /hosts\/x\/broken\.sh:\d+:\d+: .*SC2086/);
    });
    it("uses a heredoc delimiter that the body cannot end early", () => {
        const s = renderHostScript({ host: "h", step: "x", body: "cat <<'HYBRIDINFRA_EOF'\nHYBRIDINFRA_EOF" });
        assert.match(s.command, /<<'HYBRIDINFRA_EOF_1'/);
        assert.equal(extractProgram(s.command), s.script.trimEnd());
    });
});
