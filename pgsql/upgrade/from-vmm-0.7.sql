-- Bring a vmm 0.6 or 0.7 database to this project's schema, version 1,
-- in place and without losing a row.
--
-- `vmm dbupgrade` runs this file (with ../lookup_functions.sql inlined) in
-- one transaction when it finds the tables `users` and `domain_data` but no
-- `vmm_schema`.  By hand, as the owner of the vmm tables or a superuser:
--
--   psql -d mailsys -1 -v ON_ERROR_STOP=1 -f from-vmm-0.7.sql
--
-- Either all of it happens or nothing does.  The result is the schema that
-- create_tables.sql creates (tests/test_upgrade07.py compares the catalogs),
-- holding the old rows.  Known layouts:
--
--   * vmm 0.7, and vmm 0.6 for Dovecot >= 1.2: the same tables.
--   * vmm 0.6 for Dovecot < 1.2: service_set.managesieve instead of .sieve,
--     the dict-quota table userquota_11 (uid, path, current) instead of
--     userquota; its usage counters are carried over into userquota.
--   * databases that went through vmm's own 0.5 -> 0.6 scripts: the note
--     columns may be missing, users.qid/ssid/tid may be NOT NULL DEFAULT 1,
--     constraint names differ (e.g. "pkye_users").
--
-- vmm 0.7 never writes rows that our added constraints refuse, but a
-- database edited by hand may hold some.  Instead of failing, the upgrade
-- repairs them and writes what it did, with the old values, into vmm_log:
--   * maillocation rows with the same (fid, directory): the accounts move to
--     the lowest mid, which gives them the same mail path; the others go.
--   * quota limits below zero: made positive, as vmm 0.7 itself did with a
--     negative limit given on its command line (merged into an existing
--     equal limit if there is one).
--   * a domain with more than one primary name: the first name in sort
--     order stays primary, the others become its alias domains (no lookup
--     reads is_primary, so Postfix and Dovecot answer as before).

SET client_min_messages = warning;

-- New objects must belong to the owner of the vmm tables, also when a
-- superuser runs the upgrade.  The role is restored at the end.
DO $$
DECLARE
    owner name;
BEGIN
    SELECT pg_get_userbyid(relowner) INTO owner
      FROM pg_class WHERE oid = 'public.users'::regclass;
    IF owner <> current_user AND pg_has_role(current_user, owner, 'MEMBER')
    THEN
        PERFORM set_config('vmm.upgrade_saved_role',
                           current_setting('role'), true);
        PERFORM set_config('role', owner, true);
    END IF;
END;
$$;

-- ---------------------------------------------------------------------
-- 1. What vmm 0.6/0.7 had that ours replaces: the lookup functions (they
--    return composite types; ours return TABLE (...) with the same column
--    names and come from lookup_functions.sql below), their types, the
--    info view, and the trigger that kept one primary name per domain
--    (now a unique partial index).
-- ---------------------------------------------------------------------

DROP VIEW IF EXISTS vmm_domain_info;

DROP FUNCTION IF EXISTS dovecotpassword(varchar, varchar);
DROP FUNCTION IF EXISTS dovecotquotauser(varchar, varchar);
DROP FUNCTION IF EXISTS dovecotuser(varchar, varchar);
DROP FUNCTION IF EXISTS postfix_relocated_map(varchar, varchar);
DROP FUNCTION IF EXISTS postfix_smtpd_sender_login_map(varchar, varchar);
DROP FUNCTION IF EXISTS postfix_transport_map(varchar, varchar);
DROP FUNCTION IF EXISTS postfix_virtual_alias_map(varchar, varchar);
DROP FUNCTION IF EXISTS postfix_virtual_mailbox_map(varchar, varchar);
DROP FUNCTION IF EXISTS postfix_virtual_uid_map(varchar, varchar);
DROP FUNCTION IF EXISTS _interpolate_destination(varchar, varchar, varchar);

DROP TYPE IF EXISTS address_maildir;
DROP TYPE IF EXISTS dovecotpassword;
DROP TYPE IF EXISTS dovecotquotauser;
DROP TYPE IF EXISTS dovecotuser;
DROP TYPE IF EXISTS recipient_destination;
DROP TYPE IF EXISTS recipient_transport;
DROP TYPE IF EXISTS recipient_uid;
DROP TYPE IF EXISTS sender_login;

DROP TRIGGER IF EXISTS primary_count_ins ON domain_name;
DROP TRIGGER IF EXISTS primary_count_upd ON domain_name;
DROP FUNCTION IF EXISTS domain_primary_trigger();

-- Replaced below by ours (same name, same table).
DROP TRIGGER IF EXISTS mergeuserquota ON userquota;

