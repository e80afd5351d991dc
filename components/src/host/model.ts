import * as pulumi from "@pulumi/pulumi";
import { HybridInfraConfigError, showValue } from "../util/errors";

/** How to reach one machine over SSH. */
export interface SshHostArgs {
    /** Logical name of the host, unique in the cluster (used in resource names and messages). */
    readonly name: string;
    /** SSH address: a DNS name or an IP address. */
    readonly address: string;
    /**
     * SSH port.
     * @default 22
     */
    readonly port?: number;
    /**
     * SSH user. A user other than root needs passwordless sudo.
     * @default "root"
     */
    readonly user?: string;
    /** The SSH private key (PEM or OpenSSH format). Treated as a secret. */
    readonly privateKey: pulumi.Input<string>;
    /**
     * The host's public key, e.g. `ssh-ed25519 AAAA…`. When given the connection is pinned to it.
     * @default not pinned (the key is not checked)
     */
    readonly hostKey?: string;
    /**
     * Name of another host of the same cluster to use as an SSH jump host (for machines that are only
     * reachable through a bastion).
     * @default no jump host
     */
    readonly jumpHost?: string;
    /**
     * The jump host's connection, when it is not one of the hosts passed alongside (a composition resolves
     * `jumpHost` names to this so that each component can be given only its own hosts).
     * @default looked up by `jumpHost` among the hosts passed alongside
     */
    readonly jump?: SshJumpArgs;
}

/** How to reach a jump host. */
export interface SshJumpArgs {
    readonly address: string;
    /** @default 22 */
    readonly port?: number;
    /** @default "root" */
    readonly user?: string;
    /** Secret. */
    readonly privateKey: pulumi.Input<string>;
    /** @default not pinned */
    readonly hostKey?: string;
}

const PRIVATE_KEY_RE =
    /^-----BEGIN ((RSA|EC|DSA|OPENSSH|ENCRYPTED) )?PRIVATE KEY-----\r?\n[\s\S]+\r?\n-----END ((RSA|EC|DSA|OPENSSH|ENCRYPTED) )?PRIVATE KEY-----\s*$/;

const HOST_NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** True when `key` looks like a PEM or OpenSSH private key. */
export function isPrivateKey(key: string): boolean {
    return PRIVATE_KEY_RE.test(key.trim());
}

/**
 * Checks a private key that is known now (a plain string). Keys that are Outputs are checked when they
 * resolve (see `connectionFor`).
 */
export function validatePrivateKey(path: string, key: string): void {
    if (!isPrivateKey(key)) {
        // Never show the value: it may be a secret pasted into the wrong key.
        throw new HybridInfraConfigError(
            path,
            `is not a PEM or OpenSSH private key (got ${key.length} characters that do not start with "-----BEGIN … PRIVATE KEY-----")`,
            "set it from the key file, e.g. `pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`",
        );
    }
}

/**
 * Validates a list of SSH hosts before any resource is registered.
 * @param hosts the hosts
 * @param path config path of the list, used in messages (e.g. `hosts`)
 */
export function validateSshHosts(hosts: readonly SshHostArgs[], path = "hosts"): void {
    const names = new Map<string, number>();
    hosts.forEach((h, i) => {
        const at = `${path}[${i}]`;
        if (typeof h.name !== "string" || !HOST_NAME_RE.test(h.name)) {
            throw new HybridInfraConfigError(
                `${at}.name`,
                `must be a lowercase DNS label (letters, digits, '-'), got ${showValue(h.name)}`,
                "use a short name such as `cloud-tokyo` or `home-pc`",
            );
        }
        if (names.has(h.name)) {
            throw new HybridInfraConfigError(
                `${at}.name`,
                `duplicates ${path}[${names.get(h.name)}].name ${showValue(h.name)}`,
                "give every host a unique name",
            );
        }
        names.set(h.name, i);
        if (typeof h.address !== "string" || h.address.trim() === "") {
            throw new HybridInfraConfigError(
                `${at}.ssh.host`,
                `is empty for host ${showValue(h.name)}, got ${showValue(h.address)}`,
                "set the SSH address (IP or DNS name) of the machine",
            );
        }
        if (/\s/.test(h.address)) {
            throw new HybridInfraConfigError(
                `${at}.ssh.host`,
                `must not contain spaces, got ${showValue(h.address)}`,
                "set a bare IP address or DNS name, without a user or port",
            );
        }
        if (h.port !== undefined && (!Number.isInteger(h.port) || h.port < 1 || h.port > 65535)) {
            throw new HybridInfraConfigError(
                `${at}.ssh.port`,
                `must be an integer from 1 to 65535, got ${showValue(h.port)}`,
                "use the port sshd listens on (22 by default)",
            );
        }
        if (h.user !== undefined && !/^[a-z_][a-z0-9_.-]*\$?$/i.test(h.user)) {
            throw new HybridInfraConfigError(
                `${at}.ssh.user`,
                `is not a valid user name, got ${showValue(h.user)}`,
                "use the login name, e.g. `root` or `ubuntu`",
            );
        }
        if (typeof h.privateKey === "string") validatePrivateKey(`${at}.ssh.privateKey`, h.privateKey);
        if (h.hostKey !== undefined && !/^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/.test(h.hostKey.trim())) {
            throw new HybridInfraConfigError(
                `${at}.ssh.hostKey`,
                `is not an SSH public host key, got ${showValue(h.hostKey)}`,
                "paste one line of `ssh-keyscan -t ed25519 <host>` without the host name, e.g. `ssh-ed25519 AAAA…`",
            );
        }
    });
    hosts.forEach((h, i) => {
        if (h.jumpHost === undefined || h.jump !== undefined) return;
        const at = `${path}[${i}].ssh.jumpHost`;
        if (!names.has(h.jumpHost)) {
            throw new HybridInfraConfigError(
                at,
                `refers to an unknown host ${showValue(h.jumpHost)}`,
                `use the name of another host in ${path} (known: ${[...names.keys()].join(", ")})`,
            );
        }
        if (h.jumpHost === h.name) {
            throw new HybridInfraConfigError(at, `points at the host itself (${showValue(h.name)})`, "remove it or name another host");
        }
        const jump = hosts[names.get(h.jumpHost)!];
        if (jump.jumpHost !== undefined) {
            throw new HybridInfraConfigError(
                at,
                `names ${showValue(h.jumpHost)}, which itself goes through a jump host; only one hop is supported`,
                "use a jump host that is reachable directly",
            );
        }
    });
}
