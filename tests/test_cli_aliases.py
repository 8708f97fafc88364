"""Aliases, relocated users and catch-all destinations through the real
entry point (vmm(1)): aliasadd, aliasdelete, aliasinfo, relocatedadd,
relocateddelete, relocatedinfo, catchalladd, catchalldelete, catchallinfo
— long and short names, rows, lookups, warnings, and the failures with
their exit codes and no change."""

import pytest

from cli_helpers import (
    Unchanged,
    assert_ok,
    fails_cleanly,
    fake_postconf,
    runner,
)


@pytest.fixture
def site(vmm):
    """example.org with jane, an alias domain example.net, other.example."""
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('da', 'other.example'))
    assert_ok(vmm('ada', 'example.net', 'example.org'))
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    return vmm


def alias_rows(db):
    return db.query('SELECT n.domainname, a.address, a.destination FROM '
                    'alias a JOIN domain_name n ON n.gid = a.gid AND '
                    'n.is_primary ORDER BY 1, 2, 3')


def expand(db, address):
    local, domain = address.split('@')
    return sorted(row[1] for row in
                  db.lookup('postfix_virtual_alias_map', local, domain))


def listed(out):
    return [line[1:] for line in out.splitlines() if line.startswith('\t')]


# -- aliasadd -----------------------------------------------------------------

def test_aliasadd_several_destinations(site, db):
    vmm = site
    result = assert_ok(vmm('aliasadd', 'Team@Example.org',
                           'jane@example.org', 'boss@example.com',
                           'jane@bücher.example'))
    assert result.err == ''     # all exist or are foreign
    assert alias_rows(db) == [
        ('example.org', 'team', 'boss@example.com'),
        ('example.org', 'team', 'jane@example.org'),
        ('example.org', 'team', 'jane@xn--bcher-kva.example')]
    assert expand(db, 'team@example.org') == [
        'boss@example.com', 'jane@example.org',
        'jane@xn--bcher-kva.example']
    # under the alias domain too
    assert expand(db, 'team@example.net') == expand(db, 'team@example.org')
    # more destinations with the short name; duplicates skipped, warned
    result = assert_ok(vmm('aa', 'team@example.org', 'boss@example.com',
                           'new@example.com', 'new@example.com'))
    assert result.err.count('Warning: ') == 1
    assert 'boss@example.com' in result.err
    assert len(alias_rows(db)) == 4


def test_aliasadd_warns_for_missing_local_destination(site, db):
    vmm = site
    result = assert_ok(vmm('aa', 'info@example.org', 'nobody@example.org',
                           'someone@other.example', 'jane@example.net'))
    warnings = result.err.splitlines()
    assert len(warnings) == 2, warnings
    assert all(w.startswith('Warning: ') for w in warnings)
    assert 'nobody@example.org' in result.err
    assert 'someone@other.example' in result.err
    assert len(alias_rows(db)) == 3


def test_aliasadd_placeholders_kept_verbatim(site, db):
    vmm = site
    assert_ok(vmm('aa', 'info@example.org', '%n@other.example',
                  '%d-%n@archive.example', 'log+%=@archive.example'))
    assert [row[2] for row in alias_rows(db)] == [
        '%d-%n@archive.example', '%n@other.example',
        'log+%=@archive.example']
    assert expand(db, 'info@example.org') == [
        'example.org-info@archive.example', 'info@other.example',
        'log+info=example.org@archive.example']
    # under the alias domain, with the alias domain's name
    assert expand(db, 'info@example.net') == [
        'example.net-info@archive.example', 'info@other.example',
        'log+info=example.net@archive.example']
    out = assert_ok(vmm('ai', 'info@example.org')).out
    assert listed(out) == ['%d-%n@archive.example', '%n@other.example',
                           'log+%=@archive.example']


def test_aliasadd_failures(site, db, snapshot):
    vmm = site
    assert_ok(vmm('ra', 'old@example.org', 'new@example.com'))
    check = Unchanged(vmm, snapshot)
    check(21, 'aa', 'jane@example.org', 'x@example.com')
    check(60, 'aa', 'old@example.org', 'x@example.com')
    result = check(37, 'aa', 'info@example.net', 'x@example.com')
    assert 'info@example.org' in result.err
    check(57, 'aa', 'info@nowhere.example', 'x@example.com')
    check(43, 'aa', 'info@example.org', 'not an address')
    check(43, 'aa', 'info@example.org', '%x@example.com')
    check(39, 'aa', 'info@example.org', 'x@bad_domain.example')
    check(2, 'aa', 'info@example.org')


