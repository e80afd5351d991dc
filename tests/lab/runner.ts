/**
 * TEST INFRASTRUCTURE, not part of the library: a small stand-in for `pulumi up`'s handling of
 * `command:remote:Command` resources, so the lab can run the host steps a program registers over real SSH
 * without the Pulumi CLI (which this machine does not have).
 *
 * Input: the Command resources of a mock-engine recording (`tests/harness/mocks.ts` `record(...)`, in
 * update mode so every input is known): connection (host, port, user, privateKey, hostKey, proxy),
 * create/update/delete text, stdin, triggers and dependencies.
 *
 * What it does, as the engine and the command provider would:
 * - `planRun(previous, next)` diffs two recordings by resource name: new → create; inputs changed →
 *   update (runs the `update` text, which falls back to `create`); `triggers` changed → replace (the new
 *   create, then the old delete at the end); inputs equal → same (nothing runs); gone → delete.
 *   `planRun(undefined, next)` runs every create (a first `pulumi up`, or "run all steps again").
 * - `runPlan` runs creates/updates in dependency order, each as soon as its dependencies are done (in
 *   parallel otherwise, up to `concurrency`), also through dependencies with nothing to do (a step after an
 *   unchanged step after a create waits for the create, as the engine registers them); then deletes,
 *   dependents first. A step whose dependency
 *   failed or was skipped does not run.
 * - Each step gets a fresh SSH connection (ssh2), with the host key checked when `hostKey` is given and
 *   `proxy` implemented as a jump through `forwardOut`, like the provider's. stdin is written, then closed.
 * - Skip rules (`LAB_SKIP_RULES`) are explicit: a matching step is reported as skipped with the rule's
 *   reason; nothing is ever skipped silently.
 * - Each result has the exit code, stdout/stderr and whether the script printed the prelude's
 *   `done (changed)` or `done (no change)`.
 *
 * Not modelled: provider-side retries, `deleteBeforeReplace`, `--parallel` flags, Pulumi state files.
 */
import { connectionFromInputs, SshConnection, sshExec } from "../../tools/ssh";
import type { Recording, RecordedResource } from "../harness/mocks";
import { UNKNOWN } from "../harness/mocks";

export const COMMAND_TYPE = "command:remote:Command";

export type { ExecResult, SshConnection, SshTarget } from "../../tools/ssh";
export { openSsh, sshExec } from "../../tools/ssh";

/** One host step: a `command:remote:Command` resource's inputs. */
export interface Step {
    readonly name: string;
    /** Host and step from the script's `# hybridinfra: <host>/<step>` header ("?" when absent). */
    readonly host: string;
    readonly step: string;
    readonly connection: SshConnection;
    readonly create: string;
    readonly update?: string;
    readonly delete?: string;
    readonly stdin?: string;
    readonly triggers?: unknown;
    /** Names of the Command steps this one depends on (component dependencies expanded to their steps). */
    readonly dependencies: readonly string[];
}

function containsUnknown(v: unknown): boolean {
    if (v === UNKNOWN) return true;
    if (Array.isArray(v)) return v.some(containsUnknown);
    if (v !== null && typeof v === "object") return Object.values(v).some(containsUnknown);
    return false;
}

/** The host steps of a recording, with dependencies on components expanded to the components' steps. */
export function stepsFromRecording(rec: Recording): Step[] {
    const byName = new Map(rec.resources.map((r) => [r.name, r]));
    const children = new Map<string, RecordedResource[]>();
    for (const r of rec.resources) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
    const commandsUnder = (name: string, seen = new Set<string>()): string[] => {
        if (seen.has(name)) return [];
        seen.add(name);
        const r = byName.get(name);
        if (r?.type === COMMAND_TYPE) return [name];
        if (r === undefined || r.custom) return [];
        // Depending on a component means depending on everything under it, as in the engine.
        return (children.get(name) ?? []).flatMap((c) => commandsUnder(c.name, seen));
    };
    return rec.byType(COMMAND_TYPE).map((r) => {
        if (containsUnknown(r.inputs)) throw new Error(`${r.name} has unknown inputs: record in update mode, not preview`);
        const c = r.inputs.connection as Record<string, any>;
        const header = /^# hybridinfra: ([^/\s]+)\/(\S+)/.exec(r.inputs.create ?? "");
        return {
            name: r.name,
            host: header?.[1] ?? "?",
            step: header?.[2] ?? "?",
            connection: connectionFromInputs(c, `${r.name}.connection`),
            create: r.inputs.create,
            ...(r.inputs.update !== undefined ? { update: r.inputs.update } : {}),
            ...(r.inputs.delete !== undefined ? { delete: r.inputs.delete } : {}),
            ...(r.inputs.stdin !== undefined ? { stdin: r.inputs.stdin } : {}),
            ...(r.inputs.triggers !== undefined ? { triggers: r.inputs.triggers } : {}),
            dependencies: [...new Set(r.dependencyNames.flatMap((d) => commandsUnder(d)))].filter((d) => d !== r.name),
        };
    });
}

