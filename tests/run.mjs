// Runs every tests/**/*.test.ts file with node's test runner through tsx.
// (Node 20's --test does not expand globs itself.)
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function find(dir) {
    return readdirSync(dir).flatMap((entry) => {
        const p = join(dir, entry);
        if (statSync(p).isDirectory()) return entry === "node_modules" ? [] : find(p);
        return p.endsWith(".test.ts") ? [p] : [];
    });
}

const filters = process.argv.slice(2);
const files = find("tests")
    .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
    .sort();
if (files.length === 0) {
    console.error(`no test files match ${filters.join(" ")}`);
    process.exit(1);
}
const res = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", ...files], { stdio: "inherit" });
process.exit(res.status ?? 1);
