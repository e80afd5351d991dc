/**
 * Lab test of k3s.backup with sqlite (issue 17 §3): on a real host (cloud1, over real SSH) the k3s-backup step
 * installs the backup script, which then copies a real SQLite database at k3s's state.db path while a writer
 * keeps inserting rows, keeps `retention` copies, uploads each to an S3 stand-in (an HTTP server in this
 * process, reached at the lab's root address: it checks the AWS Signature V4 header's form and stores the
 * objects; it does not recompute the signature), prunes the bucket, and restores a copy. k3s itself cannot run
 * here, so its writes are a sqlite3 loop; the lab has no init system, so the timer is not exercised (the step
 * says so). Needs root, like lab.test.ts.
 */
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import { encodeSecretStdin, renderHostScript } from "../../components/src/host";
import {
    K3S_SQLITE_DB,
    planSqliteBackup,
    renderSqliteBackupDelete,
    renderSqliteBackupStep,
    SECRET_BACKUP_S3,
    SQLITE_BACKUP_CONF,
    SQLITE_BACKUP_S3_KEY_FILE,
    SQLITE_BACKUP_SCRIPT,
} from "../../components/src/k3s";
import { acquireLabLock, inHost, labDown, labHostState, LabState, labUnavailableReason, labUp } from "../../lab/lab";
import { ROOT_ADDRESS } from "../../lab/topology";
import { SshConnection, sshExec } from "../../tools/ssh";

const unavailable = labUnavailableReason() ?? (fs.existsSync("/usr/bin/sqlite3") ? undefined : "sqlite3 is not installed (bash tools/setup.sh installs it)");
const required = process.env.HYBRIDINFRA_REQUIRE_LAB === "1";
const SNAPSHOTS = "/var/lib/rancher/k3s/server/db/snapshots";
const S3_PORT = 9099;
const ACCESS_KEY = "AKIALABEXAMPLE";
const SECRET_KEY = "lab/secret+key\"with\\quotes";

/** A minimal S3 stand-in: path-style PUT, GET ?list-type=2, DELETE; every request must carry a SigV4 header. */
function s3Stub(): { server: http.Server; objects: Map<string, number>; requests: string[]; badAuth: string[] } {
    const objects = new Map<string, number>();
    const requests: string[] = [];
    const badAuth: string[] = [];
    const server = http.createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://stub");
        const auth = String(req.headers.authorization ?? "");
        requests.push(`${req.method} ${url.pathname}${url.search}`);
        if (!/^AWS4-HMAC-SHA256 Credential=AKIALABEXAMPLE\/\d{8}\/us-east-1\/s3\/aws4_request, ?SignedHeaders=[a-z0-9;-]+, ?Signature=[0-9a-f]{64}$/.test(auth) || req.headers["x-amz-content-sha256"] !== "UNSIGNED-PAYLOAD") {
            badAuth.push(`${req.method} ${url.pathname}: ${auth}`);
            res.writeHead(403).end();
            return;
        }
        const key = decodeURIComponent(url.pathname.replace(/^\/k3s-backups\/?/, ""));
        if (req.method === "PUT") {
            let size = 0;
            req.on("data", (c: Buffer) => (size += c.length));
            req.on("end", () => {
                objects.set(key, size);
                res.writeHead(200).end();
            });
            return;
        }
        if (req.method === "GET" && url.searchParams.get("list-type") === "2") {
            const prefix = url.searchParams.get("prefix") ?? "";
            const keys = [...objects.keys()].filter((k) => k.startsWith(prefix)).sort();
            res.writeHead(200, { "content-type": "application/xml" }).end(`<?xml version="1.0"?><ListBucketResult>${keys.map((k) => `<Contents><Key>${k}</Key></Contents>`).join("")}</ListBucketResult>`);
            return;
        }
        if (req.method === "DELETE") {
            objects.delete(key);
            res.writeHead(204).end();
            return;
        }
        res.writeHead(400).end();
    });
    return { server, objects, requests, badAuth };
}

