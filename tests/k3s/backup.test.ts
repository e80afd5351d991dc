/**
 * k3s.backup (issue 17 §3): cron handling, validation per datastore, the etcd flags in config.yaml, the sqlite
 * k3s-backup step (mock engine, shellcheck) and the backup script itself run against a real SQLite database
 * (sqlite3 from tools/setup.sh). The same script over SSH on a lab host: tests/lab/backup.test.ts.
 */
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { renderHostScript } from "../../components/src/host";
import {
    configKeys,
    cronToOnCalendar,
    Datastore,
    DEFAULT_BACKUP_SCHEDULE,
    etcdBackupEntries,
    K3S_SERVER_FLAGS,
    K3sCluster,
    K3sClusterArgs,
    KUBECONFIG_BEGIN,
    KUBECONFIG_END,
    k3sClusterInternals,
    k3sServerInternals,
    NodeRole,
    parseCron,
    planEtcdBackup,
    planNodeConfig,
    planSqliteBackup,
    renderK3sConfig,
    renderSqliteBackupDelete,
    renderSqliteBackupEnv,
    renderSqliteBackupStep,
    SQLITE_BACKUP_SH,
    validateK3sBackup,
    validateK3sCluster,
} from "../../components/src/k3s";
import { k3sArgsFromConfig } from "../../infra/backup";
import { parseClusterConfig } from "../../infra/config";
import { record } from "../harness/mocks";
import { assertHostScript, assertShellcheck, extractProgram } from "../harness/shellcheck";
import { agent, DSN, server } from "./fixtures";

const CMD = "command:remote:Command";
/** The kubeconfig step's stdout, faked (as in cluster.test.ts). */
const outputs = {
    [CMD]: ({ name }: { name: string }) =>
        name.endsWith("-k3s-kubeconfig")
            ? { stdout: `${KUBECONFIG_BEGIN}\napiVersion: v1\nclusters:\n- cluster:\n    server: https://127.0.0.1:6443\n  name: default\n${KUBECONFIG_END}\n`, stderr: "" }
            : { stdout: "", stderr: "" },
};
const S3_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCY\"q\\uote";

function errorOf(fn: () => unknown): string {
    try {
        fn();
    } catch (e) {
        return (e as Error).message;
    }
    return "(no error)";
}

describe("k3s.backup: cron", () => {
    it("parses the five fields into the values they match", () => {
        assert.deepEqual(parseCron("0 */12 * * *"), [[0], [0, 12], Array.from({ length: 31 }, (_, i) => i + 1), Array.from({ length: 12 }, (_, i) => i + 1), [0, 1, 2, 3, 4, 5, 6]]);
        assert.deepEqual((parseCron("5,35 1-5/2 * * 1-5,7") as number[][]).filter((_, i) => i !== 2 && i !== 3), [[5, 35], [1, 3, 5], [0, 1, 2, 3, 4, 5]]);
        assert.equal(parseCron("0 */12 * *"), "has 4 fields, not 5 (minute hour day-of-month month day-of-week)");
        assert.equal(parseCron("60 * * * *"), 'has a minute field "60" is outside 0-59');
        assert.equal(parseCron("0 5/2 * * *"), 'has a hour field "5/2" steps from a single value (write a range, e.g. 5-23/2)');
        assert.equal(parseCron("0 0 * * MON"), 'has a day of week field "MON" is not a number, *, a range a-b, a step /n or a list of these');
    });

    it("converts to a systemd OnCalendar expression", () => {
        assert.equal(cronToOnCalendar(DEFAULT_BACKUP_SCHEDULE), "*-*-* 00/12:00:00");
        assert.equal(cronToOnCalendar("30 3 * * *"), "*-*-* 03:30:00");
        assert.equal(cronToOnCalendar("*/15 * * * *"), "*-*-* *:00/15:00");
        assert.equal(cronToOnCalendar("0 4 * * 0,6"), "Sun,Sat *-*-* 04:00:00");
        assert.equal(cronToOnCalendar("0 4 * * 7"), "Sun *-*-* 04:00:00");
        assert.equal(cronToOnCalendar("0 2 1 */3 *"), "*-01/3-01 02:00:00");
        assert.equal(cronToOnCalendar("10 1-5/2 * * *"), "*-*-* 01,03,05:10:00");
    });

    it("systemd itself accepts each OnCalendar expression and agrees on the next runs (systemd-analyze calendar)", { skip: spawnSync("systemd-analyze", ["--version"]).error ? "systemd-analyze is not installed" : false }, () => {
        const cases: [string, string][] = [
            [DEFAULT_BACKUP_SCHEDULE, "*-*-* 00/12:00:00"],
            ["30 3 * * *", "*-*-* 03:30:00"],
            ["0 4 * * 0,6", "Sat,Sun *-*-* 04:00:00"],
            ["0 2 1 */3 *", "*-01/3-01 02:00:00"],
        ];
        for (const [cron, normalized] of cases) {
            const res = spawnSync("systemd-analyze", ["calendar", cronToOnCalendar(cron)], { encoding: "utf8" });
            assert.equal(res.status, 0, `${cron}: ${res.stderr}`);
            assert.match(res.stdout, new RegExp(`Normalized form: ${normalized.replace(/[*/]/g, "\\$&")}\\n`), `${cron}: ${res.stdout}`);
        }
    });
});

