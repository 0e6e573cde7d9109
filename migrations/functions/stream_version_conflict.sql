-- Raises the expected-version failure of an append (SQLSTATE TYC01, DETAIL = the actual
-- version). Called from inside the append statement, only when the versions differ.
CREATE OR REPLACE FUNCTION tenantry.stream_version_conflict(p_stream text, p_actual bigint, p_expected bigint)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'stream % is at version %, expected %', p_stream, p_actual, p_expected
        USING ERRCODE = 'TYC01', DETAIL = p_actual::text;
END
$$;

REVOKE ALL ON FUNCTION tenantry.stream_version_conflict(text,bigint,bigint) FROM PUBLIC, tenantry_app, tenantry_worker;
GRANT EXECUTE ON FUNCTION tenantry.stream_version_conflict(text,bigint,bigint) TO tenantry_app, tenantry_worker;
