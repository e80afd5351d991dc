/**
 * One measurement, in its own process so that its peak RSS is its own (bench/run.ts starts one per case
 * and program). Prints one line `BENCH_RESULT <json>` on stdout.
 *
 *   measure.ts ours <topology> <n> [<shape-file>]   the cluster program; with a shape file it also
 *                                                   analyses the structure and writes the baseline's shape
 *   measure.ts baseline <shape-file> typed|untyped  the bare-SDK baseline of that shape
 *
 * Both modes import the same modules (this file imports bench/lib, which imports the whole program), so
 * their memory floors are equal and the difference is what the timed run does.
 */
import * as fs from "node:fs";
import { ADDED_HOST, generateCluster, Topology } from "./generate";
import { BaselineStats, blastRadius, criticalPath, renderedBytes, runBaseline, runCluster, ShapeResource, shapeOf } from "./lib";

declare const gc: (() => void) | undefined;

interface Timed {
    /** Wall time of the program under the mock engine, ms. */
    readonly evalMs: number;
    /** process.resourceUsage().maxRSS right after the run, MB. */
    readonly peakRssMb: number;
    /** RSS after loading every module and a GC, just before the run, MB. */
    readonly startRssMb: number;
    readonly resources: number;
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

async function timed(run: () => Promise<{ resources: readonly unknown[] }>): Promise<Timed & { rec: Awaited<ReturnType<typeof run>> }> {
    if (typeof gc === "function") gc();
    const startRssMb = mb(process.memoryUsage().rss);
    const t0 = performance.now();
    const rec = await run();
    const evalMs = Math.round(performance.now() - t0);
    const peakRssMb = mb(process.resourceUsage().maxRSS * 1024);
    return { evalMs, peakRssMb, startRssMb, resources: rec.resources.length, rec };
}

function emit(result: unknown): void {
    process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
}

async function ours(topology: Topology, n: number, shapeFile: string | undefined): Promise<void> {
    const cluster = generateCluster({ topology, n });
    const { rec, ...t } = await timed(() => runCluster(cluster));
    if (shapeFile === undefined) {
        emit(t);
        return;
    }
    // Untimed from here: the structure of what was registered, and two changes against it.
    const shape = shapeOf(rec as Awaited<ReturnType<typeof runCluster>>);
    fs.writeFileSync(shapeFile, JSON.stringify(shape));
    const base = rec as Awaited<ReturnType<typeof runCluster>>;
    const path = criticalPath(base);
    const bytes = renderedBytes(base);
    const hosts = Object.keys(bytes.perHost).length;
    const added = blastRadius(base, await runCluster(generateCluster({ topology, n, addHost: true })));
    const image = blastRadius(base, await runCluster(generateCluster({ topology, n, appImage: "nginx:1.27.4" })));
    emit({
        ...t,
        hosts,
        hostSteps: base.resources.filter((r) => r.type === "command:remote:Command").length,
        criticalPath: path,
        addHost: { host: ADDED_HOST, ...added, changedSteps: added.changedSteps.length, changedStepKinds: kinds(added.changedSteps.map((c) => c.step)) },
        appImage: { ...image, changedSteps: image.changedSteps.length, changedStepKinds: kinds(image.changedSteps.map((c) => c.step)) },
        bytes: { largest: bytes.largest, median: bytes.median, wgConfigMedian: bytes.wgConfigMedian, wgConfigLargest: bytes.wgConfigLargest },
    });
}

/** Step kinds and how many of each, e.g. `{ "wg-config": 9 }`. */
function kinds(steps: string[]): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of steps) {
        const k = s.startsWith("k3s-node-") ? "k3s-node" : s;
        out[k] = (out[k] ?? 0) + 1;
    }
    return out;
}

async function baseline(shapeFile: string, typed: boolean): Promise<void> {
    const shape = JSON.parse(fs.readFileSync(shapeFile, "utf8")) as ShapeResource[];
    const stats: BaselineStats = { typed: 0, untyped: 0 };
    const { rec: _rec, ...t } = await timed(() => runBaseline(shape, typed, stats));
    emit({ ...t, ...stats });
}

async function main(): Promise<void> {
    const [mode, ...rest] = process.argv.slice(2);
    if (mode === "ours") await ours(rest[0] as Topology, Number(rest[1]), rest[2]);
    else if (mode === "baseline") await baseline(rest[0], rest[1] !== "untyped");
    else throw new Error(`usage: measure.ts ours <topology> <n> [<shape-file>] | baseline <shape-file> typed|untyped (got ${mode})`);
}

main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
});
