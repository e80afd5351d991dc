export * from "./plan";
export * from "./traefikDashboard";
export * from "./certManager";
