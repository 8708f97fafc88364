-- DKIM signing keys and the two views OpenDKIM reads (its KeyTable and
-- SigningTable).  beyond_vmm07.sql loads this file.
--
-- A key is 'published' (its TXT record is in DNS, nothing signs with it),
-- 'active' (OpenDKIM signs with it; one per domain), 'retiring' (no longer
-- signing, its record stays so that mail in flight still verifies) or
-- 'retired' (its record may go).  public_key is the p= value of the record.
CREATE TABLE dkim_key (
    gid         bigint NOT NULL
                REFERENCES domain_data (gid) ON DELETE CASCADE,
    selector    varchar(63) NOT NULL,
    algorithm   varchar(16) NOT NULL
                CHECK (algorithm IN ('rsa-2048', 'rsa-3072', 'ed25519')),
    private_key text NOT NULL,
    public_key  text NOT NULL,
    state       varchar(10) NOT NULL
                CHECK (state IN ('published', 'active', 'retiring',
                                 'retired')),
    created     timestamptz NOT NULL DEFAULT now(),
    since       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (gid, selector)
);
CREATE UNIQUE INDEX dkim_key_one_active ON dkim_key (gid)
    WHERE state = 'active';

-- OpenDKIM's KeyTable (key name -> signing domain, selector, private key)
-- and SigningTable (sender domain -> key name).  Every name of a domain
-- (the primary and each alias domain) signs with the domain's active key
-- under its own name as d=, so that d= is the From domain receivers see;
-- each name publishes the record under its own selector._domainkey.
-- OpenDKIM 2.11 signs with one algorithm per instance (its
-- SignatureAlgorithm), so RSA keys and Ed25519 keys have views of their
-- own: an instance never gets a key it cannot use.
CREATE VIEW opendkim_key_table AS
    SELECT n.domainname AS keyname, n.domainname AS domain, k.selector,
           k.private_key
      FROM dkim_key k JOIN domain_name n ON n.gid = k.gid
     WHERE k.state = 'active' AND k.algorithm <> 'ed25519';

CREATE VIEW opendkim_signing_table AS
    SELECT n.domainname AS pattern, n.domainname AS keyname
      FROM dkim_key k JOIN domain_name n ON n.gid = k.gid
     WHERE k.state = 'active' AND k.algorithm <> 'ed25519';

CREATE VIEW opendkim_ed25519_key_table AS
    SELECT n.domainname AS keyname, n.domainname AS domain, k.selector,
           k.private_key
      FROM dkim_key k JOIN domain_name n ON n.gid = k.gid
     WHERE k.state = 'active' AND k.algorithm = 'ed25519';

CREATE VIEW opendkim_ed25519_signing_table AS
    SELECT n.domainname AS pattern, n.domainname AS keyname
      FROM dkim_key k JOIN domain_name n ON n.gid = k.gid
     WHERE k.state = 'active' AND k.algorithm = 'ed25519';
