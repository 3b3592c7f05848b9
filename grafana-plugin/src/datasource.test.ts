import {
  DataQueryRequest,
  DataQueryResponse,
  DataSourceInstanceSettings,
  FieldType,
  ScopedVars,
  toDataFrame,
} from '@grafana/data';
import { of } from 'rxjs';

import { DataSource } from './datasource';
import { FirebreakOptions, FirebreakQuery, Format, QueryType } from './types';

// A stand-in for Grafana's template service: replaces $name and ${name}
// from the dashboard's variables and scoped vars, passing each value
// through the formatter as Grafana does.
const variables: Record<string, string | string[]> = {
  service: 'checkout',
  services: ['cart', 'checkout'],
  evil: "x' OR 1=1 --",
  step: '5m',
};
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getTemplateSrv: () => ({
    replace: (target: string, scopedVars?: ScopedVars, format?: (v: unknown) => string) =>
      target.replace(/\$\{(\w+)\}|\$(\w+)/g, (match, braced, plain) => {
        const name = braced ?? plain;
        const value = scopedVars?.[name]?.value ?? variables[name];
        if (value === undefined) {
          return match;
        }
        return format ? format(value) : String(value);
      }),
  }),
}));

const settings = {
  id: 1,
  uid: 'firebreak',
  type: 'firebreak-aiops-datasource',
  name: 'Firebreak',
  jsonData: {},
} as unknown as DataSourceInstanceSettings<FirebreakOptions>;

describe('DataSource.applyTemplateVariables', () => {
  const ds = new DataSource(settings);

  it('quotes variables in SQL and leaves the backend macros alone', () => {
    const q: FirebreakQuery = {
      refId: 'A',
      queryType: QueryType.SQL,
      format: Format.Table,
      rawSql:
        "SELECT * FROM samples WHERE $__timeFilter(time) AND labels['service'] = '$service' AND labels['service'] IN ($services) AND x = '${evil}'",
    };
    expect(ds.applyTemplateVariables(q, {}).rawSql).toBe(
      "SELECT * FROM samples WHERE $__timeFilter(time) AND labels['service'] = 'checkout' AND labels['service'] IN ('cart', 'checkout') AND x = 'x\\' OR 1=1 --'"
    );
  });

  it('formats multi-value variables in a selector as a regex and interpolates the step', () => {
    const q: FirebreakQuery = {
      refId: 'A',
      queryType: QueryType.Metrics,
      selector: '{__name__="http_requests_total", service=~"$services", env="$env"}',
      step: '$step',
    };
    const scoped: ScopedVars = { env: { text: 'prod', value: 'prod' } };
    expect(ds.applyTemplateVariables(q, scoped)).toEqual({
      ...q,
      selector: '{__name__="http_requests_total", service=~"(cart|checkout)", env="prod"}',
      step: '5m',
    });
  });

  it('formats multi-value variables in the service and severity filters as comma-separated lists', () => {
    const q: FirebreakQuery = {
      refId: 'A',
      queryType: QueryType.Anomalies,
      service: '$services',
      severity: '$service',
    };
    expect(ds.applyTemplateVariables(q, {})).toEqual({ ...q, service: 'cart,checkout', severity: 'checkout' });
  });

  it('interpolates the incident id, search, template id, channel and severity list of the new query types', () => {
    const q: FirebreakQuery = {
      refId: 'A',
      queryType: QueryType.Incident,
      incidentId: '$incident',
      search: 'order $service',
      templateId: '${tpl}',
      channel: '$services',
      severity: ['P1', '$sevs'],
    };
    const scoped: ScopedVars = {
      incident: { text: 'Payment failing (inc-1)', value: 'inc-1' },
      tpl: { text: 'x', value: '00ab00000000cd01' },
      sevs: { text: 'P2 + P3', value: ['P2', 'P3'] },
    };
    expect(ds.applyTemplateVariables(q, scoped)).toEqual({
      ...q,
      incidentId: 'inc-1',
      search: 'order checkout',
      templateId: '00ab00000000cd01',
      channel: 'cart,checkout',
      severity: ['P1', 'P2', 'P3'],
    });
  });

  it('keeps fields it does not template', () => {
    const q: FirebreakQuery = { refId: 'B', queryType: QueryType.Metrics, selector: 'up', aggregation: 'max' };
    expect(ds.applyTemplateVariables(q, {})).toEqual(q);
  });
});

