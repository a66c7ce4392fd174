-- Issue 13, finding 5: a write key's class decides what its events may merge. `client` keys
-- ship in browsers and apps (public): their alias merges only anonymous ids never seen with
-- another user id. `server` keys stay on the app's backend and keep Segment's semantics.
-- Every existing key is `client`, the safe default; read and manage keys keep the default
-- and ignore it.
ALTER TABLE api_keys ADD COLUMN class TEXT NOT NULL DEFAULT 'client'
  CHECK (class IN ('client', 'server'));
