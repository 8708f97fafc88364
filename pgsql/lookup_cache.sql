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

-- Recompute the cached rows of one domain (all its names), or of one
-- account or relocated user in it.
CREATE FUNCTION vmm_refresh_lookup(the_gid bigint, the_local_part varchar)
    RETURNS void
LANGUAGE plpgsql
SET search_path = public, pg_temp
SET join_collapse_limit = 1 SET from_collapse_limit = 1 AS $$
BEGIN
    IF the_local_part IS NULL THEN
        DELETE FROM lookup_address WHERE gid = the_gid;
        DELETE FROM lookup_alias WHERE gid = the_gid;
        DELETE FROM lookup_sender WHERE gid = the_gid;
        INSERT INTO lookup_address
            SELECT * FROM vmm_lookup_account_rows WHERE gid = the_gid;
        INSERT INTO lookup_address
            SELECT * FROM vmm_lookup_other_rows WHERE gid = the_gid;
        INSERT INTO lookup_alias
            SELECT * FROM vmm_lookup_alias_rows WHERE gid = the_gid;
        INSERT INTO lookup_sender
            SELECT * FROM vmm_lookup_sender_rows WHERE gid = the_gid;
        RETURN;
    END IF;
    DELETE FROM lookup_address
     WHERE gid = the_gid AND local_part = the_local_part COLLATE "C";
    DELETE FROM lookup_alias
     WHERE gid = the_gid AND local_part = the_local_part COLLATE "C";
    PERFORM vmm_refresh_sender(the_gid, the_local_part);
    INSERT INTO lookup_address
        SELECT * FROM vmm_lookup_account_rows
         WHERE gid = the_gid AND local_part = the_local_part;
    INSERT INTO lookup_address
        SELECT * FROM vmm_lookup_other_rows
         WHERE gid = the_gid AND local_part = the_local_part;
    INSERT INTO lookup_alias
        SELECT * FROM vmm_lookup_alias_rows
         WHERE gid = the_gid AND local_part = the_local_part;
END;
$$;

