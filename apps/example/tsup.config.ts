import { appBuild } from '../../tooling/tsup';

// The dashboard is a TypeScript module exporting the page, so it is bundled with no loader.
export default appBuild('src/main.ts');
