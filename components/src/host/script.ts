import * as fs from "node:fs";
import * as path from "node:path";
import { heredocDelimiter, shellQuote } from "../util/shell";

/** The prelude every host script starts with (see prelude.sh next to this file). */
export const PRELUDE: string = fs.readFileSync(path.join(__dirname, "prelude.sh"), "utf8");

/** A rendered host script: the bash program, and the command text that runs it over SSH. */
export interface HostScript {
    /** The bash program: shebang, prelude and the step's body. Run shellcheck on this. */
    readonly script: string;
    /**
     * What `remote.Command` sends: a POSIX sh wrapper that checks for bash (and root or sudo) and runs the
     * program with stdin left free for secrets.
     */
    readonly command: string;
}

export interface HostScriptOptions {
    /** Logical host name, shown in every log line and error. */
    readonly host: string;
    /** Step name, e.g. `wg-config`. */
    readonly step: string;
    /** The step's own bash code. It runs after `hi_detect`, with the prelude's functions available. */
    readonly body: string;
    /** Reads `name base64` secret lines from stdin before the body runs. */
    readonly readsSecrets?: boolean;
}

/** Renders a step body into a complete, self-checking host script. Pure. */
export function renderHostScript(opts: HostScriptOptions): HostScript {
    const script = [
        "#!/usr/bin/env bash",
        `# hybridinfra step ${opts.host}/${opts.step}`,
        `HI_HOST=${shellQuote(opts.host)}`,
        `HI_STEP=${shellQuote(opts.step)}`,
        PRELUDE.trimEnd(),
        ...(opts.readsSecrets ? ["hi_read_secrets"] : []),
        "hi_detect",
        opts.body.trimEnd(),
        "hi_done",
        "",
    ].join("\n");
    const delimiter = heredocDelimiter(script);
    const label = shellQuote(`hybridinfra-${opts.host}-${opts.step}`);
    const command = [
        `# hybridinfra: ${opts.host}/${opts.step}`,
        "set -eu",
        "if ! command -v bash >/dev/null 2>&1; then",
        "  if command -v apk >/dev/null 2>&1 && [ \"$(id -u)\" -eq 0 ]; then apk add --no-cache -q bash; else",
        `    echo ${shellQuote(`[${opts.host}/${opts.step}] error: bash is required on host ${opts.host}; install it and run again (nothing was changed)`)} >&2; exit 1`,
        "  fi",
        "fi",
        "set -- bash",
        "if [ \"$(id -u)\" -ne 0 ]; then",
        "  if sudo -n true 2>/dev/null; then set -- sudo -n bash; else",
        `    echo ${shellQuote(`[${opts.host}/${opts.step}] error: the SSH user is not root and has no passwordless sudo on host ${opts.host}; use root or allow sudo without a password (nothing was changed)`)} >&2; exit 1`,
        "  fi",
        "fi",
        // The program goes to a temp file rather than argv: large mesh configs would exceed ARG_MAX, and
        // stdin stays free for secrets.
        "HI_SCRIPT=\"$(mktemp \"${TMPDIR:-/tmp}/hybridinfra.XXXXXX\")\"",
        "trap 'rm -f \"$HI_SCRIPT\"' EXIT",
        `cat >"$HI_SCRIPT" <<'${delimiter}'`,
        script.trimEnd(),
        delimiter,
        `"$@" "$HI_SCRIPT" ${label}`,
        "",
    ].join("\n");
    return { script, command };
}

/** Encodes secrets for stdin as `name base64value` lines, read on the host by `hi_read_secrets`. */
export function encodeSecretStdin(secrets: Record<string, string>): string {
    return Object.keys(secrets)
        .sort()
        .map((name) => `${name} ${Buffer.from(secrets[name], "utf8").toString("base64")}\n`)
        .join("");
}

/** The placeholder a rendered file uses for a secret; filled on the host from stdin by `hi_write_file`. */
export function secretPlaceholder(name: string): string {
    if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`secret name ${JSON.stringify(name)} must be [A-Za-z0-9_]+`);
    return `@@HI_SECRET:${name}@@`;
}

/**
 * Bash that writes `content` to `filePath` through the prelude's managed-file writer.
 * @param commentPrefix the file format's comment leader for the managed marker, or "" for none
 */
export function writeFileSnippet(filePath: string, content: string, mode: string, owner = "root:root", commentPrefix = "#"): string {
    const delimiter = heredocDelimiter(content, "HI_FILE_EOF");
    return [
        `hi_write_file ${shellQuote(filePath)} ${shellQuote(mode)} ${shellQuote(owner)} ${shellQuote(commentPrefix)} <<'${delimiter}'`,
        content.replace(/\n+$/, ""),
        delimiter,
    ].join("\n");
}
