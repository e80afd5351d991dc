import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { encodeSecretStdin, renderHostScript } from "./script";
import { compact } from "../util/compact";

/** What one host step does: plain rendered text in, one `remote.Command` out. */
export interface RemoteStepArgs {
    /** Logical host name (for messages and the script's log prefix). */
    readonly host: string;
    /** Step name, e.g. `wg-install`. */
    readonly step: string;
    /** The SSH connection (from `connectionFor`). */
    readonly connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
    /**
     * Bash body run on create and on every change of the inputs (scripts are idempotent). It may be an
     * Output (e.g. a config that holds a Tailscale address known only after apply); a plain string keeps the
     * whole script known in preview.
     */
    readonly create: pulumi.Input<string>;
    /** Bash body that undoes the step when the resource is deleted. */
    readonly delete?: string;
    /** Secrets the scripts read from stdin (never argv, never the log). */
    readonly secrets?: Record<string, pulumi.Input<string>>;
    /** Values whose change must replace the step (run delete, then create) instead of updating it. */
    readonly triggers?: pulumi.Input<unknown>[];
    /**
     * The step's stdout carries a secret (e.g. a kubeconfig): no logging, and stdout is stored as a secret.
     * @default false
     */
    readonly secretStdout?: boolean;
}

/**
 * Creates one host step. `update` is the same script as `create`, so a changed script is applied in place
 * (no delete/recreate, e.g. no interface restart). Only `triggers` force a replacement.
 */
export function remoteStep(name: string, args: RemoteStepArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    const secretNames = Object.keys(args.secrets ?? {});
    const render = (body: string) => renderHostScript({ host: args.host, step: args.step, body, readsSecrets: secretNames.length > 0 }).command;
    const create = typeof args.create === "string" ? render(args.create) : pulumi.output(args.create).apply(render);
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
            ...compact({ stdin, triggers: args.triggers }),
            logging: args.secretStdout ? command.types.enums.remote.Logging.None : command.types.enums.remote.Logging.StdoutAndStderr,
        },
        {
            ...opts,
            additionalSecretOutputs: [...(opts.additionalSecretOutputs ?? []), ...(args.secretStdout ? ["stdout"] : [])],
        },
    );
}

/** The line a reconverge generation adds to every host step's command, after its `# hybridinfra:` header. */
export function reconvergeLine(generation: number): string {
    return `# reconverge: ${generation}`;
}

function withReconvergeLine(text: string, generation: number): string {
    const nl = text.indexOf("\n");
    return nl < 0 ? `${text}\n${reconvergeLine(generation)}` : `${text.slice(0, nl + 1)}${reconvergeLine(generation)}\n${text.slice(nl + 1)}`;
}

/**
 * A transformation (for a component's `transformations`, inherited by every resource under it) that puts
 * `# reconverge: <generation>` into the create and update text of every host step. Raising the generation
 * changes every step's text, so the next `pulumi up` updates every host step in place: each idempotent
 * script runs again, repairs what drifted on the host and prints it (`changed <file>`, `brought up wg0`, ...).
 * Never a replace: `triggers` would run the old step's delete (taking the overlay down). Without a generation
 * nothing is added, so configs that never set it render as before.
 */
export function reconvergeTransformation(generation: number | undefined): pulumi.ResourceTransformation {
    return (a) => {
        if (generation === undefined || a.type !== "command:remote:Command") return undefined;
        const mark = (v: pulumi.Input<string> | undefined): pulumi.Input<string> | undefined =>
            v === undefined ? undefined : typeof v === "string" ? withReconvergeLine(v, generation) : pulumi.output(v).apply((t) => withReconvergeLine(t, generation));
        const create = mark(a.props.create);
        // remoteStep passes one value for both: keep them one (a change to either is an update).
        const update = a.props.update === a.props.create ? create : mark(a.props.update);
        return { props: { ...a.props, create, update }, opts: a.opts };
    };
}