-- ---------------------------------------------------------------------
-- 2. Older layouts (see the top of this file).
-- ---------------------------------------------------------------------

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_attribute
                WHERE attrelid = 'public.service_set'::regclass
                  AND attname = 'managesieve' AND NOT attisdropped)
       AND NOT EXISTS (SELECT 1 FROM pg_attribute
                        WHERE attrelid = 'public.service_set'::regclass
                          AND attname = 'sieve' AND NOT attisdropped)
    THEN
        ALTER TABLE service_set RENAME COLUMN managesieve TO sieve;
    END IF;
END;
$$;

ALTER TABLE domain_data ADD COLUMN IF NOT EXISTS note text NULL DEFAULT NULL;
ALTER TABLE users ADD COLUMN IF NOT EXISTS note text NULL DEFAULT NULL;

-- An account without its own value uses its domain's (NULL).
ALTER TABLE users
    ALTER COLUMN qid DROP NOT NULL, ALTER COLUMN qid DROP DEFAULT,
    ALTER COLUMN ssid DROP NOT NULL, ALTER COLUMN ssid DROP DEFAULT,
    ALTER COLUMN tid DROP NOT NULL, ALTER COLUMN tid DROP DEFAULT;

CREATE TABLE IF NOT EXISTS userquota (
    uid         bigint NOT NULL PRIMARY KEY
                REFERENCES users (uid) ON DELETE CASCADE,
    bytes       bigint NOT NULL DEFAULT 0,
    messages    integer NOT NULL DEFAULT 0
);

-- Dovecot 1.1's dict quota kept one row per uid and key; its keys end in
-- "storage" (bytes) and "messages".
DO $$
BEGIN
    IF to_regclass('public.userquota_11') IS NOT NULL THEN
        INSERT INTO userquota (uid, bytes, messages)
            SELECT q.uid,
                   coalesce(sum(q.current)
                            FILTER (WHERE q.path LIKE '%storage'), 0),
                   least(greatest(coalesce(sum(q.current)
                            FILTER (WHERE q.path LIKE '%messages'), 0),
                         -2147483648), 2147483647)::integer
              FROM userquota_11 q
             WHERE NOT EXISTS (SELECT 1 FROM userquota u WHERE u.uid = q.uid)
             GROUP BY q.uid;
        DROP TABLE userquota_11;
        DROP FUNCTION IF EXISTS merge_userquota_11();
    END IF;
END;
$$;

-- ---------------------------------------------------------------------
-- 3. Wider columns and the new per-domain limits (0 = unlimited).
-- ---------------------------------------------------------------------

ALTER TABLE users ALTER COLUMN passwd TYPE varchar(1024);
ALTER TABLE domain_data ALTER COLUMN domaindir TYPE varchar(4096);
ALTER TABLE domain_data
    ADD COLUMN max_accounts      integer NOT NULL DEFAULT 0
                                 CHECK (max_accounts >= 0),
    ADD COLUMN max_aliases       integer NOT NULL DEFAULT 0
                                 CHECK (max_aliases >= 0),
    ADD COLUMN max_alias_domains integer NOT NULL DEFAULT 0
                                 CHECK (max_alias_domains >= 0);

-- ---------------------------------------------------------------------
-- 4. The new tables, as create_tables.sql defines them.
-- ---------------------------------------------------------------------

\ir ../beyond_vmm07.sql

-- ---------------------------------------------------------------------
-- 5. Rows our added constraints would refuse (see the top of this file).
-- ---------------------------------------------------------------------

DO $$
DECLARE
    r record;
    keep bigint;
    fixed text[] := '{}';
    names text[] := '{}';
    new_bytes bigint;
    new_messages integer;
