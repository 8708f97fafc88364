-- What vmm has beyond vmm 0.7's tables: the schema version, relay
-- domains, vacation settings, DKIM keys (dkim.sql), the audit log, the
-- directory removals a committed command still owes, and the rule that a
-- name is one kind of domain only.  create_tables.sql and the vmm 0.7
-- upgrade (upgrade/from-vmm-0.7.sql) both load this file.

-- Which schema version this database has; one row per applied version.
CREATE TABLE vmm_schema (
    version     integer NOT NULL PRIMARY KEY,
    applied     timestamptz NOT NULL DEFAULT now()
);

-- Relay (backup MX) domains: accepted and passed on with their transport;
-- with rows in relay_recipient, only those local parts are accepted.
CREATE TABLE relay_domain (
    domainname  varchar(255) NOT NULL PRIMARY KEY,
    tid         bigint NOT NULL REFERENCES transport (tid),
    note        text NULL DEFAULT NULL
);

CREATE TABLE relay_recipient (
    domainname  varchar(255) NOT NULL
                REFERENCES relay_domain (domainname) ON DELETE CASCADE,
    local_part  varchar(64) NOT NULL,
    PRIMARY KEY (domainname, local_part)
);

-- Out-of-office settings; the Sieve script in the account's home is
-- written from this row.
CREATE TABLE vacation (
    uid         bigint NOT NULL PRIMARY KEY
                REFERENCES users (uid) ON DELETE CASCADE,
    active      boolean NOT NULL DEFAULT TRUE,
    subject     text NOT NULL,
    body        text NOT NULL,
    date_from   date NULL,
    date_until  date NULL,
    days        integer NOT NULL DEFAULT 7 CHECK (days >= 1)
);

-- The audit log: one row per changing subcommand, in its transaction.
CREATE TABLE vmm_log (
    id          bigserial PRIMARY KEY,
    logged_at   timestamptz NOT NULL DEFAULT now(),
    os_user     text NOT NULL,
    sudo_user   text NULL,
    command     text NOT NULL,
    changes     text NOT NULL,
    objects     text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX vmm_log_logged_at ON vmm_log (logged_at);

-- Directories a committed command deleted the owner of and asked to be
-- removed (userdelete/domaindelete --delete-directory).  Written in the
-- command's transaction, so the removal is owed exactly when the deletion
-- is committed; the row goes once the tree is gone.  A run killed before
-- that leaves the row, and the next vmm run finishes the removal.
CREATE TABLE directory_removal (
    token       text NOT NULL PRIMARY KEY,
    path        text NOT NULL,
    queued      timestamptz NOT NULL DEFAULT now()
);

-- A name is a primary, an alias or a relay domain, never two of them.
CREATE FUNCTION vmm_domain_name_unique() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'domain_name' THEN
        PERFORM 1 FROM relay_domain WHERE domainname = NEW.domainname;
    ELSE
        PERFORM 1 FROM domain_name WHERE domainname = NEW.domainname;
    END IF;
    IF FOUND THEN
        RAISE unique_violation
            USING MESSAGE = 'domain name ' || NEW.domainname || ' is taken';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER domain_name_unique BEFORE INSERT OR UPDATE ON domain_name
    FOR EACH ROW EXECUTE FUNCTION vmm_domain_name_unique();
CREATE TRIGGER relay_domain_unique BEFORE INSERT OR UPDATE ON relay_domain
    FOR EACH ROW EXECUTE FUNCTION vmm_domain_name_unique();

\ir dkim.sql
