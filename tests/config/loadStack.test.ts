/**
 * The offline loader (`npm run render`, tests) on stack files as a user has them after the quick start:
 * `pulumi config set --secret` writes `{ secure: … }` values, and hosts may name their own key configs.
 */
import * as assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { loadStack, PROJECT } from "../../infra/stack";
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
        ssh: { host: 203.0.113.10${sshExtra} }
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
