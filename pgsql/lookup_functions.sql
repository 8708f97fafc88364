-- The lookup interface Postfix and Dovecot query (vmm(1), LOOKUP INTERFACE).
--
-- Names, argument order and column names are those of vmm 0.7, so existing
-- pgsql-*.cf and dovecot-sql.conf.ext files keep working.  Each function is
-- PL/pgSQL, which caches its query plans: Postfix and Dovecot send every
-- lookup as one plain query string, and a plain join or an SQL function
-- would be parsed and planned again each time.  Each reads the lookup cache
-- (lookup_cache.sql) with one index probe on the whole address, and a
-- second one for the domain's own row where it falls back to that.
-- They run with the owner's rights (SECURITY DEFINER, fixed search_path),
-- so the postfix and dovecot roles need EXECUTE only, not SELECT on the
-- tables.
--
-- This file may be loaded again at any time: it replaces what it defines
-- and keeps the grants.

SET client_min_messages = warning;

CREATE OR REPLACE VIEW postfix_gid AS
    SELECT gid, domainname FROM domain_name;

-- The alias's destinations with the placeholders filled; for an unknown
-- local part the catch-all destinations (accounts of a domain with a
-- catch-all map to themselves, so they win).  A relocated user gets no
-- answer, not the catch-all's, so that Postfix refuses it at RCPT TO with
-- its new address (relocated_maps) instead of accepting and bouncing it.
CREATE OR REPLACE FUNCTION postfix_virtual_alias_map(localpart varchar, the_domain varchar)
    RETURNS TABLE (recipient varchar, destination varchar)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    queried varchar := localpart || '@' || the_domain;
BEGIN
    RETURN QUERY
        SELECT queried, a.target
          FROM lookup_alias a
         WHERE a.address = queried AND a.local_part <> '';
    IF NOT FOUND THEN
        RETURN QUERY
            SELECT queried, replace(a.target, E'\x01', localpart)::varchar
              FROM lookup_alias a
             WHERE a.address = '@' || the_domain AND a.local_part = ''
               AND NOT EXISTS (SELECT 1 FROM lookup_address x
                                WHERE x.address = queried
                                  AND x.local_part <> ''
                                  AND x.relocated IS NOT NULL);
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION postfix_virtual_mailbox_map(localpart varchar, the_domain varchar)
    RETURNS TABLE (address varchar, maildir text)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    queried varchar := localpart || '@' || the_domain;
BEGIN
    RETURN QUERY
        SELECT queried, x.maildir
          FROM lookup_address x
         WHERE x.address = queried AND x.local_part <> ''
           AND x.uid IS NOT NULL;
END;
$$;

CREATE OR REPLACE FUNCTION postfix_virtual_uid_map(localpart varchar, the_domain varchar)
    RETURNS TABLE (recipient varchar, uid bigint)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    queried varchar := localpart || '@' || the_domain;
BEGIN
    RETURN QUERY
        SELECT queried, x.uid
          FROM lookup_address x
         WHERE x.address = queried AND x.local_part <> ''
           AND x.uid IS NOT NULL;
END;
$$;

-- The account's own transport, else its domain's (also for local parts
-- that do not exist); for a relay domain, the relay domain's.  The
-- domain's row comes first: it answers alone unless some account of the
-- domain has a transport of its own.
CREATE OR REPLACE FUNCTION postfix_transport_map(localpart varchar, the_domain varchar)
    RETURNS TABLE (recipient varchar, transport varchar)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    queried varchar := localpart || '@' || the_domain;
    per_account boolean;
    own varchar;
BEGIN
    SELECT x.transport, x.own_transports INTO transport, per_account
      FROM lookup_address x
     WHERE x.address = '@' || the_domain AND x.local_part = '';
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF per_account THEN
        SELECT x.transport INTO own
          FROM lookup_address x
         WHERE x.address = queried AND x.local_part <> ''
           AND x.transport IS NOT NULL;
        IF FOUND THEN
            transport := own;
        END IF;
    END IF;
    recipient := queried;
    RETURN NEXT;
END;
$$;

CREATE OR REPLACE FUNCTION postfix_relocated_map(localpart varchar, the_domain varchar)
    RETURNS TABLE (recipient varchar, destination varchar)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    queried varchar := localpart || '@' || the_domain;
BEGIN
    RETURN QUERY
        SELECT queried, x.relocated
          FROM lookup_address x
         WHERE x.address = queried AND x.local_part <> ''
           AND x.relocated IS NOT NULL;
