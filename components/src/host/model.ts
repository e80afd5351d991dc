import * as net from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { HybridInfraConfigError, showValue, throwAll } from "../util/errors";
import { sshReachProblems } from "./reach";
import { compact } from "../util/compact";

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
     * How many failed dials pulumi-command tolerates before the step fails (`-1`: no limit). Raise it for
     * home machines that sleep or boot slowly.
     * @default 10 (pulumi-command's default)
     */
    readonly dialErrorLimit?: number;
    /**
     * Seconds one dial attempt may take (`0`: no limit).
     * @default 15 (pulumi-command's default)
     */
    readonly perDialTimeout?: number;
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
    /** @default 10 (pulumi-command's default) */
    readonly dialErrorLimit?: number;
    /** @default 15 seconds (pulumi-command's default) */
    readonly perDialTimeout?: number;
}

/** Defaults of the dial settings, as pulumi-command 1.2.1 applies them when they are not set. */
export const SSH_DIAL_DEFAULTS = { dialErrorLimit: 10, perDialTimeout: 15 } as const;

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
 * How a domain validator treats its hosts' SSH settings. The cluster plan (`planCluster`) checks every
 * host's SSH settings once, with their stack-config paths, and passes `sshChecked: true` to the layers below.
 */
export interface SshCheckOptions {
    /** @default false: the validator checks the SSH settings itself (the component is used alone) */
    readonly sshChecked?: boolean;
}

/** The fix for an SSH address that `sshAddressProblem` rejects (the stack config's `hosts[i].ssh.address`). */
export const SSH_ADDRESS_FIX = "set the SSH address of the machine: a bare IPv4 or IPv6 address or DNS name, without a user or port (those are ssh.user and ssh.port)";

/**
 * What is wrong with an SSH address, or undefined when it is one: an IPv4 or IPv6 address (`2001:db8::1`,
 * no brackets) or a DNS name. The one rule for it: the stack config's schema and `validateSshHosts` both use it.
 */
export function sshAddressProblem(address: unknown): string | undefined {
    if (typeof address !== "string" || address.trim() === "") return "is empty";
    if (/\s/.test(address)) return "must not contain spaces";
    if (net.isIP(address) === 0 && !/^[A-Za-z0-9.-]+$/.test(address)) return "is not an IP address or DNS name";
    return undefined;
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
        const addressProblem = sshAddressProblem(h.address);
        if (addressProblem !== undefined) {
            throw new HybridInfraConfigError(`${at}.ssh.address`, `${addressProblem}${addressProblem.startsWith("is empty") ? ` for host ${showValue(h.name)}` : ""}, got ${showValue(h.address)}`, SSH_ADDRESS_FIX);
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
        if (h.dialErrorLimit !== undefined && (!Number.isInteger(h.dialErrorLimit) || h.dialErrorLimit < -1 || h.dialErrorLimit === 0 || h.dialErrorLimit > 10000)) {
            throw new HybridInfraConfigError(
                `${at}.ssh.dialErrorLimit`,
                `must be -1 (no limit) or an integer from 1 to 10000, got ${showValue(h.dialErrorLimit)}`,
                `use e.g. 30 for a machine that sleeps or boots slowly (default ${SSH_DIAL_DEFAULTS.dialErrorLimit})`,
            );
        }
        if (h.perDialTimeout !== undefined && (!Number.isInteger(h.perDialTimeout) || h.perDialTimeout < 0 || h.perDialTimeout > 3600)) {
            throw new HybridInfraConfigError(
                `${at}.ssh.perDialTimeout`,
                `must be a whole number of seconds from 0 (no limit) to 3600, got ${showValue(h.perDialTimeout)}`,
                `use e.g. 30 for a slow link (default ${SSH_DIAL_DEFAULTS.perDialTimeout})`,
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
    // The jump graph: hosts whose jump host was resolved by a composition (`jump`) were checked there.
    throwAll(
        sshReachProblems(
            hosts.map((h) => {
                const site = h as SshHostArgs & { location?: unknown; endpoint?: unknown; publicAddress?: unknown };
                const publicEndpoint = typeof site.endpoint === "string" ? site.endpoint : typeof site.publicAddress === "string" ? site.publicAddress : undefined;
                return {
                    name: h.name,
                    address: h.address,
                    ...(h.jumpHost !== undefined && h.jump === undefined ? { jumpHost: h.jumpHost } : {}),
                    ...(typeof site.location === "string" ? { location: site.location } : {}),
                    ...compact({ publicEndpoint }),
                };
            }),
            path,
        ),
    );
}
