import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import { QueryEditor } from './QueryEditor';
import { DataSource } from '../datasource';
import { AlertMode, FirebreakQuery, Format, GroupBy, IncidentView, PatternMode, QueryType, SentimentView } from '../types';

const ds = {} as DataSource;

function setup(query: Partial<FirebreakQuery>) {
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  render(<QueryEditor datasource={ds} query={{ refId: 'A', ...query }} onChange={onChange} onRunQuery={onRunQuery} />);
  return { onChange, onRunQuery };
}

describe('QueryEditor', () => {
  it('switches the query type and runs the query', () => {
    const { onChange, onRunQuery } = setup({ queryType: QueryType.Metrics, selector: 'up' });
    fireEvent.click(screen.getByRole('radio', { name: 'SQL' }));
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: QueryType.SQL, selector: 'up' });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('edits the selector and step of a metrics query, running on blur', () => {
    const { onChange, onRunQuery } = setup({ queryType: QueryType.Metrics });
    expect(screen.queryByLabelText('SQL', { selector: 'textarea' })).not.toBeInTheDocument();

    const selector = screen.getByLabelText('Selector');
    fireEvent.change(selector, { target: { value: '{service="checkout"}' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ selector: '{service="checkout"}' }));
    expect(onRunQuery).not.toHaveBeenCalled();
    fireEvent.blur(selector);
    expect(onRunQuery).toHaveBeenCalledTimes(1);

    fireEvent.change(screen.getByLabelText('Step'), { target: { value: '5m' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ step: '5m' }));
  });

  it('chooses the aggregation', () => {
    const { onChange, onRunQuery } = setup({ queryType: QueryType.Metrics, selector: 'up' });
    expect(screen.getByRole('radio', { name: 'avg' })).toBeChecked();
    fireEvent.click(screen.getByRole('radio', { name: 'max' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ aggregation: 'max' }));
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('edits SQL and its format', () => {
    const { onChange, onRunQuery } = setup({ queryType: QueryType.SQL, rawSql: 'SELECT 1' });
    expect(screen.queryByLabelText('Selector')).not.toBeInTheDocument();
    const sql = screen.getByLabelText('SQL', { selector: 'textarea' });
    expect(sql).toHaveValue('SELECT 1');
    fireEvent.change(sql, { target: { value: 'SELECT 2' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ rawSql: 'SELECT 2' }));
    fireEvent.blur(sql);
    expect(onRunQuery).toHaveBeenCalledTimes(1);

    expect(screen.getByRole('radio', { name: 'Table' })).toBeChecked();
    fireEvent.click(screen.getByRole('radio', { name: 'Time series' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ format: Format.TimeSeries }));
  });

  it('drops a format the new query type refuses when switching', () => {
    const { onChange } = setup({ queryType: QueryType.SQL, rawSql: 'SELECT 1', format: Format.TimeSeries });
    fireEvent.click(screen.getByRole('radio', { name: 'Anomalies' }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: QueryType.Anomalies, rawSql: 'SELECT 1' });
    expect(onChange.mock.lastCall[0]).not.toHaveProperty('format', Format.TimeSeries);
  });

  it('turns the band of a metrics query on and off', () => {
    const { onChange, onRunQuery } = setup({ queryType: QueryType.Metrics, selector: 'up' });
    const band = screen.getByLabelText('Band');
    expect(band).not.toBeChecked();
    fireEvent.click(band);
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ withBand: true }));
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('offers no band for a count, and the score with any aggregation', () => {
    const { onChange } = setup({ queryType: QueryType.Metrics, selector: 'up', aggregation: 'count' });
    expect(screen.getByLabelText('Band')).toBeDisabled();
    const score = screen.getByLabelText('Score');
    expect(score).toBeEnabled();
    fireEvent.click(score);
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ withScore: true }));
    expect(onChange.mock.lastCall[0]).not.toHaveProperty('withBand');
  });

  it('edits the filters and format of an anomalies query', () => {
    const { onChange, onRunQuery } = setup({ queryType: QueryType.Anomalies, kinds: ['silence'], minScore: 0.5 });
    expect(screen.queryByLabelText('Selector')).not.toBeInTheDocument();
    expect(screen.getByRole('checkbox', { name: 'silence' })).toBeChecked();

    fireEvent.click(screen.getByRole('checkbox', { name: 'anomaly' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ kinds: ['anomaly', 'silence'] }));
    expect(onRunQuery).toHaveBeenCalledTimes(1);

    fireEvent.click(screen.getByRole('checkbox', { name: 'silence' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ kinds: undefined }));

    fireEvent.change(screen.getByLabelText('Service'), { target: { value: 'cart,checkout' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ service: 'cart,checkout' }));
    fireEvent.change(screen.getByLabelText('Min score'), { target: { value: '0.8' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ minScore: 0.8 }));
    fireEvent.change(screen.getByLabelText('Min score'), { target: { value: '' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ minScore: undefined }));
    fireEvent.change(screen.getByLabelText('Limit'), { target: { value: '50' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ limit: 50 }));

    expect(screen.getByRole('radio', { name: 'any' })).toBeChecked();
    fireEvent.click(screen.getByRole('radio', { name: 'open' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ state: 'open' }));
    fireEvent.click(screen.getByRole('radio', { name: 'Annotations' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ format: Format.Annotations }));
  });

  it('edits the mode and filters of an alerts query', () => {
    const { onChange } = setup({ queryType: QueryType.Alerts });
    expect(screen.getByRole('radio', { name: 'Current' })).toBeChecked();
    expect(screen.queryByRole('radio', { name: 'open' })).not.toBeInTheDocument();
    fireEvent.click(screen.getByRole('radio', { name: 'History' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ mode: AlertMode.History }));
    fireEvent.click(screen.getByRole('radio', { name: 'firing' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ state: 'firing' }));
    fireEvent.change(screen.getByLabelText('Severity'), { target: { value: 'critical' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ severity: 'critical' }));
  });

  it('edits an alerts query as annotations, which need the current mode', () => {
    const { onChange } = setup({ queryType: QueryType.Alerts, mode: AlertMode.History });
    fireEvent.click(screen.getByRole('radio', { name: 'Annotations' }));
    expect(onChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ format: Format.Annotations, mode: AlertMode.Current })
    );
  });

  it('switches to each new query type, showing only its fields', () => {
    const { onChange } = setup({ queryType: QueryType.Metrics, selector: 'up' });
    fireEvent.click(screen.getByRole('radio', { name: 'Incidents' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ queryType: QueryType.Incidents }));
    fireEvent.click(screen.getByRole('radio', { name: 'Log patterns' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ queryType: QueryType.LogPatterns }));
  });

  it('edits an incidents query: service, state, severities, limit and format', () => {
    const { onChange, onRunQuery } = setup({ queryType: QueryType.Incidents, severity: ['P1'] });
    expect(screen.queryByLabelText('Selector')).not.toBeInTheDocument();
    expect(screen.queryByLabelText('Search')).not.toBeInTheDocument();
    expect(screen.getByRole('checkbox', { name: 'P1' })).toBeChecked();
    fireEvent.click(screen.getByRole('checkbox', { name: 'P3' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ severity: ['P1', 'P3'] }));
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    fireEvent.click(screen.getByRole('radio', { name: 'mitigated' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ state: 'mitigated' }));
    fireEvent.change(screen.getByLabelText('Service'), { target: { value: '$service' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ service: '$service' }));
    expect(screen.getByLabelText('Limit')).toHaveAttribute('placeholder', '100');
    fireEvent.click(screen.getByRole('radio', { name: 'Annotations' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ format: Format.Annotations }));
  });

  it('unchecks the last severity to show every one', () => {
    const { onChange } = setup({ queryType: QueryType.Incidents, severity: 'P2' });
    fireEvent.click(screen.getByRole('checkbox', { name: 'P2' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ severity: undefined }));
  });

  it('edits an incident query: the id runs on blur, the view at once', () => {
    const { onChange, onRunQuery } = setup({ queryType: QueryType.Incident });
    expect(screen.getByRole('radio', { name: 'Timeline' })).toBeChecked();
    const id = screen.getByLabelText('Incident id');
    fireEvent.change(id, { target: { value: '$incident' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ incidentId: '$incident' }));
    expect(onRunQuery).not.toHaveBeenCalled();
    fireEvent.blur(id);
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    fireEvent.click(screen.getByRole('radio', { name: 'Root causes' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ view: IncidentView.RootCauses }));
    expect(screen.queryByLabelText('Limit')).not.toBeInTheDocument();
  });

  it('edits a log patterns query; rates default to 10 templates', () => {
    const { onChange } = setup({ queryType: QueryType.LogPatterns, mode: PatternMode.Rates });
    expect(screen.getByRole('radio', { name: 'Rates' })).toBeChecked();
    expect(screen.getByLabelText('Limit')).toHaveAttribute('placeholder', '10');
    fireEvent.click(screen.getByRole('radio', { name: 'New' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ mode: PatternMode.New }));
  });

  it('edits a logs query: search, template id, minimum level, limit', () => {
    const { onChange } = setup({ queryType: QueryType.Logs, service: 'checkout' });
    fireEvent.change(screen.getByLabelText('Search'), { target: { value: 'timeout' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ search: 'timeout', service: 'checkout' }));
    fireEvent.change(screen.getByLabelText('Template id'), { target: { value: '00ab00000000cd01' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ templateId: '00ab00000000cd01' }));
    expect(screen.getByRole('radio', { name: 'any' })).toBeChecked();
    fireEvent.click(screen.getByRole('radio', { name: 'warn' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ severity: 'warn' }));
    expect(screen.getByLabelText('Limit')).toHaveAttribute('placeholder', '500');
  });

  it('edits a sentiment query: group by for series, limit for samples', () => {
    const { onChange } = setup({ queryType: QueryType.Sentiment });
    expect(screen.getByRole('radio', { name: 'service' })).toBeChecked();
    expect(screen.queryByLabelText('Limit')).not.toBeInTheDocument();
    fireEvent.click(screen.getByRole('radio', { name: 'channel' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ groupBy: GroupBy.Channel }));
    fireEvent.change(screen.getByLabelText('Channel'), { target: { value: 'chat,email' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ channel: 'chat,email' }));
    fireEvent.click(screen.getByRole('radio', { name: 'Samples' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ view: SentimentView.Samples }));
  });

  it('shows the limit of the samples view', () => {
    setup({ queryType: QueryType.Sentiment, view: SentimentView.Samples });
    expect(screen.getByLabelText('Limit')).toHaveAttribute('placeholder', '20');
    expect(screen.queryByRole('radio', { name: 'channel' })).not.toBeInTheDocument();
  });
});
