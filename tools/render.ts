/**
 * npm run render -- --stack <name> [--out dir] [--graph]
 * Writes what a stack would put on each host, and every resource it registers, without Pulumi CLI or hosts.
 * See tools/render-lib.ts for the layout. Secrets are redacted. `--graph` also writes the topology graph
 * (tools/graph.ts): `graph.dot`, and `graph.svg` when Graphviz `dot` is on PATH.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { listStacks } from "./stack";
import { renderTree, runStack } from "./render-lib";
import { DOT_MISSING, dotToSvg, graphData, toDot } from "./graph";

async function main(): Promise<void> {
    const args = process.argv.slice(2);
    const get = (flag: string) => {
        const i = args.indexOf(flag);
        return i >= 0 ? args[i + 1] : undefined;
    };
    const stack = get("--stack");
    if (!stack) {
        console.error(`usage: npm run render -- --stack <name> [--out dir] [--graph]\nstacks: ${listStacks().join(", ")}`);
        process.exit(2);
    }
    const out = path.resolve(get("--out") ?? path.join("render-out", stack));
    const run = await runStack(stack);
    const { recording } = run;
    const tree = renderTree(recording);
    fs.rmSync(out, { recursive: true, force: true });
    for (const [rel, content] of tree) {
        const file = path.join(out, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, content, { mode: rel.endsWith(".sh") ? 0o755 : 0o644 });
    }
    const hosts = [...new Set([...tree.keys()].filter((k) => k.startsWith("hosts/")).map((k) => k.split("/")[1]))];
    console.log(`rendered stack ${stack}: ${recording.resources.length} resources, ${hosts.length} hosts (${hosts.join(", ")}) -> ${out}`);
    for (const h of hosts) {
        const steps = [...tree.keys()].filter((k) => k.startsWith(`hosts/${h}/`) && /\/\d\d-[^/]+\.sh$/.test(k) && !k.endsWith(".delete.sh"));
        console.log(`  ${h}: ${steps.map((s) => path.basename(s, ".sh")).join(" -> ")}`);
    }
    if (args.includes("--graph")) {
        const dot = toDot(graphData(run));
        fs.writeFileSync(path.join(out, "graph.dot"), dot);
        console.log(`topology graph: ${path.join(out, "graph.dot")}`);
        const svg = dotToSvg(dot);
        if (svg !== undefined) {
            fs.writeFileSync(path.join(out, "graph.svg"), svg);
            console.log(`topology graph: ${path.join(out, "graph.svg")}`);
        } else {
            console.log(DOT_MISSING);
        }
    }
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
});