// ---------------------------------------------------------------------------------------------------
// Planning (pure)

export const Action = { Create: "create", Update: "update", Replace: "replace", Delete: "delete", Same: "same" } as const;
export type Action = (typeof Action)[keyof typeof Action];

export interface PlannedStep {
    readonly action: Action;
    /** The step as it is now (for delete: as it was). */
    readonly step: Step;
    /** For replace: the old step, whose delete runs at the end. */
    readonly old?: Step;
}

function canonical(v: unknown): string {
    return JSON.stringify(v, (_k, x) => (x !== null && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));
}

/** The inputs whose change makes the engine call the provider's update. */
function diffInputs(s: Step): string {
    return canonical({ connection: s.connection, create: s.create, update: s.update, delete: s.delete, stdin: s.stdin });
}

/** What `pulumi up` would do with each step, going from `previous` (undefined: nothing exists) to `next`. */
export function planRun(previous: readonly Step[] | undefined, next: readonly Step[]): PlannedStep[] {
    const before = new Map((previous ?? []).map((s) => [s.name, s]));
    const out: PlannedStep[] = next.map((s) => {
        const old = before.get(s.name);
        if (previous === undefined || old === undefined) return { action: Action.Create, step: s };
        if (canonical(old.triggers) !== canonical(s.triggers)) return { action: Action.Replace, step: s, old };
        if (diffInputs(old) !== diffInputs(s)) return { action: Action.Update, step: s };
        return { action: Action.Same, step: s };
    });
    const names = new Set(next.map((s) => s.name));
    for (const s of previous ?? []) if (!names.has(s.name)) out.push({ action: Action.Delete, step: s });
    return out;
}

// ---------------------------------------------------------------------------------------------------
// Skip rules

export interface SkipRule {
    /** Matched against the resource name. */
    readonly pattern: RegExp;
    readonly reason: string;
}

/** Steps the lab cannot run, and why. The only ones it skips. */
export const LAB_SKIP_RULES: readonly SkipRule[] = [
    { pattern: /(^|-)k3s(-|$)/, reason: "k3s binaries cannot be fetched here (the lab has no internet)" },
];

// ---------------------------------------------------------------------------------------------------
// Running a plan

export const StepStatus = { Ok: "ok", Failed: "failed", Skipped: "skipped" } as const;
export type StepStatus = (typeof StepStatus)[keyof typeof StepStatus];

export interface StepResult {
    readonly name: string;
    readonly host: string;
    readonly step: string;
    /** What ran: create, update, delete (a replace reports its create and its delete separately). */
    readonly action: Action;
    readonly status: StepStatus;
    /** Why it was skipped. */
    readonly reason?: string;
    readonly exitCode?: number;
    readonly stdout: string;
    readonly stderr: string;
    /** true for `done (changed)`, false for `done (no change)`, undefined when the script printed neither. */
    readonly changed?: boolean;
    readonly ms: number;
    /** When the command started and ended (ms since the epoch), to check ordering. */
    readonly startedAt: number;
    readonly endedAt: number;
}

export interface RunOptions {
    readonly skipRules?: readonly SkipRule[];
    /** Steps running at once. @default 8 */
    readonly concurrency?: number;
    /** Per step. @default 300 s */
    readonly timeoutMs?: number;
    readonly log?: (line: string) => void;
}

function changedFlag(stdout: string): boolean | undefined {
    if (/\] done \(changed\)$/m.test(stdout)) return true;
    if (/\] done \(no change\)$/m.test(stdout)) return false;
    return undefined;
}

interface Job {
    readonly key: string;
    readonly action: Action;
    readonly step: Step;
    readonly text: string | undefined;
    readonly after: readonly string[];
}