def test_aliasadd_expansion_limit(tmp_path, pg, db, mail_base, snapshot):
    postconf = fake_postconf(tmp_path, virtual_alias_expansion_limit=3,
                             virtual_alias_recursion_limit=1000)
    vmm = runner(tmp_path, pg, db, mail_base, bin={'postconf': postconf})
    assert_ok(vmm('da', 'example.org'))
    check = Unchanged(vmm, snapshot)
    result = check(27, 'aa', 'list@example.org', 'a@example.com',
                   'b@example.com', 'c@example.com', 'd@example.com')
    assert '3' in result.err
    check(27, 'caa', 'example.org', 'a@example.com', 'b@example.com',
          'c@example.com', 'd@example.com')
    assert_ok(vmm('aa', 'list@example.org', 'a@example.com',
                  'b@example.com', 'c@example.com'))
    fails_cleanly(vmm, snapshot, 27, 'aa', 'list@example.org',
                  'd@example.com')
    # a duplicate is no new destination
    assert_ok(vmm('aa', 'list@example.org', 'a@example.com'))


# -- aliasdelete / aliasinfo --------------------------------------------------

def test_aliasdelete(site, db, snapshot):
    vmm = site
    assert_ok(vmm('aa', 'info@example.org', 'a@example.com',
                  'b@example.com', 'c@example.com'))
    assert_ok(vmm('aliasdelete', 'info@example.org', 'b@example.com'))
    assert [row[2] for row in alias_rows(db)] == ['a@example.com',
                                                  'c@example.com']
    check = Unchanged(vmm, snapshot)
    check(53, 'ad', 'info@example.org', 'b@example.com')
    check(53, 'ad', 'info@example.org', 'a@example.com', 'x@example.com')
    check(53, 'ad', 'nothing@example.org')
    check(57, 'ad', 'info@nowhere.example')
    # the whole alias, through the alias domain's name
    assert_ok(vmm('ad', 'info@example.net'))
    assert alias_rows(db) == []


def test_aliasinfo(site, db, snapshot):
    vmm = site
    assert_ok(vmm('aa', 'info@example.org', 'zed@example.com',
                  'jane@bücher.example', 'amy@example.com'))
    for cmd in ('aliasinfo', 'ai'):
        out = assert_ok(vmm(cmd, 'info@example.org')).out
        assert out.splitlines()[0] == 'Alias information: info@example.org'
        assert listed(out) == ['amy@example.com', 'jane@bücher.example',
                               'zed@example.com']
    assert listed(vmm('ai', 'info@example.net').out) == \
        listed(vmm('ai', 'info@example.org').out)
    assert_ok(vmm('ra', 'old@example.org', 'new@example.com'))
    check = Unchanged(vmm, snapshot)
    check(53, 'ai', 'nothing@example.org')
    check(21, 'ai', 'jane@example.org')
    check(60, 'ai', 'old@example.org')
    check(57, 'ai', 'info@nowhere.example')


# -- relocated ----------------------------------------------------------------

def test_relocated(site, db, snapshot):
    vmm = site
    assert_ok(vmm('relocatedadd', 'old@example.org', 'new@bücher.example'))
    assert_ok(vmm('ra', 'Gone@example.org', 'jane@example.org'))
    assert db.query('SELECT address, destination FROM relocated ORDER BY '
                    '1') == [('gone', 'jane@example.org'),
                             ('old', 'new@xn--bcher-kva.example')]
    assert db.lookup('postfix_relocated_map', 'old', 'example.net') == \
        [('old@example.net', 'new@xn--bcher-kva.example')]
    for cmd in ('relocatedinfo', 'ri'):
        out = assert_ok(vmm(cmd, 'old@example.org')).out
        assert 'new@bücher.example' in out
    check = Unchanged(vmm, snapshot)
    check(59, 'ra', 'self@example.org', 'self@example.org')
    check(59, 'ra', 'self@example.org', 'SELF@Example.org')
    check(60, 'ra', 'old@example.org', 'other@example.com')
    check(21, 'ra', 'jane@example.org', 'other@example.com')
    check(37, 'ra', 'x@example.net', 'other@example.com')
    check(57, 'ra', 'x@nowhere.example', 'other@example.com')
    check(43, 'ra', 'x@example.org', 'no-at-sign')
    check(58, 'ri', 'nobody@example.org')
    check(58, 'rd', 'nobody@example.org')
    check(2, 'ra', 'x@example.org')
    assert_ok(vmm('aa', 'info@example.org', 'jane@example.org'))
    fails_cleanly(vmm, snapshot, 28, 'ra', 'info@example.org',
                  'x@example.com')
    assert_ok(vmm('relocateddelete', 'old@example.org'))
    assert_ok(vmm('rd', 'gone@example.net'))
    assert db.query('SELECT * FROM relocated') == []


