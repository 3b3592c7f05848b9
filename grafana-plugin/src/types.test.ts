import { AlertMode, FirebreakQuery, Format, IncidentView, PatternMode, QueryType, withQueryType } from './types';

describe('withQueryType', () => {
  it.each([
    [QueryType.SQL, Format.TimeSeries, QueryType.Anomalies, undefined],
    [QueryType.Anomalies, Format.Annotations, QueryType.Alerts, Format.Annotations],
    [QueryType.Alerts, Format.Annotations, QueryType.Logs, undefined],
    [QueryType.Anomalies, Format.Table, QueryType.Alerts, Format.Table],
    [QueryType.Anomalies, Format.Annotations, QueryType.SQL, undefined],
    [QueryType.SQL, Format.Table, QueryType.Metrics, undefined],
  ])('from %p with format %p to %p keeps format %p', (from, format, to, want) => {
    const q: FirebreakQuery = { refId: 'A', queryType: from, format, service: 'cart' };
    expect(withQueryType(q, to)).toEqual({ refId: 'A', queryType: to, format: want, service: 'cart' });
  });
});

describe('withQueryType with modes and views', () => {
  it('drops a mode or view the new type refuses and keeps one it takes', () => {
    const alerts: FirebreakQuery = { refId: 'A', queryType: QueryType.Alerts, mode: AlertMode.History };
    expect(withQueryType(alerts, QueryType.LogPatterns)).toEqual({ refId: 'A', queryType: QueryType.LogPatterns, format: undefined });
    const rates: FirebreakQuery = { refId: 'A', queryType: QueryType.LogPatterns, mode: PatternMode.Rates };
    expect(withQueryType(rates, QueryType.Alerts)).not.toHaveProperty('mode');
    const series: FirebreakQuery = { refId: 'A', queryType: QueryType.Incident, view: IncidentView.Series, incidentId: 'inc-1' };
    expect(withQueryType(series, QueryType.Sentiment)).toEqual({ ...series, queryType: QueryType.Sentiment, format: undefined });
    const summary: FirebreakQuery = { refId: 'A', queryType: QueryType.Incident, view: IncidentView.Summary };
    expect(withQueryType(summary, QueryType.Sentiment)).not.toHaveProperty('view');
  });

  it('keeps the annotations format from incidents to alerts', () => {
    const q: FirebreakQuery = { refId: 'A', queryType: QueryType.Incidents, format: Format.Annotations };
    expect(withQueryType(q, QueryType.Alerts).format).toBe(Format.Annotations);
  });
});
