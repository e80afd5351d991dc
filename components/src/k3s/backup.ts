/**
 * Backups of the cluster state (`k3s.backup`), per datastore:
 * - etcd: k3s's own scheduled snapshots on every server (`etcd-snapshot-schedule-cron`,
 *   `etcd-snapshot-retention`, `etcd-snapshot-dir`) and k3s's own S3 upload (`etcd-s3-*`), rendered into each
 *   server's config.yaml; the S3 secret key through the config step's secret placeholder.
 * - sqlite: k3s has no snapshots for sqlite, so a `k3s-backup` step on the (only) server installs
 *   `hybridinfra-k3s-backup` (k3s-sqlite-backup.sh next to this file) and runs it on the schedule from a
 *   systemd timer, or from root's crontab on OpenRC (busybox crond). The step's static shell is in
 *   k3s-backup.sh next to this file (templates, see ../host/shellTemplate.ts).
 * - external: refused; the user's database owns backups.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { connectionFor } from "../host/connection";
import { SshHostArgs } from "../host/model";
import { secretPlaceholder, writeFileSnippet } from "../host/script";
import { loadShellTemplates, singleQuotedText } from "../host/shellTemplate";
import { remoteStep } from "../host/step";
import { HybridInfraConfigError, ProblemList, showValue, throwAll } from "../util/errors";
import { shellQuote } from "../util/shell";
import { Datastore, K3sBackupArgs } from "./model";
import { compact } from "../util/compact";

/** k3s's own etcd snapshot defaults (docs.k3s.io/cli/etcd-snapshot): every 12 hours, 5 kept. */
export const DEFAULT_BACKUP_SCHEDULE = "0 */12 * * *";
export const DEFAULT_BACKUP_RETENTION = 5;
/** k3s's default snapshot directory (`${data-dir}/server/db/snapshots`); also where the sqlite copies go. */
export const DEFAULT_BACKUP_DIR = "/var/lib/rancher/k3s/server/db/snapshots";
export const DEFAULT_S3_ENDPOINT = "s3.amazonaws.com";
export const DEFAULT_S3_REGION = "us-east-1";
/** k3s's sqlite datastore (kine), on the server. */
export const K3S_SQLITE_DB = "/var/lib/rancher/k3s/server/db/state.db";
/** What the k3s-backup step installs on a sqlite server. */
export const SQLITE_BACKUP_SCRIPT = "/usr/local/sbin/hybridinfra-k3s-backup";
export const SQLITE_BACKUP_CONF = "/etc/rancher/k3s/hybridinfra-backup.env";
export const SQLITE_BACKUP_S3_KEY_FILE = "/etc/rancher/k3s/hybridinfra-backup-s3-secret";
export const SQLITE_BACKUP_UNIT = "hybridinfra-k3s-backup";
export const OPENRC_CRONTAB = "/etc/crontabs/root";
/** Name of the stdin secret that carries the S3 secret key (config.yaml with etcd, the key file with sqlite). */
export const SECRET_BACKUP_S3 = "k3s_backup_s3_secret_key";

/** The backup script (installed as `SQLITE_BACKUP_SCRIPT`). */
export const SQLITE_BACKUP_SH: string = fs.readFileSync(path.join(__dirname, "k3s-sqlite-backup.sh"), "utf8");
const STEP = loadShellTemplates(__dirname, "k3s-backup.sh");

// ---------------------------------------------------------------------------------------------------
// cron

interface CronFieldSpec {
    readonly name: string;
    readonly min: number;
    readonly max: number;
}

const CRON_FIELDS: readonly CronFieldSpec[] = [
    { name: "minute", min: 0, max: 59 },
    { name: "hour", min: 0, max: 23 },
    { name: "day of month", min: 1, max: 31 },
    { name: "month", min: 1, max: 12 },
    { name: "day of week", min: 0, max: 7 },
];

const DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** The values one cron field matches, or a problem. Day of week 7 is Sunday (0). */
function expandCronField(text: string, f: CronFieldSpec): number[] | string {
    const values = new Set<number>();
    for (const item of text.split(",")) {
        const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item);
        if (m === null) return `${f.name} field ${JSON.stringify(text)} is not a number, *, a range a-b, a step /n or a list of these`;
        const lo = m[1] === "*" ? f.min : Number(m[2]);
        const hi = m[1] === "*" ? f.max : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? f.max : lo;
        if (m[1] !== "*" && m[3] === undefined && m[4] !== undefined) return `${f.name} field ${JSON.stringify(text)} steps from a single value (write a range, e.g. ${lo}-${f.max}/${m[4]})`;
        const step = m[4] !== undefined ? Number(m[4]) : 1;
        if (lo < f.min || hi > f.max) return `${f.name} field ${JSON.stringify(text)} is outside ${f.min}-${f.max}`;
        if (lo > hi) return `${f.name} field ${JSON.stringify(text)} has a range that ends before it starts`;
        if (step < 1) return `${f.name} field ${JSON.stringify(text)} has a step of 0`;
        for (let v = lo; v <= hi; v += step) values.add(f.name === "day of week" && v === 7 ? 0 : v);
    }
    return [...values].sort((a, b) => a - b);
}

/** The five fields of a cron expression, each as the values it matches, or a problem. */
export function parseCron(expr: string): number[][] | string {
    if (typeof expr !== "string") return "is not a string";
    const fields = expr.trim().split(/\s+/);
    if (fields.length !== 5) return `has ${fields.length} field${fields.length === 1 ? "" : "s"}, not 5 (minute hour day-of-month month day-of-week)`;
    const out: number[][] = [];
    for (let i = 0; i < 5; i++) {
        const r = expandCronField(fields[i], CRON_FIELDS[i]);
        if (typeof r === "string") return `has a ${r}`;
        out.push(r);
    }
    return out;
}

function isFull(values: readonly number[], f: CronFieldSpec): boolean {
    const span = f.name === "day of week" ? 7 : f.max - f.min + 1;
    return values.length === span;
}

/**
 * The systemd `OnCalendar=` form of a cron expression, e.g. `0 *\/12 * * *` → `*-*-* 00/12:00:00`. Cron runs
 * when day-of-month OR day-of-week matches (when both are restricted); systemd requires both, so such an
 * expression is refused by validation (`sqliteScheduleProblem`) before it gets here.
 */
export function cronToOnCalendar(expr: string): string {
    const parsed = parseCron(expr);
    if (typeof parsed === "string") throw new Error(`cronToOnCalendar: ${JSON.stringify(expr)} ${parsed}`);
    const raw = expr.trim().split(/\s+/);
    const part = (i: number, pad: number): string => {
        const f = CRON_FIELDS[i];
        const values = parsed[i];
        if (isFull(values, f)) return "*";
        const step = /^\*\/(\d+)$/.exec(raw[i]);
        if (step !== null) return `${String(f.min).padStart(pad, "0")}/${step[1]}`;
        return values.map((v) => String(v).padStart(pad, "0")).join(",");
    };
    const dow = isFull(parsed[4], CRON_FIELDS[4]) ? "" : `${parsed[4].map((d) => DAY_NAMES[d]).join(",")} `;
    return `${dow}*-${part(3, 2)}-${part(2, 2)} ${part(1, 2)}:${part(0, 2)}:00`;
}

/** Why a schedule cannot drive the sqlite backup's systemd timer, or undefined. */
export function sqliteScheduleProblem(expr: string): string | undefined {
    const parsed = parseCron(expr);
    if (typeof parsed === "string") return parsed;
    if (!isFull(parsed[2], CRON_FIELDS[2]) && !isFull(parsed[4], CRON_FIELDS[4])) {
        return "restricts both the day of month and the day of week, which cron takes as either-or and a systemd timer as both";
    }
    return undefined;
}

// ---------------------------------------------------------------------------------------------------
// validation

const DIR_RE = /^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/;
const S3_ENDPOINT_RE = /^[A-Za-z0-9.-]+(:\d{1,5})?$/;
const S3_BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const S3_REGION_RE = /^[a-z0-9-]{1,64}$/;
const S3_FOLDER_RE = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
const S3_ACCESS_KEY_RE = /^[A-Za-z0-9+/=._-]{1,128}$/;

