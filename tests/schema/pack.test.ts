// What `npm publish` would ship for @hybridinfra/components: exactly the built library (JavaScript and
// declarations for every source file, the shell preludes read at run time), README, CHANGELOG,
// PulumiPlugin.yaml and package.json. No sources, tests or source maps: the maps would point at src/*.ts,
// which is not shipped, so they would only add size. The test builds first, so the list reflects the
// current sources, and a file left in lib/ by an older build (which npm would ship) fails it.
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../..");
const PKG = path.join(ROOT, "components");
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";

function npm(args: string[]): string {
    const res = spawnSync(NPM, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (res.status !== 0) assert.fail(`npm ${args.join(" ")} failed (exit ${res.status}):\n${res.stdout}\n${res.stderr}`);
    return res.stdout;
}

function walk(dir: string, rel = ""): string[] {
    return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
        const r = path.posix.join(rel, e.name);
        return e.isDirectory() ? walk(dir, r) : [r];
    });
}

/** The files the package must contain, derived from the sources. */
function expectedFiles(): string[] {
    const out = ["package.json", "README.md", "CHANGELOG.md", "PulumiPlugin.yaml"];
    for (const f of walk(path.join(PKG, "src"))) {
        if (f.endsWith(".ts") && !f.endsWith(".d.ts")) {
            const base = f.slice(0, -".ts".length);
            out.push(`lib/${base}.js`, `lib/${base}.d.ts`);
        } else if (f.endsWith(".sh")) {
            out.push(`lib/${f}`);
        }
    }
    return out.sort();
}

describe("npm package contents (npm pack --dry-run)", () => {
    let files: string[];
    before(() => {
        npm(["run", "build", "-w", "components"]);
        const report = JSON.parse(npm(["pack", "--dry-run", "--json", "-w", "components"])) as { files: { path: string }[] }[];
        assert.equal(report.length, 1);
        files = report[0]!.files.map((f) => f.path).sort();
    });

    it("ships no sources, tests, source maps or build config", () => {
        const unwanted = files.filter(
            (f) => f.startsWith("src/") || /(^|\/)tests?\//.test(f) || /\.test\.[jt]s$/.test(f) || f.endsWith(".map") || /^tsconfig.*\.json$/.test(f),
        );
        assert.deepEqual(unwanted, []);
    });

    it("ships the plugin entry, the library entry and the host prelude", () => {
        for (const f of ["lib/provider.js", "lib/index.js", "lib/index.d.ts", "lib/host/prelude.sh", "PulumiPlugin.yaml", "README.md", "CHANGELOG.md"]) {
            assert.ok(files.includes(f), `${f} is not in the package`);
        }
    });

    it("ships exactly the built files of the current sources, and the package documents", () => {
        const expected = expectedFiles();
        const missing = expected.filter((f) => !files.includes(f));
        const extra = files.filter((f) => !expected.includes(f));
        assert.deepEqual(
            { missing, extra },
            { missing: [], extra: [] },
            "extra lib/ files are left over from an older build (rm -rf components/lib && npm run build); " +
                "missing ones are not matched by package.json `files`",
        );
    });
});
