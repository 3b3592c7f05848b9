import React, { ChangeEvent } from 'react';
import { InlineField, Input, SecretInput, Stack } from '@grafana/ui';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { FirebreakOptions, FirebreakSecureJsonData } from '../types';

interface Props extends DataSourcePluginOptionsEditorProps<FirebreakOptions, FirebreakSecureJsonData> {}

/** Firebreak API URL, timeout, step cache, and the API token (kept in secureJsonData). */
export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields, secureJsonData } = options;

  const setJsonData = (patch: Partial<FirebreakOptions>) =>
    onOptionsChange({ ...options, jsonData: { ...jsonData, ...patch } });

  /** A number of seconds in jsonData; an empty field clears it (the backend's default). */
  const onSecondsChange = (key: 'timeoutSeconds' | 'stepCacheSeconds') => (e: ChangeEvent<HTMLInputElement>) => {
    const n = e.target.valueAsNumber;
    setJsonData({ [key]: Number.isFinite(n) ? n : undefined });
  };

  const onTokenChange = (e: ChangeEvent<HTMLInputElement>) =>
    onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, apiToken: e.target.value } });

  const onTokenReset = () =>
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureJsonFields, apiToken: false },
      secureJsonData: { ...secureJsonData, apiToken: '' },
    });

  return (
    <Stack direction="column" gap={1}>
      <InlineField
        label="URL"
        labelWidth={16}
        interactive
        tooltip="Address of firebreak run's HTTP API, as Grafana's server reaches it"
      >
        <Input
          id="config-editor-url"
          value={jsonData.url ?? ''}
          placeholder="http://127.0.0.1:8480"
          width={40}
          onChange={(e: ChangeEvent<HTMLInputElement>) => setJsonData({ url: e.target.value })}
        />
      </InlineField>
      <InlineField label="Timeout (s)" labelWidth={16} tooltip="Limit of each call to Firebreak; 30 s when empty">
        <Input
          id="config-editor-timeout"
          type="number"
          min={1}
          max={600}
          value={jsonData.timeoutSeconds ?? ''}
          placeholder="30"
          width={12}
          onChange={onSecondsChange('timeoutSeconds')}
        />
      </InlineField>
      <InlineField
        label="Step cache (s)"
        labelWidth={16}
        interactive
        tooltip="How long metrics steps already read are reused, so a refreshed panel reads only its last minutes; 300 s when empty, 0 turns it off. Points backfilled into older steps show after at most this long."
      >
        <Input
          id="config-editor-step-cache"
          type="number"
          min={0}
          max={3600}
          value={jsonData.stepCacheSeconds ?? ''}
          placeholder="300"
          width={12}
          onChange={onSecondsChange('stepCacheSeconds')}
        />
      </InlineField>
      <InlineField label="API token" labelWidth={16} tooltip="Sent as Authorization: Bearer; stored encrypted">
        <SecretInput
          id="config-editor-api-token"
          isConfigured={!!secureJsonFields?.apiToken}
          value={secureJsonData?.apiToken ?? ''}
          placeholder="optional"
          width={40}
          onReset={onTokenReset}
          onChange={onTokenChange}
        />
      </InlineField>
    </Stack>
  );
}
