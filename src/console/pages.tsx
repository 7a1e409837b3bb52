/** The console's pages, one file each, in the order the navigation shows them. */
import { AuditPage } from './audit';
import { BoostsPage } from './boosts';
import { LimitsPage } from './limits';
import { ModelGroupsPage } from './model-groups';
import { ResetsPage } from './resets';
import { UsagePage } from './usage';
import { UserGroupsPage } from './user-groups';
import { WebhooksPage } from './webhooks';

export const PAGES = {
  'model-groups': { title: 'Model groups', view: ModelGroupsPage },
  'user-groups': { title: 'User groups', view: UserGroupsPage },
  limits: { title: 'Limits', view: LimitsPage },
  boosts: { title: 'Boosts', view: BoostsPage },
  resets: { title: 'Resets', view: ResetsPage },
  webhooks: { title: 'Webhooks', view: WebhooksPage },
  audit: { title: 'Audit', view: AuditPage },
  usage: { title: 'Usage', view: UsagePage },
} as const;
export type PageName = keyof typeof PAGES;
