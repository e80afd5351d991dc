export * from "./util/errors";
export * from "./host";