async function runJobs(jobs: readonly Job[], opts: RunOptions): Promise<StepResult[]> {
    const skipRules = opts.skipRules ?? LAB_SKIP_RULES;
    const limit = opts.concurrency ?? 8;
    const results = new Map<string, StepResult>();
    const pending = new Map(jobs.map((j) => [j.key, j]));
    const running = new Map<string, Promise<void>>();
    const keys = new Set(jobs.map((j) => j.key));
    const finish = (j: Job, r: Omit<StepResult, "name" | "host" | "step" | "action" | "startedAt" | "endedAt">, startedAt = Date.now()) => {
        results.set(j.key, { name: j.step.name, host: j.step.host, step: j.step.step, action: j.action, ...r, startedAt, endedAt: Date.now() });
        opts.log?.(`${j.action} ${j.step.name}: ${r.status}${r.reason ? ` (${r.reason})` : ""}${r.changed === undefined ? "" : r.changed ? ", changed" : ", no change"}`);
    };
    const start = (j: Job) => {
        pending.delete(j.key);
        const t0 = Date.now();
        const p = (async () => {
            if (j.text === undefined) {
                finish(j, { status: StepStatus.Ok, stdout: "", stderr: "", ms: 0, reason: "no delete command" }, t0);
                return;
            }
            const res = await sshExec(j.step.connection, j.text, j.step.stdin, opts.timeoutMs ?? 300_000);
            finish(j, {
                status: res.code === 0 ? StepStatus.Ok : StepStatus.Failed,
                exitCode: res.code,
                stdout: res.stdout,
                stderr: res.stderr,
                ...(changedFlag(res.stdout) !== undefined ? { changed: changedFlag(res.stdout) } : {}),
                ms: Date.now() - t0,
            }, t0);
        })();
        running.set(j.key, p.finally(() => running.delete(j.key)));
    };
    // Bounded: every iteration finishes or starts at least one job, or stops.
    for (let guard = 0; guard <= jobs.length * 2 + 2 && (pending.size > 0 || running.size > 0); guard++) {
        let progressed = true;
        while (progressed) {
            progressed = false;
            for (const j of [...pending.values()]) {
                const deps = j.after.filter((d) => keys.has(d));
                // A step skipped by a listed rule does not block others (e.g. removing WireGuard after k3s's
                // uninstall was skipped); a failure, or a skip caused by one, does.
                const blocked = deps
                    .map((d) => results.get(d))
                    .find((r) => r !== undefined && r.status !== StepStatus.Ok && !(r.status === StepStatus.Skipped && r.reason?.startsWith("skip rule")));
                const rule = skipRules.find((r) => r.pattern.test(j.step.name));
                if (rule !== undefined || blocked !== undefined) {
                    pending.delete(j.key);
                    const reason = rule !== undefined ? `skip rule ${rule.pattern}: ${rule.reason}` : `${blocked!.action} of ${blocked!.name} ${blocked!.status}`;
                    finish(j, { status: StepStatus.Skipped, reason, stdout: "", stderr: "", ms: 0 });
                    progressed = true;
                } else if (deps.every((d) => results.has(d)) && running.size < limit) {
                    start(j);
                    progressed = true;
                }
            }
        }
        if (running.size > 0) await Promise.race(running.values());
        else if (pending.size > 0) throw new Error(`dependency cycle among ${[...pending.keys()].join(", ")}`);
    }
    if (pending.size > 0 || running.size > 0) throw new Error(`runner stopped with steps left: ${[...pending.keys(), ...running.keys()].join(", ")}`);
    return jobs.map((j) => results.get(j.key)!);
}

/**
 * Runs a plan over SSH: creates, updates and the create half of replacements in dependency order, then
 * deletes (removed steps and replaced ones) with dependents first. Returns one result per command run.
 */
export async function runPlan(plan: readonly PlannedStep[], opts: RunOptions = {}): Promise<StepResult[]> {
    const runs = plan.filter((p) => p.action === Action.Create || p.action === Action.Update || p.action === Action.Replace);
    const runNames = new Set(runs.map((p) => p.step.name));
    const byName = new Map(plan.map((p) => [p.step.name, p.step]));
    // As in the engine, a step waits for its dependencies' operations also through dependencies that have
    // nothing to do: a dependent registers only once its dependencies have, and a `same` step registers only
    // once its own dependencies have.
    const waitsFor = (deps: readonly string[], seen: Set<string>): string[] =>
        deps.flatMap((d) => {
            if (runNames.has(d)) return [d];
            if (seen.has(d)) return [];
            seen.add(d);
            return waitsFor(byName.get(d)?.dependencies ?? [], seen);
        });
    const forward: Job[] = runs.map((p) => ({
        key: p.step.name,
        action: p.action === Action.Update ? Action.Update : Action.Create,
        step: p.step,
        text: p.action === Action.Update ? (p.step.update ?? p.step.create) : p.step.create,
        after: [...new Set(waitsFor(p.step.dependencies, new Set()))],
    }));
    const first = await runJobs(forward, opts);
    const doomed: Step[] = plan.flatMap((p) => (p.action === Action.Delete ? [p.step] : p.action === Action.Replace && p.old !== undefined ? [p.old] : []));
    const doomedNames = new Set(doomed.map((s) => s.name));
    const deletes: Job[] = doomed.map((s) => ({
        key: s.name,
        action: Action.Delete,
        step: s,
        text: s.delete,
        // Reverse edges: a step is deleted after every doomed step that depended on it.
        after: doomed.filter((o) => o.dependencies.includes(s.name) && doomedNames.has(o.name)).map((o) => o.name),
    }));
    return [...first, ...(await runJobs(deletes, opts))];
}

/** A readable summary of failed steps (for assertion messages). */
export function describeFailures(results: readonly StepResult[]): string {
    return results
        .filter((r) => r.status === StepStatus.Failed)
        .map((r) => `${r.action} ${r.name} exited ${r.exitCode}:\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`)
        .join("\n");
}
