import { packageBuild } from '../../tooling/tsup';

// `stripInternal`: the engine's host members and modules (marked `@internal`) stay out of the
// published types; only the public API is declared.
export default packageBuild({ dts: { compilerOptions: { stripInternal: true } } });
