import { packageBuild } from '../../tooling/tsup';

// `stripInternal`: the engine's host members and modules (marked `@internal`) stay out of the
// published types; only the public API is declared. `shims`: the CJS build gets an
// `import.meta.url`, which `connectionType` uses to load its driver package synchronously.
export default packageBuild({ dts: { compilerOptions: { stripInternal: true } }, shims: true });
