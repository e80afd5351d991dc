// The .sh files next to a domain's code (components/src/host/shellTemplate.ts) on their own through
// shellcheck; used by the k3s, Tailscale and ingress-forward tests. (tests/wireguard/scripts.test.ts checks
// WireGuard's the same way, with blocks left out: its templates need no blocks to be whole shell.)
import * as fs from "node:fs";
import * as path from "node:path";
import { PRELUDE } from "../../components/src/host/script";
import { parseShellTemplates, ShellTemplate } from "../../components/src/host/shellTemplate";

/** The .sh files of a source directory (components/src/<dir>), sorted. */
export function shellFilesIn(dir: string): { dir: string; files: string[] } {
    const abs = path.join(__dirname, "../../components/src", dir);
    return { dir: abs, files: fs.readdirSync(abs).filter((f) => f.endsWith(".sh")).sort() };
}

/**
 * Every template of the files as written, as bash programs for `assertShellcheckAll`, by `file.sh#name`
 * (a file without templates whole, by `file.sh`): its blocks a no-op command (`:`), its values a plain word;
 * a script of its own (`#!`) as it is, a step body or a piece of one after the host prelude. SC2154
 * ("referenced but not assigned") is off: a piece may read a variable that a block from TypeScript, or the
 * template it is inserted into, sets. What the steps render, blocks and all, is shellchecked without
 * exceptions by the domains' render tests and the stacks' golden renders.
 */
export function templatesForShellcheck(dir: string, files: readonly string[]): Map<string, string> {
    const out = new Map<string, string>();
    for (const f of files) {
        const text = fs.readFileSync(path.join(dir, f), "utf8");
        const templates = parseShellTemplates(text, f);
        if (templates.size === 0) {
            out.set(f, text);
            continue;
        }
        for (const [name, tpl] of templates) {
            const body = neutral(tpl);
            const [first, ...rest] = body.split("\n");
            const directive = "# shellcheck disable=SC2154";
            out.set(`${f}#${name}`, body.startsWith("#!") ? [first, directive, ...rest].join("\n") : `#!/usr/bin/env bash\n${directive}\n${PRELUDE}${body}`);
        }
    }
    return out;
}

/** A template with every block a no-op command and every value a plain word: its own shell, as written. */
function neutral(tpl: ShellTemplate): string {
    return tpl.render(Object.fromEntries([...[...tpl.inserts].map((n) => [n, ":"]), ...[...tpl.values].map((n) => [n, "x"])]));
}
