// The WireGuard steps' bash lives in .sh files next to components/src/wireguard/scripts.ts (templates, see
// components/src/host/shellTemplate.ts): the template format, and every file on its own through shellcheck.
// What the steps render from them is checked by render.test.ts and, byte for byte, by the stacks' golden renders.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { PRELUDE } from "../../components/src/host/script";
import { parseShellTemplates, ShellTemplate } from "../../components/src/host/shellTemplate";
import { assertShellcheckAll } from "../harness/shellcheck";

const DIR = path.join(__dirname, "../../components/src/wireguard");
const SH_FILES = fs.readdirSync(DIR).filter((f) => f.endsWith(".sh")).sort();

describe("shell templates", () => {
    const file = [
        "# notes on the file: never rendered",
        "echo notes",
        "# @template a",
        "X={{x}}",
        "# @insert head",
        "  # @insert optional",
        'echo "$X" {{x}}',
        "",
        "# @template b",
        "cat <<'EOF'",
        "# @insert body",
        "EOF",
        "",
        "",
    ].join("\n");
    const t = parseShellTemplates(file, "t.sh");

    it("splits a file into its templates, drops the notes before the first and trailing blank lines", () => {
        assert.deepEqual([...t.keys()], ["a", "b"]);
        assert.equal(t.get("b")!.text, "cat <<'EOF'\n# @insert body\nEOF\n");
        assert.deepEqual([...t.get("a")!.inserts], ["head", "optional"]);
        assert.deepEqual([...t.get("a")!.values], ["x"]);
    });

    it("fills values verbatim and insert lines with their block, removing those given undefined", () => {
        assert.equal(t.get("a")!.render({ x: "'v'", head: "one\ntwo", optional: undefined }), "X='v'\none\ntwo\necho \"$X\" 'v'\n");
        assert.equal(t.get("a")!.render({ x: "1", head: "", optional: "  indented" }), "X=1\n\n  indented\necho \"$X\" 1\n");
        // An empty block is an empty line (an empty heredoc stays a heredoc).
        assert.equal(t.get("b")!.render({ body: "" }), "cat <<'EOF'\n\nEOF\n");
    });

    it("refuses a fill that misses a name or gives one the template does not use", () => {
        assert.throws(() => t.get("a")!.render({ x: "1", head: "h" }), /t\.sh#a: nothing given for optional/);
        assert.throws(() => t.get("a")!.render({ head: "h", optional: undefined }), /nothing given for x/);
        assert.throws(() => t.get("b")!.render({ body: "", extra: "1" }), /not in the template: extra/);
        assert.throws(() => parseShellTemplates("# @template a\necho\n# @template a\necho\n", "d.sh"), /template a appears twice/);
        assert.throws(() => parseShellTemplates("# @template a\n\n", "e.sh"), /template a is empty/);
    });

    it("every .sh file next to the WireGuard code passes shellcheck on its own (step bodies after the host prelude)", () => {
        assert.ok(SH_FILES.includes("firewall.sh") && SH_FILES.includes("wg-config.sh"), SH_FILES.join(", "));
        const scripts = new Map<string, string>();
        for (const f of SH_FILES) {
            const text = fs.readFileSync(path.join(DIR, f), "utf8");
            const templates = parseShellTemplates(text, f);
            // A file of functions (firewall.sh) is used whole.
            const parts: [string, string][] = templates.size === 0 ? [[f, text]] : [...templates].map(([name, tpl]) => [`${f}#${name}`, neutral(tpl)]);
            for (const [label, body] of parts) {
                // A script of its own (watchdog, re-resolve) as it is; a step body as the host runs it: after the prelude.
                scripts.set(label, body.startsWith("#!") ? body : `#!/usr/bin/env bash\n${PRELUDE}${body}`);
            }
        }
        assertShellcheckAll(scripts);
    });
});

/** A template with its blocks left out and every value a plain word: its own shell, as written. */
function neutral(tpl: ShellTemplate): string {
    return tpl.render(Object.fromEntries([...[...tpl.inserts].map((n) => [n, undefined]), ...[...tpl.values].map((n) => [n, "1"])]));
}
