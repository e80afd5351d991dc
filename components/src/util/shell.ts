/** Quotes a string for POSIX shells: the result is one word whatever the input holds. */
export function shellQuote(value: string): string {
    if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
    return `'${value.replace(/'/g, `'"'"'`)}'`;
}

/**
 * Picks a heredoc delimiter that does not occur as a line of `body`, so that any text can be embedded
 * verbatim with a quoted heredoc (no expansion).
 */
export function heredocDelimiter(body: string, base = "HYBRIDINFRA_EOF"): string {
    // Fast path: text that does not contain the base anywhere cannot have it as a line (most scripts).
    if (!body.includes(base)) return base;
    const lines = new Set(body.split("\n"));
    let delimiter = base;
    for (let i = 1; lines.has(delimiter); i++) delimiter = `${base}_${i}`;
    return delimiter;
}

/** A shell identifier made from a free-form name (host names, step names). */
export function shellIdent(name: string): string {
    const ident = name.replace(/[^A-Za-z0-9_]/g, "_");
    return /^[0-9]/.test(ident) ? `_${ident}` : ident;
}
