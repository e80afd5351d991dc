import * as pulumi from "@pulumi/pulumi";
import * as cloudflare from "@pulumi/cloudflare";
import * as tls from "@pulumi/tls";
import { ecdsaKey, IssuedCert } from "./tls";

/** Cloudflare's longest Origin CA validity (15 years): the certificate is only trusted by Cloudflare's edge. */
export const ORIGIN_CA_VALIDITY_DAYS = 5475;

/**
 * A Cloudflare Origin CA certificate for `hostnames`: our own key and CSR (the key never leaves Pulumi's
 * state), signed by Cloudflare. Needs a Cloudflare provider whose token may issue Origin CA certificates.
 */
export function issueOriginCaCert(name: string, hostnames: readonly string[], opts: pulumi.CustomResourceOptions): IssuedCert {
    const key = ecdsaKey(`${name}-key`, opts);
    const csr = new tls.CertRequest(`${name}-csr`, { privateKeyPem: pulumi.secret(key.privateKeyPem), subject: { commonName: hostnames[0] }, dnsNames: [...hostnames] }, opts);
    const cert = new cloudflare.OriginCaCertificate(
        `${name}-origin-cert`,
        { csr: csr.certRequestPem, hostnames: [...hostnames], requestType: "origin-ecc", requestedValidity: ORIGIN_CA_VALIDITY_DAYS },
        opts,
    );
    return { certPem: cert.certificate, privateKeyPem: pulumi.secret(key.privateKeyPem), expiresAt: cert.expiresOn };
}
