import { and, eq } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { auditLog, configVersion, modelGroups, userGroupMembers, userGroups } from '../../src/db/schema.js';
import { ADMIN, type TestApp } from '../support/app.js';

/** Helpers of the limit, boost and reset tests: config rows written directly, not via other endpoints. */
export const NOW = Date.parse('2027-01-04T12:00:00.000Z');

export function send(
  t: TestApp,
  method: 'GET' | 'PUT' | 'POST' | 'DELETE',
  url: string,
  body?: unknown,
  now = NOW,
) {
  return t.inject({
    method,
    url,
    headers: { ...ADMIN, 'x-quota-test-now': String(now) },
    ...(body === undefined ? {} : { payload: body as object }),
  });
}

export function expectInvalid(response: LightMyRequestResponse, field: string): void {
  expect(response.statusCode, response.body).toBe(400);
  expect(response.headers['content-type']).toContain('application/problem+json');
  const body = response.json();
  expect(body).toMatchObject({ status: 400, code: 'validation_failed' });
  expect(body.errors.map((e: { field: string }) => e.field)).toContain(field);
}

export async function insertModelGroup(t: TestApp, name: string): Promise<number> {
  const [row] = await t.database.db.insert(modelGroups).values({ name }).returning({ id: modelGroups.id });
  return row!.id;
}

export async function insertUserGroup(t: TestApp, name: string, members: string[] = []): Promise<number> {
  const [row] = await t.database.db.insert(userGroups).values({ name }).returning({ id: userGroups.id });
  if (members.length > 0) {
    await t.database.db
      .insert(userGroupMembers)
      .values(members.map((userId) => ({ userGroupId: row!.id, userId })));
  }
  return row!.id;
}

export function auditOf(t: TestApp, entityType: string, entityId: number) {
  return t.database.db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.entityType, entityType), eq(auditLog.entityId, String(entityId))))
    .orderBy(auditLog.id);
}

export async function configVersionOf(t: TestApp): Promise<number> {
  const [row] = await t.database.db.select({ version: configVersion.version }).from(configVersion);
  return row!.version;
}
