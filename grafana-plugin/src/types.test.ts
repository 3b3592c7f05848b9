import { FirebreakQuery, Format, QueryType, withQueryType } from './types';

describe('withQueryType', () => {
  it.each([
    [QueryType.SQL, Format.TimeSeries, QueryType.Anomalies, undefined],
    [QueryType.Anomalies, Format.Annotations, QueryType.Alerts, undefined],
    [QueryType.Anomalies, Format.Table, QueryType.Alerts, Format.Table],
    [QueryType.Anomalies, Format.Annotations, QueryType.SQL, undefined],
    [QueryType.SQL, Format.Table, QueryType.Metrics, undefined],
  ])('from %p with format %p to %p keeps format %p', (from, format, to, want) => {
    const q: FirebreakQuery = { refId: 'A', queryType: from, format, service: 'cart' };
    expect(withQueryType(q, to)).toEqual({ refId: 'A', queryType: to, format: want, service: 'cart' });
  });
});
