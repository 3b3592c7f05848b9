// force timezone to UTC to allow tests to work regardless of local timezone
// generally used by snapshots, but can affect specific tests
process.env.TZ = 'UTC';

const base = require('./.config/jest.config');

// Firebreak: d3-color 3.1.1 (pulled by @grafana/data) ships only .mjs files, so
// transform .mjs with the same swc transform as .ts/.js.
const swcTransform = base.transform['^.+\\.(t|j)sx?$'];

module.exports = {
  // Jest configuration provided by Grafana scaffolding
  ...base,
  transform: {
    ...base.transform,
    '^.+\\.mjs$': swcTransform,
  },
};
