-- The homepage visit counter: one row, counted up in place by the web process.
--
-- `IF NOT EXISTS` and `ON CONFLICT DO NOTHING` make this safe to run on a database that already has
-- the table, such as one the web process created for itself at start-up.
CREATE TABLE IF NOT EXISTS visits (
    id    integer PRIMARY KEY CHECK (id = 1),
    count bigint  NOT NULL DEFAULT 0 CHECK (count >= 0)
);

INSERT INTO visits (id, count) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
