// ESLint flat config: TypeScript sources and tests, type-aware rules for src/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'out/**',
      'node_modules/**',
      '.venv/**',
      'models/**',
      'training/**',
      'data/**',
      'runs/**',
      '.cache/**',
      '.vscode-test/**',
      'test-artifacts/**',
      'tools/vscode-host/node_modules/**',
      'tools/vscode-host/.cache/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
    },
  },
  {
    // The runtime must stay free of the editor API: it is shared by the extension, the CLI and the tests.
    files: ['src/runtime/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'vscode', message: 'src/runtime/ must not import vscode.' }] },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        __dirname: 'readonly',
        require: 'readonly',
        module: 'writable',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        document: 'readonly',
        window: 'readonly',
        acquireVsCodeApi: 'readonly',
      },
    },
  },
  {
    // The code-server harness and the in-host suite are plain CommonJS run by Node (and, for the page
    // callbacks, in the browser).
    files: ['tools/vscode-host/**/*.js', 'test/host/**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        describe: 'readonly',
        it: 'readonly',
        before: 'readonly',
        after: 'readonly',
        performance: 'readonly',
        MutationObserver: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        Buffer: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
