-- Payload equality in position order. The GIN index on payload_jsonb
-- gives every row holding a value, in no order: a limited query for a
-- common value fetched and sorted all of them. This index holds each
-- payload under "p" next to its position bucket under "b" (the position
-- shifted right by 13: 8,192 positions a bucket), so a containment of
-- {"p": term, "b": k} finds the term's rows of bucket k alone, and a
-- query reads the log bucket by bucket in position order. {"p": term}
-- alone finds every row, as the index it replaces did; writes cost the
-- same (one key more a row). The expression is written out in query.go
-- (payloadDoc) exactly as here, so the planner matches it.
CREATE INDEX events_payload_bucket ON events USING gin (
	(jsonb_set(jsonb_set('{"b":0,"p":0}'::jsonb, '{p}', payload_jsonb), '{b}', ((position >> 13)::text)::jsonb)) jsonb_path_ops);
DROP INDEX events_payload;
