/**
 * Side channel from an exported component to the code that composes it.
 *
 * The component-package analyzer reads every class field of an exported component as a schema output, so
 * fields may only be `pulumi.Output`s of plain values. Handles that only TypeScript composition needs (child
 * components and resources, plan results) are kept here instead, keyed by the component instance.
 */
const store = new WeakMap<object, unknown>();

export function setInternals<T>(component: object, value: T): void {
    store.set(component, value);
}

export function getInternals<T>(component: object): T {
    if (!store.has(component)) throw new Error("component has no internals (was it constructed by HybridInfra?)");
    return store.get(component) as T;
}
