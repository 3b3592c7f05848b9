import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import { QueryEditor } from './QueryEditor';
import { DataSource } from '../datasource';
import { FirebreakQuery, Format, QueryType } from '../types';

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
});
