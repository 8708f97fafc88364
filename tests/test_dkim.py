"""DKIM keys: dkimadd, dkiminfo, dkimrotate, dkimactivate (against a
private DNS server), dkimdelete, purge's retirement step, and the rights
of the OpenDKIM role."""

import datetime
import json

import psycopg2
import pytest
from dnsserver import TxtServer

from cli_helpers import Unchanged, assert_ok
from conftest import Runner, write_config


@pytest.fixture
def dns():
    with TxtServer() as server:
        yield server


@pytest.fixture
def vmm_dns(tmp_path, pg, db, mail_base, dns):
    return Runner(write_config(tmp_path / 'vmm.cfg', pg, db.name, mail_base,
                               dkim={'nameserver': dns.address}))


def info(vmm, fqdn):
    return json.loads(assert_ok(vmm('--json', 'dkiminfo', fqdn)).out)['keys']


def publish(dns, key):
    for record in key['records']:
        dns.publish(record['name'], record['value'])


def test_add_prints_records_split_into_strings(vmm_dns, db):
    assert_ok(vmm_dns('da', 'example.org'))
    assert_ok(vmm_dns('ada', 'example.net', 'example.org'))
    out = assert_ok(vmm_dns('dka', 'example.org', '-s', 'one',
                            '--algorithm', 'rsa-3072')).out
    assert 'one' in out
    [key] = info(vmm_dns, 'example.org')
    assert (key['selector'], key['state'], key['algorithm']) == (
        'one', 'published', 'rsa-3072')
    names = [record['name'] for record in key['records']]
    assert names == ['one._domainkey.example.org',
                     'one._domainkey.example.net']
    strings = key['records'][0]['value']
    # 18 characters of tags and 564 of base64 (422 octets of DER).
    assert [len(text) for text in strings] == [255, 255, 72]
    assert ''.join(strings).startswith('v=DKIM1; k=rsa; p=MIIBojAN')
    stored = db.scalar("SELECT public_key FROM dkim_key")
    assert ''.join(strings).endswith(stored)
    text = assert_ok(vmm_dns('dki', 'example.org')).out
    assert 'one._domainkey.example.org. IN TXT ( "%s" "%s" "%s" )' % tuple(
        strings) in text
    assert 'PRIVATE' not in text


def test_ed25519_record(vmm_dns):
    assert_ok(vmm_dns('da', 'example.org'))
    assert_ok(vmm_dns('dka', 'example.org', '--algorithm', 'ed25519'))
    [key] = info(vmm_dns, 'example.org')
    [value] = key['records'][0]['value']
    assert value.startswith('v=DKIM1; k=ed25519; p=')
    # 32 octets of public key are 44 characters of base64.
    assert len(value.split('p=')[1]) == 44
    today = datetime.date.today().strftime('%Y%m%d')
    assert key['selector'] == 'vmm' + today


def test_activate_waits_for_dns_then_rotation(vmm_dns, dns, db, snapshot):
    assert_ok(vmm_dns('da', 'example.org'))
    assert_ok(vmm_dns('dka', 'example.org', '-s', 'old'))
    unchanged = Unchanged(vmm_dns, snapshot)
    result = unchanged(67, 'dkimactivate', 'example.org')
    assert 'old._domainkey.example.org' in result.err
    [old] = info(vmm_dns, 'example.org')
    dns.publish(old['records'][0]['name'], ['v=DKIM1; k=rsa; p=AAAA'])
    unchanged(67, 'dkac', 'example.org')
    publish(dns, old)
    assert_ok(vmm_dns('dkac', 'example.org'))
    assert db.query('SELECT selector, state FROM dkim_key') == [
        ('old', 'active')]

    assert_ok(vmm_dns('dkr', 'example.org', '-s', 'new'))
    unchanged = Unchanged(vmm_dns, snapshot)
    unchanged(67, 'dkimactivate', 'example.org')
    unchanged(67, 'dkimadd', 'example.org')
    unchanged(44, 'dkimrotate', 'example.org', '-s', 'new')
    unchanged(44, 'dkimrotate', 'example.org', '-s', 'bad_selector')
    unchanged(57, 'dkimadd', 'nowhere.example')
    new = info(vmm_dns, 'example.org')[0]
    publish(dns, new)
    assert_ok(vmm_dns('dkimactivate', 'example.org'))
    assert sorted(db.query('SELECT selector, state FROM dkim_key')) == [
        ('new', 'active'), ('old', 'retiring')]
    assert db.query('SELECT domain, selector FROM opendkim_key_table') == [
        ('example.org', 'new')]


def test_purge_step_retires_after_retire_days(vmm_dns, db, tmp_path, pg,
                                              mail_base):
    from vmm.handler import Handler
    from vmm.handler.dkim import retire_dkim_keys
    from vmm.handler.results import RetiredDkimKey
    assert_ok(vmm_dns('da', 'example.org'))
    assert_ok(vmm_dns('dka', 'example.org', '-s', 'old'))
    assert_ok(vmm_dns('dkac', 'example.org', '--no-dns-check'))
    assert_ok(vmm_dns('dkr', 'example.org', '-s', 'new'))
    assert_ok(vmm_dns('dkac', 'example.org', '--no-dns-check'))
    config = write_config(tmp_path / 'purge.cfg', pg, db.name, mail_base)
    now = datetime.datetime.now(datetime.timezone.utc)
    for as_of, expected in ((now + datetime.timedelta(days=6), []),
                            (now + datetime.timedelta(days=8), [
                                RetiredDkimKey('example.org', 'old', (
                                    'old._domainkey.example.org',))])):
        handler = Handler(config)
        try:
            assert retire_dkim_keys(handler, as_of, dry_run=True) == expected
            assert retire_dkim_keys(handler, as_of, False) == expected
            handler.commit()
        finally:
            handler.close()
    assert sorted(db.query('SELECT selector, state FROM dkim_key')) == [
        ('new', 'active'), ('old', 'retired')]


