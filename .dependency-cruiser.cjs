// The dependency rules of lib/, checked by `npm run lint` (dependency-cruiser).
// The layers follow the way a request travels: certificate/ (DER, parsing) and internal/ (option
// checks, log-safe text, process-wide state) at the bottom; identity/ (the PeerIdentity model and
// registry) on them; sources/ (where an identity comes from) and outputs/ (where it goes) side by
// side on identity/; handshake/ on outputs/; the top-level files compose a source with the registry
// and the outputs. A module may only import downward, so each layer can be read, tested and
// replaced without the ones above it.

/** Top-level files that compose layers; a module under a folder importing one would import upward. */
const COMPOSITION_FILES = '^lib/(middleware|index|cli|get-peer-identity|span-hook|structured-logs)[.]ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'An import loop means neither module can be understood, loaded or tested without the other ' +
        '(and ESM hands one of them an uninitialised binding). Move what both need into a module below them.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'certificate-imports-only-below',
      severity: 'error',
      comment:
        'certificate/ is the bottom layer: reading DER and parsing certificates must not depend on how ' +
        'identities are modelled, sourced or reported. It may use only certificate/, internal/ and lib/errors.ts.',
      from: { path: '^lib/certificate/' },
      to: { path: '^lib/', pathNot: '^lib/(certificate/|internal/|errors[.]ts$)' },
    },
    {
      name: 'identity-imports-only-below',
      severity: 'error',
      comment:
        'identity/ (the PeerIdentity model, its verify vocabulary and the registry) is shared by every ' +
        'source and output, so it must not know any of them: no sources/, outputs/, handshake/, dev-certs/ ' +
        'or top-level files. A source key the registry needs belongs in identity/, not the other way round.',
      from: { path: '^lib/identity/' },
      to: { path: '^lib/', pathNot: '^lib/(identity/|certificate/|internal/|errors[.]ts$)' },
    },
    {
      name: 'sources-do-not-import-outputs',
      severity: 'error',
      comment:
        'A source only produces identities; what is logged, traced or counted is the outputs\' business. ' +
        'Events a source wants reported go back to the composing middleware, which hands them to the outputs.',
      from: { path: '^lib/sources/' },
      to: { path: '^lib/outputs/' },
    },
    {
      name: 'outputs-do-not-import-sources',
      severity: 'error',
      comment:
        'An output reports a PeerIdentity whatever source produced it; reaching into a source would tie ' +
        'tracing, metrics or morgan to the TLS socket or one proxy format.',
      from: { path: '^lib/outputs/' },
      to: { path: '^lib/sources/' },
    },
    {
      name: 'nothing-below-imports-handshake',
      severity: 'error',
      comment:
        'handshake/ sits on outputs/ and identity/ (it reports failed handshakes through them); a lower ' +
        'layer importing it would import upward.',
      from: { path: '^lib/(certificate|identity|internal|sources|outputs)/' },
      to: { path: '^lib/handshake/' },
    },
    {
      name: 'internal-imports-nothing-in-lib',
      severity: 'error',
      comment:
        'internal/ holds helpers every layer uses (option checks, log-safe text, warn-once, process-wide ' +
        'state); anything it imported from lib/ would be imported by everything. Only lib/errors.ts is allowed.',
      from: { path: '^lib/internal/' },
      to: { path: '^lib/', pathNot: '^lib/(internal/|errors[.]ts$)' },
    },
    {
      name: 'no-import-of-composition-files',
      severity: 'error',
      comment:
        'The top-level files (middleware, index, cli, get-peer-identity, span-hook) combine a source with ' +
        'the registry and the outputs; a module under a folder importing one would import the whole tree ' +
        'above it. Move the shared piece down into the layer that owns it.',
      from: { path: '^lib/.+/' },
      to: { path: COMPOSITION_FILES },
    },
    {
      name: 'no-import-of-entry-points',
      severity: 'error',
      comment:
        'lib/index.ts (the package entry, re-exports only) and lib/cli.ts (the bin) are entry points: ' +
        'importing one from inside lib/ would make the public surface a dependency of its own parts.',
      from: { path: '^lib/' },
      to: { path: '^lib/(index|cli)[.]ts$' },
    },
    {
      name: 'dev-certs-only-for-the-cli',
      severity: 'error',
      comment:
        'lib/dev-certs/ is its own package export (mtls-observability/dev-certs) and pulls in pkijs to ' +
        'write certificates; only the CLI, which exposes it on the command line, may import it.',
      from: { path: '^lib/', pathNot: '^lib/(dev-certs/|cli[.]ts$)' },
      to: { path: '^lib/dev-certs/' },
    },
    {
      name: 'lib-does-not-import-tests-bench-examples',
      severity: 'error',
      comment:
        'Only dist/ (built from lib/) is published; an import of test/, bench/ or examples/ would break ' +
        'the installed package and couple the library to its test scaffolding.',
      from: { path: '^lib/' },
      to: { path: '^(test|bench|examples)/' },
    },
    {
      name: 'no-orphans',
      severity: 'error',
      comment:
        'A module in lib/ that imports nothing and that nothing imports is dead code or a forgotten ' +
        're-export; wire it in or delete it.',
      from: { orphan: true, path: '^lib/', pathNot: '[.]d[.]ts$' },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'The module cannot be resolved: a typo, a missing file or a package that is not installed.',
      from: {},
      // Examples, benchmarks and tests import the package by its own name, which resolves to dist/
      // only after `npm run build`; test/package.test.ts checks those exports.
      to: { couldNotResolve: true, pathNot: '^mtls-observability(/|$)' },
    },
    {
      name: 'no-undeclared-packages',
      severity: 'error',
      comment:
        'Every package imported must be declared in package.json; an undeclared one only works by ' +
        'accident of hoisting and breaks in a clean install.',
      from: {},
      to: {
        dependencyTypes: ['npm-no-pkg', 'npm-unknown'],
        // Type resolution also reports a declared package as npm-no-pkg when it has no @types/ twin.
        dependencyTypesNot: ['npm', 'npm-dev', 'npm-peer', 'npm-optional'],
      },
    },
    {
      name: 'lib-uses-no-dev-dependencies',
      severity: 'error',
      comment:
        'Users install only "dependencies"; a devDependency imported from lib/ is missing at run time. ' +
        '@opentelemetry/api is the one exception (an optional peer), see lib-imports-otel-api-types-only.',
      from: { path: '^lib/' },
      to: { dependencyTypes: ['npm-dev'], pathNot: '^node_modules/@opentelemetry/api/' },
    },
    {
      name: 'lib-imports-otel-api-types-only',
      severity: 'error',
      comment:
        '@opentelemetry/api is an optional peer dependency: lib/ may import its types, but the value is ' +
        'loaded lazily (lib/outputs/otel-api.ts) so the library works when the app has no OpenTelemetry.',
      from: { path: '^lib/' },
      to: { path: '^node_modules/@opentelemetry/api/', dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules'] },
    exclude: { path: '^dist/' },
    // Type-only imports are dependencies of the design too (and would otherwise make type-only
    // modules look like orphans).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
    // Keep node_modules paths as they appear in the tree, so the rules about node_modules/ also hold
    // in a checkout whose node_modules is a symlink (a git worktree sharing one install).
    preserveSymlinks: true,
  },
};
