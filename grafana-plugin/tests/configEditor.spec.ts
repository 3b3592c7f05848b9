// End-to-end tests against a running Grafana (`npm run server`, then `npm run e2e`).
// They need Docker and a browser, which CI machines here do not have: CI proves
// the plugin with Go tests (pkg/integration) and jest instead.
import { test, expect } from '@grafana/plugin-e2e';
import { FirebreakOptions, FirebreakSecureJsonData } from '../src/types';

test('smoke: should render config editor', async ({ createDataSourceConfigPage, readProvisionedDataSource, page }) => {
  const ds = await readProvisionedDataSource({ fileName: 'datasources.yml' });
  await createDataSourceConfigPage({ type: ds.type });
  await expect(page.getByLabel('URL')).toBeVisible();
  await expect(page.getByLabel('API token')).toBeVisible();
});

test('"Save & test" fails with a message when Firebreak is unreachable', async ({
  createDataSourceConfigPage,
  readProvisionedDataSource,
  page,
}) => {
  const ds = await readProvisionedDataSource<FirebreakOptions, FirebreakSecureJsonData>({ fileName: 'datasources.yml' });
  const configPage = await createDataSourceConfigPage({ type: ds.type });
  await page.getByLabel('URL').fill('http://127.0.0.1:9');
  await expect(configPage.saveAndTest()).not.toBeOK();
  await expect(configPage).toHaveAlert('error', { hasText: 'cannot reach Firebreak' });
});
