-- The lookup cache: one row per address that Postfix and Dovecot look up,
-- derived from the tables of create_tables.sql by the triggers below, so
-- that every lookup function reads one row (or a few) through one index
-- probe instead of joining five tables on every message and login.
--
-- The maintenance functions plan their joins in the order written (the
-- *_collapse_limit settings): a vmm command is a new session, and leaving
-- the planner to search the join orders of the views costs more than the
-- change itself.
--
-- vmm never writes these tables itself; the triggers keep them equal to
-- what the views vmm_lookup_*_rows compute from the tables (a test checks
-- it after every kind of change), and vmm_rebuild_lookup_cache() fills
-- them from scratch (dbupgrade does, after converting a vmm 0.7 database).

SET client_min_messages = warning;

-- Fill in %n (local part), %d (domain) and %= (local=domain).
CREATE OR REPLACE FUNCTION vmm_interpolate(
    destination varchar, localpart varchar, the_domain varchar)
    RETURNS varchar
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN strpos(destination, '%') = 0 THEN destination ELSE
        replace(replace(replace(
            replace(replace(replace(destination,
                '%n', E'\x01'), '%d', E'\x02'), '%=', E'\x03'),
            E'\x01', localpart), E'\x02', the_domain),
            E'\x03', localpart || '=' || the_domain)
    END
$$;

-- The names compare bytewise (COLLATE "C"): they are lower-case ASCII.
-- Each table has the whole address ('local@domain', or '@domain' for a
-- domain's own rows) in one column, the key of its lookups: the lookup
-- interface is called for every message and login, and one probe of a
-- hash index on that column costs less than descending a B-tree.  The
-- domains' own rows are found through a B-tree instead (the lookups ask
-- for them with local_part = ''): their '@' keys sort next to each other,
-- so the fallback to them reads pages that stay hot.
--
-- Accounts and relocated users under every name of their domain, and one
-- row per domain name (primary, alias and relay) with local_part '' that
-- carries the domain's transport and says whether any account has one of
-- its own (own_transports): where none has, the domain's row answers the
-- transport lookup of every address in it.
CREATE TABLE lookup_address (
    domainname  varchar(255) COLLATE "C" NOT NULL,
    local_part  varchar(64) COLLATE "C" NOT NULL,
    gid         bigint NULL,
    uid         bigint NULL,
    home        text NULL,
    maildir     text NULL,
    mail        text NULL,
    passwd      varchar(1024) NULL,
    smtp        boolean NULL,
    pop3        boolean NULL,
    imap        boolean NULL,
    sieve       boolean NULL,
    transport   varchar(270) NULL,
    quota_rule  text NULL,
    own_transports boolean NULL,
    relocated   varchar(320) NULL,
    address     text GENERATED ALWAYS AS
                    (local_part || '@' || domainname) STORED,
    PRIMARY KEY (address)
);
CREATE INDEX lookup_address_gid ON lookup_address (gid, local_part);
CREATE INDEX lookup_address_address ON lookup_address USING hash (address)
    WHERE local_part <> '';
-- For own_transports: which domains have accounts with a transport of
-- their own.
CREATE INDEX users_own_transport ON users (gid) WHERE tid IS NOT NULL;

-- Alias destinations under every name; local_part '' holds the catch-all
-- destinations, and where a domain has a catch-all its accounts map to
-- themselves ('%n@%d'), so that they win over it.  A relocated user has no
-- row: Postfix accepts at RCPT TO whatever the alias map answers, and would
-- then bounce the mail to a possibly forged sender; with no answer it
-- refuses the recipient with relocated_maps' new address.
-- target is the destination with its placeholders filled in for this
-- row's name, so a lookup only reads it; in a catch-all row the queried
-- local part is still to come, marked by E'\x01' (the lookup replaces it).
CREATE TABLE lookup_alias (
    domainname  varchar(255) COLLATE "C" NOT NULL,
    local_part  varchar(64) COLLATE "C" NOT NULL,
    destination varchar(320) NOT NULL,
    gid         bigint NOT NULL,
    is_identity boolean NOT NULL,
    address     text GENERATED ALWAYS AS
                    (local_part || '@' || domainname) STORED,
    target      varchar GENERATED ALWAYS AS
                    (vmm_interpolate(destination, CASE local_part
                         WHEN '' THEN E'\x01' ELSE local_part END,
                     domainname)) STORED,
    PRIMARY KEY (address, destination)
);
CREATE INDEX lookup_alias_gid ON lookup_alias (gid, local_part);
CREATE INDEX lookup_alias_address ON lookup_alias USING hash (address)
    WHERE local_part <> '';
