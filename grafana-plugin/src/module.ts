import { DataSourcePlugin } from '@grafana/data';
import { DataSource } from './datasource';
import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { FirebreakOptions, FirebreakQuery } from './types';

export const plugin = new DataSourcePlugin<DataSource, FirebreakQuery, FirebreakOptions>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
