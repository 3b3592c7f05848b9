import { FieldType, toDataFrame } from '@grafana/data';

import {
  csvFormatter,
  firstColumnValues,
  isSqlVariableQuery,
  parseVariableQuery,
  resourceValues,
  selectorFormatter,
  sqlFormatter,
} from './templating';
import { Resource } from './types';

describe('sqlFormatter', () => {
  it.each([
    ['checkout', 'checkout'],
    ["o'brien", "o\\'brien"],
    ["x' OR 1=1 --", "x\\' OR 1=1 --"],
    ['back\\slash', 'back\\\\slash'],
    [['a', "b'c"], "'a', 'b\\'c'"],
    [42, '42'],
    [undefined, ''],
  ])('formats %p as %p', (value, want) => {
    expect(sqlFormatter(value)).toBe(want);
  });
});

describe('selectorFormatter', () => {
  it.each([
    ['checkout', 'checkout'],
    ['say "hi"', 'say \\"hi\\"'],
    [['a.b'], 'a\\\\.b'],
    [['cart', 'checkout'], '(cart|checkout)'],
    [['a|b', 'c'], '(a\\\\|b|c)'],
  ])('formats %p as %p', (value, want) => {
    expect(selectorFormatter(value)).toBe(want);
  });
});

describe('parseVariableQuery', () => {
  it.each([
    ['metrics()', { path: Resource.Metrics, params: {} }],
    [' label_names() ', { path: Resource.Labels, params: {} }],
    ['label_names(http_requests_total)', { path: Resource.Labels, params: { metric: 'http_requests_total' } }],
    ['label_values(service)', { path: Resource.LabelValues, params: { label: 'service' } }],
    [
      'label_values(http_requests_total, instance)',
      { path: Resource.LabelValues, params: { metric: 'http_requests_total', label: 'instance' } },
    ],
    ['services()', { path: Resource.Services, params: {} }],
    ['incidents()', { path: Resource.Incidents, params: {} }],
    ['incidents(open)', { path: Resource.Incidents, params: { state: 'open' } }],
  ])('reads %p', (query, want) => {
    expect(parseVariableQuery(query)).toEqual(want);
  });

  it.each(['', 'services', 'metrics(x)', 'label_values()', 'label_names(a, b)', 'drop_table(x)', 'services(x)', 'incidents(a, b)'])(
    'refuses %p with the syntax',
    (query) => {
      expect(() => parseVariableQuery(query)).toThrow(/use metrics\(\), label_names\(\), label_values\(label\)/);
    }
  );
});

describe('csvFormatter', () => {
  it.each([
    ['checkout', 'checkout'],
    [['cart', 'checkout'], 'cart,checkout'],
    [undefined, ''],
  ])('formats %p as %p', (value, want) => {
    expect(csvFormatter(value)).toBe(want);
  });
});

describe('isSqlVariableQuery', () => {
  it.each([
    ['SELECT DISTINCT service FROM anomalies', true],
    ['  select 1', true],
    ['WITH x AS (SELECT 1) SELECT * FROM x', true],
    ['(SELECT 1)', true],
    ['label_values(service)', false],
    ['metrics()', false],
    ['selected_things()', false],
  ])('%p is SQL: %p', (query, want) => {
    expect(isSqlVariableQuery(query)).toBe(want);
  });
});

describe('firstColumnValues', () => {
  it('takes the first column as text, without nulls or repeats', () => {
    const frame = toDataFrame({
      fields: [
        { name: 'service', type: FieldType.string, values: ['cart', null, 'checkout', 'cart'] },
        { name: 'n', type: FieldType.number, values: [1, 2, 3, 4] },
      ],
    });
    expect(firstColumnValues([frame])).toEqual([{ text: 'cart' }, { text: 'checkout' }]);
    const numbers = toDataFrame({ fields: [{ name: 'n', type: FieldType.number, values: [1, 2] }] });
    expect(firstColumnValues([numbers])).toEqual([{ text: '1' }, { text: '2' }]);
    expect(firstColumnValues([])).toEqual([]);
  });
});

describe('resourceValues', () => {
  it('takes strings as text and incidents as text and value', () => {
    expect(resourceValues(['cart', { text: 'Payment failing (inc-1)', value: 'inc-1' }])).toEqual([
      { text: 'cart' },
      { text: 'Payment failing (inc-1)', value: 'inc-1' },
    ]);
  });
});
