/**
 * npm run render -- --stack <name> [--out dir]
 * Writes what a stack would put on each host, and every resource it registers, without Pulumi CLI or hosts.
 * See tools/render-lib.ts for the layout. Secrets are redacted.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { listStacks } from "../infra/stack";
import { renderTree, runStack } from "./render-lib";

async function main(): Promise<void> {
    const args = process.argv.slice(2);
    const get = (flag: string) => {
        const i = args.indexOf(flag);
        return i >= 0 ? args[i + 1] : undefined;
    };
    const stack = get("--stack");
    if (!stack) {
        console.error(`usage: npm run render -- --stack <name> [--out dir]\nstacks: ${listStacks().join(", ")}`);
        process.exit(2);
    }
    const out = path.resolve(get("--out") ?? path.join("render-out", stack));
    const { recording } = await runStack(stack);
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
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
});