BEGIN
    -- Mail locations: one row per (fid, directory).
    FOR r IN
        SELECT m.mid, m.fid, m.directory, m.extra, d.keep
          FROM maillocation m
          JOIN (SELECT fid, directory, min(mid) AS keep
                  FROM maillocation GROUP BY fid, directory
                HAVING count(*) > 1) d
            ON d.fid = m.fid AND d.directory = m.directory
         WHERE m.mid <> d.keep
         ORDER BY m.mid
    LOOP
        UPDATE users SET mid = r.keep WHERE mid = r.mid;
        DELETE FROM maillocation WHERE mid = r.mid;
        fixed := fixed || format(
            'maillocation %s (fid %s, directory %L, extra %L) merged into '
            'maillocation %s', r.mid, r.fid, r.directory, r.extra, r.keep);
    END LOOP;

    -- Quota limits: no negative numbers.
    FOR r IN
        SELECT qid, bytes, messages FROM quotalimit
         WHERE bytes < 0 OR messages < 0 ORDER BY qid
    LOOP
        new_bytes := CASE WHEN r.bytes = -9223372036854775808
                          THEN 9223372036854775807 ELSE abs(r.bytes) END;
        new_messages := CASE WHEN r.messages = -2147483648
                             THEN 2147483647 ELSE abs(r.messages) END;
        SELECT qid INTO keep FROM quotalimit
         WHERE bytes = new_bytes AND messages = new_messages;
        IF FOUND THEN
            UPDATE domain_data SET qid = keep WHERE qid = r.qid;
            UPDATE users SET qid = keep WHERE qid = r.qid;
            DELETE FROM quotalimit WHERE qid = r.qid;
            fixed := fixed || format(
                'quotalimit %s (bytes %s, messages %s) merged into '
                'quotalimit %s (bytes %s, messages %s)', r.qid, r.bytes,
                r.messages, keep, new_bytes, new_messages);
        ELSE
            UPDATE quotalimit SET bytes = new_bytes, messages = new_messages
             WHERE qid = r.qid;
            fixed := fixed || format(
                'quotalimit %s changed from (bytes %s, messages %s) to '
                '(bytes %s, messages %s)', r.qid, r.bytes, r.messages,
                new_bytes, new_messages);
        END IF;
    END LOOP;

    -- Domains: at most one primary name.
    FOR r IN
        SELECT n.domainname, n.gid, p.keep
          FROM domain_name n
          JOIN (SELECT gid, min(domainname) AS keep FROM domain_name
                 WHERE is_primary GROUP BY gid HAVING count(*) > 1) p
            ON p.gid = n.gid
         WHERE n.is_primary AND n.domainname <> p.keep
         ORDER BY n.domainname
    LOOP
        UPDATE domain_name SET is_primary = FALSE
         WHERE domainname = r.domainname;
        fixed := fixed || format(
            'domain_name %s (gid %s) is now an alias domain of %s',
            r.domainname, r.gid, r.keep);
        names := names || r.domainname::text || r.keep::text;
    END LOOP;

    IF cardinality(fixed) > 0 THEN
        INSERT INTO vmm_log (os_user, command, changes, objects)
            VALUES (session_user,
                    'vmm dbupgrade (from a vmm 0.6/0.7 database)',
                    'repaired rows the new schema does not allow:' || E'\n'
                        || array_to_string(fixed, E'\n'),
                    ARRAY(SELECT DISTINCT unnest(names) ORDER BY 1));
        RAISE WARNING 'vmm dbupgrade repaired % row(s); see vmm_log',
            cardinality(fixed);
    END IF;
END;
$$;

-- ---------------------------------------------------------------------
-- 6. Constraint names as PostgreSQL gives them in create_tables.sql
--    (vmm 0.7 named them pkey_*, ukey_*, fkey_*; PostgreSQL 18 also
--    names NOT NULL constraints, after the column they were made for).
--    Renaming a primary key or unique constraint renames its index too.
-- ---------------------------------------------------------------------

DO $$
DECLARE
    c record;
    cols text;
    wanted text;
BEGIN
    FOR c IN
        SELECT con.conname, con.contype, con.conrelid, con.conkey,
               cl.relname
          FROM pg_constraint con
          JOIN pg_class cl ON cl.oid = con.conrelid
         WHERE cl.relnamespace = 'public'::regnamespace
           AND cl.relname IN ('transport', 'mailboxformat', 'maillocation',
                              'quotalimit', 'service_set', 'domain_data',
                              'domain_name', 'users', 'userquota', 'alias',
                              'relocated', 'catchall')
           AND con.contype IN ('p', 'u', 'f', 'n')
         ORDER BY cl.relname, con.contype, con.conname
    LOOP
        IF c.contype = 'p' THEN
            wanted := c.relname || '_pkey';
        ELSE
            SELECT string_agg(a.attname, '_' ORDER BY k.ord) INTO cols
              FROM unnest(c.conkey) WITH ORDINALITY AS k (attnum, ord)
              JOIN pg_attribute a
                ON a.attrelid = c.conrelid AND a.attnum = k.attnum;
            wanted := c.relname || '_' || cols
                      || CASE c.contype WHEN 'u' THEN '_key'
                                        WHEN 'f' THEN '_fkey'
                                        ELSE '_not_null' END;
        END IF;
        CONTINUE WHEN wanted = c.conname OR octet_length(wanted) > 63;
        -- Leave a name alone rather than fail on one that is taken.
        CONTINUE WHEN EXISTS (SELECT 1 FROM pg_constraint
                               WHERE conrelid = c.conrelid
                                 AND conname = wanted);
        CONTINUE WHEN c.contype IN ('p', 'u') AND
            to_regclass('public.' || quote_ident(wanted)) IS NOT NULL;
        EXECUTE format('ALTER TABLE %I RENAME CONSTRAINT %I TO %I',
                       c.relname, c.conname, wanted);
    END LOOP;
END;
$$;

-- ---------------------------------------------------------------------
-- 7. Constraints and indexes that vmm 0.7 did not have.
-- ---------------------------------------------------------------------