CREATE INDEX lookup_alias_catchall ON lookup_alias (address)
    WHERE local_part = '';

-- Which SASL logins may use an address as sender: an account's address
-- under every name of its domain (the primary first); else an alias's
-- destinations, with their placeholders filled in.
CREATE TABLE lookup_sender (
    domainname  varchar(255) COLLATE "C" NOT NULL,
    local_part  varchar(64) COLLATE "C" NOT NULL,
    gid         bigint NOT NULL,
    logins      varchar[] NOT NULL,
    address     text GENERATED ALWAYS AS
                    (local_part || '@' || domainname) STORED,
    PRIMARY KEY (gid, local_part, domainname)
);
CREATE INDEX lookup_sender_address ON lookup_sender USING hash (address);

CREATE VIEW vmm_lookup_account_rows AS
    SELECT n.domainname, u.local_part, u.gid, u.uid,
           d.domaindir || '/' || u.uid AS home,
           d.domaindir || '/' || u.uid || '/' || m.directory || '/'
               AS maildir,
           f.format || ':~/' || m.directory AS mail,
           u.passwd, s.smtp, s.pop3, s.imap, s.sieve, t.transport,
           '*:bytes=' || q.bytes || ':messages=' || q.messages AS quota_rule,
           NULL::boolean AS own_transports, NULL::varchar AS relocated
      FROM users u
      JOIN domain_data d ON d.gid = u.gid
      JOIN domain_name n ON n.gid = u.gid
      JOIN maillocation m ON m.mid = u.mid
      JOIN mailboxformat f ON f.fid = m.fid
      JOIN transport t ON t.tid = coalesce(u.tid, d.tid)
      JOIN quotalimit q ON q.qid = coalesce(u.qid, d.qid)
      JOIN service_set s ON s.ssid = coalesce(u.ssid, d.ssid);

CREATE VIEW vmm_lookup_other_rows AS
    SELECT n.domainname, r.address AS local_part, r.gid, NULL::bigint AS uid,
           NULL::text AS home, NULL::text AS maildir, NULL::text AS mail,
           NULL::varchar AS passwd, NULL::boolean AS smtp,
           NULL::boolean AS pop3, NULL::boolean AS imap,
           NULL::boolean AS sieve, NULL::varchar AS transport,
           NULL::text AS quota_rule, NULL::boolean AS own_transports,
           r.destination AS relocated
      FROM relocated r JOIN domain_name n ON n.gid = r.gid
    UNION ALL
    SELECT n.domainname, '', n.gid, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, t.transport, NULL,
           EXISTS (SELECT 1 FROM users u
                    WHERE u.gid = n.gid AND u.tid IS NOT NULL), NULL
      FROM domain_name n
      JOIN domain_data d ON d.gid = n.gid
      JOIN transport t ON t.tid = d.tid
    UNION ALL
    SELECT r.domainname, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, t.transport, NULL, FALSE, NULL
      FROM relay_domain r JOIN transport t ON t.tid = r.tid;

CREATE VIEW vmm_lookup_alias_rows AS
    SELECT n.domainname, a.address AS local_part, a.destination, a.gid,
           FALSE AS is_identity
      FROM alias a JOIN domain_name n ON n.gid = a.gid
    UNION ALL
    SELECT n.domainname, '', c.destination, c.gid, FALSE
      FROM catchall c JOIN domain_name n ON n.gid = c.gid
    UNION ALL
    SELECT n.domainname, x.local_part, '%n@%d', x.gid, TRUE
      FROM users x
      JOIN domain_name n ON n.gid = x.gid
     WHERE EXISTS (SELECT 1 FROM catchall c WHERE c.gid = x.gid);

