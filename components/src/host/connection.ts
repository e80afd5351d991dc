import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import { SshHostArgs, SshJumpArgs, validatePrivateKey } from "./model";
import { compact } from "../util/compact";

type ConnectionArgs = command.types.input.remote.ConnectionArgs;

function checkedKey(name: string, key: pulumi.Input<string>): pulumi.Output<string> {
    // Keys that are Outputs (e.g. from `config.requireSecret`) are checked when they resolve.
    return pulumi.secret(
        pulumi.output(key).apply((k) => {
            validatePrivateKey(`hosts[${name}].ssh.privateKey`, k);
            return k;
        }),
    );
}

/** The dial settings that were set; unset ones are left to pulumi-command's defaults (10 dials, 15 s). */
function dialSettings(h: Pick<SshJumpArgs, "dialErrorLimit" | "perDialTimeout">): { dialErrorLimit?: number; perDialTimeout?: number } {
    return compact({ dialErrorLimit: h.dialErrorLimit, perDialTimeout: h.perDialTimeout });
}

/**
 * The `remote.Command` connection for a host: private key as a secret, host key pinned when given, and
 * the jump host as `proxy` (one hop: pulumi-command's proxy connection has no proxy of its own, so
 * `validateSshHosts` rejects longer chains), dial retries and timeouts when set. The whole connection is secret because it carries the key.
 */
export function connectionFor(host: SshHostArgs, hostsByName: ReadonlyMap<string, SshHostArgs>): pulumi.Output<ConnectionArgs> {
    let proxy: command.types.input.remote.ProxyConnectionArgs | undefined;
    const jump: SshJumpArgs | undefined = host.jump ?? (host.jumpHost !== undefined ? hostsByName.get(host.jumpHost) : undefined);
    if (host.jumpHost !== undefined && jump === undefined) {
        throw new Error(`jump host ${host.jumpHost} of ${host.name} is unknown (validateSshHosts was not called)`);
    }
    if (jump !== undefined) {
        proxy = {
            host: jump.address,
            port: jump.port ?? 22,
            user: jump.user ?? "root",
            privateKey: checkedKey(host.jumpHost ?? "jump", jump.privateKey),
            ...compact({ hostKey: jump.hostKey }),
            ...dialSettings(jump),
        };
    }
    const connection: ConnectionArgs = {
        host: host.address,
        port: host.port ?? 22,
        user: host.user ?? "root",
        privateKey: checkedKey(host.name, host.privateKey),
        ...compact({ hostKey: host.hostKey }),
        ...dialSettings(host),
        ...compact({ proxy }),
    };
    return pulumi.secret(pulumi.output(connection)) as pulumi.Output<ConnectionArgs>;
}
