/** A lowercase DNS label (RFC 1123): also the shape of Kubernetes object and namespace names. */
export const DNS_LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** True for a lowercase fully qualified hostname (`app.example.com`), optionally with a leading `*.` wildcard. */
export function isValidHostname(hostname: string): boolean {
    if (typeof hostname !== "string" || hostname.length > 253) return false;
    const labels = (hostname.startsWith("*.") ? hostname.slice(2) : hostname).split(".");
    return labels.length >= 2 && labels.every((l) => DNS_LABEL_RE.test(l)) && !/^[0-9]+$/.test(labels[labels.length - 1]);
}
