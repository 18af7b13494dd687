/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.(t|j)s$': ['@swc/jest'] },
  // plist@5 (a test-only oracle) is ESM with an import-only export map: point jest at
  // its file and let swc turn it into CommonJS.
  moduleNameMapper: { '^plist$': '<rootDir>/node_modules/plist/dist/index.js' },
  transformIgnorePatterns: ['/node_modules/(?!plist/)'],
  testTimeout: 20000,
};
