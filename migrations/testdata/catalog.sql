-- The catalog facts of schema tenantry that a migration could change, one per line, sorted:
-- relations, columns, constraints, indexes, policies, triggers, functions (without their
-- bodies: those live once, in migrations/functions/) and every grant; a partition's columns
-- and constraints are its table's. Roles are named, oids
-- never appear, so two databases migrated the same way give the same lines.
WITH rel AS (
    SELECT c.oid, c.oid::regclass::text AS name, c.relkind, c.relowner, c.relrowsecurity,
           c.relforcerowsecurity, c.reloptions, c.relacl, c.relispartition
      FROM pg_class c WHERE c.relnamespace = 'tenantry'::regnamespace
       AND c.relname NOT IN ('schema_migrations', 'schema_migrations_id_seq')
),
acl(what, acl) AS (
    SELECT 'schema tenantry', nspacl FROM pg_namespace WHERE nspname = 'tenantry'
    UNION ALL SELECT 'rel ' || name, relacl FROM rel
    UNION ALL SELECT 'fn ' || p.oid::regprocedure, p.proacl FROM pg_proc p WHERE p.pronamespace = 'tenantry'::regnamespace
)
SELECT 'rel ' || rel.name || ' kind=' || rel.relkind::text || ' owner=' || pg_get_userbyid(rel.relowner)
       || ' rls=' || rel.relrowsecurity || '/' || rel.relforcerowsecurity
       || ' options=' || coalesce(array_to_string(rel.reloptions, ','), '')
       || ' bound=' || coalesce(pg_get_expr(c.relpartbound, c.oid), '')
       || ' partkey=' || coalesce(pg_get_partkeydef(c.oid), '')
       || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '')
  FROM rel JOIN pg_class c USING (oid)
UNION ALL
SELECT 'col ' || rel.name || ' #' || row_number() OVER (PARTITION BY rel.oid ORDER BY a.attnum) || ' ' || a.attname
       || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
       || coalesce(' comment=' || col_description(rel.oid, a.attnum), '')
  FROM rel JOIN pg_attribute a ON a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE rel.relkind IN ('r', 'p') AND NOT rel.relispartition
UNION ALL
SELECT 'con ' || rel.name || ' ' || co.conname || ' ' || pg_get_constraintdef(co.oid)
  FROM rel JOIN pg_constraint co ON co.conrelid = rel.oid WHERE NOT rel.relispartition
UNION ALL
SELECT 'idx ' || rel.name || ' ' || pg_get_indexdef(i.indexrelid)
  FROM rel JOIN pg_index i ON i.indrelid = rel.oid
UNION ALL
SELECT 'pol ' || rel.name || ' ' || p.polname || ' cmd=' || p.polcmd::text || ' permissive=' || p.polpermissive
       || ' roles=' || (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r) END, ',' ORDER BY 1) FROM unnest(p.polroles) AS r)
       || ' using=' || coalesce(pg_get_expr(p.polqual, p.polrelid), '')
       || ' check=' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
  FROM rel JOIN pg_policy p ON p.polrelid = rel.oid
UNION ALL
SELECT 'trg ' || rel.name || ' ' || pg_get_triggerdef(t.oid)
  FROM rel JOIN pg_trigger t ON t.tgrelid = rel.oid AND NOT t.tgisinternal
UNION ALL
SELECT 'fn ' || p.oid::regprocedure || ' returns ' || pg_get_function_result(p.oid)
       || ' args=' || pg_get_function_arguments(p.oid)
       || ' owner=' || pg_get_userbyid(p.proowner) || ' lang=' || l.lanname
       || ' secdef=' || p.prosecdef || ' volatile=' || p.provolatile::text || ' strict=' || p.proisstrict
       || ' parallel=' || p.proparallel::text || ' config=' || coalesce(array_to_string(p.proconfig, ','), '')
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.pronamespace = 'tenantry'::regnamespace
UNION ALL
SELECT 'grant ' || acl.what || ' to ' || CASE WHEN x.grantee = 0 THEN 'public' ELSE pg_get_userbyid(x.grantee) END
       || ' ' || x.privilege_type || CASE WHEN x.is_grantable THEN ' grantable' ELSE '' END
  FROM acl CROSS JOIN LATERAL aclexplode(acl.acl) AS x
UNION ALL
SELECT 'setting ' || key || '=' || value FROM tenantry.settings
ORDER BY 1
