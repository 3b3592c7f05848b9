// The SQL validator's port of Grafana's interpolation and the plugin's
// macros must agree with the plugin: these cases are those of
// grafana-plugin/pkg/macros/macros_test.go and src/templating.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ExpandContext, expand, expandMacros, formatInterval, interpolate, parseInterval } from '../src/expand';

const c: ExpandContext = { fromMs: 1_700_000_000_000, toMs: 1_700_003_600_000, intervalMs: 60_000, variables: {} };

describe('expandMacros', () => {
  const cases: [string, string, string][] = [
    ['no macros', 'SELECT 1', 'SELECT 1'],
    [
      'time filter',
      'SELECT * FROM samples WHERE $__timeFilter(time)',
      'SELECT * FROM samples WHERE (time >= fromUnixTimestamp64Milli(1700000000000) AND time <= fromUnixTimestamp64Milli(1700003600000))',
    ],
    ['time group seconds', 'SELECT $__timeGroup(time, 5m) AS t', 'SELECT toStartOfInterval(time, INTERVAL 300 SECOND) AS t'],
    ['time group with $__interval', '$__timeGroup(time,$__interval)', 'toStartOfInterval(time, INTERVAL 60 SECOND)'],
    ['time group days', '$__timeGroup(time, 1d)', 'toStartOfInterval(time, INTERVAL 86400 SECOND)'],
    ['time group plain seconds', '$__timeGroup(time, 15)', 'toStartOfInterval(time, INTERVAL 15 SECOND)'],
    ['time group milliseconds', '$__timeGroup(time, 250ms)', 'toStartOfInterval(time, INTERVAL 250 MILLISECOND)'],
    ['nested parentheses and quotes', "$__timeGroup(if(x = ',)', a, b), 1m)", "toStartOfInterval(if(x = ',)', a, b), INTERVAL 60 SECOND)"],
    ['interval', "SELECT '$__interval'", "SELECT '1m'"],
    ['interval ms before interval', '$__interval_ms / $__interval', '60000 / 1m'],
    ['adjacent', '$__from$__to', '17000000000001700003600000'],
  ];
  for (const [name, input, want] of cases) {
    it(name, () => assert.equal(expandMacros(input, c), want));
  }
  it('rejects unknown macros and bad intervals', () => {
    assert.throws(() => expandMacros('SELECT $__timeFrom()', c), /unknown macro/);
    assert.throws(() => expandMacros('$__timeGroup(time, 60 SECOND) OR 1=1 --)', c), /not an interval/);
    assert.throws(() => expandMacros('$__timeFilter(a, b)', c), /takes 1 argument/);
  });
});

describe('interpolate', () => {
  const vars: ExpandContext = {
    ...c,
    variables: { service: "it's", kinds: ['a', "b'c"], all: { all: "'__all__'" } },
  };
  it('escapes a single value for the quotes the author wrote', () => {
    assert.equal(interpolate("service = '$service'", vars), "service = 'it\\'s'");
  });
  it('quotes several values as a list', () => {
    assert.equal(interpolate('kind IN ($kinds)', vars), "kind IN ('a', 'b\\'c')");
  });
  it('formats sqlstring alike for one value or several', () => {
    assert.equal(interpolate('x IN (${service:sqlstring})', vars), "x IN ('it''s')");
    assert.equal(interpolate('x IN (${kinds:sqlstring})', vars), "x IN ('a','b''c')");
  });
  it('inserts a custom all value as it is', () => {
    assert.equal(interpolate('x IN (${all:sqlstring}) OR x IN ($all)', vars), "x IN ('__all__') OR x IN ('__all__')");
  });
  it('replaces Grafana built-ins and leaves unknown names and macros', () => {
    assert.equal(interpolate('$__interval $__from $nope $__timeFilter(t)', vars), '1m 1700000000000 $nope $__timeFilter(t)');
  });
  it('runs before the macros', () => {
    assert.equal(expand("$__timeGroup(time, $__interval) AND s = '$service'", vars), "toStartOfInterval(time, INTERVAL 60 SECOND) AND s = 'it\\'s'");
  });
});

describe('intervals', () => {
  it('parse and format as Grafana writes them', () => {
    assert.equal(parseInterval('5m'), 300_000);
    assert.equal(parseInterval('1.5'), 1500);
    assert.equal(formatInterval(300_000), '5m');
    assert.equal(formatInterval(1500), '1500ms');
    assert.equal(formatInterval(86_400_000), '1d');
  });
});