describe("k3s.backup: validation", () => {
    const nodes = (n: number) => Array.from({ length: n }, (_, i) => server(`s${i + 1}`, `10.100.0.${i + 1}`));
    const args = (backup: K3sClusterArgs["backup"], datastore?: Datastore, servers = 1): K3sClusterArgs => ({
        interfaceName: "wg0",
        nodes: nodes(servers),
        ...(datastore !== undefined ? { datastore } : {}),
        ...(datastore === Datastore.External ? { datastoreEndpoint: DSN } : {}),
        backup,
    });

    it("refuses backups with an external datastore: the database owns them", () => {
        assert.equal(
            errorOf(() => validateK3sCluster(args({}, Datastore.External, 2))),
            'k3s.backup: is set but k3s.datastore is "external": the cluster state lives in your database, which k3s cannot back up and HybridInfra does not reach. Fix: remove k3s.backup and back up the database with its own tools (mysqldump or mariadb-backup, pg_dump or pgBackRest, etcdutl snapshot save, or your provider\'s automated snapshots)',
        );
    });

    it("names the key, the value and the fix for each bad setting", () => {
        assert.equal(
            errorOf(() => validateK3sCluster(args({ schedule: "every day" }))),
            'k3s.backup.schedule: has 2 fields, not 5 (minute hour day-of-month month day-of-week), got "every day". Fix: write a 5-field cron expression (minute hour day-of-month month day-of-week), e.g. "0 */12 * * *" (every 12 hours) or "30 3 * * *" (daily at 03:30)',
        );
        assert.match(
            errorOf(() => validateK3sCluster(args({ schedule: "0 3 1 * 1" }))),
            /^k3s\.backup\.schedule: restricts both the day of month and the day of week, which cron takes as either-or and a systemd timer as both, got "0 3 1 \* 1"\. Fix: /,
        );
        // etcd takes the same expression (k3s's cron has cron's either-or), so only sqlite refuses it.
        assert.doesNotThrow(() => validateK3sCluster(args({ schedule: "0 3 1 * 1" }, Datastore.Etcd, 3)));
        assert.equal(
            errorOf(() => validateK3sCluster(args({ retention: 0 }))),
            "k3s.backup.retention: must be a whole number from 1 to 1000, got 0. Fix: use the number of backups to keep, e.g. 5 (the default)",
        );
        assert.match(errorOf(() => validateK3sCluster(args({ dir: "/var/../etc" }))), /^k3s\.backup\.dir: is not an absolute directory path/);
        assert.equal(
            errorOf(() => validateK3sCluster(args({ s3: { bucket: "My_Bucket" } }, Datastore.Etcd, 3))),
            'k3s.backup.s3.bucket: is not an S3 bucket name, got "My_Bucket". Fix: use the existing bucket\'s name: 3 to 63 lowercase letters, digits, \'.\' and \'-\'',
        );
        assert.match(errorOf(() => validateK3sCluster(args({ s3: { bucket: "b1b", endpoint: "https://minio:9000" } }, Datastore.Etcd, 3))), /^k3s\.backup\.s3\.endpoint: must be host or host:port without scheme or path, got "https:\/\/minio:9000"/);
        assert.equal(
            errorOf(() => validateK3sCluster(args({ s3: { bucket: "b1b", accessKey: "AKIA1" } }, Datastore.Etcd, 3))),
            "k3s.backup.s3.secretKey: is missing but accessKey is set. Fix: set the secret access key as a secret: `pulumi config set --secret backupS3SecretKey <secret key>`",
        );
        assert.match(errorOf(() => validateK3sCluster(args({ s3: { bucket: "b1b" } }))), /^k3s\.backup\.s3\.accessKey: is missing; with k3s\.datastore "sqlite" the backup script signs its uploads itself/);
        // etcd without keys: k3s falls back to the host's AWS credentials.
        assert.doesNotThrow(() => validateK3sCluster(args({ s3: { bucket: "b1b" } }, Datastore.Etcd, 3)));
    });
});

