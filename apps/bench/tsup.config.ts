import { appBuild } from '../../tooling/tsup';

export default appBuild('src/index.ts');