# -- catch-all ----------------------------------------------------------------

def test_catchall(site, db, snapshot):
    vmm = site
    assert_ok(vmm('aa', 'info@example.org', 'boss@example.com'))
    assert_ok(vmm('ra', 'old@example.org', 'new@example.com'))
    result = assert_ok(vmm('catchalladd', 'example.org',
                           'jane@example.org', 'copy+%n@archive.example'))
    assert result.err == ''
    assert db.query('SELECT destination FROM catchall ORDER BY 1') == \
        [('copy+%n@archive.example',), ('jane@example.org',)]
    assert expand(db, 'unknown@example.org') == [
        'copy+unknown@archive.example', 'jane@example.org']
    assert expand(db, 'unknown@example.net') == [
        'copy+unknown@archive.example', 'jane@example.org']
    # accounts, aliases and relocated users win over the catch-all
    assert expand(db, 'jane@example.org') == ['jane@example.org']
    assert expand(db, 'info@example.org') == ['boss@example.com']
    # (a relocated user gets no alias answer: Postfix refuses it with its
    # new address)
    assert expand(db, 'old@example.org') == []
    assert expand(db, 'old@example.net') == []
    assert db.lookup('postfix_relocated_map', 'old', 'example.net') == [
        ('old@example.net', 'new@example.com')]
    result = assert_ok(vmm('caa', 'example.org', 'jane@example.org',
                           'nobody@example.org'))
    assert result.err.count('Warning: ') == 2   # a duplicate, a missing one
    for cmd in ('catchallinfo', 'cai'):
        out = assert_ok(vmm(cmd, 'example.org')).out
        assert listed(out) == ['copy+%n@archive.example', 'jane@example.org',
                               'nobody@example.org']
    check = Unchanged(vmm, snapshot)
    check(57, 'caa', 'nowhere.example', 'x@example.com')
    check(57, 'caa', 'example.net', 'x@example.com')
    check(43, 'caa', 'example.org', 'bad address')
    check(57, 'cai', 'nowhere.example')
    check(53, 'cad', 'example.org', 'x@example.com')
    check(53, 'cad', 'other.example')
    check(2, 'caa', 'example.org')
    assert_ok(vmm('catchalldelete', 'example.org', 'nobody@example.org'))
    assert len(db.query('SELECT * FROM catchall')) == 2
    assert_ok(vmm('cad', 'example.org'))
    assert db.query('SELECT * FROM catchall') == []
    assert expand(db, 'unknown@example.org') == []
    assert listed(vmm('cai', 'example.org').out) == ['(none)']


def test_many_destinations_in_one_statement(vmm, db, tmp_path, pg,
                                            mail_base):
    """1,000 destinations go in (one INSERT, the lookup cache refreshed
    per statement) and out again; 1,001 are refused before anything is
    written.  Its speed is a `make bench` row."""
    from cli_helpers import fake_postconf, runner
    postconf = fake_postconf(tmp_path, virtual_alias_expansion_limit=1000,
                             virtual_alias_recursion_limit=1000)
    vmm = runner(tmp_path, pg, db, mail_base, bin={'postconf': postconf})
    assert_ok(vmm('da', 'example.org'))
    many = ['r%d@example.com' % n for n in range(1001)]
    before = db.dump()

    def inserted():
        # Counts rows written by aborted transactions too.
        return db.scalar("SELECT n_tup_ins FROM pg_stat_user_tables WHERE "
                         "relname = 'alias'")
    written = inserted()
    result = vmm('aa', 'big@example.org', *many)
    assert result.code == 27 and '1001' in result.err, result
    assert db.dump() == before
    assert inserted() == written
    assert_ok(vmm('aa', 'big@example.org', *many[:1000]))
    assert db.scalar("SELECT count(*) FROM alias WHERE address = 'big'") \
        == 1000
    assert len(db.lookup('postfix_virtual_alias_map', 'big',
                         'example.org')) == 1000
    assert_ok(vmm('ad', 'big@example.org', *many[:500]))
    assert len(db.lookup('postfix_virtual_alias_map', 'big',
                         'example.org')) == 500
