/**
 * `npm run bench`: program cost as clusters grow, critical path and blast radius, for generated clusters
 * (bench/generate.ts). Every measurement runs in its own process (bench/measure.ts) one after the other, so
 * peak RSS is per run and runs do not compete for the 2 cores. Prints a Markdown table and writes
 * bench/results.json. See bench/README.md for what each column means.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Topology } from "./generate";

export const CASES: readonly { topology: Topology; n: number }[] = [
    { topology: Topology.Hub, n: 10 },
    { topology: Topology.Hub, n: 100 },
    { topology: Topology.Hub, n: 1000 },
    { topology: Topology.Mesh, n: 10 },
    { topology: Topology.Mesh, n: 50 },
    { topology: Topology.Mesh, n: 200 },
    { topology: Topology.Locations, n: 10 },
    { topology: Topology.Locations, n: 50 },
    { topology: Topology.Locations, n: 200 },
];

/** Runs whose program takes less than this are repeated (REPEATS in all) and the median is reported. */
const REPEAT_BELOW_MS = 3000;
const REPEATS = 3;

interface Timed {
    evalMs: number;
    peakRssMb: number;
    startRssMb: number;
    resources: number;
}

interface BlastJson {
    existingHostsChanged: string[];
    changedSteps: number;
    changedStepKinds: Record<string, number>;
    restartedHosts: string[];
    restarts: number;
    newStepsOnExistingHosts: string[];
    removedSteps: string[];
    otherResourcesChanged: number;
}

interface OursJson extends Timed {
    hosts: number;
    hostSteps: number;
    criticalPath: { length: number; chain: string[] };
    addHost: BlastJson & { host: string };
    appImage: BlastJson;
    bytes: { largest: { host: string; bytes: number }; median: number; wgConfigMedian: number; wgConfigLargest: number };
}

type Summary = ReturnType<typeof summarise>;

interface CaseResult extends Omit<OursJson, "evalMs" | "peakRssMb" | "startRssMb"> {
    topology: Topology;
    n: number;
    ours: Summary;
    baseline: Summary;
    untypedBaseline: Summary;
    evalRatio: number;
    evalRatioUntyped: number;
    peakRssRatio: number;
    rssGrowthRatio: number;
}

const HERE = __dirname;

function measure<T>(args: string[]): T {
    const res = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", path.join(HERE, "measure.ts"), ...args], {
        cwd: path.join(HERE, ".."),
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
    });
    const line = res.stdout.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
    if (res.status !== 0 || line === undefined) {
        throw new Error(`measure.ts ${args.join(" ")} failed (exit ${res.status}):\n${res.stderr}\n${res.stdout.slice(-2000)}`);
    }
    return JSON.parse(line.slice("BENCH_RESULT ".length)) as T;
}

