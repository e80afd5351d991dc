import * as pulumi from "@pulumi/pulumi";

// `getPackage` is public at runtime but marked internal in the SDK's declarations.
function packageOf(p: pulumi.ProviderResource): string | undefined {
    const withPackage = p as unknown as { getPackage?: () => string };
    return typeof withPackage.getPackage === "function" ? withPackage.getPackage() : undefined;
}

/** True when a kubernetes provider reaches a component created with `opts` (its own or its parent's). */
export function hasKubernetesProvider(opts: pulumi.ComponentResourceOptions | undefined): boolean {
    if (opts === undefined) return false;
    if (opts.provider !== undefined && packageOf(opts.provider) === "kubernetes") return true;
    const providers = opts.providers;
    if (Array.isArray(providers)) {
        if (providers.some((p: pulumi.ProviderResource) => packageOf(p) === "kubernetes")) return true;
    } else if (providers !== undefined && (providers as Record<string, pulumi.ProviderResource>).kubernetes !== undefined) {
        return true;
    }
    return opts.parent?.getProvider("kubernetes::any") !== undefined;
}

/**
 * Fails unless a kubernetes provider reaches the component. Without one, its children would silently use
 * the default provider: whatever cluster the operator's kubeconfig points at, not the one HybridInfra built.
 * Called before `super()`, so nothing is registered.
 */
export function requireKubernetesProvider(opts: pulumi.ComponentResourceOptions | undefined, kind: string, name: string): void {
    if (!hasKubernetesProvider(opts)) {
        throw new Error(
            `${kind} ${JSON.stringify(name)}: no kubernetes provider was given, so its objects would go to whatever cluster the local kubeconfig points at. ` +
                `Fix: pass the cluster's provider, e.g. new ${kind}(${JSON.stringify(name)}, args, { providers: { kubernetes: clusterProvider } }), or create it under a parent that has one`,
        );
    }
}
