-- TODO: an sql comment
SELECT '-- FIXME: in a string' AS s; -- HACK: a trailing comment
