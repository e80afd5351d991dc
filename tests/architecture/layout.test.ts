/**
 * docs/architecture.md against the tree (issue 15): every file of components/src is in its file-role table and
 * every file there exists, and the import rule between the layers holds.
 */
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");
const SRC = path.join(ROOT, "components", "src");
const DOC = readFileSync(path.join(ROOT, "docs", "architecture.md"), "utf8");

function files(dir: string, rel = ""): string[] {
    return readdirSync(dir).flatMap((e) => {
        const p = path.join(dir, e);
        const r = rel === "" ? e : `${rel}/${e}`;
        return statSync(p).isDirectory() ? files(p, r) : /\.(ts|sh)$/.test(e) ? [r] : [];
    });
}

/** The layer of each folder of components/src (the doc's "Layers"): a folder imports only from lower layers. */
const LAYER: Record<string, number> = {
    util: 0,
    host: 1,
    kube: 1,
    pki: 1,
    wireguard: 2,
    tailscale: 2,
    k3s: 2,
    apps: 2,
    cloudflare: 2,
    ingress: 2,
    addons: 2,
    cluster: 3,
};

describe("docs/architecture.md matches the tree", () => {
    const table = new Set([...DOC.matchAll(/^\| `([^`]+\.(?:ts|sh))` \|/gm)].map((m) => m[1]));

    it("every file of components/src has its role in the file table, and every file there exists", () => {
        const tree = new Set(files(SRC));
        assert.deepEqual([...tree].filter((f) => !table.has(f)).sort(), [], "files missing from docs/architecture.md");
        assert.deepEqual([...table].filter((f) => !tree.has(f)).sort(), [], "files in docs/architecture.md that do not exist");
    });

    it("every folder has a layer, and a folder imports only from the folders below it (no domain imports another)", () => {
        const folders = readdirSync(SRC).filter((e) => statSync(path.join(SRC, e)).isDirectory());
        assert.deepEqual(folders.filter((f) => !(f in LAYER)).sort(), [], "folders without a layer");
        const wrong: string[] = [];
        for (const f of files(SRC).filter((x) => x.endsWith(".ts") && x.includes("/"))) {
            const from = f.split("/")[0];
            for (const m of readFileSync(path.join(SRC, f), "utf8").matchAll(/from "\.\.\/([a-z0-9]+)/g)) {
                if (m[1] !== from && !(LAYER[m[1]] < LAYER[from])) wrong.push(`${f} imports ../${m[1]}`);
            }
        }
        assert.deepEqual(wrong, []);
    });

    it("the Pulumi program (infra/) imports no tool", () => {
        const wrong = readdirSync(path.join(ROOT, "infra")).flatMap((f) => [...readFileSync(path.join(ROOT, "infra", f), "utf8").matchAll(/from "(\.\.\/tools[^"]*)"/g)].map((m) => `${f}: ${m[1]}`));
        assert.deepEqual(wrong, []);
    });
});
