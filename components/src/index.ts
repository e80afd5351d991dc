export * from "./util/errors";
export * from "./host";
export * from "./util/internals";
