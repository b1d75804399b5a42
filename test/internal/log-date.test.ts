import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clfDate, eventTime, logDate } from '../../lib/internal/log-date.js';

test('logDate: ISO 8601 UTC with milliseconds; undefined for an invalid or missing date', () => {
  assert.equal(logDate(new Date(Date.UTC(2026, 10, 27, 7, 57, 50, 4))), '2026-11-27T07:57:50.004Z');
  assert.equal(logDate(new Date(Number.NaN)), undefined);
  assert.equal(logDate('2026-11-27' as unknown as Date), undefined);
});

test('eventTime: the date when valid, else now', () => {
  const date = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
  assert.equal(eventTime(date), date);
  const before = Date.now();
  const now = eventTime(new Date(Number.NaN)).getTime();
  assert.ok(now >= before && now <= Date.now());
});

test("clfDate: morgan's :date[clf], in UTC", () => {
  assert.equal(clfDate(new Date(Date.UTC(2026, 10, 7, 7, 5, 1))), '07/Nov/2026:07:05:01 +0000');
  assert.equal(clfDate(new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 999))), '31/Dec/1999:23:59:59 +0000');
});