END;
$$;

-- Which SASL logins may use a sender address: for an account, its address
-- under the primary and every alias domain; for an alias, its destinations.
CREATE OR REPLACE FUNCTION postfix_smtpd_sender_login_map(localpart varchar, the_domain varchar)
    RETURNS TABLE (sender varchar, login varchar)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    queried varchar := localpart || '@' || the_domain;
BEGIN
    RETURN QUERY
        SELECT queried, unnest(s.logins)
          FROM lookup_sender s WHERE s.address = queried;
END;
$$;

CREATE OR REPLACE FUNCTION postfix_relay_domain_map(the_domain varchar)
    RETURNS TABLE (domain varchar, status varchar)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = public, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT r.domainname, 'OK'::varchar
          FROM relay_domain r
         WHERE r.domainname = the_domain;
END;
$$;

-- A relay domain with a recipient list accepts only those local parts;
-- one without a list accepts any.
CREATE OR REPLACE FUNCTION postfix_relay_recipient_map(localpart varchar, the_domain varchar)
    RETURNS TABLE (recipient varchar, status varchar)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = public, pg_temp AS $$
#variable_conflict use_column
BEGIN
    PERFORM 1 FROM relay_domain r WHERE r.domainname = the_domain;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM 1 FROM relay_recipient rr WHERE rr.domainname = the_domain LIMIT 1;
    IF FOUND THEN
        PERFORM 1 FROM relay_recipient rr
         WHERE rr.domainname = the_domain AND rr.local_part = localpart;
        IF NOT FOUND THEN
            RETURN;
        END IF;
    END IF;
    recipient := localpart || '@' || the_domain;
    status := 'OK';
    RETURN NEXT;
END;
$$;

-- Dovecot passdb: the hash and the effective service flags, so that
-- password_query can filter with WHERE %Ls.
CREATE OR REPLACE FUNCTION dovecotpassword(localpart varchar, the_domain varchar)
    RETURNS TABLE (userid varchar, password varchar, smtp boolean,
                   pop3 boolean, imap boolean, sieve boolean)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    queried varchar := localpart || '@' || the_domain;
BEGIN
    RETURN QUERY
        SELECT queried, x.passwd, x.smtp, x.pop3, x.imap, x.sieve
          FROM lookup_address x
         WHERE x.address = queried AND x.local_part <> ''
           AND x.uid IS NOT NULL;
END;
$$;

CREATE OR REPLACE FUNCTION dovecotuser(localpart varchar, the_domain varchar)
    RETURNS TABLE (userid varchar, uid bigint, gid bigint, home text,
                   mail text)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    queried varchar := localpart || '@' || the_domain;
BEGIN
    RETURN QUERY
        SELECT queried, x.uid, x.gid, x.home, x.mail
          FROM lookup_address x
         WHERE x.address = queried AND x.local_part <> ''
           AND x.uid IS NOT NULL;
END;
$$;

CREATE OR REPLACE FUNCTION dovecotquotauser(localpart varchar, the_domain varchar)
    RETURNS TABLE (userid varchar, uid bigint, gid bigint, home text,
                   mail text, quota_rule text)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    queried varchar := localpart || '@' || the_domain;
BEGIN
    RETURN QUERY
        SELECT queried, x.uid, x.gid, x.home, x.mail, x.quota_rule
          FROM lookup_address x
         WHERE x.address = queried AND x.local_part <> ''
           AND x.uid IS NOT NULL;
END;
$$;

-- Which client each lookup function serves, by its name: postfix_… are
-- Postfix's, dovecot… Dovecot's.  The grants (here, set-permissions.sql,
-- the vmm 0.7 upgrade) and vmm check go by this view, so a new lookup
-- needs naming only once, where it is defined.
CREATE OR REPLACE VIEW vmm_lookup_function AS
    SELECT p.oid::regprocedure AS function,
           CASE WHEN p.proname LIKE 'postfix\_%' THEN 'postfix'
                ELSE 'dovecot' END AS client
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'public'
       AND (p.proname LIKE 'postfix\_%' OR p.proname LIKE 'dovecot%');

-- Functions are executable by everyone unless revoked: none of vmm's
-- is (a trigger runs its function whoever changed the row); the roles
-- set-permissions.sql names may call their lookups.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC;
REVOKE ALL ON postfix_gid FROM PUBLIC;
