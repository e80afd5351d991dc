import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { remoteStep, RemoteStepArgs } from "../host/step";
import { encodeSecretStdin, renderHostScript } from "../host/script";

/** `RemoteStepArgs` whose body may depend on an Input (e.g. a Tailscale node-ip known only after apply). */
export interface K3sStepArgs extends Omit<RemoteStepArgs, "create"> {
    readonly create: pulumi.Input<string>;
}

/**
 * A host step. With a plain body this is exactly `remoteStep` (the script is fully known in preview); with an
 * Output body the same script is rendered once the Output resolves, so the step is still one
 * `remote.Command` with identical create/update/delete/stdin/logging semantics.
 */
export function k3sStep(name: string, args: K3sStepArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    if (typeof args.create === "string") return remoteStep(name, { ...args, create: args.create }, opts);
    const secretNames = Object.keys(args.secrets ?? {});
    const create = pulumi.output(args.create).apply(
        (body) => renderHostScript({ host: args.host, step: args.step, body, readsSecrets: secretNames.length > 0 }).command,
    );
    const del = args.delete !== undefined ? renderHostScript({ host: args.host, step: `${args.step}-delete`, body: args.delete }) : undefined;
    const stdin =
        secretNames.length > 0
            ? pulumi.secret(pulumi.all(args.secrets ?? {}).apply((values) => encodeSecretStdin(values as Record<string, string>)))
            : undefined;
    return new command.remote.Command(
        name,
        {
            connection: args.connection,
            create,
            update: create,
            ...(del !== undefined ? { delete: del.command } : {}),
            ...(stdin !== undefined ? { stdin } : {}),
            ...(args.triggers !== undefined ? { triggers: args.triggers } : {}),
            logging: args.secretStdout ? command.types.enums.remote.Logging.None : command.types.enums.remote.Logging.StdoutAndStderr,
        },
        { ...opts, additionalSecretOutputs: [...(opts.additionalSecretOutputs ?? []), ...(args.secretStdout ? ["stdout"] : [])] },
    );
}

/** `fn(values)` now when every input is a plain string, else an Output of it. */
export function whenResolved(inputs: readonly (pulumi.Input<string> | undefined)[], fn: (values: (string | undefined)[]) => string): pulumi.Input<string> {
    if (inputs.every((i) => i === undefined || typeof i === "string")) return fn(inputs as (string | undefined)[]);
    return pulumi.all(inputs.map((i) => (i === undefined ? pulumi.output(undefined as string | undefined) : pulumi.output(i)))).apply((vs) => fn(vs));
}
