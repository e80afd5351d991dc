/**
 * Bash templates kept in `.sh` files next to the code that renders them (copied to lib/ by
 * tools/copy-assets.mjs), so the static shell of a step lives in a shell file and TypeScript supplies only
 * what depends on values. Every domain's host steps are rendered this way (the host layer's own prelude.sh
 * is read whole by script.ts).
 *
 * A file holds one or more templates. Each starts at a line `# @template <name>` and runs to the next such
 * line or the end of the file (trailing blank lines dropped; the text always ends in one newline). Lines
 * before the first template are the file's own notes and are never rendered. Inside a template:
 * - a line `# @insert <name>` is replaced by the block given for `<name>` and a newline, or removed when the
 *   block is `undefined` (an optional part);
 * - `{{<name>}}` is replaced by the value given for `<name>`, verbatim (shell-quote it in TypeScript).
 * Rendering fails unless it is given exactly the names the template uses.
 */
import * as fs from "node:fs";
import * as path from "node:path";

const TEMPLATE_RE = /^# @template ([a-z][a-z0-9-]*)$/;
const INSERT_RE = /^[ \t]*# @insert ([a-z][a-z0-9-]*)[ \t]*$/;
const VALUE_RE = /\{\{([a-z][a-z0-9-]*)\}\}/g;

/** What a template is rendered with: blocks for its `# @insert` lines, values for its `{{…}}`. */
export type ShellTemplateFill = Readonly<Record<string, string | undefined>>;

export class ShellTemplate {
    /** The names of its `# @insert` lines and of its `{{…}}` values. */
    readonly inserts: ReadonlySet<string>;
    readonly values: ReadonlySet<string>;

    constructor(
        /** `file.sh#name`, for errors. */
        readonly label: string,
        /** The template's text as written, its markers included. */
        readonly text: string,
    ) {
        const inserts = new Set<string>();
        const values = new Set<string>();
        for (const line of text.split("\n")) {
            const m = INSERT_RE.exec(line);
            if (m) inserts.add(m[1]);
            else for (const v of line.matchAll(VALUE_RE)) values.add(v[1]);
        }
        for (const n of inserts) if (values.has(n)) throw new Error(`${label}: ${n} is used both as a block and as a value`);
        this.inserts = inserts;
        this.values = values;
    }

    /** The rendered text without its final newline: a block for another template's `# @insert`, or a step body. */
    renderBlock(fill: ShellTemplateFill = {}): string {
        return this.render(fill).replace(/\n$/, "");
    }

    /** The rendered text (ends in a newline). */
    render(fill: ShellTemplateFill = {}): string {
        const unknown = Object.keys(fill).filter((n) => !this.inserts.has(n) && !this.values.has(n));
        const missing = [...this.inserts].filter((n) => !(n in fill));
        missing.push(...[...this.values].filter((n) => fill[n] === undefined));
        if (unknown.length > 0 || missing.length > 0) {
            throw new Error(`${this.label}: ${[...(missing.length > 0 ? [`nothing given for ${missing.join(", ")}`] : []), ...(unknown.length > 0 ? [`not in the template: ${unknown.join(", ")}`] : [])].join("; ")}`);
        }
        const lines = this.text.replace(/\n$/, "").split("\n");
        return lines
            .map((line) => {
                const m = INSERT_RE.exec(line);
                if (m) {
                    const block = fill[m[1]];
                    return block === undefined ? "" : `${block}\n`;
                }
                return `${line.replace(VALUE_RE, (_, n: string) => fill[n] as string)}\n`;
            })
            .join("");
    }
}

/**
 * `value` as it goes inside a single-quoted word of a template (`hi_log '… {{dir}} …'`): each `'` closes the
 * quotes, adds a double-quoted one and reopens them, as `shellQuote` does for a whole word.
 */
export function singleQuotedText(value: string): string {
    return value.replace(/'/g, `'"'"'`);
}

/** The templates of a file's text, by name. */
export function parseShellTemplates(text: string, file: string): ReadonlyMap<string, ShellTemplate> {
    const out = new Map<string, ShellTemplate>();
    let name: string | undefined;
    let body: string[] = [];
    const close = (): void => {
        if (name === undefined) return;
        while (body.length > 0 && body[body.length - 1].trim() === "") body.pop();
        if (body.length === 0) throw new Error(`${file}: template ${name} is empty`);
        out.set(name, new ShellTemplate(`${file}#${name}`, `${body.join("\n")}\n`));
    };
    for (const line of text.split("\n")) {
        const m = TEMPLATE_RE.exec(line);
        if (m) {
            close();
            if (out.has(m[1])) throw new Error(`${file}: template ${m[1]} appears twice`);
            name = m[1];
            body = [];
        } else if (name !== undefined) {
            body.push(line);
        }
    }
    close();
    return out;
}

/** Reads the templates of a `.sh` file next to the compiled code (`dir` is the caller's `__dirname`). */
export function loadShellTemplates(dir: string, file: string): { get(name: string): ShellTemplate; readonly all: ReadonlyMap<string, ShellTemplate> } {
    const all = parseShellTemplates(fs.readFileSync(path.join(dir, file), "utf8"), file);
    return {
        all,
        get(name: string): ShellTemplate {
            const t = all.get(name);
            if (t === undefined) throw new Error(`${file} has no template ${name}`);
            return t;
        },
    };
}