describe('DataSource', () => {
  it('supports annotation queries with the standard editor, starting as incident regions', () => {
    const annotations = new DataSource(settings).annotations;
    expect(annotations?.getDefaultQuery?.()).toEqual({ queryType: QueryType.Incidents, format: Format.Annotations });
  });
});

describe('DataSource.filterQuery', () => {
  const ds = new DataSource(settings);
  it.each([
    [{ refId: 'A', queryType: QueryType.Metrics, selector: 'up' }, true],
    [{ refId: 'A', queryType: QueryType.Metrics, selector: ' ' }, false],
    [{ refId: 'A', queryType: QueryType.Metrics, selector: 'up', hide: true }, false],
    [{ refId: 'A', queryType: QueryType.SQL, rawSql: 'SELECT 1' }, true],
    [{ refId: 'A', queryType: QueryType.SQL }, false],
    [{ refId: 'A', queryType: QueryType.Anomalies }, true],
    [{ refId: 'A', queryType: QueryType.Alerts, mode: 'history' }, true],
    [{ refId: 'A', queryType: QueryType.Alerts, hide: true }, false],
    [{ refId: 'A', queryType: QueryType.Incidents }, true],
    [{ refId: 'A', queryType: QueryType.Incident }, true],
    [{ refId: 'A', queryType: QueryType.LogPatterns }, true],
    [{ refId: 'A', queryType: QueryType.Logs, hide: true }, false],
    [{ refId: 'A', queryType: QueryType.Sentiment }, true],
  ])('%p runs: %p', (q, want) => {
    expect(ds.filterQuery(q as FirebreakQuery)).toBe(want);
  });
});

describe('DataSource.metricFindQuery', () => {
  it('calls the backend resource the variable query names', async () => {
    const ds = new DataSource(settings);
    const getResource = jest.spyOn(ds, 'getResource').mockResolvedValue(['cart', 'checkout']);
    await expect(ds.metricFindQuery('label_values(http_requests_total, service)')).resolves.toEqual([
      { text: 'cart' },
      { text: 'checkout' },
    ]);
    expect(getResource).toHaveBeenCalledWith('label-values', { metric: 'http_requests_total', label: 'service' });
  });
});

describe('DataSource.metricFindQuery for services and incidents', () => {
  it('lists services, and incidents as text and value', async () => {
    const ds = new DataSource(settings);
    const getResource = jest
      .spyOn(ds, 'getResource')
      .mockResolvedValueOnce(['checkout', 'payment'])
      .mockResolvedValueOnce([{ text: 'Payment failing (inc-1)', value: 'inc-1' }]);
    await expect(ds.metricFindQuery('services()')).resolves.toEqual([{ text: 'checkout' }, { text: 'payment' }]);
    expect(getResource).toHaveBeenLastCalledWith('services', {});
    await expect(ds.metricFindQuery('incidents(open)')).resolves.toEqual([
      { text: 'Payment failing (inc-1)', value: 'inc-1' },
    ]);
    expect(getResource).toHaveBeenLastCalledWith('incidents', { state: 'open' });
  });
});

describe('DataSource.metricFindQuery with SQL', () => {
  it('runs the SQL as an sql query over the range and returns its first column', async () => {
    const ds = new DataSource(settings);
    const frame = toDataFrame({ fields: [{ name: 'service', type: FieldType.string, values: ['cart', 'checkout'] }] });
    const query = jest.spyOn(ds, 'query').mockReturnValue(of({ data: [frame] } as DataQueryResponse));
    const sql = "SELECT DISTINCT service FROM anomalies WHERE $__timeFilter(time) AND kind = '$service'";
    await expect(ds.metricFindQuery(sql, { scopedVars: {} })).resolves.toEqual([
      { text: 'cart' },
      { text: 'checkout' },
    ]);
    const request = query.mock.calls[0][0] as DataQueryRequest<FirebreakQuery>;
    // Variables are replaced (and quoted) by applyTemplateVariables when the request runs.
    expect(request.targets).toEqual([
      { refId: 'variable', queryType: QueryType.SQL, rawSql: sql, format: Format.Table },
    ]);
    expect(request.range).toBeDefined();
  });

  it('reports the error of a failed query', async () => {
    const ds = new DataSource(settings);
    jest
      .spyOn(ds, 'query')
      .mockReturnValue(of({ data: [], errors: [{ message: 'Syntax error' }] } as DataQueryResponse));
    await expect(ds.metricFindQuery('SELECT nonsense(')).rejects.toThrow('Syntax error');
  });
});