def test_delete(vmm_dns, db, snapshot):
    assert_ok(vmm_dns('da', 'example.org'))
    assert_ok(vmm_dns('dka', 'example.org', '-s', 'one'))
    Unchanged(vmm_dns, snapshot)(67, 'dkd', 'example.org', '-s', 'two')
    assert 'one' in assert_ok(vmm_dns('dkd', 'example.org', '-s', 'one')).out
    assert db.scalar('SELECT count(*) FROM dkim_key') == 0


def test_no_private_key_in_output_log_or_export(vmm_dns, db):
    assert_ok(vmm_dns('da', 'example.org'))
    runs = [vmm_dns('dka', 'example.org', '-s', 'one'),
            vmm_dns('dkac', 'example.org', '--no-dns-check'),
            vmm_dns('dkr', 'example.org'),
            vmm_dns('dki', 'example.org'),
            vmm_dns('--json', 'dki', 'example.org'),
            vmm_dns('log'), vmm_dns('export')]
    private = db.scalar("SELECT private_key FROM dkim_key "
                        "WHERE selector = 'one'")
    assert private.startswith('-----BEGIN PRIVATE KEY-----')
    body = private.splitlines()[1]
    for result in runs:
        assert_ok(result)
        assert body not in result.out + result.err
        assert 'PRIVATE KEY' not in result.out + result.err
    log = db.query('SELECT * FROM vmm_log')
    assert len(log) >= 3 and body not in repr(log)


def test_opendkim_role_reads_the_views_only(vmm_dns, db, pg):
    assert_ok(vmm_dns('da', 'example.org'))
    assert_ok(vmm_dns('ua', 'a@example.org', '-p', 'secret-pw'))
    assert_ok(vmm_dns('dka', 'example.org', '-s', 'one'))
    assert_ok(vmm_dns('dkac', 'example.org', '--no-dns-check'))
    rows = db.query('SELECT keyname, domain, selector, private_key '
                    'FROM opendkim_key_table', user='opendkim')
    assert [row[:3] for row in rows] == [('example.org', 'example.org',
                                          'one')]
    assert rows[0][3].startswith('-----BEGIN PRIVATE KEY-----')
    assert db.query('SELECT pattern, keyname FROM opendkim_signing_table',
                    user='opendkim') == [('example.org', 'example.org')]
    for sql in ('SELECT * FROM users', 'SELECT passwd FROM users',
                'SELECT * FROM dkim_key', 'SELECT * FROM domain_name',
                "SELECT * FROM dovecotpassword('a', 'example.org')",
                "SELECT * FROM postfix_virtual_mailbox_map('a', "
                "'example.org')", 'SELECT * FROM postfix_gid'):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            db.query(sql, user='opendkim')


def dkim_checks(vmm):
    """`vmm check --json`'s OpenDKIM role and DKIM DNS lines."""
    result = vmm('check', '--json')
    document = json.loads(result.out)
    return {check['name']: (check['status'], check['detail'])
            for check in document['checks']
            if check['name'].startswith(('dkim:', 'role:opendkim'))}


def test_check_reports_role_and_dns(vmm_dns, dns, db):
    assert_ok(vmm_dns('da', 'example.org'))
    assert_ok(vmm_dns('ada', 'example.net', 'example.org'))
    assert dkim_checks(vmm_dns) == {'role:opendkim': (
        'ok', 'the OpenDKIM role opendkim reads only the OpenDKIM views')}
    assert_ok(vmm_dns('dka', 'example.org', '-s', 'one'))
    assert_ok(vmm_dns('dkac', 'example.org', '--no-dns-check'))
    checks = dkim_checks(vmm_dns)
    assert checks['dkim:example.org'][0] == 'FAIL'
    assert 'one._domainkey.example.org, one._domainkey.example.net' in \
        checks['dkim:example.org'][1]
    [key] = info(vmm_dns, 'example.org')
    dns.publish(key['records'][0]['name'], key['records'][0]['value'])
    checks = dkim_checks(vmm_dns)
    assert checks['dkim:example.org'][0] == 'FAIL'
    assert 'differs): one._domainkey.example.net;' in \
        checks['dkim:example.org'][1]
    publish(dns, key)
    assert dkim_checks(vmm_dns)['dkim:example.org'] == (
        'ok', 'DNS publishes the active key one: one._domainkey.example.org, '
        'one._domainkey.example.net')

    db.query('GRANT SELECT (passwd) ON users TO opendkim')
    status, detail = dkim_checks(vmm_dns)['role:opendkim']
    assert status == 'FAIL' and 'password hashes' in detail, detail
    db.query('REVOKE ALL ON users FROM opendkim')
    db.query('REVOKE SELECT ON opendkim_key_table, opendkim_signing_table, '
             'opendkim_ed25519_key_table, opendkim_ed25519_signing_table '
             'FROM opendkim')
    status, detail = dkim_checks(vmm_dns)['role:opendkim']
    assert status == 'warning' and 'no role may read' in detail, detail
