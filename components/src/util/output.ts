import * as pulumi from "@pulumi/pulumi";

/** `fn(values)` now when every input is a plain string, else an Output of it. */
export function whenResolved(inputs: readonly (pulumi.Input<string> | undefined)[], fn: (values: (string | undefined)[]) => string): pulumi.Input<string> {
    if (inputs.every((i) => i === undefined || typeof i === "string")) return fn(inputs as (string | undefined)[]);
    return pulumi.all(inputs.map((i) => (i === undefined ? pulumi.output(undefined as string | undefined) : pulumi.output(i)))).apply((vs) => fn(vs));
}
