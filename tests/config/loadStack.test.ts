/**
 * The offline loader (`npm run render`, tests) on stack files as a user has them after the quick start:
 * `pulumi config set --secret` writes `{ secure: … }` values, and hosts may name their own key configs.
 */
import * as assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { loadStack, PROJECT } from "../../tools/stack";
import { validatePrivateKey } from "../../components/src";

function withStack(yaml: string, fn: (dir: string) => void): void {
    const dir = mkdtempSync(path.join(tmpdir(), "hil-stack-"));
    try {
        writeFileSync(path.join(dir, "Pulumi.mine.yaml"), yaml);
        fn(dir);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

const cluster = (sshExtra: string) => `  hybrid-infra:cluster:
    hosts:
      - name: a
        ssh: { address: 203.0.113.10${sshExtra} }
        location: tokyo
        roles: [hub, server]
`;

describe("loadStack on a user's stack file", () => {
    it("an encrypted value (`pulumi config set --secret`) is never read: the key gets its placeholder", () => {
        withStack(`encryptionsalt: v1:abc\nconfig:\n  hybrid-infra:sshPrivateKey:\n    secure: v1:AAAA0123456789abcdef\n${cluster("")}`, (dir) => {
            const s = loadStack("mine", {}, dir);
            const key = s.config[`${PROJECT}:sshPrivateKey`];
            assert.ok(!key.includes("secure"), key);
            assert.doesNotThrow(() => validatePrivateKey("sshPrivateKey", key));
            assert.ok(s.secretKeys.includes(`${PROJECT}:sshPrivateKey`));
        });
    });

    it("a host's privateKeyConfig key gets a key-shaped placeholder named after it", () => {
        withStack(`config:\n${cluster(", privateKeyConfig: key2")}`, (dir) => {
            const s = loadStack("mine", {}, dir);
            const key = s.config[`${PROJECT}:key2`];
            assert.match(key, /PLACEHOLDER-key2-not-a-real-key/);
            assert.doesNotThrow(() => validatePrivateKey("key2", key));
        });
    });

    it("k3s.backup.s3's secret key config (default backupS3SecretKey, or the one secretKeyConfig names) gets a placeholder, as the render needs", () => {
        const withBackup = (s3: string) => `config:\n${cluster("")}    k3s:\n      backup:\n        s3: { ${s3} }\n`;
        withStack(withBackup("bucket: b, accessKey: AK"), (dir) => {
            const s = loadStack("mine", {}, dir);
            assert.equal(s.config[`${PROJECT}:backupS3SecretKey`], "PLACEHOLDER-backupS3SecretKey-secret-value");
            assert.ok(s.secretKeys.includes(`${PROJECT}:backupS3SecretKey`));
        });
        withStack(withBackup("bucket: b, accessKey: AK, secretKeyConfig: b2Key"), (dir) => {
            const s = loadStack("mine", {}, dir);
            assert.equal(s.config[`${PROJECT}:b2Key`], "PLACEHOLDER-b2Key-secret-value");
            assert.equal(s.config[`${PROJECT}:backupS3SecretKey`], undefined);
        });
    });
});

describe("the program's runtime path", () => {
    it("`pulumi up` loads no tool: the offline loader (tools/stack.ts) and js-yaml, a devDependency, stay out of infra/", () => {
        const repo = path.resolve(__dirname, "..", "..");
        // What infra/index.ts pulls in, as the language host loads it: every module file, and who required js-yaml.
        const probe = [
            `require(${JSON.stringify(path.join(repo, "infra", "program.ts"))});`,
            "const mods = Object.values(require.cache);",
            `const ours = mods.filter((m) => m.id.startsWith(${JSON.stringify(repo + path.sep)}) && !m.id.includes("node_modules"));`,
            "console.log(JSON.stringify({ ours: ours.map((m) => m.id), yamlFromOurs: ours.filter((m) => m.children.some((c) => c.id.includes(`${require('path').sep}js-yaml${require('path').sep}`))).map((m) => m.id) }));",
        ].join("\n");
        const res = spawnSync(process.execPath, ["--import", "tsx", "-e", probe], { cwd: repo, encoding: "utf8" });
        assert.equal(res.status, 0, res.stderr);
        const { ours, yamlFromOurs } = JSON.parse(res.stdout.trim().split("\n").pop()!) as { ours: string[]; yamlFromOurs: string[] };
        assert.ok(ours.some((m) => m.endsWith(path.join("infra", "program.ts"))), "the probe loaded the program");
        assert.deepEqual(ours.filter((m) => m.includes(`${path.sep}tools${path.sep}`)), [], "no tool module on the program's path");
        assert.deepEqual(yamlFromOurs, [], "none of our modules requires js-yaml");
    });
});
