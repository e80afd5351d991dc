import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import { SshHostArgs, SshJumpArgs, validatePrivateKey } from "./model";

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

/**
 * The `remote.Command` connection for a host: private key as a secret, host key pinned when given, and
 * the jump host as `proxy`. The whole connection is secret because it carries the key.
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
            ...(jump.hostKey !== undefined ? { hostKey: jump.hostKey } : {}),
        };
    }
    const connection: ConnectionArgs = {
        host: host.address,
        port: host.port ?? 22,
        user: host.user ?? "root",
        privateKey: checkedKey(host.name, host.privateKey),
        ...(host.hostKey !== undefined ? { hostKey: host.hostKey } : {}),
        ...(proxy !== undefined ? { proxy } : {}),
    };
    return pulumi.secret(pulumi.output(connection)) as pulumi.Output<ConnectionArgs>;
}