/**
 * The problems of `k3s.backup` for the datastore the cluster has, at most one per key, each naming the key,
 * the value and the fix. Not an object, or an external datastore: that one problem only.
 */
export function k3sBackupProblems(backup: K3sBackupArgs | undefined, datastore: Datastore, at = "k3s.backup"): HybridInfraConfigError[] {
    if (backup === undefined) return [];
    if (backup === null || typeof backup !== "object") {
        return [new HybridInfraConfigError(at, `must be an object, got ${showValue(backup)}`, "write e.g. `backup: { schedule: \"0 */6 * * *\", retention: 10 }`, or `backup: {}` for the defaults")];
    }
    if (datastore === Datastore.External) {
        return [
            new HybridInfraConfigError(
                at,
                'is set but k3s.datastore is "external": the cluster state lives in your database, which k3s cannot back up and HybridInfra does not reach',
                "remove k3s.backup and back up the database with its own tools (mysqldump or mariadb-backup, pg_dump or pgBackRest, etcdutl snapshot save, or your provider's automated snapshots)",
            ),
        ];
    }
    const p = new ProblemList();
    if (backup.schedule !== undefined) {
        const problem = datastore === Datastore.Sqlite ? sqliteScheduleProblem(backup.schedule) : (() => {
            const parsed = parseCron(backup.schedule);
            return typeof parsed === "string" ? parsed : undefined;
        })();
        if (problem !== undefined) {
            p.add(
                `${at}.schedule`,
                `${problem}, got ${showValue(backup.schedule)}`,
                'write a 5-field cron expression (minute hour day-of-month month day-of-week), e.g. "0 */12 * * *" (every 12 hours) or "30 3 * * *" (daily at 03:30)',
            );
        }
    }
    if (backup.retention !== undefined && !(Number.isInteger(backup.retention) && backup.retention >= 1 && backup.retention <= 1000)) {
        p.add(`${at}.retention`, `must be a whole number from 1 to 1000, got ${showValue(backup.retention)}`, `use the number of backups to keep, e.g. ${DEFAULT_BACKUP_RETENTION} (the default)`);
    }
    if (backup.dir !== undefined && (typeof backup.dir !== "string" || !DIR_RE.test(backup.dir) || backup.dir.split("/").includes(".."))) {
        p.add(`${at}.dir`, `is not an absolute directory path of letters, digits, '.', '_', '-' and '/', got ${showValue(backup.dir)}`, `use e.g. ${JSON.stringify(DEFAULT_BACKUP_DIR)} (the default) or "/srv/k3s-backups"`);
    }
    const s3 = backup.s3;
    if (s3 === undefined) return [...p.problems];
    const s = `${at}.s3`;
    if (typeof s3.bucket !== "string" || !S3_BUCKET_RE.test(s3.bucket)) {
        p.add(`${s}.bucket`, `is not an S3 bucket name, got ${showValue(s3.bucket)}`, "use the existing bucket's name: 3 to 63 lowercase letters, digits, '.' and '-'");
    }
    if (s3.endpoint !== undefined && (typeof s3.endpoint !== "string" || !S3_ENDPOINT_RE.test(s3.endpoint))) {
        p.add(`${s}.endpoint`, `must be host or host:port without scheme or path, got ${showValue(s3.endpoint)}`, 'write e.g. "s3.eu-central-003.backblazeb2.com" or "minio.lan:9000" (with insecure: true for plain http)');
    }
    if (s3.region !== undefined && (typeof s3.region !== "string" || !S3_REGION_RE.test(s3.region))) {
        p.add(`${s}.region`, `is not a region name, got ${showValue(s3.region)}`, `use the bucket's region, e.g. "eu-central-1" (default ${JSON.stringify(DEFAULT_S3_REGION)})`);
    }
    if (s3.folder !== undefined && (typeof s3.folder !== "string" || !S3_FOLDER_RE.test(s3.folder) || s3.folder.split("/").some((part) => part === "." || part === ".."))) {
        p.add(`${s}.folder`, `is not a folder of letters, digits, '.', '_', '-' separated by '/', without leading or trailing '/', got ${showValue(s3.folder)}`, 'write e.g. "k3s/home-cluster"');
    }
    if (s3.accessKey !== undefined && (typeof s3.accessKey !== "string" || !S3_ACCESS_KEY_RE.test(s3.accessKey))) {
        p.add(`${s}.accessKey`, `is not an access key ID, got ${showValue(s3.accessKey)}`, "copy the access key ID (not the secret key) from your S3 provider");
    }
    // The key pair: one problem, the first of these.
    if (s3.accessKey !== undefined && s3.secretKey === undefined) {
        p.add(`${s}.secretKey`, "is missing but accessKey is set", "set the secret access key as a secret: `pulumi config set --secret backupS3SecretKey <secret key>`");
    } else if (s3.accessKey === undefined && s3.secretKey !== undefined) {
        p.add(`${s}.accessKey`, "is missing but a secret key is set", "set the access key ID that belongs to the secret key");
    } else if (datastore === Datastore.Sqlite && s3.accessKey === undefined) {
        p.add(
            `${s}.accessKey`,
            'is missing; with k3s.datastore "sqlite" the backup script signs its uploads itself and has no instance credentials to fall back on',
            "set accessKey, and the secret key with `pulumi config set --secret backupS3SecretKey <secret key>`",
        );
    }
    return [...p.problems];
}

