import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { setInternals, getInternals } from "../util/internals";

/** ECDSA P-256: small keys, accepted by every current TLS client and by Cloudflare's Origin CA (`origin-ecc`). */
export function ecdsaKey(name: string, opts: pulumi.CustomResourceOptions): tls.PrivateKey {
    // The tls SDK marks the private key outputs as secret itself.
    return new tls.PrivateKey(name, { algorithm: "ECDSA", ecdsaCurve: "P256" }, opts);
}

export interface PrivateCaArgs {
    /**
     * The CA certificate's common name.
     * @default "HybridInfra private CA"
     */
    readonly commonName?: string;
    /**
     * The CA certificate's organization.
     * @default "HybridInfra"
     */
    readonly organization?: string;
    /**
     * How long the CA certificate is valid, in hours.
     * @default 87600 (10 years)
     */
    readonly validityHours?: number;
}

export interface PrivateCaInternals {
    readonly certPem: pulumi.Output<string>;
    /** Secret. */
    readonly privateKeyPem: pulumi.Output<string>;
}

/**
 * A cluster's private CA: one key and one self-signed CA certificate that sign every app's leaf.
 * A helper, not a component (it adds no schema surface): its two resources go under `opts.parent`.
 */
export class PrivateCa {
    /** PEM of the CA certificate: give it to clients that should trust the apps. */
    public readonly certPem: pulumi.Output<string>;

    constructor(name: string, args: PrivateCaArgs = {}, opts: pulumi.CustomResourceOptions = {}) {
        const key = ecdsaKey(`${name}-key`, opts);
        const cert = new tls.SelfSignedCert(
            `${name}-cert`,
            {
                privateKeyPem: pulumi.secret(key.privateKeyPem),
                isCaCertificate: true,
                subject: { commonName: args.commonName ?? "HybridInfra private CA", organization: args.organization ?? "HybridInfra" },
                // No earlyRenewalHours: a re-issued CA would invalidate every leaf at once, so it only changes on request.
                validityPeriodHours: args.validityHours ?? 87600,
                allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
            },
            opts,
        );
        this.certPem = cert.certPem;
        setInternals<PrivateCaInternals>(this, { certPem: cert.certPem, privateKeyPem: pulumi.secret(key.privateKeyPem) });
    }
}

export function privateCaInternals(ca: PrivateCa): PrivateCaInternals {
    return getInternals<PrivateCaInternals>(ca);
}

/** A leaf certificate and its key. */
export interface IssuedCert {
    /** The certificate (for a private CA followed by the CA certificate, so clients get the chain). */
    readonly certPem: pulumi.Output<string>;
    /** Secret. */
    readonly privateKeyPem: pulumi.Output<string>;
    /** When the certificate expires (RFC 3339). */
    readonly expiresAt?: pulumi.Output<string>;
}

/**
 * A server certificate for `hostnames`, signed by the given CA. One year; it is renewed only by a
 * `pulumi up` run within 30 days of its expiry (`earlyRenewalHours`): nothing renews it in the cluster.
 */
export function issuePrivateCaLeaf(
    name: string,
    args: { hostnames: readonly string[]; caCertPem: pulumi.Input<string>; caPrivateKeyPem: pulumi.Input<string> },
    opts: pulumi.CustomResourceOptions,
): IssuedCert {
    const key = ecdsaKey(`${name}-key`, opts);
    const csr = new tls.CertRequest(`${name}-csr`, { privateKeyPem: pulumi.secret(key.privateKeyPem), subject: { commonName: args.hostnames[0] }, dnsNames: [...args.hostnames] }, opts);
    const cert = new tls.LocallySignedCert(
        `${name}-cert`,
        {
            certRequestPem: csr.certRequestPem,
            caCertPem: args.caCertPem,
            caPrivateKeyPem: pulumi.secret(args.caPrivateKeyPem),
            validityPeriodHours: 8760,
            earlyRenewalHours: 720,
            allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
        },
        opts,
    );
    return {
        certPem: pulumi.all([cert.certPem, args.caCertPem]).apply(([leaf, ca]) => `${leaf.trimEnd()}\n${ca.trimEnd()}\n`),
        privateKeyPem: pulumi.secret(key.privateKeyPem),
        expiresAt: cert.validityEndTime,
    };
}