ALTER TABLE maillocation ADD UNIQUE (fid, directory);
ALTER TABLE quotalimit
    ADD CONSTRAINT quotalimit_bytes_check CHECK (bytes >= 0),
    ADD CONSTRAINT quotalimit_messages_check CHECK (messages >= 0);

CREATE INDEX domain_name_gid ON domain_name (gid);
CREATE UNIQUE INDEX domain_name_one_primary ON domain_name (gid)
    WHERE is_primary;
CREATE INDEX users_gid ON users (gid, local_part);
CREATE INDEX alias_destination ON alias (destination);
CREATE INDEX catchall_destination ON catchall (destination);

-- ---------------------------------------------------------------------
-- 8. Trigger functions and triggers, as in create_tables.sql.
-- ---------------------------------------------------------------------


\ir ../userquota_merge.sql

-- Only vmm (the owner) may touch the tables; the lookup functions give
-- Postfix and Dovecot what they need (set-permissions.sql).
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;

\ir ../lookup_cache.sql
SELECT vmm_rebuild_lookup_cache();
\ir ../lookup_functions.sql

-- ---------------------------------------------------------------------
-- 9. Keep Postfix and Dovecot answering.  vmm 0.7's set-permissions.py
--    let its Postfix role read `transport` and its Dovecot role read
--    `service_set`, and no other role; ours look up through functions
--    that PUBLIC may not execute.  Those roles get the EXECUTE grants
--    set-permissions.sql gives (and Dovecot its rights on userquota,
--    which may be new), so no lookup fails between this upgrade and
--    running set-permissions.sql, which then takes away vmm 0.7's table
--    grants.  Nothing is revoked here.
-- ---------------------------------------------------------------------

DO $$
DECLARE
    r record;
    f regprocedure;
BEGIN
    FOR r IN
        SELECT DISTINCT pg_get_userbyid(a.grantee) AS role
          FROM pg_class c, aclexplode(c.relacl) a
         WHERE c.oid = 'public.transport'::regclass
           AND a.grantee <> 0 AND a.grantee <> c.relowner
    LOOP
        FOR f IN SELECT function FROM vmm_lookup_function
                  WHERE client = 'postfix' LOOP
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', f, r.role);
        END LOOP;
        EXECUTE format('GRANT SELECT ON postfix_gid TO %I', r.role);
    END LOOP;
    FOR r IN
        SELECT DISTINCT pg_get_userbyid(a.grantee) AS role
          FROM pg_class c, aclexplode(c.relacl) a
         WHERE c.oid = 'public.service_set'::regclass
           AND a.grantee <> 0 AND a.grantee <> c.relowner
    LOOP
        FOR f IN SELECT function FROM vmm_lookup_function
                  WHERE client = 'dovecot' LOOP
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', f, r.role);
        END LOOP;
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON userquota '
                       'TO %I', r.role);
    END LOOP;
END;
$$;

-- ---------------------------------------------------------------------
-- 10. Sequences: the next GID, UID and id come after the highest one in
--     use.  RESTART gives the sequence new storage in this transaction,
--     so the setval() after it is undone as well if the upgrade fails.
-- ---------------------------------------------------------------------

DO $$
DECLARE
    s record;
    used bigint;
    next_value bigint;
    top bigint;
BEGIN
    FOR s IN
        SELECT * FROM (VALUES
            ('domain_gid', 'domain_data', 'gid'),
            ('users_uid', 'users', 'uid'),
            ('transport_id', 'transport', 'tid'),
            ('mailboxformat_id', 'mailboxformat', 'fid'),
            ('maillocation_id', 'maillocation', 'mid'),
            ('quotalimit_id', 'quotalimit', 'qid'),
            ('service_set_id', 'service_set', 'ssid')) AS v (seq, tab, col)
    LOOP
        EXECUTE format('SELECT max(%I) FROM %I', s.col, s.tab) INTO used;
        EXECUTE format('SELECT CASE WHEN is_called THEN last_value + 1 '
                       'ELSE last_value END FROM %I', s.seq) INTO next_value;
        IF used IS NOT NULL AND used >= next_value THEN
            SELECT seqmax INTO top FROM pg_sequence
             WHERE seqrelid = s.seq::regclass;
            EXECUTE format('ALTER SEQUENCE %I RESTART', s.seq);
            PERFORM setval(s.seq::regclass, least(used, top), true);
        END IF;
    END LOOP;
END;
$$;

DO $$
BEGIN
    IF coalesce(current_setting('vmm.upgrade_saved_role', true), '') <> ''
    THEN
        PERFORM set_config('role',
                           current_setting('vmm.upgrade_saved_role'), true);
        PERFORM set_config('vmm.upgrade_saved_role', '', true);
    END IF;
END;
$$;

INSERT INTO vmm_schema (version) VALUES (1);