/** Checks `k3s.backup` for the datastore the cluster has; throws every problem (see `k3sBackupProblems`). */
export function validateK3sBackup(backup: K3sBackupArgs | undefined, datastore: Datastore, at = "k3s.backup"): void {
    throwAll(k3sBackupProblems(backup, datastore, at));
}

// ---------------------------------------------------------------------------------------------------
// etcd

/** What an etcd server's config.yaml states about snapshots (only what the user set: the rest is k3s's default). */
export interface EtcdBackupPlan {
    readonly schedule?: string;
    readonly retention?: number;
    readonly dir?: string;
    readonly s3?: {
        readonly endpoint: string;
        readonly bucket: string;
        readonly region?: string;
        readonly folder?: string;
        readonly accessKey?: string;
        /** The secret key is rendered as a placeholder filled on the host (`SECRET_BACKUP_S3`). */
        readonly secretKey: boolean;
        readonly insecure: boolean;
    };
}

export function planEtcdBackup(b: K3sBackupArgs): EtcdBackupPlan {
    return {
        ...(b.schedule !== undefined ? { schedule: b.schedule.trim().split(/\s+/).join(" ") } : {}),
        ...compact({ retention: b.retention, dir: b.dir }),
        ...(b.s3 !== undefined
            ? {
                  s3: {
                      endpoint: b.s3.endpoint ?? DEFAULT_S3_ENDPOINT,
                      bucket: b.s3.bucket,
                      ...compact({ region: b.s3.region, folder: b.s3.folder, accessKey: b.s3.accessKey }),
                      secretKey: b.s3.secretKey !== undefined,
                      insecure: b.s3.insecure === true,
                  },
              }
            : {}),
    };
}

/**
 * The config.yaml entries of an etcd server's backup plan, in a fixed order. `etcd-s3-retention` (k3s#12669)
 * is not rendered: older k3s releases do not know it, and without it k3s keeps `etcd-snapshot-retention` in S3 too.
 */
export function etcdBackupEntries(p: EtcdBackupPlan): [string, string | boolean][] {
    const e: [string, string | boolean][] = [];
    if (p.schedule !== undefined) e.push(["etcd-snapshot-schedule-cron", p.schedule]);
    if (p.retention !== undefined) e.push(["etcd-snapshot-retention", String(p.retention)]);
    if (p.dir !== undefined) e.push(["etcd-snapshot-dir", p.dir]);
    if (p.s3 !== undefined) {
        e.push(["etcd-s3", true], ["etcd-s3-endpoint", p.s3.endpoint], ["etcd-s3-bucket", p.s3.bucket]);
        if (p.s3.region !== undefined) e.push(["etcd-s3-region", p.s3.region]);
        if (p.s3.folder !== undefined) e.push(["etcd-s3-folder", p.s3.folder]);
        if (p.s3.accessKey !== undefined) e.push(["etcd-s3-access-key", p.s3.accessKey]);
        // Only a placeholder is rendered; the config step fills it from stdin into the 0600 config.yaml.
        if (p.s3.secretKey) e.push(["etcd-s3-secret-key", secretPlaceholder(SECRET_BACKUP_S3)]);
        if (p.s3.insecure) e.push(["etcd-s3-insecure", true]);
    }
    return e;
}

