-- The notifications on the board, and the queue of their deliveries to the webhook.
--
-- A notification is stored once (`notifications`); its delivery waits in `deliveries` until a
-- worker has delivered it. A worker takes a delivery with `FOR UPDATE SKIP LOCKED` in a transaction
-- and deletes it in that same transaction once the webhook answered 2xx: a worker that dies
-- mid-delivery rolls back, and the delivery is back in the queue (at least once, never lost).
--
-- `IF NOT EXISTS`: a database whose `notifications` table an older snapshot created (Factor III
-- seeds it with this same shape) migrates without error.
CREATE TABLE IF NOT EXISTS notifications (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS deliveries (
    notification_id BIGINT PRIMARY KEY REFERENCES notifications (id) ON DELETE CASCADE,
    queued_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
