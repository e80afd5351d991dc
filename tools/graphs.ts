/**
 * npm run graphs [-- --check]
 * Regenerates docs/graphs/<stack>.dot and .svg for every shipped stack (see tools/graph.ts). The SVGs need
 * Graphviz `dot` (Debian/Ubuntu: `apt-get install graphviz`). With `--check`, writes nothing and exits 1 when
 * a committed .dot differs from what the stack renders now.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { listStacks } from "./stack";
import { DOT_MISSING, dotToSvg, graphData, toDot } from "./graph";
import { runStack } from "./render-lib";

export const GRAPHS_DIR = path.join(__dirname, "..", "docs", "graphs");

async function main(): Promise<void> {
    const check = process.argv.includes("--check");
    let stale = 0;
    fs.mkdirSync(GRAPHS_DIR, { recursive: true });
    for (const stack of listStacks()) {
        const dot = toDot(graphData(await runStack(stack)));
        const dotFile = path.join(GRAPHS_DIR, `${stack}.dot`);
        if (check) {
            const current = fs.existsSync(dotFile) ? fs.readFileSync(dotFile, "utf8") : "";
            if (current !== dot) {
                stale++;
                console.log(`${dotFile} is stale: run npm run graphs`);
            }
            continue;
        }
        fs.writeFileSync(dotFile, dot);
        const svg = dotToSvg(dot);
        if (svg === undefined) {
            console.log(`${dotFile} (${DOT_MISSING})`);
            continue;
        }
        fs.writeFileSync(path.join(GRAPHS_DIR, `${stack}.svg`), svg);
        console.log(`${dotFile}, ${stack}.svg`);
    }
    if (stale > 0) process.exit(1);
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
});
