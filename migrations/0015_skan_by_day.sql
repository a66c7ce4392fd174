-- `GET /v1/skan` reads an app's postbacks over a range of days received
-- (workers/query/src/skan.rs): this index serves that range without scanning the app's rows.
CREATE INDEX IF NOT EXISTS skan_postbacks_by_received ON skan_postbacks (app_id, received_at);
