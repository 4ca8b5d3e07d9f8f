// Preloaded (NODE_OPTIONS=--require this file, which reaches worker threads too) into a process that must
// run as on a platform with no prebuilt @napi-rs/blake-hash binary: resolving any of its platform
// packages fails as when npm skipped it, so the package's own loader throws and DMFS falls back to wasm.
const Module = require("node:module");

const resolve = Module._resolveFilename;
Module._resolveFilename = function resolveWithoutNativeBlake3(request, ...rest) {
  if (request.startsWith("@napi-rs/blake-hash-")) {
    const err = new Error(`Cannot find module '${request}' (hidden by hide-native-blake3.cjs)`);
    err.code = "MODULE_NOT_FOUND";
    throw err;
  }
  return resolve.call(this, request, ...rest);
};