CREATE VIEW vmm_lookup_login_rows AS
    SELECT n.domainname, u.local_part, u.gid,
           ARRAY(SELECT (u.local_part || '@' || o.domainname)::varchar
                   FROM domain_name o WHERE o.gid = u.gid
                  ORDER BY NOT o.is_primary, o.domainname) AS logins
      FROM users u JOIN domain_name n ON n.gid = u.gid;

CREATE VIEW vmm_lookup_sender_rows AS
    SELECT * FROM vmm_lookup_login_rows
    UNION ALL
    SELECT n.domainname, a.address, a.gid,
           array_agg(DISTINCT vmm_interpolate(a.destination, a.address,
                                              n.domainname))
      FROM alias a JOIN domain_name n ON n.gid = a.gid
     WHERE NOT EXISTS (SELECT 1 FROM users u
                        WHERE u.gid = a.gid AND u.local_part = a.address)
     GROUP BY n.domainname, a.address, a.gid;

-- Keeping the cache.  Every trigger runs once per statement, for all the
-- rows the statement changed (its transition tables), and rewrites one
-- set of cached rows with one statement per cache table: a domain delete,
-- a new alias domain or a changed default costs what it changes, never a
-- round of statements per row.  The sets are named by keys:
--   (gid, local_part)  one address of a domain under all its names, ''
--                      for the domain's own rows (transport, catch-all);
--   (gid, domainname)  everything under one name of a domain;
--   gid                a whole domain's rows of lookup_address.
-- What is deleted is recomputed from the views, which stay the one
-- definition of the cache.  Every view row belongs to a name of its
-- domain: the keys of a domain that has no names left (one being deleted)
-- are deleted only.

-- The cached rows of the keys (gids[i], parts[i]) in the cache tables
-- named by *tables* (address, alias, sender).  The gids and parts are a
-- superset of the keys that the indexes find; the pairs, 'gid local_part',
-- pick from it through a hash table, which PostgreSQL builds for a
-- constant array only: these functions are planned for each call's
-- values.
CREATE FUNCTION vmm_refresh_lookup_keys(
    gids bigint[], parts varchar[],
    tables text[] DEFAULT '{address,alias,sender}')
    RETURNS void
LANGUAGE plpgsql
SET search_path = public, pg_temp SET plan_cache_mode = force_custom_plan
SET join_collapse_limit = 1 SET from_collapse_limit = 1 AS $$
DECLARE
    some_gids bigint[] := ARRAY(SELECT DISTINCT unnest(gids));
    some_parts varchar[] := ARRAY(SELECT DISTINCT unnest(parts));
    pairs text[] := ARRAY(SELECT g || ' ' || p FROM unnest(gids, parts) k(g, p));
    live bigint[];
BEGIN
    IF 'address' = ANY (tables) THEN
        DELETE FROM lookup_address c
         WHERE c.gid = ANY (some_gids)
           AND c.local_part = ANY (some_parts::varchar[] COLLATE "C")
           AND c.gid || ' ' || c.local_part = ANY (pairs);
    END IF;
    IF 'alias' = ANY (tables) THEN
        DELETE FROM lookup_alias c
         WHERE c.gid = ANY (some_gids)
           AND c.local_part = ANY (some_parts::varchar[] COLLATE "C")
           AND c.gid || ' ' || c.local_part = ANY (pairs);
    END IF;
    IF 'sender' = ANY (tables) THEN
        DELETE FROM lookup_sender c
         WHERE c.gid = ANY (some_gids)
           AND c.local_part = ANY (some_parts::varchar[] COLLATE "C")
           AND c.gid || ' ' || c.local_part = ANY (pairs);
    END IF;
    live := ARRAY(SELECT g FROM unnest(some_gids) g
                   WHERE EXISTS (SELECT 1 FROM domain_name n
                                  WHERE n.gid = g));
    IF cardinality(live) = 0 THEN
        RETURN;
    END IF;
    IF 'address' = ANY (tables) THEN
        INSERT INTO lookup_address
            SELECT * FROM vmm_lookup_account_rows v
             WHERE v.gid = ANY (live) AND v.local_part = ANY (some_parts)
               AND v.gid || ' ' || v.local_part = ANY (pairs);
        INSERT INTO lookup_address
            SELECT * FROM vmm_lookup_other_rows v
             WHERE v.gid = ANY (live) AND v.local_part = ANY (some_parts)
               AND v.gid || ' ' || v.local_part = ANY (pairs);
    END IF;
    IF 'alias' = ANY (tables) THEN
        INSERT INTO lookup_alias
            SELECT * FROM vmm_lookup_alias_rows v
             WHERE v.gid = ANY (live) AND v.local_part = ANY (some_parts)
               AND v.gid || ' ' || v.local_part = ANY (pairs);
    END IF;
    IF 'sender' = ANY (tables) THEN
        INSERT INTO lookup_sender
            SELECT * FROM vmm_lookup_sender_rows v
             WHERE v.gid = ANY (live) AND v.local_part = ANY (some_parts)
               AND v.gid || ' ' || v.local_part = ANY (pairs);
    END IF;
