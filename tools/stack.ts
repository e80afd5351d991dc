/**
 * Reads a shipped stack file (`stacks/Pulumi.<stack>.yaml`) into the flat config map Pulumi hands a
 * program, so the program can run in-process under the mock engine (offline render, tests, benchmark).
 * A tool, not part of the program: `pulumi up` never loads it (nor js-yaml, a devDependency).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { PROJECT } from "../infra/project";

export { PROJECT };
export const STACKS_DIR = path.join(__dirname, "..", "stacks");

/** Secret config keys the program reads, with the placeholder used when running offline. */
export const SECRET_KEYS = ["sshPrivateKey", "tailscaleAuthKey", "datastoreEndpoint", "cloudflareApiToken"] as const;

/** The placeholder for a secret config key; `key` "sshPrivateKey" makes it key-shaped (for any `privateKeyConfig` key, named `name`). */
export function placeholderSecret(key: string, name = key): string {
    if (key === "sshPrivateKey" || key.startsWith("sshPrivateKey")) {
        return `-----BEGIN OPENSSH PRIVATE KEY-----\nPLACEHOLDER-${name}-not-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n`;
    }
    if (key === "datastoreEndpoint") return "mysql://k3s:PLACEHOLDER-datastore-password@tcp(192.168.50.5:3306)/k3s";
    return `PLACEHOLDER-${key}-secret-value`;
}

export function listStacks(): string[] {
    return fs
        .readdirSync(STACKS_DIR)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

export interface LoadedStack {
    readonly name: string;
    /** `project:key` → value as Pulumi passes it (objects as JSON text). */
    readonly config: Record<string, string>;
    /** Config keys that are secrets. */
    readonly secretKeys: string[];
}

/**
 * Loads a stack's config and fills every secret the program may read with an obvious placeholder
 * (stack files never hold secrets; see the `pulumi config set --secret` lines at their top).
 */
export function loadStack(name: string, extra: Record<string, string> = {}, dir = STACKS_DIR): LoadedStack {
    const file = path.join(dir, `Pulumi.${name}.yaml`);
    if (!fs.existsSync(file)) {
        throw new Error(`no stack ${JSON.stringify(name)}: ${file} does not exist (shipped stacks: ${listStacks().join(", ")})`);
    }
    const doc = (yaml.load(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    const config: Record<string, string> = {};
    // A value `pulumi config set --secret` wrote is `{ secure: <ciphertext> }`: offline it stays unread, and the
    // key gets the placeholder below like any other secret.
    const isEncrypted = (v: unknown) => typeof v === "object" && v !== null && Object.keys(v).length === 1 && "secure" in v;
    for (const [k, v] of Object.entries(doc.config ?? {})) {
        if (isEncrypted(v)) continue;
        const key = k.includes(":") ? k : `${PROJECT}:${k}`;
        config[key] = typeof v === "string" ? v : JSON.stringify(v);
    }
    const secretKeys: string[] = [];
    const cluster = JSON.parse(config[`${PROJECT}:cluster`] ?? "{}") as {
        hosts?: { ssh?: { privateKeyConfig?: string } }[];
        apps?: { secretEnv?: Record<string, string> }[];
        k3s?: { backup?: { s3?: { secretKeyConfig?: string } } };
    };
    const wanted = new Set<string>(SECRET_KEYS);
    const keyConfigs = new Set<string>();
    for (const h of cluster.hosts ?? []) if (h.ssh?.privateKeyConfig) keyConfigs.add(h.ssh.privateKeyConfig);
    for (const k of keyConfigs) wanted.add(k);
    for (const a of cluster.apps ?? []) for (const k of Object.values(a.secretEnv ?? {})) wanted.add(k);
    // k3s.backup.s3's secret access key (infra/backup.ts reads it from this config key).
    if (cluster.k3s?.backup?.s3 !== undefined) wanted.add(cluster.k3s.backup.s3.secretKeyConfig ?? "backupS3SecretKey");
    for (const k of wanted) {
        const key = `${PROJECT}:${k}`;
        if (!(key in config)) config[key] = keyConfigs.has(k) ? placeholderSecret("sshPrivateKey", k) : placeholderSecret(k);
        secretKeys.push(key);
    }
    for (const [k, v] of Object.entries(extra)) config[k.includes(":") ? k : `${PROJECT}:${k}`] = v;
    return { name, config, secretKeys };
}
