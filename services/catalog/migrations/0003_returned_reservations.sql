-- A reservation's stock can come back after it was committed: status RETURNED (ReturnReservation).
--
-- Reservation states and where their stock is (products.stock_*):
--   HELD       stock_reserved   ReserveStock took it; it expires (EXPIRED) unless committed or given back
--   COMMITTED  stock_committed  the order was accepted; the stock is sold (not yet shipped: orders still may cancel)
--   RELEASED   stock_available  HELD stock given back (ReleaseReservation, or ReturnReservation of a HELD one)
--   EXPIRED    stock_available  HELD stock given back by the sweeper after expires_at
--   RETURNED   stock_available  COMMITTED stock given back (ReturnReservation: the order was cancelled)
-- RELEASED, EXPIRED and RETURNED are final: nothing moves a reservation out of them, so its stock comes back once.
--
-- The CHECK of 0001 is replaced (applied migrations are never edited); the name is the one PostgreSQL gave the
-- inline CHECK of 0001, so this fails loudly rather than leaving the old constraint behind if it ever differed.
ALTER TABLE reservations DROP CONSTRAINT reservations_status_check;
ALTER TABLE reservations ADD CONSTRAINT reservations_status_check
    CHECK (status IN ('HELD', 'COMMITTED', 'RELEASED', 'EXPIRED', 'RETURNED'));
