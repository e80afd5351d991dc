/**
 * SSH as pulumi-command's `remote.Command` does it (ssh2): a key, an optional pinned host key, and an
 * optional jump host (`connection.proxy`, implemented with `forwardOut`). Used by the lab's test runner
 * (tests/lab/runner.ts) and by `npm run doctor` (tools/doctor.ts), both of which connect with the
 * `connection` inputs the program gives its host steps.
 */
import { Client, ClientChannel, ConnectConfig } from "ssh2";
import type { Duplex } from "node:stream";
import { compact } from "../components/src/util/compact";

export interface SshTarget {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly privateKey: string;
    readonly hostKey?: string;
}

export interface SshConnection extends SshTarget {
    readonly proxy?: SshTarget;
}

function target(c: Record<string, any>, where: string): SshTarget {
    for (const k of ["host", "privateKey"]) {
        if (typeof c[k] !== "string") throw new Error(`${where}.${k} is not a known string (record in update mode, not preview)`);
    }
    return {
        host: c.host,
        port: c.port ?? 22,
        user: c.user ?? "root",
        privateKey: c.privateKey,
        ...(typeof c.hostKey === "string" ? { hostKey: c.hostKey } : {}),
    };
}


/**
 * The connection of a `command:remote:Command`'s `connection` input (host, port @default 22, user
 * @default "root", privateKey, hostKey, proxy). Throws naming `where` when host or privateKey is not a
 * known string (a preview recording has unknowns).
 */
export function connectionFromInputs(c: Record<string, any>, where: string): SshConnection {
    return { ...target(c, where), ...(c.proxy !== undefined ? { proxy: target(c.proxy, `${where}.proxy`) } : {}) };
}

export interface ExecResult {
    /** Exit code; -1 when the command was killed by a signal, timed out or the connection failed. */
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

function hostVerifier(expected: string | undefined): ConnectConfig["hostVerifier"] {
    if (expected === undefined) return undefined;
    const want = expected.trim().split(/\s+/)[1];
    return (key: Buffer) => key.toString("base64") === want;
}

function connectTo(t: SshTarget, sock: Duplex | undefined, timeoutMs: number): Promise<Client> {
    return new Promise((resolve, reject) => {
        const client = new Client();
        client.once("ready", () => resolve(client));
        const verify = hostVerifier(t.hostKey);
        const fail = (err: Error) => reject(new Error(`ssh ${t.user}@${t.host}:${t.port}: ${err.message}`));
        client.once("error", fail);
        try {
            client.connect({
            host: t.host,
            port: t.port,
            username: t.user,
            privateKey: t.privateKey,
            readyTimeout: timeoutMs,
            ...compact({ sock, hostVerifier: verify }),
            });
        } catch (err) {
            // ssh2 throws synchronously on keys it cannot parse (e.g. PKCS#8 ed25519, which OpenSSH accepts).
            fail(err as Error);
        }
    });
}

/** Opens an SSH session as the command provider does: through the proxy (jump host) when there is one. */
export async function openSsh(c: SshConnection, timeoutMs = 20_000): Promise<{ client: Client; close: () => void }> {
    if (c.proxy === undefined) {
        const client = await connectTo(c, undefined, timeoutMs);
        return { client, close: () => client.end() };
    }
    const jump = await connectTo(c.proxy, undefined, timeoutMs);
    try {
        const channel = await new Promise<ClientChannel>((resolve, reject) =>
            jump.forwardOut("127.0.0.1", 0, c.host, c.port, (err, ch) => (err ? reject(new Error(`jump ${c.proxy!.host} -> ${c.host}:${c.port}: ${err.message}`)) : resolve(ch))),
        );
        const client = await connectTo(c, channel, timeoutMs);
        return {
            client,
            close: () => {
                client.end();
                jump.end();
            },
        };
    } catch (err) {
        jump.end();
        throw err;
    }
}

/** Runs one command over SSH, writing `stdin` and closing it. Bounded by `timeoutMs`. */
export async function sshExec(c: SshConnection, commandText: string, stdin?: string, timeoutMs = 300_000): Promise<ExecResult> {
    let session: { client: Client; close: () => void };
    try {
        session = await openSsh(c);
    } catch (err) {
        return { code: -1, stdout: "", stderr: (err as Error).message };
    }
    try {
        return await new Promise<ExecResult>((resolve) => {
            let stdout = "";
            let stderr = "";
            const timer = setTimeout(() => resolve({ code: -1, stdout, stderr: `${stderr}\n[runner] timed out after ${timeoutMs / 1000} s` }), timeoutMs);
            session.client.exec(commandText, (err, stream) => {
                if (err) {
                    clearTimeout(timer);
                    resolve({ code: -1, stdout, stderr: err.message });
                    return;
                }
                stream.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
                stream.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
                stream.on("close", (code: number | null) => {
                    clearTimeout(timer);
                    resolve({ code: code ?? -1, stdout, stderr });
                });
                stream.end(stdin ?? "");
            });
        });
    } finally {
        session.close();
    }
}

