// Structural diff of two JSON values, one line per changed path, for golden-file failures that a reviewer
// can read without a diff tool: `+ path: value`, `- path: value`, `~ path: old → new`.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(v: Json): v is { [key: string]: Json } {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

function show(v: Json): string {
    const s = JSON.stringify(v);
    return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

function key(pathSoFar: string, k: string): string {
    return /^[A-Za-z_$][\w$]*$/.test(k) ? `${pathSoFar}.${k}` : `${pathSoFar}[${JSON.stringify(k)}]`;
}

export function jsonDiff(expected: Json, actual: Json, at = "$"): string[] {
    if (isObject(expected) && isObject(actual)) {
        const lines: string[] = [];
        for (const k of Object.keys(expected)) {
            if (!(k in actual)) lines.push(`- ${key(at, k)}: ${show(expected[k]!)}`);
            else lines.push(...jsonDiff(expected[k]!, actual[k]!, key(at, k)));
        }
        for (const k of Object.keys(actual)) {
            if (!(k in expected)) lines.push(`+ ${key(at, k)}: ${show(actual[k]!)}`);
        }
        // Key order is part of the file (it orders the generated SDKs' members): report a pure reordering.
        if (lines.length === 0 && Object.keys(expected).join("\0") !== Object.keys(actual).join("\0")) {
            lines.push(`~ ${at}: key order ${show(Object.keys(expected))} → ${show(Object.keys(actual))}`);
        }
        return lines;
    }
    if (Array.isArray(expected) && Array.isArray(actual)) {
        const lines: string[] = [];
        const n = Math.max(expected.length, actual.length);
        for (let i = 0; i < n; i++) {
            if (i >= actual.length) lines.push(`- ${at}[${i}]: ${show(expected[i]!)}`);
            else if (i >= expected.length) lines.push(`+ ${at}[${i}]: ${show(actual[i]!)}`);
            else lines.push(...jsonDiff(expected[i]!, actual[i]!, `${at}[${i}]`));
        }
        return lines;
    }
    return JSON.stringify(expected) === JSON.stringify(actual) ? [] : [`~ ${at}: ${show(expected)} → ${show(actual)}`];
}
