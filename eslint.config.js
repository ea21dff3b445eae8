import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Layering (docs/architecture.md): each folder of src/ may import only the folders listed for it.
 * The ground floor (model, util, infra) imports nothing above it; the composition (engine, testbed,
 * cli) may import every stage. A violation is a lint error in CI.
 */
const GROUND = ['model', 'util', 'infra'];
const ENFORCED = 'error';
const MAY_IMPORT = {
  model: [],
  util: ['model'],
  infra: ['model', 'util'],
  pipeline: [...GROUND],
  sources: [...GROUND],
  store: [...GROUND],
  // A stage may import the stages before it in the data flow (sources before detect, ...).
  detect: [...GROUND, 'sources'],
  characterize: [...GROUND, 'store', 'sources', 'detect'],
  respond: [...GROUND, 'store'],
  server: [...GROUND, 'store', 'pipeline', 'sources', 'detect', 'characterize', 'respond'],
  eval: [...GROUND, 'sources', 'detect', 'characterize'],
  engine: [...GROUND, 'store', 'pipeline', 'sources', 'detect', 'characterize', 'respond', 'server'],
  testbed: [...GROUND, 'store', 'pipeline', 'sources', 'detect', 'characterize', 'respond', 'server', 'engine'],
  cli: [...GROUND, 'store', 'pipeline', 'sources', 'detect', 'characterize', 'respond', 'server', 'eval', 'engine', 'testbed'],
};
const STAGES = Object.keys(MAY_IMPORT);

const layering = Object.entries(MAY_IMPORT).map(([stage, allowed]) => {
  const forbidden = STAGES.filter((s) => s !== stage && !allowed.includes(s));
  return {
    files: [`src/${stage}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        ENFORCED,
        {
          patterns: forbidden.length
            ? [
                {
                  regex: `^(\\.\\./)+(${forbidden.join('|')})/`,
                  message: `src/${stage} may import only ${allowed.join(', ') || 'nothing else in src'} (docs/architecture.md, "Layering").`,
                },
              ]
            : [],
        },
      ],
    },
  };
});

/**
 * No module-level mutable state in src/: services, caches and counters are owned by an object that
 * the composition root creates and passes in. Constant tables are typed ReadonlySet / ReadonlyMap.
 */
const topLevel = ['Program >', 'Program > ExportNamedDeclaration >'];
const moduleState = [
  ...topLevel.flatMap((p) => [
    {
      selector: `${p} VariableDeclaration[kind=/^(let|var)$/]`,
      message: 'No module-level mutable state: a top-level let/var belongs in an object someone owns.',
    },
    {
      selector: `${p} VariableDeclaration > VariableDeclarator:not([id.typeAnnotation.typeAnnotation.typeName.name=/^Readonly(Set|Map)$/]) > NewExpression.init[callee.name=/^(Map|Set|WeakMap|WeakSet)$/]`,
      message:
        'No module-level mutable state: a top-level Map/Set/WeakMap is a global cache or registry. Type a constant table ReadonlySet/ReadonlyMap, or move the state into an owned object.',
    },
  ]),
  {
    selector: "ImportExpression[source.type!='Literal']",
    message: 'No dynamic import by a computed path: the compiler and a reader must be able to follow every import.',
  },
];

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'reports/**', 'src/web/app/dist/**', '.vigie/**', '.image-stage/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  ...layering,
  {
    files: ['src/**/*.ts'],
    ignores: ['src/web/**'],
    rules: { 'no-restricted-syntax': [ENFORCED, ...moduleState] },
  },
);