describe("k3s.backup with etcd: k3s's own snapshot flags in each server's config.yaml", () => {
    const backup = { schedule: "0  */6 * * *", retention: 10, dir: "/srv/k3s-snapshots", s3: { endpoint: "minio.lan:9000", bucket: "k3s-backups", region: "eu-west-1", folder: "home/cluster", accessKey: "AKIAEXAMPLE", secretKey: "x", insecure: true } };

    it("renders exactly the settings given, the secret key as a placeholder, every key a k3s server flag", () => {
        const plan = planEtcdBackup(backup);
        assert.deepEqual(etcdBackupEntries(plan), [
            ["etcd-snapshot-schedule-cron", "0 */6 * * *"],
            ["etcd-snapshot-retention", "10"],
            ["etcd-snapshot-dir", "/srv/k3s-snapshots"],
            ["etcd-s3", true],
            ["etcd-s3-endpoint", "minio.lan:9000"],
            ["etcd-s3-bucket", "k3s-backups"],
            ["etcd-s3-region", "eu-west-1"],
            ["etcd-s3-folder", "home/cluster"],
            ["etcd-s3-access-key", "AKIAEXAMPLE"],
            ["etcd-s3-secret-key", "@@HI_SECRET:k3s_backup_s3_secret_key@@"],
            ["etcd-s3-insecure", true],
        ]);
        for (const [k] of etcdBackupEntries(plan)) assert.ok(K3S_SERVER_FLAGS.includes(k), `${k} is a k3s server flag`);
        const yaml = renderK3sConfig(planNodeConfig({ role: NodeRole.Server, node: { name: "s1", location: "tokyo" }, nodeIp: "10.100.0.1", interfaceName: "wg0", clusterInit: true, etcdBackup: plan }));
        assert.match(
            yaml,
            /\netcd-snapshot-schedule-cron: "0 \*\/6 \* \* \*"\netcd-snapshot-retention: "10"\netcd-snapshot-dir: "\/srv\/k3s-snapshots"\netcd-s3: true\netcd-s3-endpoint: "minio.lan:9000"\netcd-s3-bucket: "k3s-backups"\netcd-s3-region: "eu-west-1"\netcd-s3-folder: "home\/cluster"\netcd-s3-access-key: "AKIAEXAMPLE"\netcd-s3-secret-key: "@@HI_SECRET:k3s_backup_s3_secret_key@@"\netcd-s3-insecure: true\n/,
        );
        // backup: {} keeps k3s's defaults (every 12 h, 5 kept): nothing to render, no restart of running servers.
        assert.deepEqual(etcdBackupEntries(planEtcdBackup({})), []);
    });

    it("mock engine: every server's config step carries the S3 key on stdin only (escaped for YAML); agents get nothing", async () => {
        const args: K3sClusterArgs = {
            interfaceName: "wg0",
            datastore: Datastore.Etcd,
            nodes: [server("tokyo-1", "10.100.0.1"), server("tokyo-2", "10.100.0.2"), server("tokyo-3", "10.100.0.3"), agent("home-pc", "10.100.0.20")],
            backup: { ...backup, s3: { ...backup.s3, secretKey: pulumi.secret(S3_SECRET) } },
        };
        const rec = await record(() => new K3sCluster("c", args), { outputs });
        for (const s of ["tokyo-1", "tokyo-2", "tokyo-3"]) {
            const step = rec.byName(`c-${s}-k3s-config`);
            const program = extractProgram(step.inputs.create);
            assert.match(program, /\netcd-s3-secret-key: "@@HI_SECRET:k3s_backup_s3_secret_key@@"\n/);
            const line = (step.inputs.stdin as string).split("\n").find((l) => l.startsWith("k3s_backup_s3_secret_key "))!;
            assert.equal(Buffer.from(line.split(" ")[1], "base64").toString("utf8"), JSON.stringify(S3_SECRET).slice(1, -1));
        }
        assert.doesNotMatch(extractProgram(rec.byName("c-home-pc-k3s-config").inputs.create), /etcd-/);
        assert.ok(!(rec.byName("c-home-pc-k3s-config").inputs.stdin as string).includes("k3s_backup"));
        assert.equal(rec.byType(CMD).filter((r) => r.name.endsWith("-k3s-backup")).length, 0, "etcd needs no backup step: k3s snapshots itself");
        for (const r of rec.resources) for (const t of rec.plainStrings(r)) assert.ok(!t.includes("wJalrXUtnFEMI"), `the S3 secret leaked into a plain input of ${r.name}`);
    });
});

