-- The admin endpoint's request search and reports go newest first through a time range; a
-- taxpayer's requests already have requests_taxpayer (taxpayer_id, accepted_at).
CREATE INDEX requests_accepted ON requests (accepted_at, id);
