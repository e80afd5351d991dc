/**
 * An error in what the user asked for. The message always names the config path, shows the value that
 * was received and says how to fix it, so it can be shown as-is by `pulumi up`.
 */
export class HybridInfraConfigError extends Error {
    constructor(
        public readonly path: string,
        public readonly problem: string,
        public readonly fix: string,
    ) {
        super(`${path}: ${problem}. Fix: ${fix}`);
        this.name = "HybridInfraConfigError";
    }
}

/** Shows a received value in an error message without ever echoing long or multi-line text. */
export function showValue(value: unknown): string {
    if (value === undefined) return "nothing (the key is missing)";
    if (typeof value === "string") {
        const oneLine = value.length > 60 || value.includes("\n") ? `${value.slice(0, 24).split("\n")[0]}…` : value;
        return JSON.stringify(oneLine);
    }
    try {
        const text = JSON.stringify(value);
        return text.length > 80 ? `${text.slice(0, 77)}…` : text;
    } catch {
        return String(value);
    }
}

/** Levenshtein distance, used to suggest the nearest known key for a typo. */
export function editDistance(a: string, b: string): number {
    const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
        let diag = prev[0];
        prev[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const tmp = prev[j];
            prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
            diag = tmp;
        }
    }
    return prev[b.length];
}

/** The closest candidate to `word`, if one is close enough to be a plausible typo. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const c of candidates) {
        const d = editDistance(word.toLowerCase(), c.toLowerCase());
        if (d < bestDistance) {
            best = c;
            bestDistance = d;
        }
    }
    return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/**
 * Several config errors reported at once, so a user fixes every problem in one pass. The message lists each
 * one on its own line, in the same `path: problem. Fix: fix` form.
 */
export class HybridInfraConfigErrors extends Error {
    constructor(public readonly errors: readonly HybridInfraConfigError[]) {
        super(errors.length === 1 ? errors[0].message : `${errors.length} problems in the config:\n  - ${errors.map((e) => e.message).join("\n  - ")}`);
        this.name = "HybridInfraConfigErrors";
    }
}

/** Throws the problems, if any: one as itself, several together. */
export function throwAll(problems: readonly HybridInfraConfigError[]): void {
    if (problems.length === 1) throw problems[0];
    if (problems.length > 1) throw new HybridInfraConfigErrors(problems);
}

/**
 * The problems a check threw (one `HybridInfraConfigError` or several `HybridInfraConfigErrors`), or none.
 * Any other error is a bug and is rethrown. Lets a caller run several independent checks and report all of them.
 */
export function problemsOf(check: () => void): HybridInfraConfigError[] {
    try {
        check();
        return [];
    } catch (e) {
        if (e instanceof HybridInfraConfigErrors) return [...e.errors];
        if (e instanceof HybridInfraConfigError) return [e];
        throw e;
    }
}

/**
 * The problems with their paths rewritten, e.g. a component's own arg path `nodes[2].labels` to the stack
 * config's `hosts[3].labels` when the cluster composition made that component's args from its hosts.
 */
export function remapPaths(problems: readonly HybridInfraConfigError[], map: (text: string) => string): HybridInfraConfigError[] {
    // Paths named inside the text (`duplicates nodes[0].name`, `is set from nodes[2].location`) too.
    return problems.map((p) => {
        const [path, problem, fix] = [map(p.path), map(p.problem), map(p.fix)];
        return path === p.path && problem === p.problem && fix === p.fix ? p : new HybridInfraConfigError(path, problem, fix);
    });
}

/**
 * The one error channel of every validator: checks add problems here instead of throwing at the first, and
 * the caller throws them all at once (`throwIfAny`). Each problem keeps its path, the value it received (in
 * its text, through `showValue`) and its fix.
 */
export class ProblemList {
    private readonly list: HybridInfraConfigError[] = [];

    /** Adds one problem: `path: problem. Fix: fix`. */
    add(path: string, problem: string, fix: string): void {
        this.push(new HybridInfraConfigError(path, problem, fix));
    }

    /**
     * Adds problems another validator returned. One already in the list (the same path, problem and fix, found
     * by two checks that share a rule) is kept once.
     */
    push(...problems: readonly HybridInfraConfigError[]): void {
        for (const p of problems) if (!this.list.some((q) => q.message === p.message)) this.list.push(p);
    }

    /** Runs a check that throws its problems, and keeps them (see `problemsOf`). */
    collect(check: () => void): void {
        this.push(...problemsOf(check));
    }

    get problems(): readonly HybridInfraConfigError[] {
        return this.list;
    }

    get empty(): boolean {
        return this.list.length === 0;
    }

    /** Throws every problem collected so far (one as itself, several together); nothing when there is none. */
    throwIfAny(): void {
        throwAll(this.list);
    }
}