if (unavailable !== undefined && required) {
    describe("lab: k3s.backup (sqlite)", () => {
        it("can run here (HYBRIDINFRA_REQUIRE_LAB=1)", () => assert.fail(`the lab backup test cannot run: ${unavailable}`));
    });
} else {
    describe("lab: k3s.backup (sqlite) on cloud1", { skip: unavailable !== undefined ? `lab unavailable: ${unavailable}` : false }, () => {
        let release: (() => void) | undefined;
        let state: LabState;
        let conn: SshConnection;
        let writer: ChildProcess | undefined;
        const stub = s3Stub();
        const sh = (script: string) => inHost(labHostState(state, "cloud1"), ["bash", "-c", script], { check: false });
        const plan = planSqliteBackup("cloud1", { retention: 2, s3: { endpoint: `${ROOT_ADDRESS}:${S3_PORT}`, bucket: "k3s-backups", folder: "lab", accessKey: ACCESS_KEY, secretKey: "x", insecure: true } });
        const step = (body: string, name: string, secrets?: Record<string, string>) =>
            sshExec(conn, renderHostScript({ host: "cloud1", step: name, body, readsSecrets: secrets !== undefined }).command, secrets !== undefined ? encodeSecretStdin(secrets) : undefined, 120_000);

        before(async () => {
            release = await acquireLabLock();
            state = await labUp((l) => console.log(l));
            const h = labHostState(state, "cloud1");
            conn = { host: h.address, port: 22, user: "root", privateKey: fs.readFileSync(state.clientKeyPath, "utf8"), hostKey: h.hostKey };
            await new Promise<void>((resolve) => stub.server.listen(S3_PORT, ROOT_ADDRESS, resolve));
        });
        after(async () => {
            writer?.kill();
            stub.server.close();
            try {
                await labDown((l) => console.log(l));
            } finally {
                release?.();
            }
        });

        it("the k3s-backup step installs the script, its settings and the S3 key file over SSH; a second run changes nothing", async () => {
            assert.equal(sh(`mkdir -p $(dirname ${K3S_SQLITE_DB}) && sqlite3 ${K3S_SQLITE_DB} "PRAGMA journal_mode=WAL; CREATE TABLE kine(id INTEGER PRIMARY KEY, name TEXT, value BLOB);" >/dev/null`).status, 0);
            const first = await step(renderSqliteBackupStep(plan), "k3s-backup", { [SECRET_BACKUP_S3]: SECRET_KEY });
            assert.equal(first.code, 0, first.stderr);
            assert.match(first.stdout, /done \(changed\)/);
            assert.match(first.stderr, /warning: no init system \(systemd or OpenRC\): nothing runs \/usr\/local\/sbin\/hybridinfra-k3s-backup on its own/);
            assert.equal(sh(`stat -c '%a' ${SQLITE_BACKUP_SCRIPT} ${SQLITE_BACKUP_CONF} ${SQLITE_BACKUP_S3_KEY_FILE}`).stdout, "700\n600\n600\n");
            assert.equal(sh(`cat ${SQLITE_BACKUP_S3_KEY_FILE}`).stdout, `${SECRET_KEY}\n`);
            const again = await step(renderSqliteBackupStep(plan), "k3s-backup", { [SECRET_BACKUP_S3]: SECRET_KEY });
            assert.equal(again.code, 0, again.stderr);
            assert.match(again.stdout, /done \(no change\)/);
        });

        it("copies the database while a writer inserts rows: each copy passes integrity_check, 2 are kept, each is uploaded and the bucket is pruned", async () => {
            const h = labHostState(state, "cloud1");
            writer = spawn("nsenter", ["-t", String(h.holderPid), "-m", "-u", "-n", "--", "bash", "-c",
                `for i in $(seq 1 100000); do sqlite3 ${K3S_SQLITE_DB} ".timeout 5000" "INSERT INTO kine(name, value) VALUES ('/registry/$i', randomblob(2000));" || exit 1; done`], { stdio: "ignore" });
            const copies: string[] = [];
            for (let i = 0; i < 3; i++) {
                await new Promise((r) => setTimeout(r, 1100)); // one copy per second: the name's stamp has seconds
                const r = await sshExec(conn, SQLITE_BACKUP_SCRIPT, undefined, 60_000);
                assert.equal(r.code, 0, r.stderr);
                assert.match(r.stdout, /backed up \/var\/lib\/rancher\/k3s\/server\/db\/state\.db to .* bytes, integrity ok\)\n.*uploaded k3s-sqlite-cloud1-\d{8}T\d{6}Z\.db to s3 bucket k3s-backups as lab\/k3s-sqlite-cloud1-/s);
                copies.push(/to (\S+\.db) \(/.exec(r.stdout)![1]);
            }
            assert.ok(writer.exitCode === null, "the writer was still writing");
            const kept = sh(`ls ${SNAPSHOTS}`).stdout.trim().split("\n");
            assert.deepEqual(kept, copies.slice(1).map((c) => c.split("/").pop()), "the oldest copy was removed");
            let previous = 0;
            for (const c of copies.slice(1)) {
                assert.equal(sh(`sqlite3 ${c} 'PRAGMA integrity_check;'`).stdout, "ok\n");
                const rows = Number(sh(`sqlite3 ${c} 'SELECT count(*) FROM kine;'`).stdout);
                assert.ok(rows > previous, `${c} holds ${rows} rows, more than the copy before (${previous})`);
                previous = rows;
            }
            assert.deepEqual([...stub.objects.keys()].sort(), copies.slice(1).map((c) => `lab/${c.split("/").pop()}`), "the bucket keeps 2 too");
            assert.deepEqual(stub.badAuth, []);
            assert.ok(stub.requests.some((r) => r.startsWith("DELETE /k3s-backups/lab/k3s-sqlite-cloud1-")));
            assert.ok(stub.requests.some((r) => r === "GET /k3s-backups/?list-type=2&prefix=lab%2Fk3s-sqlite-cloud1-"));
            writer.kill();
        });

        it("restore refuses while the database is open, then puts a copy in place (integrity ok, the backup's rows)", async () => {
            const h = labHostState(state, "cloud1");
            const copy = sh(`ls ${SNAPSHOTS}/*.db | tail -n 1`).stdout.trim();
            const rows = sh(`sqlite3 ${copy} 'SELECT count(*) FROM kine;'`).stdout;
            // A process holding state.db open stands for a running k3s.
            const holder = spawn("nsenter", ["-t", String(h.holderPid), "-m", "-u", "-n", "--", "bash", "-c", `exec 3<${K3S_SQLITE_DB}; sleep 30`], { stdio: "ignore" });
            await new Promise((r) => setTimeout(r, 500));
            const refused = await sshExec(conn, `${SQLITE_BACKUP_SCRIPT} restore ${copy}`, undefined, 60_000);
            holder.kill();
            assert.equal(refused.code, 1);
            assert.match(refused.stderr, /k3s is running or \/var\/lib\/rancher\/k3s\/server\/db\/state\.db is open: stop k3s first/);
            await new Promise((r) => setTimeout(r, 300));
            const ok = await sshExec(conn, `${SQLITE_BACKUP_SCRIPT} restore ${copy}`, undefined, 60_000);
            assert.equal(ok.code, 0, ok.stderr);
            assert.equal(sh(`sqlite3 ${K3S_SQLITE_DB} 'PRAGMA integrity_check;'`).stdout, "ok\n");
            assert.equal(sh(`sqlite3 ${K3S_SQLITE_DB} 'SELECT count(*) FROM kine;'`).stdout, rows);
            assert.equal(sh(`ls $(dirname ${K3S_SQLITE_DB}) | grep -c '^state.db.before-restore-'`).stdout, "1\n");
        });

        it("without sqlite3 on the host the script fails with a clear message", async () => {
            const r = await sshExec(conn, `env -i PATH=/usr/local/bin /bin/bash ${SQLITE_BACKUP_SCRIPT}`, undefined, 60_000);
            assert.equal(r.code, 1);
            assert.match(r.stderr, /error: sqlite3 is not installed on this host: install it \(apt-get install sqlite3, dnf install sqlite, apk add sqlite\)/);
        });

        it("the step's delete removes the script, settings and key, and keeps the backups", async () => {
            const r = await step(renderSqliteBackupDelete(), "k3s-backup-delete");
            assert.equal(r.code, 0, r.stderr);
            assert.equal(sh(`ls ${SQLITE_BACKUP_SCRIPT} ${SQLITE_BACKUP_CONF} ${SQLITE_BACKUP_S3_KEY_FILE} 2>/dev/null | wc -l`).stdout, "0\n");
            assert.equal(sh(`ls ${SNAPSHOTS}/*.db | wc -l`).stdout, "2\n");
        });
    });
}
