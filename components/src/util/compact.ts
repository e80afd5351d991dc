/**
 * `compact(o)`'s type: a key whose type admits `undefined` becomes optional without `undefined`
 * (`{ a: string; b: number | undefined }` → `{ a: string; b?: number }`), so the result fits optional
 * properties under `exactOptionalPropertyTypes` as well; every other key stays as it is.
 */
export type Compact<T extends object> = Flat<
    { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & { [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined> }
>;

type Flat<T> = { [K in keyof T]: T[K] };

/**
 * A shallow copy of `o` without its `undefined`-valued keys, in `o`'s key order:
 * `{ name, ...compact({ port: h.port, user: h.user }) }` in place of
 * `{ name, ...(h.port !== undefined ? { port: h.port } : {}), ...(h.user !== undefined ? { user: h.user } : {}) }`.
 * Only `undefined` is dropped: `null`, `false`, `0`, `""` and `NaN` are kept. Nested objects are not looked
 * into, and only own enumerable string keys are copied (as a spread of an object literal would).
 */
export function compact<T extends object>(o: T): Compact<T> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
    return out as Compact<T>;
}
