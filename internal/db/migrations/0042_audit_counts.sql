-- Denied calls are audited as one event per principal, address, method and
-- code per minute (the first at once, the rest summed at the minute's end),
-- so a flood of refused calls cannot grow the append-only log by a row per
-- call. count says how many calls an event stands for; every other event
-- is one call.
ALTER TABLE audit_events ADD COLUMN count integer NOT NULL DEFAULT 1 CHECK (count > 0);
