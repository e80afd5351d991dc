import * as crypto from "node:crypto";

// DER header of a PKCS#8 X25519 private key; the 32 key bytes follow it.
const PKCS8_X25519_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

/**
 * The WireGuard public key (base64) of a private key (base64 of 32 bytes), computed in-process with
 * X25519 exactly as `wg pubkey` does. Any 32 bytes are a valid private key: X25519 clamps them.
 */
export function wireguardPublicKey(privateKeyBase64: string): string {
    const raw = Buffer.from(privateKeyBase64.trim(), "base64");
    if (raw.length !== 32) throw new Error(`a WireGuard private key is 32 bytes of base64, got ${raw.length} bytes`);
    const key = crypto.createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, raw]), format: "der", type: "pkcs8" });
    const spki = crypto.createPublicKey(key).export({ format: "der", type: "spki" });
    return spki.subarray(spki.length - 32).toString("base64");
}

/** True when `text` is the base64 of exactly 32 bytes (the form of WireGuard keys). */
export function isWireguardKey(text: string): boolean {
    return /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(text);
}
