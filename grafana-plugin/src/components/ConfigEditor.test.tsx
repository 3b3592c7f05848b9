import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import { DataSourceSettings } from '@grafana/data';
import { ConfigEditor } from './ConfigEditor';
import { FirebreakOptions, FirebreakSecureJsonData } from '../types';

function settings(
  jsonData: FirebreakOptions = {},
  secureJsonFields: Record<string, boolean> = {}
): DataSourceSettings<FirebreakOptions, FirebreakSecureJsonData> {
  // Only the fields the editor reads; the rest of DataSourceSettings is Grafana's.
  return {
    id: 1,
    uid: 'firebreak',
    orgId: 1,
    name: 'Firebreak',
    type: 'firebreak-aiops-datasource',
    typeName: 'Firebreak',
    typeLogoUrl: '',
    access: 'proxy',
    url: '',
    user: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    jsonData,
    secureJsonFields,
    readOnly: false,
    withCredentials: false,
  } as unknown as DataSourceSettings<FirebreakOptions, FirebreakSecureJsonData>;
}

describe('ConfigEditor', () => {
  it('shows the stored URL and timeout', () => {
    render(
      <ConfigEditor options={settings({ url: 'http://fb:8480', timeoutSeconds: 12 })} onOptionsChange={jest.fn()} />
    );
    expect(screen.getByLabelText('URL')).toHaveValue('http://fb:8480');
    expect(screen.getByLabelText('Timeout (s)')).toHaveValue(12);
  });

  it('stores the URL and timeout in jsonData', () => {
    const onChange = jest.fn();
    render(<ConfigEditor options={settings({ timeoutSeconds: 5 })} onOptionsChange={onChange} />);

    fireEvent.change(screen.getByLabelText('URL'), { target: { value: 'http://127.0.0.1:8480' } });
    expect(onChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ jsonData: { url: 'http://127.0.0.1:8480', timeoutSeconds: 5 } })
    );

    fireEvent.change(screen.getByLabelText('Timeout (s)'), { target: { value: '20' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ jsonData: { timeoutSeconds: 20 } }));

    fireEvent.change(screen.getByLabelText('Timeout (s)'), { target: { value: '' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ jsonData: { timeoutSeconds: undefined } }));
  });

  it('stores the step cache in jsonData, 0 to turn it off', () => {
    const onChange = jest.fn();
    render(<ConfigEditor options={settings({ stepCacheSeconds: 60 })} onOptionsChange={onChange} />);
    expect(screen.getByLabelText('Step cache (s)')).toHaveValue(60);

    fireEvent.change(screen.getByLabelText('Step cache (s)'), { target: { value: '0' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ jsonData: { stepCacheSeconds: 0 } }));

    fireEvent.change(screen.getByLabelText('Step cache (s)'), { target: { value: '' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ jsonData: { stepCacheSeconds: undefined } }));
  });

  it('keeps the API token in secureJsonData only', () => {
    const onChange = jest.fn();
    render(<ConfigEditor options={settings()} onOptionsChange={onChange} />);
    fireEvent.change(screen.getByLabelText('API token'), { target: { value: 's3cret' } });
    const saved = onChange.mock.calls[0][0];
    expect(saved.secureJsonData).toEqual({ apiToken: 's3cret' });
    expect(JSON.stringify(saved.jsonData)).not.toContain('s3cret');
  });

  it('shows a configured token as set and resets it', () => {
    const onChange = jest.fn();
    render(<ConfigEditor options={settings({}, { apiToken: true })} onOptionsChange={onChange} />);
    expect(screen.getByDisplayValue('configured')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: /reset/i }));
    expect(onChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ secureJsonFields: { apiToken: false }, secureJsonData: { apiToken: '' } })
    );
  });
});