END;
$$;

-- The domain's own rows of lookup_address (transport, own_transports).
CREATE FUNCTION vmm_refresh_lookup_domain_rows(gids bigint[])
    RETURNS void
LANGUAGE sql
SET search_path = public, pg_temp AS $$
    SELECT vmm_refresh_lookup_keys(
        gids, array_fill(''::varchar, ARRAY[cardinality(gids)]),
        '{address}')
     WHERE cardinality(gids) > 0;
$$;

-- Everything under the names (gids[i], names[i]) of their domains, and
-- the sender rows of those domains' accounts, which list every name.  A
-- name of a domain with many aliases has as many sender rows, grouped in
-- memory.
CREATE FUNCTION vmm_refresh_lookup_names(gids bigint[], names varchar[])
    RETURNS void
LANGUAGE plpgsql
SET search_path = public, pg_temp SET plan_cache_mode = force_custom_plan
SET work_mem = '64MB'
SET join_collapse_limit = 1 SET from_collapse_limit = 1 AS $$
DECLARE
    some_gids bigint[] := ARRAY(SELECT DISTINCT unnest(gids));
    some_names varchar[] := ARRAY(SELECT DISTINCT unnest(names));
    pairs text[] := ARRAY(SELECT g || ' ' || d FROM unnest(gids, names) k(g, d));
    account_gids bigint[];
    account_parts varchar[];
BEGIN
    DELETE FROM lookup_address c
     WHERE c.gid = ANY (some_gids)
       AND c.domainname = ANY (some_names::varchar[] COLLATE "C")
       AND c.gid || ' ' || c.domainname = ANY (pairs);
    DELETE FROM lookup_alias c
     WHERE c.gid = ANY (some_gids)
       AND c.domainname = ANY (some_names::varchar[] COLLATE "C")
       AND c.gid || ' ' || c.domainname = ANY (pairs);
    DELETE FROM lookup_sender c
     WHERE c.gid = ANY (some_gids)
       AND c.domainname = ANY (some_names::varchar[] COLLATE "C")
       AND c.gid || ' ' || c.domainname = ANY (pairs);
    INSERT INTO lookup_address
        SELECT * FROM vmm_lookup_account_rows v
         WHERE v.gid = ANY (some_gids) AND v.domainname = ANY (some_names)
           AND v.gid || ' ' || v.domainname = ANY (pairs);
    INSERT INTO lookup_address
        SELECT * FROM vmm_lookup_other_rows v
         WHERE v.gid = ANY (some_gids) AND v.domainname = ANY (some_names)
           AND v.gid || ' ' || v.domainname = ANY (pairs);
    INSERT INTO lookup_alias
        SELECT * FROM vmm_lookup_alias_rows v
         WHERE v.gid = ANY (some_gids) AND v.domainname = ANY (some_names)
           AND v.gid || ' ' || v.domainname = ANY (pairs);
    INSERT INTO lookup_sender
        SELECT * FROM vmm_lookup_sender_rows v
         WHERE v.gid = ANY (some_gids) AND v.domainname = ANY (some_names)
           AND v.gid || ' ' || v.domainname = ANY (pairs);
    SELECT array_agg(u.gid), array_agg(u.local_part)
      INTO account_gids, account_parts
      FROM users u WHERE u.gid = ANY (some_gids);
    IF account_gids IS NOT NULL THEN
        PERFORM vmm_refresh_lookup_keys(account_gids, account_parts,
                                        '{sender}');
    END IF;
END;
$$;

