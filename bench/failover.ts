/**
 * Failover measured on a real control plane (see tests/harness/failover.ts for the method), one run per
 * profile, all profiles at once (each on its own control plane). Merges the results into
 * bench/failover.json (by profile) and prints a Markdown table for bench/README.md.
 *
 *     bash tools/engine/build.sh && bash tools/kube/build.sh
 *     npm run bench:failover                  # every profile (about 11 minutes: lossy-link is the slowest)
 *     npm run bench:failover -- fast          # one profile
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { FailoverProfile } from "../components/src";
import { measureFailover } from "../tests/harness/failover";

async function main(): Promise<void> {
    const wanted = process.argv.slice(2);
    const profiles = Object.values(FailoverProfile).filter((p) => wanted.length === 0 || wanted.includes(p));
    if (profiles.length === 0) throw new Error(`no profile among ${wanted.join(", ")}; profiles: ${Object.values(FailoverProfile).join(", ")}`);
    const results = await Promise.all(profiles.map((p) => measureFailover(p)));
    const rows = results.map((r) => `| ${r.profile} | ${r.notReadyAfterSeconds} | ${r.measuredSeconds} | ${r.boundSeconds} | ${(r.boundSeconds / r.measuredSeconds).toFixed(2)} |`);
    console.log(["| profile | NotReady after (s) | replicas Ready elsewhere after (s) | exported bound (s) | bound / measured |", "|---|---|---|---|---|", ...rows].join("\n"));
    // Merged by profile, so one profile can be re-measured alone.
    const file = path.join(__dirname, "failover.json");
    const before = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { results: Record<string, unknown> }).results : {};
    const now = Object.fromEntries(results.map((r) => [r.profile, { ...r, measuredAt: new Date().toISOString() }]));
    writeFileSync(file, JSON.stringify({ method: "tests/harness/failover.ts", results: { ...before, ...now } }, null, 2) + "\n");
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