describe("k3s.backup with sqlite: the k3s-backup step", () => {
    const plan = planSqliteBackup("tokyo-1", { retention: 3, s3: { bucket: "k3s-backups", endpoint: "s3.eu-central-003.backblazeb2.com", region: "eu-central-003", accessKey: "K003EXAMPLE", secretKey: "x" } });

    it("plans the defaults and renders the script's settings file", () => {
        assert.deepEqual(planSqliteBackup("n", {}), { node: "n", schedule: "0 */12 * * *", retention: 5, dir: "/var/lib/rancher/k3s/server/db/snapshots", db: "/var/lib/rancher/k3s/server/db/state.db" });
        assert.equal(
            renderSqliteBackupEnv(plan),
            [
                "# k3s.backup of tokyo-1: read by /usr/local/sbin/hybridinfra-k3s-backup",
                "BACKUP_DB=/var/lib/rancher/k3s/server/db/state.db",
                "BACKUP_DIR=/var/lib/rancher/k3s/server/db/snapshots",
                "BACKUP_NODE=tokyo-1",
                "BACKUP_RETENTION=3",
                "S3_ENDPOINT=s3.eu-central-003.backblazeb2.com",
                "S3_BUCKET=k3s-backups",
                "S3_REGION=eu-central-003",
                "S3_FOLDER=''",
                "S3_ACCESS_KEY=K003EXAMPLE",
                "S3_SECRET_KEY_FILE=/etc/rancher/k3s/hybridinfra-backup-s3-secret",
                "S3_INSECURE=false",
                "",
            ].join("\n"),
        );
    });

    it("the step and its delete pass shellcheck; the timer runs on the schedule and catches up after a power cut", () => {
        const create = renderSqliteBackupStep(plan);
        assertHostScript(renderHostScript({ host: "tokyo-1", step: "k3s-backup", body: create, readsSecrets: true }), "k3s-backup");
        assertHostScript(renderHostScript({ host: "tokyo-1", step: "k3s-backup-delete", body: renderSqliteBackupDelete() }), "k3s-backup delete");
        assertShellcheck(SQLITE_BACKUP_SH, "k3s-sqlite-backup.sh");
        assert.match(create, /\nOnCalendar=\*-\*-\* 00\/12:00:00\nPersistent=true\n/);
        assert.match(create, /\nhi_ensure_cmd sqlite3 sqlite3 sqlite sqlite\n/);
        assert.match(create, /'# BEGIN hybridinfra-k3s-backup \(managed by hybridinfra\)' '0 \*\/12 \* \* \* \/usr\/local\/sbin\/hybridinfra-k3s-backup'/);
        assert.match(create, /hi_write_file \/etc\/rancher\/k3s\/hybridinfra-backup-s3-secret 0600 root:root '' <<'HI_FILE_EOF'\n@@HI_SECRET:k3s_backup_s3_secret_key@@\n/);
    });

    it("mock engine: one k3s-backup step on the server, after its install, with the S3 key on stdin; none without k3s.backup", async () => {
        const base: K3sClusterArgs = { interfaceName: "wg0", nodes: [server("tokyo-1", "10.100.0.1"), agent("home-pc", "10.100.0.20")] };
        let cluster: K3sCluster | undefined;
        const rec = await record(() => {
            cluster = new K3sCluster("c", { ...base, backup: { s3: { bucket: "k3s-backups", accessKey: "K003EXAMPLE", secretKey: pulumi.secret(S3_SECRET) } } });
        }, { outputs });
        const backups = rec.byType(CMD).filter((r) => r.name.endsWith("-k3s-backup"));
        assert.deepEqual(backups.map((r) => r.name), ["c-tokyo-1-k3s-backup"]);
        assert.deepEqual([...backups[0].dependencyNames].sort(), ["c-tokyo-1-k3s-install"]);
        assert.equal(backups[0].parent, "c-tokyo-1");
        const internals = k3sServerInternals(k3sClusterInternals(cluster!).servers["tokyo-1"]);
        assert.ok(internals.backup !== undefined);
        const line = (backups[0].inputs.stdin as string).split("\n").find((l) => l.startsWith("k3s_backup_s3_secret_key "))!;
        assert.equal(Buffer.from(line.split(" ")[1], "base64").toString("utf8"), S3_SECRET, "the key file holds the key as is (not YAML-escaped)");
        assertHostScript({ script: extractProgram(backups[0].inputs.create), command: backups[0].inputs.create }, "c-tokyo-1-k3s-backup create");
        assertHostScript({ script: extractProgram(backups[0].inputs.delete), command: backups[0].inputs.delete }, "c-tokyo-1-k3s-backup delete");
        for (const r of rec.resources) for (const t of rec.plainStrings(r)) assert.ok(!t.includes("wJalrXUtnFEMI"), `the S3 secret leaked into a plain input of ${r.name}`);
        assert.doesNotMatch(extractProgram(rec.byName("c-tokyo-1-k3s-config").inputs.create), /etcd-/, "sqlite renders no etcd flags");

        const without = await record(() => new K3sCluster("c", base), { outputs });
        assert.equal(without.byType(CMD).filter((r) => r.name.endsWith("-k3s-backup")).length, 0);
    });
});

