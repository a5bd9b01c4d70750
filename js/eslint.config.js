// ESLint flat config for the widget's front end (run: `npx eslint .` in js/, or scripts/lint.sh).
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/", "../midime_widgets/static/"] },
  js.configs.recommended,
  {
    // The widget code runs in the browser (bundled by esbuild as ES modules).
    files: ["src/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.browser },
    rules: {
      "no-unused-vars": ["error", { argsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // Build scripts and this config run in Node.
    files: ["*.js", "*.mjs"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.node },
  },
];