// ---------------------------------------------------------------------------------------------------
// sqlite

export interface SqliteBackupPlan {
    /** The server's node name (in the backups' file names). */
    readonly node: string;
    readonly schedule: string;
    readonly retention: number;
    readonly dir: string;
    readonly db: string;
    readonly s3?: {
        readonly endpoint: string;
        readonly bucket: string;
        readonly region: string;
        readonly folder?: string;
        readonly accessKey: string;
        readonly insecure: boolean;
    };
}

export function planSqliteBackup(node: string, b: K3sBackupArgs): SqliteBackupPlan {
    return {
        node,
        schedule: (b.schedule ?? DEFAULT_BACKUP_SCHEDULE).trim().split(/\s+/).join(" "),
        retention: b.retention ?? DEFAULT_BACKUP_RETENTION,
        dir: b.dir ?? DEFAULT_BACKUP_DIR,
        db: K3S_SQLITE_DB,
        ...(b.s3 !== undefined
            ? {
                  s3: {
                      endpoint: b.s3.endpoint ?? DEFAULT_S3_ENDPOINT,
                      bucket: b.s3.bucket,
                      region: b.s3.region ?? DEFAULT_S3_REGION,
                      ...compact({ folder: b.s3.folder }),
                      accessKey: b.s3.accessKey ?? "",
                      insecure: b.s3.insecure === true,
                  },
              }
            : {}),
    };
}

/** The backup script's settings file (sourced by it; no secret: the S3 key is in its own file). */
export function renderSqliteBackupEnv(p: SqliteBackupPlan): string {
    const v = (k: string, value: string | number) => `${k}=${shellQuote(String(value))}`;
    return [
        `# k3s.backup of ${p.node}: read by ${SQLITE_BACKUP_SCRIPT}`,
        v("BACKUP_DB", p.db),
        v("BACKUP_DIR", p.dir),
        v("BACKUP_NODE", p.node),
        v("BACKUP_RETENTION", p.retention),
        ...(p.s3 !== undefined
            ? [
                  v("S3_ENDPOINT", p.s3.endpoint),
                  v("S3_BUCKET", p.s3.bucket),
                  v("S3_REGION", p.s3.region),
                  v("S3_FOLDER", p.s3.folder ?? ""),
                  v("S3_ACCESS_KEY", p.s3.accessKey),
                  v("S3_SECRET_KEY_FILE", SQLITE_BACKUP_S3_KEY_FILE),
                  v("S3_INSECURE", String(p.s3.insecure)),
              ]
            : []),
        "",
    ].join("\n");
}

function serviceUnit(p: SqliteBackupPlan): string {
    return `[Unit]
Description=Backup of the k3s sqlite datastore of ${p.node} (HybridInfra k3s.backup)
After=k3s.service

[Service]
Type=oneshot
Nice=10
IOSchedulingClass=idle
ExecStart=${SQLITE_BACKUP_SCRIPT}
`;
}

function timerUnit(p: SqliteBackupPlan): string {
    // Persistent: a run missed while the machine was off (a power cut) happens when it is back.
    return `[Unit]
Description=Backup of the k3s sqlite datastore on "${p.schedule}" (cron)

[Timer]
OnCalendar=${cronToOnCalendar(p.schedule)}
Persistent=true
RandomizedDelaySec=60

[Install]
WantedBy=timers.target
`;
}

const CRON_BEGIN = `# BEGIN ${SQLITE_BACKUP_UNIT} (managed by hybridinfra)`;
const CRON_END = `# END ${SQLITE_BACKUP_UNIT}`;