-- Recompute the sender-login rows of one address (an account's, else an
-- alias's) under every name of its domain.
CREATE FUNCTION vmm_refresh_sender(the_gid bigint, the_local_part varchar)
    RETURNS void
LANGUAGE plpgsql
SET search_path = public, pg_temp
SET join_collapse_limit = 1 SET from_collapse_limit = 1 AS $$
BEGIN
    DELETE FROM lookup_sender
     WHERE gid = the_gid AND local_part = the_local_part COLLATE "C";
    INSERT INTO lookup_sender
        SELECT * FROM vmm_lookup_sender_rows
         WHERE gid = the_gid AND local_part = the_local_part;
END;
$$;

-- What a changed row touches: one address, one alias, or a whole domain.
CREATE FUNCTION vmm_lookup_trigger() RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
SET join_collapse_limit = 1 SET from_collapse_limit = 1 AS $$
BEGIN
    IF TG_OP = 'INSERT' AND TG_TABLE_NAME = 'users' THEN
        -- The common case (useradd, import, batch): a new account has no
        -- cached rows yet (vmm refuses an address that is an alias or a
        -- relocated user already), so only add its own — every statement
        -- here is planned afresh in each vmm process.
        INSERT INTO lookup_address
            SELECT * FROM vmm_lookup_account_rows
             WHERE gid = NEW.gid AND local_part = NEW.local_part;
        IF EXISTS (SELECT 1 FROM catchall WHERE gid = NEW.gid) THEN
            INSERT INTO lookup_alias
                SELECT * FROM vmm_lookup_alias_rows
                 WHERE gid = NEW.gid AND local_part = NEW.local_part;
        END IF;
        INSERT INTO lookup_sender
            SELECT * FROM vmm_lookup_login_rows
             WHERE gid = NEW.gid AND local_part = NEW.local_part;
        IF NEW.tid IS NOT NULL THEN
            PERFORM vmm_refresh_lookup(NEW.gid, '');
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM vmm_lookup_touch(TG_TABLE_NAME, to_jsonb(OLD));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM vmm_lookup_touch(TG_TABLE_NAME, to_jsonb(NEW));
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION vmm_lookup_touch(tab name, rec jsonb) RETURNS void
LANGUAGE plpgsql
SET search_path = public, pg_temp
SET join_collapse_limit = 1 SET from_collapse_limit = 1 AS $$
DECLARE
    the_gid bigint := (rec ->> 'gid')::bigint;
BEGIN
    CASE tab
    WHEN 'users' THEN
        PERFORM vmm_refresh_lookup(the_gid, rec ->> 'local_part');
        IF rec ->> 'tid' IS NOT NULL THEN
            -- The domain's row says whether accounts have own transports.
            PERFORM vmm_refresh_lookup(the_gid, '');
        END IF;
    WHEN 'relocated' THEN
        PERFORM vmm_refresh_lookup(the_gid, rec ->> 'address');
    WHEN 'catchall' THEN
        -- The first or last catch-all destination adds or removes the
        -- identity rows of the whole domain.
        DELETE FROM lookup_alias
         WHERE gid = the_gid AND (local_part = '' OR is_identity);
        INSERT INTO lookup_alias
            SELECT * FROM vmm_lookup_alias_rows
             WHERE gid = the_gid AND (local_part = '' OR is_identity);
    WHEN 'domain_name', 'domain_data' THEN
        PERFORM vmm_refresh_lookup(the_gid, NULL);
    WHEN 'relay_domain' THEN
        DELETE FROM lookup_address
         WHERE address = '@' || (rec ->> 'domainname') AND gid IS NULL;
        INSERT INTO lookup_address
            SELECT * FROM vmm_lookup_other_rows
             WHERE domainname = rec ->> 'domainname' AND gid IS NULL;
    END CASE;
END;
$$;

CREATE TRIGGER users_lookup AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION vmm_lookup_trigger();
CREATE TRIGGER relocated_lookup AFTER INSERT OR UPDATE OR DELETE
    ON relocated FOR EACH ROW EXECUTE FUNCTION vmm_lookup_trigger();
-- An alias has one row per destination, and aliasadd writes them all in
-- one statement: refresh each changed alias once per statement, not once
-- per row (which made an alias of N destinations cost N * N).
CREATE FUNCTION vmm_refresh_alias(the_gid bigint, the_address varchar)
    RETURNS void
LANGUAGE plpgsql
SET search_path = public, pg_temp
SET join_collapse_limit = 1 SET from_collapse_limit = 1 AS $$
BEGIN
    DELETE FROM lookup_alias
     WHERE gid = the_gid AND local_part = the_address COLLATE "C";
    INSERT INTO lookup_alias
        SELECT * FROM vmm_lookup_alias_rows
         WHERE gid = the_gid AND local_part = the_address;
    PERFORM vmm_refresh_sender(the_gid, the_address);
END;
$$;

CREATE FUNCTION vmm_alias_lookup_trigger() RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
SET join_collapse_limit = 1 SET from_collapse_limit = 1 AS $$
DECLARE
    changed record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        FOR changed IN SELECT DISTINCT gid, address FROM new_alias LOOP
            PERFORM vmm_refresh_alias(changed.gid, changed.address);
        END LOOP;
    ELSIF TG_OP = 'DELETE' THEN
        FOR changed IN SELECT DISTINCT gid, address FROM old_alias LOOP
            PERFORM vmm_refresh_alias(changed.gid, changed.address);
        END LOOP;
    ELSE
        FOR changed IN SELECT gid, address FROM old_alias
                       UNION SELECT gid, address FROM new_alias LOOP
            PERFORM vmm_refresh_alias(changed.gid, changed.address);
        END LOOP;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER alias_lookup_insert AFTER INSERT ON alias
    REFERENCING NEW TABLE AS new_alias
    FOR EACH STATEMENT EXECUTE FUNCTION vmm_alias_lookup_trigger();
CREATE TRIGGER alias_lookup_update AFTER UPDATE ON alias
    REFERENCING OLD TABLE AS old_alias NEW TABLE AS new_alias
    FOR EACH STATEMENT EXECUTE FUNCTION vmm_alias_lookup_trigger();
CREATE TRIGGER alias_lookup_delete AFTER DELETE ON alias
    REFERENCING OLD TABLE AS old_alias
    FOR EACH STATEMENT EXECUTE FUNCTION vmm_alias_lookup_trigger();
CREATE TRIGGER catchall_lookup AFTER INSERT OR UPDATE OR DELETE ON catchall
    FOR EACH ROW EXECUTE FUNCTION vmm_lookup_trigger();
CREATE TRIGGER domain_name_lookup AFTER INSERT OR UPDATE OR DELETE
    ON domain_name FOR EACH ROW EXECUTE FUNCTION vmm_lookup_trigger();
CREATE TRIGGER domain_data_lookup AFTER UPDATE ON domain_data
    FOR EACH ROW EXECUTE FUNCTION vmm_lookup_trigger();
CREATE TRIGGER relay_domain_lookup AFTER INSERT OR UPDATE OR DELETE
    ON relay_domain FOR EACH ROW EXECUTE FUNCTION vmm_lookup_trigger();

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