function median(values: number[]): number {
    const s = [...values].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const kb = (b: number) => `${(b / 1024).toFixed(1)}`;

function summarise(runs: Timed[]): { evalMs: number; peakRssMb: number; startRssMb: number; runsMs: number[] } {
    return {
        evalMs: median(runs.map((r) => r.evalMs)),
        peakRssMb: median(runs.map((r) => r.peakRssMb)),
        startRssMb: median(runs.map((r) => r.startRssMb)),
        runsMs: runs.map((r) => r.evalMs),
    };
}

function main(): void {
    const started = Date.now();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hybridinfra-bench-"));
    const results: CaseResult[] = [];
    try {
        // BENCH_ONLY=hub-10,mesh-50 runs a subset (for trying things out; the targets need every case).
        const only = process.env.BENCH_ONLY?.split(",").filter((x) => x !== "");
        for (const c of CASES.filter((x) => only === undefined || only.includes(`${x.topology}-${x.n}`))) {
            const t0 = Date.now();
            const shapeFile = path.join(tmp, `${c.topology}-${c.n}.json`);
            const first = measure<OursJson>(["ours", c.topology, String(c.n), shapeFile]);
            const oursRuns: Timed[] = [first];
            const baseRuns: Timed[] = [measure<Timed & { typed: number; untyped: number }>(["baseline", shapeFile, "typed"])];
            const untypedRuns: Timed[] = [measure<Timed>(["baseline", shapeFile, "untyped"])];
            if (first.evalMs < REPEAT_BELOW_MS) {
                for (let i = 1; i < REPEATS; i++) {
                    oursRuns.push(measure<Timed>(["ours", c.topology, String(c.n)]));
                    baseRuns.push(measure<Timed>(["baseline", shapeFile, "typed"]));
                }
            }
            const ours = summarise(oursRuns);
            const baseline = summarise(baseRuns);
            const untyped = summarise(untypedRuns);
            const { evalMs: _e, peakRssMb: _p, startRssMb: _s, ...structure } = first;
            results.push({
                topology: c.topology,
                n: c.n,
                ours,
                baseline,
                untypedBaseline: untyped,
                evalRatio: round2(ours.evalMs / baseline.evalMs),
                evalRatioUntyped: round2(ours.evalMs / untyped.evalMs),
                peakRssRatio: round2(ours.peakRssMb / baseline.peakRssMb),
                rssGrowthRatio: round2((ours.peakRssMb - ours.startRssMb) / Math.max(1, baseline.peakRssMb - baseline.startRssMb)),
                ...structure,
            });
            process.stderr.write(`bench: ${c.topology} N=${c.n} done in ${((Date.now() - t0) / 1000).toFixed(1)} s (ours ${ours.evalMs} ms, baseline ${baseline.evalMs} ms)\n`);
        }
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }

    const byCase = (t: Topology, n: number) => results.find((r) => r.topology === t && r.n === n);
    const topologies = [...new Set(CASES.map((c) => c.topology))];
    const hub1000 = byCase(Topology.Hub, 1000);
    const meshCases = results.filter((r) => r.topology === Topology.Mesh);
    const targets = {
        evalRatioHub1000: { target: "≤ 1.5", value: hub1000?.evalRatio ?? null, met: hub1000 !== undefined && hub1000.evalRatio <= 1.5 },
        criticalPath: {
            target: "≤ 5 for every case, equal across N within a topology",
            value: Object.fromEntries(results.map((r) => [`${r.topology}-${r.n}`, r.criticalPath.length])),
            met: results.every((r) => r.criticalPath.length <= 5) && topologies.every((t) => new Set(results.filter((r) => r.topology === t).map((r) => r.criticalPath.length)).size === 1),
        },
        hubAddHost: {
            target: "only the hub's wg-config changes on existing hosts, 0 restarts",
            value: results.filter((r) => r.topology === Topology.Hub).map((r) => ({ n: r.n, changed: r.addHost.changedStepKinds, hosts: r.addHost.existingHostsChanged, restarts: r.addHost.restarts })),
            met: results
                .filter((r) => r.topology === Topology.Hub)
                .every((r) => r.addHost.restarts === 0 && r.addHost.changedSteps === 1 && r.addHost.changedStepKinds["wg-config"] === 1 && r.addHost.existingHostsChanged.join() === "hub"),
        },
        meshAddHost: {
            target: "config syncs only (wg-config), 0 restarts",
            value: meshCases.map((r) => ({ n: r.n, changed: r.addHost.changedStepKinds, restarts: r.addHost.restarts })),
            met: meshCases.every((r) => r.addHost.restarts === 0 && Object.keys(r.addHost.changedStepKinds).every((k) => k === "wg-config")),
        },
        appImage: {
            target: "changing an app's image changes no host step",
            value: Object.fromEntries(results.map((r) => [`${r.topology}-${r.n}`, r.appImage.changedSteps])),
            met: results.every((r) => r.appImage.changedSteps === 0),
        },
        meshConfigLinear: {
            target: "mesh wg-config bytes per host grow linearly with N",
            value: meshCases.map((r) => ({ n: r.n, wgConfigMedian: r.bytes.wgConfigMedian, bytesPerPeer: Math.round(r.bytes.wgConfigMedian / (r.n - 1)) })),
            // Linear (a + b·N): the growth per added host does not increase from one step of N to the next.
            met: (() => {
                const pts = meshCases.map((r) => [r.n, r.bytes.wgConfigMedian] as const);
                const slopes = pts.slice(1).map(([n, b], i) => (b - pts[i][1]) / (n - pts[i][0]));
                return slopes.length > 0 && slopes.every((s, i) => i === 0 || s <= slopes[i - 1] * 1.1);
            })(),
        },
    };

    const cpus = os.cpus();
    const out = {
        generatedAt: new Date().toISOString(),
        machine: { cpus: cpus.length, cpuModel: cpus[0]?.model ?? "unknown", memoryGb: Math.round(os.totalmem() / 1024 ** 3), node: process.version, platform: `${os.platform()} ${os.release()}` },
        method: {
            evaluation: "wall time of the whole program (config parsing, validation, every component) until the mock engine has answered every registration; median of 3 runs when the first takes under 3 s, else 1 run (the untyped baseline: 1 run); each run in a fresh process",
            memory: "peak RSS of that process (process.resourceUsage().maxRSS), which includes loading Node, tsx and the SDKs; startRssMb is the RSS after loading every module and a GC, just before the run",
            baseline: "the same resources (order, types, names, parents, dependencies, providers) through their SDK classes with trivial inputs, same mocks, same modules loaded",
            untypedBaseline: "the same shape with every custom resource a plain pulumi.CustomResource with one input",
        },
        totalSeconds: Math.round((Date.now() - started) / 1000),
        targets,
        cases: results,
    };
    fs.writeFileSync(path.join(HERE, "results.json"), `${JSON.stringify(out, null, 2)}\n`);

    const rows = results.map((r) =>
        [
            `${r.topology} ${r.n}`,
            r.resources,
            `${r.ours.evalMs}`,
            `${r.baseline.evalMs}`,
            `**${r.evalRatio.toFixed(2)}**`,
            `${r.untypedBaseline.evalMs} (${r.evalRatioUntyped.toFixed(2)})`,
            `${r.ours.peakRssMb.toFixed(0)} / ${r.baseline.peakRssMb.toFixed(0)} (${r.peakRssRatio.toFixed(2)})`,
            r.criticalPath.length,
            `${r.addHost.existingHostsChanged.length} / ${Object.entries(r.addHost.changedStepKinds).map(([k, v]) => `${v}× ${k}`).join(", ") || "none"} / ${r.addHost.newStepsOnExistingHosts.length} / ${r.addHost.restarts}`,
            `${r.appImage.changedSteps} / ${r.appImage.restarts}`,
            `${kb(r.bytes.largest.bytes)} (${r.bytes.largest.host}) / ${kb(r.bytes.median)}`,
            kb(r.bytes.wgConfigMedian),
        ].join(" | "),
    );
    const header = [
        "case (topology N)",
        "resources",
        "eval ms",
        "baseline ms",
        "ratio",
        "untyped baseline ms (ratio)",
        "peak RSS MB ours / baseline (ratio)",
        "critical path",
        "add host: hosts changed / steps changed / new steps on existing hosts / restarts",
        "image change: host steps changed / restarts",
        "KiB per host: largest (host) / median",
        "wg-config KiB (median)",
    ];
    const table = [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r} |`)].join("\n");
    console.log(table);
    console.log("");
    for (const [name, t] of Object.entries(targets)) console.log(`${t.met ? "met    " : "MISSED "} ${name}: ${t.target} — ${JSON.stringify(t.value)}`);
    console.log(`\ncritical paths: ${results.map((r) => `${r.topology} ${r.n}: ${r.criticalPath.chain.join(" → ")}`).filter((s, i, a) => a.indexOf(s) === i).join("\n                ")}`);
    console.log(`\n${out.machine.cpus} × ${out.machine.cpuModel}, ${out.machine.memoryGb} GB, Node ${out.machine.node}; total ${out.totalSeconds} s; wrote bench/results.json`);
}

main();
