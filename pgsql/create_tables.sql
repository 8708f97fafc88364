-- vmm database schema, version 1.
--
-- Load into an empty database as the role that will own it (the one vmm
-- connects as), e.g.:   psql -U vmm -d mailsys -f create_tables.sql
-- or simply run `vmm dbupgrade`, which loads this same file.
--
-- The table names and the lookup interface (lookup_functions.sql) are those
-- of vmm 0.6/0.7, so Postfix and Dovecot configurations written for vmm 0.7
-- keep working.  Grants for the postfix and dovecot roles: set-permissions.sql.

SET client_min_messages = warning;

CREATE SEQUENCE transport_id;
CREATE SEQUENCE mailboxformat_id;
CREATE SEQUENCE maillocation_id;
CREATE SEQUENCE quotalimit_id;
CREATE SEQUENCE service_set_id;
CREATE SEQUENCE domain_gid START WITH 70000 MINVALUE 70000 MAXVALUE 4294967294;
CREATE SEQUENCE users_uid START WITH 70000 MINVALUE 70000 MAXVALUE 4294967294;

-- Distinct values shared by domains and accounts: transports, quota limits,
-- service sets and mail locations are stored once and referenced by id.
CREATE TABLE transport (
    tid         bigint NOT NULL DEFAULT nextval('transport_id') PRIMARY KEY,
    transport   varchar(270) NOT NULL UNIQUE
);

CREATE TABLE mailboxformat (
    fid         bigint NOT NULL DEFAULT nextval('mailboxformat_id') PRIMARY KEY,
    format      varchar(20) NOT NULL UNIQUE
);
INSERT INTO mailboxformat (format) VALUES ('maildir'), ('mdbox'), ('sdbox');

CREATE TABLE maillocation (
    mid         bigint NOT NULL DEFAULT nextval('maillocation_id') PRIMARY KEY,
    fid         bigint NOT NULL DEFAULT 1 REFERENCES mailboxformat (fid),
    directory   varchar(20) NOT NULL,
    extra       varchar(1024),
    UNIQUE (fid, directory)
);
INSERT INTO maillocation (directory) VALUES ('Maildir');

CREATE TABLE quotalimit (
    qid         bigint NOT NULL DEFAULT nextval('quotalimit_id') PRIMARY KEY,
    bytes       bigint NOT NULL CHECK (bytes >= 0),
    messages    integer NOT NULL DEFAULT 0 CHECK (messages >= 0),
    UNIQUE (bytes, messages)
);
INSERT INTO quotalimit (bytes, messages) VALUES (0, 0);

CREATE TABLE service_set (
    ssid        bigint NOT NULL DEFAULT nextval('service_set_id') PRIMARY KEY,
    smtp        boolean NOT NULL DEFAULT TRUE,
    pop3        boolean NOT NULL DEFAULT TRUE,
    imap        boolean NOT NULL DEFAULT TRUE,
    sieve       boolean NOT NULL DEFAULT TRUE,
    UNIQUE (smtp, pop3, imap, sieve)
);
INSERT INTO service_set (smtp, pop3, imap, sieve)
    SELECT s.v, p.v, i.v, v.v
      FROM (VALUES (TRUE), (FALSE)) s(v), (VALUES (TRUE), (FALSE)) p(v),
           (VALUES (TRUE), (FALSE)) i(v), (VALUES (TRUE), (FALSE)) v(v)
     ORDER BY v.v DESC, i.v DESC, p.v DESC, s.v DESC;

-- One row per domain; its names (the primary one and its alias domains)
-- are in domain_name.  The max_* limits are 0 for unlimited.
CREATE TABLE domain_data (
    gid         bigint NOT NULL DEFAULT nextval('domain_gid') PRIMARY KEY,
    qid         bigint NOT NULL DEFAULT 1 REFERENCES quotalimit (qid),
    ssid        bigint NOT NULL DEFAULT 1 REFERENCES service_set (ssid),
    tid         bigint NOT NULL DEFAULT 1 REFERENCES transport (tid),
    domaindir   varchar(4096) NOT NULL,
    note        text NULL DEFAULT NULL,
    max_accounts      integer NOT NULL DEFAULT 0 CHECK (max_accounts >= 0),
    max_aliases       integer NOT NULL DEFAULT 0 CHECK (max_aliases >= 0),
    max_alias_domains integer NOT NULL DEFAULT 0
                      CHECK (max_alias_domains >= 0)
);

CREATE TABLE domain_name (
    domainname  varchar(255) NOT NULL PRIMARY KEY,
    gid         bigint NOT NULL REFERENCES domain_data (gid),
    is_primary  boolean NOT NULL
);
CREATE INDEX domain_name_gid ON domain_name (gid);
-- A domain has exactly one primary name.
CREATE UNIQUE INDEX domain_name_one_primary ON domain_name (gid)
    WHERE is_primary;

CREATE TABLE users (
    local_part  varchar(64) NOT NULL,
    passwd      varchar(1024) NOT NULL,
    name        varchar(128) NULL,
    uid         bigint NOT NULL DEFAULT nextval('users_uid') UNIQUE,
    gid         bigint NOT NULL REFERENCES domain_data (gid),
    mid         bigint NOT NULL DEFAULT 1 REFERENCES maillocation (mid),
    qid         bigint NULL DEFAULT NULL REFERENCES quotalimit (qid),
    ssid        bigint NULL DEFAULT NULL REFERENCES service_set (ssid),
    tid         bigint NULL DEFAULT NULL REFERENCES transport (tid),
    note        text NULL DEFAULT NULL,
    PRIMARY KEY (local_part, gid)
);
CREATE INDEX users_gid ON users (gid, local_part);

-- Usage that Dovecot's dict quota writes (keyed by uid); an INSERT for a
-- uid that has a row adds to it (trigger below).
CREATE TABLE userquota (
    uid         bigint NOT NULL PRIMARY KEY
                REFERENCES users (uid) ON DELETE CASCADE,
    bytes       bigint NOT NULL DEFAULT 0,
    messages    integer NOT NULL DEFAULT 0
);

CREATE TABLE alias (
    gid         bigint NOT NULL REFERENCES domain_data (gid),
    address     varchar(64) NOT NULL,
    destination varchar(320) NOT NULL,
    PRIMARY KEY (gid, address, destination)
);
-- Reverse lookups: which aliases point at an address (userdelete, loops).
CREATE INDEX alias_destination ON alias (destination);

CREATE TABLE relocated (
    gid         bigint NOT NULL REFERENCES domain_data (gid),
    address     varchar(64) NOT NULL,
    destination varchar(320) NOT NULL,
    PRIMARY KEY (gid, address)
);

CREATE TABLE catchall (
    gid         bigint NOT NULL REFERENCES domain_data (gid),
    destination varchar(320) NOT NULL,
    PRIMARY KEY (gid, destination)
);
CREATE INDEX catchall_destination ON catchall (destination);

\ir beyond_vmm07.sql


\ir userquota_merge.sql

-- Only vmm (the owner) may touch the tables; the lookup functions give
-- Postfix and Dovecot what they need (set-permissions.sql).
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;

\ir lookup_cache.sql
\ir lookup_functions.sql

INSERT INTO vmm_schema (version) VALUES (1);
