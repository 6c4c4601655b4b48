import { packageBuild } from '../../tooling/tsup';

// Two doors: the runner-agnostic root, and `./conformance`, which imports vitest.
export default packageBuild({ entry: ['src/index.ts', 'src/conformance/index.ts'] });
