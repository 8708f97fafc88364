-- Give the Postfix and Dovecot database roles exactly what their lookups
-- need, and nothing else.  Run as the owner of the vmm schema (or a
-- superuser) after `vmm dbupgrade`, and again after every upgrade:
--
--   psql -d mailsys -v postfix=postfix -v dovecot=dovecot \
--        -v opendkim=opendkim -f set-permissions.sql
--
-- The roles must exist (CREATE ROLE postfix LOGIN PASSWORD '…'); without
-- -v opendkim (no DKIM signing) that role is left out.  The lookup
-- functions run with the owner's rights, so neither role can read a table
-- directly: Postfix cannot read password hashes at all, Dovecot only through
-- dovecotpassword(), and neither can read the audit log.

\set ON_ERROR_STOP on

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM :"postfix", :"dovecot";
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM :"postfix", :"dovecot";
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM :"postfix", :"dovecot";
GRANT USAGE ON SCHEMA public TO :"postfix", :"dovecot";

-- Each role may run its client's lookup functions (the view
-- vmm_lookup_function says whose each is).
SELECT format('GRANT EXECUTE ON FUNCTION %s TO %I', function,
              CASE client WHEN 'postfix' THEN :'postfix' ELSE :'dovecot' END)
  FROM vmm_lookup_function
\gexec
-- virtual_mailbox_domains and virtual_gid_maps read this view.
GRANT SELECT ON postfix_gid TO :"postfix";

-- iterate_query (doveadm -A) reads local parts and domain names directly.
GRANT SELECT (local_part, gid) ON users TO :"dovecot";
GRANT SELECT (gid) ON domain_data TO :"dovecot";
GRANT SELECT (gid, domainname, is_primary) ON domain_name TO :"dovecot";
-- Dovecot's dict quota keeps the usage per uid here.
GRANT SELECT, INSERT, UPDATE, DELETE ON userquota TO :"dovecot";

-- OpenDKIM reads its KeyTable and SigningTable from four views (RSA and
-- Ed25519 keys) and nothing else: the views run with the owner's rights,
-- so the role reads the active keys of pgsql/dkim.sql without any right
-- on a table.
\if :{?opendkim}
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM :"opendkim";
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM :"opendkim";
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM :"opendkim";
GRANT USAGE ON SCHEMA public TO :"opendkim";
GRANT SELECT ON opendkim_key_table, opendkim_signing_table,
    opendkim_ed25519_key_table, opendkim_ed25519_signing_table
    TO :"opendkim";
\endif