describe("k3s.backup: the backup script against a real SQLite database", { skip: spawnSync("sqlite3", ["-version"]).error ? "sqlite3 is not installed (bash tools/setup.sh installs it)" : false }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k3s-backup-"));
    const db = path.join(dir, "db", "state.db");
    const snaps = path.join(dir, "snapshots");
    const conf = path.join(dir, "backup.env");
    const script = path.join(dir, "hybridinfra-k3s-backup");
    fs.mkdirSync(path.dirname(db));
    fs.writeFileSync(script, SQLITE_BACKUP_SH, { mode: 0o700 });
    fs.writeFileSync(conf, renderSqliteBackupEnv({ ...planSqliteBackup("n1", { retention: 2, dir: snaps }), db }));
    const run = (...args: string[]) => spawnSync("bash", [script, ...args], { encoding: "utf8", env: { ...process.env, HYBRIDINFRA_BACKUP_CONF: conf } });
    const sql = (file: string, q: string) => spawnSync("sqlite3", [file, q], { encoding: "utf8" }).stdout.trim();

    it("fails with a clear message when there is no datastore", () => {
        const r = run();
        assert.equal(r.status, 1);
        assert.equal(r.stderr, `hybridinfra-k3s-backup: error: ${db} does not exist: k3s has not created its sqlite datastore here (is this the first server, and has k3s started?); nothing was done\n`);
    });

    it("copies a WAL database consistently, keeps `retention` copies, and restores one", () => {
        sql(db, "PRAGMA journal_mode=WAL; CREATE TABLE kine(id INTEGER PRIMARY KEY, name TEXT, value BLOB); INSERT INTO kine(name, value) VALUES ('/registry/a', randomblob(4000));");
        fs.mkdirSync(snaps);
        // Older copies by name (the UTC stamp sorts them), and a file of someone else's that must stay.
        for (const f of ["k3s-sqlite-n1-20200101T000000Z.db", "k3s-sqlite-n1-20200102T000000Z.db", "notes.txt"]) fs.writeFileSync(path.join(snaps, f), "old");
        const r = run();
        assert.equal(r.status, 0, r.stderr);
        const kept = fs.readdirSync(snaps).sort();
        assert.equal(kept.length, 3, kept.join(" "));
        assert.deepEqual([kept[0], kept[2]], ["k3s-sqlite-n1-20200102T000000Z.db", "notes.txt"]);
        assert.match(kept[1], /^k3s-sqlite-n1-\d{8}T\d{6}Z\.db$/);
        assert.match(r.stdout, /removed old backup k3s-sqlite-n1-20200101T000000Z\.db \(keeping 2\)/);
        const copy = path.join(snaps, kept[1]);
        assert.equal(sql(copy, "PRAGMA integrity_check;"), "ok");
        assert.equal(sql(copy, "PRAGMA journal_mode;"), "delete", "one self-contained file");
        assert.equal(sql(copy, "SELECT name FROM kine;"), "/registry/a");
        assert.equal(run("list").stdout, `${path.join(snaps, kept[0])}\n${copy}\n`);

        sql(db, "INSERT INTO kine(name, value) VALUES ('/registry/b', 'after the backup');");
        const bad = run("restore", path.join(snaps, kept[0]));
        assert.equal(bad.status, 1);
        assert.match(bad.stderr, /fails PRAGMA integrity_check \(.*\); nothing was changed: pick another backup/);
        const ok = run("restore", copy);
        assert.equal(ok.status, 0, ok.stderr);
        assert.equal(sql(db, "SELECT group_concat(name) FROM kine;"), "/registry/a", "the state of the backup");
        const aside = fs.readdirSync(path.dirname(db)).find((f) => f.startsWith("state.db.before-restore-"))!;
        assert.equal(sql(path.join(path.dirname(db), aside), "SELECT count(*) FROM kine;"), "2", "the replaced datastore is kept aside");
    });
});