/** Bash that rewrites root's crontab without our block, then (given a line) with it at the end. */
function crontabBlock(line: string | undefined): string {
    const crontab = OPENRC_CRONTAB;
    const begin = shellQuote(CRON_BEGIN);
    const end = shellQuote(CRON_END);
    return STEP.get("crontab").renderBlock({
        crontab,
        begin,
        end,
        entry: line !== undefined ? STEP.get("crontab-entry").renderBlock({ begin, entry: shellQuote(line), end }) : undefined,
        write: line !== undefined ? STEP.get("crontab-write").renderBlock({ crontab }) : STEP.get("crontab-write-if-ours").renderBlock({ crontab, begin }),
    });
}

/**
 * The k3s-backup step on a sqlite server: sqlite3 (and curl for S3) installed when missing, the backup script,
 * its settings (and S3 key file, 0600), and the schedule: a systemd timer, or a block in root's crontab on
 * OpenRC; a host without either gets a warning. Idempotent; the first backup is made by the schedule, not here.
 */
export function renderSqliteBackupStep(p: SqliteBackupPlan): string {
    const unit = SQLITE_BACKUP_UNIT;
    return STEP.get("step").renderBlock({
        schedule: p.schedule,
        retention: String(p.retention),
        dir: p.dir,
        "s3-note": p.s3 !== undefined ? `, copied to s3 bucket ${p.s3.bucket}` : "",
        "s3-tools": p.s3 !== undefined ? STEP.get("s3-tools").renderBlock() : undefined,
        "script-file": writeFileSnippet(SQLITE_BACKUP_SCRIPT, SQLITE_BACKUP_SH, "0700", "root:root", ""),
        "settings-file": writeFileSnippet(SQLITE_BACKUP_CONF, renderSqliteBackupEnv(p), "0600"),
        "s3-key-file":
            p.s3 !== undefined
                ? writeFileSnippet(SQLITE_BACKUP_S3_KEY_FILE, secretPlaceholder(SECRET_BACKUP_S3), "0600", "root:root", "")
                : `hi_remove_managed_file ${SQLITE_BACKUP_S3_KEY_FILE} --any`,
        "k3s-db": K3S_SQLITE_DB,
        "service-file": writeFileSnippet(`/etc/systemd/system/${unit}.service`, serviceUnit(p), "0644"),
        "timer-file": writeFileSnippet(`/etc/systemd/system/${unit}.timer`, timerUnit(p), "0644"),
        unit,
        db: p.db,
        calendar: cronToOnCalendar(p.schedule),
        crontab: crontabBlock(`${p.schedule} ${SQLITE_BACKUP_SCRIPT}`),
        script: SQLITE_BACKUP_SCRIPT,
    });
}

/** Delete of the k3s-backup step: the schedule, script and settings go; the backups themselves stay. */
export function renderSqliteBackupDelete(dir: string = DEFAULT_BACKUP_DIR): string {
    return STEP.get("delete").renderBlock({
        unit: SQLITE_BACKUP_UNIT,
        crontab: crontabBlock(undefined),
        script: SQLITE_BACKUP_SCRIPT,
        conf: SQLITE_BACKUP_CONF,
        "s3-key-file": SQLITE_BACKUP_S3_KEY_FILE,
        dir: singleQuotedText(dir),
    });
}

/**
 * Registers the k3s-backup step `<name>-k3s-backup` of a sqlite server (`name` is its K3sServer's), after its
 * install step (`opts.dependsOn`), from its plan. Its secret (the S3 key) travels on stdin only.
 */
export function createSqliteBackupStep(
    parent: pulumi.Resource,
    name: string,
    server: SshHostArgs,
    hostsByName: ReadonlyMap<string, SshHostArgs>,
    plan: SqliteBackupPlan,
    s3SecretKey: pulumi.Input<string> | undefined,
    opts: pulumi.CustomResourceOptions,
): command.remote.Command {
    return remoteStep(
        `${name}-k3s-backup`,
        {
            host: server.name,
            step: "k3s-backup",
            connection: connectionFor(server, hostsByName),
            create: renderSqliteBackupStep(plan),
            delete: renderSqliteBackupDelete(plan.dir),
            ...(s3SecretKey !== undefined ? { secrets: { [SECRET_BACKUP_S3]: pulumi.secret(s3SecretKey) } } : {}),
        },
        { parent, ...opts },
    );
}