-- Accounts: a single new one (useradd, a batch line) has no cached rows
-- yet (vmm refuses an address that is an alias or a relocated user
-- already), so only its own are added, in as few statements as possible,
-- each planned once per process.  A changed one is recomputed in the tables its
-- changed columns show in: the password, mailbox, quota, services and
-- transport only in lookup_address, its name and note nowhere, anything
-- else (its address) everywhere.  Whether any account of a domain has a
-- transport of its own is in the domain's row.
CREATE FUNCTION vmm_users_lookup_trigger() RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
SET join_collapse_limit = 1 SET from_collapse_limit = 1 AS $$
DECLARE
    address_or_nowhere constant text[] := '{passwd,mid,qid,ssid,tid,name,note}';
    gids bigint[];
    parts varchar[];
    shown_gids bigint[];
    shown_parts varchar[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(gid), array_agg(local_part) INTO gids, parts
          FROM new_rows;
        IF cardinality(gids) > 1 THEN
            PERFORM vmm_refresh_lookup_keys(gids, parts);
        ELSE
            INSERT INTO lookup_address
                SELECT * FROM vmm_lookup_account_rows
                 WHERE gid = gids[1] AND local_part = parts[1];
            IF EXISTS (SELECT 1 FROM catchall WHERE gid = gids[1]) THEN
                INSERT INTO lookup_alias
                    SELECT * FROM vmm_lookup_alias_rows
                     WHERE gid = gids[1] AND local_part = parts[1];
            END IF;
            INSERT INTO lookup_sender
                SELECT * FROM vmm_lookup_login_rows
                 WHERE gid = gids[1] AND local_part = parts[1];
        END IF;
        PERFORM vmm_refresh_lookup_domain_rows(ARRAY(
            SELECT DISTINCT gid FROM new_rows WHERE tid IS NOT NULL));
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(gid), array_agg(local_part) INTO gids, parts
          FROM old_rows;
        PERFORM vmm_refresh_lookup_keys(gids, parts);
        PERFORM vmm_refresh_lookup_domain_rows(ARRAY(
            SELECT DISTINCT gid FROM old_rows WHERE tid IS NOT NULL));
    ELSE
        -- Each changed row once: its old and new key where its address
        -- changed, else its key where what lookup_address shows changed.
        SELECT array_agg(c.old_gid) FILTER (WHERE c.moved AND c.old_gid > 0)
                   || array_agg(c.new_gid) FILTER (WHERE c.moved
                                                     AND c.new_gid > 0),
               array_agg(c.old_part) FILTER (WHERE c.moved AND c.old_gid > 0)
                   || array_agg(c.new_part) FILTER (WHERE c.moved
                                                      AND c.new_gid > 0),
               array_agg(c.new_gid) FILTER (WHERE c.shown AND NOT c.moved),
               array_agg(c.new_part) FILTER (WHERE c.shown AND NOT c.moved)
          INTO gids, parts, shown_gids, shown_parts
          FROM (SELECT o.gid AS old_gid, o.local_part AS old_part,
                       n.gid AS new_gid, n.local_part AS new_part,
                       to_jsonb(n) - address_or_nowhere
                           IS DISTINCT FROM to_jsonb(o) - address_or_nowhere
                           AS moved,
                       (n.passwd, n.mid, n.qid, n.ssid, n.tid)
                           IS DISTINCT FROM (o.passwd, o.mid, o.qid, o.ssid,
                                             o.tid) AS shown
                  FROM old_rows o FULL JOIN new_rows n ON n.uid = o.uid
                OFFSET 0) c;  -- each row's comparison once, not per use
        IF gids IS NOT NULL THEN
            PERFORM vmm_refresh_lookup_keys(gids, parts);
        END IF;
        IF shown_gids IS NOT NULL THEN
            PERFORM vmm_refresh_lookup_keys(shown_gids, shown_parts,
                                            '{address}');
        END IF;
        PERFORM vmm_refresh_lookup_domain_rows(ARRAY(
            SELECT o.gid FROM old_rows o LEFT JOIN new_rows n
                ON n.uid = o.uid AND n.gid = o.gid
             WHERE o.tid IS NOT NULL AND (n.uid IS NULL OR n.tid IS NULL)
            UNION
            SELECT n.gid FROM new_rows n LEFT JOIN old_rows o
                ON o.uid = n.uid AND o.gid = n.gid
             WHERE n.tid IS NOT NULL AND (o.uid IS NULL OR o.tid IS NULL)));
    END IF;
    RETURN NULL;
END;
$$;

-- Aliases (one row per destination) and relocated users: their addresses
-- in the tables they show in.
CREATE FUNCTION vmm_address_lookup_trigger() RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
SET join_collapse_limit = 1 SET from_collapse_limit = 1 AS $$
DECLARE
    gids bigint[];
    parts varchar[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(gid), array_agg(address) INTO gids, parts
          FROM (SELECT DISTINCT gid, address FROM new_rows) k;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(gid), array_agg(address) INTO gids, parts
          FROM (SELECT DISTINCT gid, address FROM old_rows) k;
    ELSE
        SELECT array_agg(gid), array_agg(address) INTO gids, parts
          FROM (SELECT gid, address FROM old_rows
                UNION SELECT gid, address FROM new_rows) k;
    END IF;
    IF gids IS NULL THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'alias' THEN
        PERFORM vmm_refresh_lookup_keys(gids, parts, '{alias,sender}');
    ELSE
        PERFORM vmm_refresh_lookup_keys(gids, parts, '{address}');
    END IF;
    RETURN NULL;
END;
$$;

-- Catch-all destinations: the domain's catch-all rows, and where a domain
-- got its first destination or lost its last one, the identity rows of
-- all its accounts.
CREATE FUNCTION vmm_catchall_lookup_trigger() RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
SET join_collapse_limit = 1 SET from_collapse_limit = 1 AS $$
DECLARE
    gids bigint[];
    flipped bigint[];
    account_gids bigint[];
    account_parts varchar[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        gids := ARRAY(SELECT DISTINCT gid FROM new_rows);
        -- had none before: all it has now is new
        flipped := ARRAY(
            SELECT g FROM unnest(gids) g
             WHERE NOT EXISTS (SELECT 1 FROM catchall c
                                WHERE c.gid = g AND (c.gid, c.destination)
                                      NOT IN (SELECT gid, destination
                                                FROM new_rows)));
    ELSIF TG_OP = 'DELETE' THEN
        gids := ARRAY(SELECT DISTINCT gid FROM old_rows);
        flipped := ARRAY(SELECT g FROM unnest(gids) g
                          WHERE NOT EXISTS (SELECT 1 FROM catchall c
                                             WHERE c.gid = g));
    ELSE
        gids := ARRAY(SELECT gid FROM old_rows UNION SELECT gid FROM new_rows);
        flipped := gids;
    END IF;
    PERFORM vmm_refresh_lookup_keys(
        gids, array_fill(''::varchar, ARRAY[cardinality(gids)]), '{alias}');
    SELECT array_agg(u.gid), array_agg(u.local_part)
      INTO account_gids, account_parts
      FROM users u WHERE u.gid = ANY (flipped);
    IF account_gids IS NOT NULL THEN
        PERFORM vmm_refresh_lookup_keys(account_gids, account_parts,
                                        '{alias}');
    END IF;
    RETURN NULL;
END;
$$;

-- Domain names (domainadd, alias domains added, deleted or switched to
-- another domain, domaindelete): everything under each name.
CREATE FUNCTION vmm_domain_name_lookup_trigger() RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
SET join_collapse_limit = 1 SET from_collapse_limit = 1 AS $$
DECLARE
    gids bigint[];
    names varchar[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(gid), array_agg(domainname) INTO gids, names
          FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(gid), array_agg(domainname) INTO gids, names
          FROM old_rows;
    ELSE
        SELECT array_agg(gid), array_agg(domainname) INTO gids, names
          FROM (SELECT gid, domainname FROM old_rows
                UNION SELECT gid, domainname FROM new_rows) k;
    END IF;
    IF gids IS NOT NULL THEN
        PERFORM vmm_refresh_lookup_names(gids, names);
    END IF;
    RETURN NULL;
END;
$$;

-- A domain's defaults (quota, services, transport) and directory show in
-- lookup_address only: in the domain's own rows and in those of its
-- accounts that inherit the changed default.  Its note and limits show
-- nowhere.
CREATE FUNCTION vmm_domain_data_lookup_trigger() RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
SET join_collapse_limit = 1 SET from_collapse_limit = 1 AS $$
DECLARE
    gids bigint[];
    parts varchar[];
BEGIN
    SELECT array_agg(u.gid), array_agg(u.local_part) INTO gids, parts
      FROM old_rows o JOIN new_rows n ON n.gid = o.gid
      JOIN users u ON u.gid = n.gid
     WHERE n.domaindir <> o.domaindir
        OR n.qid <> o.qid AND u.qid IS NULL
        OR n.ssid <> o.ssid AND u.ssid IS NULL
        OR n.tid <> o.tid AND u.tid IS NULL;
    IF gids IS NOT NULL THEN
        PERFORM vmm_refresh_lookup_keys(gids, parts, '{address}');
    END IF;
    PERFORM vmm_refresh_lookup_domain_rows(ARRAY(
        SELECT n.gid FROM old_rows o JOIN new_rows n ON n.gid = o.gid
         WHERE n.tid <> o.tid));
    RETURN NULL;
END;
$$;

-- Relay domains: one row each, changed one at a time.
CREATE FUNCTION vmm_relay_lookup_trigger() RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM lookup_address
         WHERE address = '@' || OLD.domainname AND gid IS NULL;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        DELETE FROM lookup_address
         WHERE address = '@' || NEW.domainname AND gid IS NULL;
        INSERT INTO lookup_address
            SELECT * FROM vmm_lookup_other_rows
             WHERE domainname = NEW.domainname AND gid IS NULL;
    END IF;
    RETURN NULL;
END;
$$;

-- Transition tables need one trigger per kind of statement.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
            ('users', 'vmm_users_lookup_trigger'),
            ('alias', 'vmm_address_lookup_trigger'),
            ('relocated', 'vmm_address_lookup_trigger'),
            ('catchall', 'vmm_catchall_lookup_trigger'),
            ('domain_name', 'vmm_domain_name_lookup_trigger')) v(tab, fn)
    LOOP
        EXECUTE format('CREATE TRIGGER %1$s_lookup_insert AFTER INSERT ON '
                       '%1$I REFERENCING NEW TABLE AS new_rows FOR EACH '
                       'STATEMENT EXECUTE FUNCTION %2$I()', t.tab, t.fn);
        EXECUTE format('CREATE TRIGGER %1$s_lookup_update AFTER UPDATE ON '
                       '%1$I REFERENCING OLD TABLE AS old_rows NEW TABLE AS '
                       'new_rows FOR EACH STATEMENT EXECUTE FUNCTION %2$I()',
                       t.tab, t.fn);
        EXECUTE format('CREATE TRIGGER %1$s_lookup_delete AFTER DELETE ON '
                       '%1$I REFERENCING OLD TABLE AS old_rows FOR EACH '
                       'STATEMENT EXECUTE FUNCTION %2$I()', t.tab, t.fn);
    END LOOP;
END;
$$;
CREATE TRIGGER domain_data_lookup_update AFTER UPDATE ON domain_data
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION vmm_domain_data_lookup_trigger();
CREATE TRIGGER relay_domain_lookup AFTER INSERT OR UPDATE OR DELETE
    ON relay_domain FOR EACH ROW EXECUTE FUNCTION vmm_relay_lookup_trigger();

-- Fill the cache from scratch.
CREATE FUNCTION vmm_rebuild_lookup_cache() RETURNS void
LANGUAGE plpgsql
SET search_path = public, pg_temp
SET join_collapse_limit = 1 SET from_collapse_limit = 1 AS $$
BEGIN
    DELETE FROM lookup_address;
    DELETE FROM lookup_alias;
    DELETE FROM lookup_sender;
    INSERT INTO lookup_address SELECT * FROM vmm_lookup_account_rows;
    INSERT INTO lookup_address SELECT * FROM vmm_lookup_other_rows;
    INSERT INTO lookup_alias SELECT * FROM vmm_lookup_alias_rows;
    INSERT INTO lookup_sender SELECT * FROM vmm_lookup_sender_rows;
END;
$$;

REVOKE ALL ON lookup_address, lookup_alias, lookup_sender FROM PUBLIC;
