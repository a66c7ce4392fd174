-- Issue 12 item 8: a journey in the EU jurisdiction copies no personal identifier into D1's
-- postback attempt log (journey as its keyed hash `h:...`, URL as its origin only; rules in
-- core/src/privacy/residency.rs). Rows EU apps' journeys copied before hold raw journeys and
-- full URLs (click ids): they go. The journeys keep every attempt themselves (journey view,
-- export), so nothing is lost but D1's copy.
DELETE FROM postback_attempts
WHERE journey NOT LIKE 'h:%'
  AND app_id IN (SELECT id FROM apps WHERE residency = 'eu');
