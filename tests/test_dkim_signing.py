"""DKIM end to end: a private OpenDKIM started from the shipped
pgsql/opendkim/opendkim.conf in front of a private Postfix (with the
shipped milter lines) and Dovecot, reading the keys from the database as
the opendkim role; a private DNS server on loopback publishes the records
``vmm dkiminfo`` prints, and dkimpy verifies the delivered mail against
it."""

import datetime
import email
import json
import os
import shutil
import tempfile

import dkim
import dns.resolver
import pytest
from dnsserver import TxtServer
from opendkimserver import OpenDkimServer, shipped_milter_lines

import servers
from cli_helpers import assert_ok
from conftest import TEMPLATE_DB, Runner, write_config

pytestmark = pytest.mark.servers
DBNAME = 'dkimmail'


class Setup:
    pass


@pytest.fixture(scope='module')
def signing(pg):
    directory = tempfile.mkdtemp(prefix='vmm-test-dkim-')
    os.chmod(directory, 0o755)
    pg.execute('DROP DATABASE IF EXISTS %s WITH (FORCE)' % DBNAME)
    pg.execute('CREATE DATABASE %s TEMPLATE %s' % (DBNAME, TEMPLATE_DB))
    setup = Setup()
    setup.dns = TxtServer().__enter__()
    setup.opendkim = [
        OpenDkimServer(os.path.join(directory, conf), pg.port, DBNAME,
                       conf=conf)
        for conf in ('opendkim.conf', 'opendkim-ed25519.conf')]
    setup.mail = servers.MailServers(
        os.path.join(directory, 'servers'), pg, DBNAME,
        postfix_main=shipped_milter_lines(*[instance.port for instance
                                            in setup.opendkim]))
    base = os.path.join(directory, 'mail')
    os.mkdir(base)
    os.chmod(base, 0o755)
    setup.vmm = Runner(write_config(
        os.path.join(directory, 'vmm.cfg'), pg, DBNAME, base,
        dkim={'nameserver': setup.dns.address}))
    setup.pg = pg
    try:
        for instance in setup.opendkim:
            instance.start()
        setup.mail.start()
        yield setup
    finally:
        try:
            setup.mail.stop()
        finally:
            for instance in setup.opendkim:
                instance.stop()
            setup.dns.__exit__(None, None, None)
            pg.execute('DROP DATABASE IF EXISTS %s WITH (FORCE)' % DBNAME)
            shutil.rmtree(directory, ignore_errors=True)


def keys(setup, fqdn):
    return json.loads(assert_ok(setup.vmm('--json', 'dki', fqdn)).out)[
        'keys']


def publish(setup, key):
    for record in key['records']:
        setup.dns.publish(record['name'], record['value'])


def dns_txt(setup):
    """dkimpy's DNS lookup, asking the private server only."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ['127.0.0.1']
    resolver.port = setup.dns.port

    def lookup(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        try:
            answer = resolver.resolve(name, 'TXT', lifetime=timeout)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        return b''.join(answer[0].strings)
    return lookup


def send_and_read(setup, sender, recipient, subject):
    """Submit a message as the account *sender* (SMTP AUTH); the raw
    message as delivered to *recipient*'s Maildir."""
    local, domain = recipient.split('@')
    box = setup.pg.execute('SELECT maildir FROM postfix_virtual_mailbox_map'
                           '(%s, %s)', (local, domain), dbname=DBNAME)[0][0]
    before = len(servers.maildir_messages(box))
    setup.mail.postfix.smtp_send(sender, recipient, subject=subject,
                                 login=sender, password='secret-pw')
    path = servers.wait_for_delivery(box, before + 1)[-1]
    with open(path, 'rb') as handle:
        return handle.read()


def signature(message):
    parsed = email.message_from_bytes(message)
    header = parsed['DKIM-Signature']
    assert header, 'the message arrived unsigned:\n%s' % message.decode()
    tags = dict(part.strip().split('=', 1)
                for part in ' '.join(header.split()).split(';')
                if '=' in part)
    return header, tags


def make_domain(setup, fqdn, algorithm):
    assert_ok(setup.vmm('da', fqdn))
    for local in ('a', 'b'):
        assert_ok(setup.vmm('ua', '%s@%s' % (local, fqdn), '-p', 'secret-pw'))
    assert_ok(setup.vmm('dka', fqdn, '-s', 'first', '--algorithm', algorithm))
    [key] = keys(setup, fqdn)
    publish(setup, key)
    assert_ok(setup.vmm('dkac', fqdn))
    return key


@pytest.mark.parametrize('fqdn, algorithm, tag', [
    ('rsa.example', 'rsa-2048', 'rsa-sha256'),
    ('ed.example', 'ed25519', 'ed25519-sha256')])
def test_submitted_mail_is_signed_and_verifies(signing, fqdn, algorithm, tag):
    make_domain(signing, fqdn, algorithm)
    message = send_and_read(signing, 'a@' + fqdn, 'b@' + fqdn, 'signed')
    header, tags = signature(message)
    print('DKIM-Signature: ' + header)
    assert (tags['d'], tags['s'], tags['a']) == (fqdn, 'first', tag)
    assert dkim.verify(message, dnsfunc=dns_txt(signing))


def test_rotation_end_to_end(signing):
    fqdn = 'rotate.example'
    make_domain(signing, fqdn, 'rsa-2048')
    old_message = send_and_read(signing, 'a@' + fqdn, 'b@' + fqdn, 'old')
    assert signature(old_message)[1]['s'] == 'first'

    assert_ok(signing.vmm('dkr', fqdn, '-s', 'second'))
    result = signing.vmm('dkac', fqdn)
    assert result.code == 67 and 'second._domainkey.rotate.example' in \
        result.err, result
    # Still signing with the old key.
    assert signature(send_and_read(signing, 'a@' + fqdn, 'b@' + fqdn,
                                   'still old'))[1]['s'] == 'first'
    new = [key for key in keys(signing, fqdn) if key['selector'] == 'second']
    publish(signing, new[0])
    assert_ok(signing.vmm('dkac', fqdn))
    states = {key['selector']: key['state'] for key in keys(signing, fqdn)}
    assert states == {'first': 'retiring', 'second': 'active'}

    new_message = send_and_read(signing, 'a@' + fqdn, 'b@' + fqdn, 'new')
    assert signature(new_message)[1]['s'] == 'second'
    lookup = dns_txt(signing)
    assert dkim.verify(new_message, dnsfunc=lookup)
    assert dkim.verify(old_message, dnsfunc=lookup)

    from vmm.handler import Handler
    from vmm.handler.dkim import retire_dkim_keys
    from vmm.handler.results import RetiredDkimKey
    handler = Handler(signing.vmm.config)
    try:
        later = datetime.datetime.now(datetime.timezone.utc) + \
            datetime.timedelta(days=8)
        assert retire_dkim_keys(handler, later, False) == [
            RetiredDkimKey(fqdn, 'first',
                           ('first._domainkey.rotate.example',))]
        handler.commit()
    finally:
        handler.close()
    states = {key['selector']: key['state'] for key in keys(signing, fqdn)}
    assert states == {'first': 'retired', 'second': 'active'}
