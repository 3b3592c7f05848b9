// End-to-end tests against a running Grafana: see configEditor.spec.ts.
import { test, expect } from '@grafana/plugin-e2e';

test('smoke: should render the metrics query editor', async ({ panelEditPage, readProvisionedDataSource }) => {
  const ds = await readProvisionedDataSource({ fileName: 'datasources.yml' });
  await panelEditPage.datasource.set(ds.name);
  await expect(panelEditPage.getQueryEditorRow('A').getByLabel('Selector')).toBeVisible();
});

test('switching to SQL shows the SQL editor', async ({ panelEditPage, readProvisionedDataSource }) => {
  const ds = await readProvisionedDataSource({ fileName: 'datasources.yml' });
  await panelEditPage.datasource.set(ds.name);
  await panelEditPage.getQueryEditorRow('A').getByRole('radio', { name: 'SQL' }).click();
  await expect(panelEditPage.getQueryEditorRow('A').getByRole('textbox', { name: 'SQL' })).toBeVisible();
});
