import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { HostScript } from "../../components/src/host/script";

export interface ShellcheckResult {
    readonly ok: boolean;
    readonly output: string;
}

/** Runs the real shellcheck on a script. Missing shellcheck is an error, never a pass. */
export function shellcheck(script: string, shell: "bash" | "sh" = "bash"): ShellcheckResult {
    const res = spawnSync("shellcheck", ["-s", shell, "-f", "gcc", "-"], { input: script, encoding: "utf8" });
    if (res.error) {
        throw new Error(`shellcheck could not run (${res.error.message}); install it: apt-get install -y shellcheck`);
    }
    return { ok: res.status === 0, output: `${res.stdout}${res.stderr}` };
}

/** Fails with shellcheck's findings (and line numbers) when a script has any. */
export function assertShellcheck(script: string, label: string, shell: "bash" | "sh" = "bash"): void {
    const { ok, output } = shellcheck(script, shell);
    if (!ok) {
        const lines = script.split("\n");
        const context = output
            .split("\n")
            .filter((l) => l.trim() !== "")
            .map((l) => {
                const m = /^-:(\d+):/.exec(l);
                return m ? `${l}\n    > ${lines[Number(m[1]) - 1]}` : l;
            })
            .join("\n");
        throw new Error(`shellcheck failed for ${label}:\n${context}`);
    }
}

/** Checks both halves of a rendered host script: the sh wrapper and the bash program. */
export function assertHostScript(s: HostScript, label: string): void {
    assertShellcheck(s.script, `${label} (bash program)`, "bash");
    assertShellcheck(s.command, `${label} (sh wrapper)`, "sh");
}

/** The bash program inside a `remote.Command` create/delete text (the wrapper's heredoc). */
export function extractProgram(commandText: string): string {
    const m = /cat >"\$HI_SCRIPT" <<'([A-Z_0-9]+)'\n([\s\S]*?)\n\1\n/.exec(commandText);
    if (!m) throw new Error("not a hybridinfra host command");
    return m[2];
}

/**
 * Runs shellcheck once over many bash scripts (one process instead of one per script: the shipped stacks
 * render hundreds). Fails listing every finding with its script's label.
 */
export function assertShellcheckAll(scripts: ReadonlyMap<string, string>): void {
    if (scripts.size === 0) return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "shellcheck-"));
    try {
        const labels = new Map<string, string>();
        [...scripts.keys()].forEach((label, i) => {
            const file = path.join(dir, `${i}.sh`);
            fs.writeFileSync(file, scripts.get(label)!);
            labels.set(file, label);
        });
        const res = spawnSync("shellcheck", ["-s", "bash", "-f", "gcc", ...labels.keys()], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
        if (res.error) throw new Error(`shellcheck could not run (${res.error.message}); install it: apt-get install -y shellcheck`);
        if (res.status !== 0) {
            const findings = `${res.stdout}${res.stderr}`
                .split("\n")
                .filter((l) => l.trim() !== "")
                .map((l) => {
                    const file = l.split(":")[0];
                    return labels.has(file) ? `${labels.get(file)}${l.slice(file.length)}` : l;
                });
            throw new Error(`shellcheck failed:\n${findings.join("\n")}`);
        }
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