describe("k3s.backup in the stack config", () => {
    const cluster = (backup: unknown) => ({
        hosts: [{ name: "tokyo-1", ssh: { address: "203.0.113.10" }, location: "tokyo", roles: ["hub", "server"], publicEndpoint: "203.0.113.10" }],
        k3s: { backup },
    });

    it("accepts the documented keys and rejects an unknown one with the nearest known key", () => {
        const cfg = parseClusterConfig(cluster({ schedule: "0 3 * * *", retention: 7, s3: { bucket: "k3s-backups", accessKey: "AKIAEXAMPLE", secretKeyConfig: "b2Key" } }));
        assert.deepEqual(cfg.k3s?.backup, { schedule: "0 3 * * *", retention: 7, s3: { bucket: "k3s-backups", accessKey: "AKIAEXAMPLE", secretKeyConfig: "b2Key" } });
        assert.throws(() => parseClusterConfig(cluster({ retension: 7 })), (e: Error) => e.message.includes("k3s.backup.retension: unknown key. Fix: did you mean `retention`?"));
    });

    it("reads the S3 secret key from the config key it names, as a secret; a missing one is an error", async () => {
        const k3s = { backup: { s3: { bucket: "k3s-backups", accessKey: "AKIAEXAMPLE", secretKeyConfig: "b2Key" } } };
        const args = k3sArgsFromConfig(k3s, (key) => (key === "b2Key" ? S3_SECRET : undefined));
        const s3 = args.backup!.s3!;
        assert.ok(!("secretKeyConfig" in s3));
        assert.ok(pulumi.Output.isInstance(s3.secretKey) && (await pulumi.isSecret(s3.secretKey as pulumi.Output<string>)), "a secret Output");
        assert.equal(
            errorOf(() => k3sArgsFromConfig({ backup: { s3: { bucket: "k3s-backups", accessKey: "AKIAEXAMPLE" } } }, () => undefined)),
            'backupS3SecretKey: is not set; k3s.backup.s3.accessKey "AKIAEXAMPLE" needs its secret access key. Fix: run `pulumi config set --secret backupS3SecretKey <secret access key>`',
        );
        assert.deepEqual(k3sArgsFromConfig({ version: "v1.36.1+k3s1" }, () => undefined), { version: "v1.36.1+k3s1" });
    });

    it("validateK3sBackup is exported for K3sServer users too", () => {
        assert.throws(() => validateK3sBackup({ retention: 1.5 }, Datastore.Sqlite, "backup"), /^HybridInfraConfigError: backup\.retention: must be a whole number/);
        assert.deepEqual(configKeys("etcd-s3: true\n"), ["etcd-s3"]);
    });
});
