"""--json: every info and list subcommand prints one JSON document with
the keys documented in vmm(1); errors come as {"error", "code"}."""

import json

import pytest

DOMAIN_KEYS = {'name', 'gid', 'directory', 'quota', 'services', 'transport',
               'alias_domains', 'accounts', 'aliases', 'relocated',
               'catchall', 'note'}
ACCOUNT_KEYS = {'address', 'name', 'uid', 'gid', 'home', 'mail_location',
                'quota', 'quota_usage', 'transport', 'services', 'note'}

# argv → {top-level key: checker}
CASES = [
    (('di', 'example.org'), {'domain': DOMAIN_KEYS}),
    (('di', 'example.org', '-d', 'full'),
     {'domain': DOMAIN_KEYS, 'accounts': list, 'aliasdomains': list,
      'aliases': list, 'catchall': list, 'relocated': list}),
    (('dl', 'example.org'), {'limits': {'name', 'accounts', 'aliases',
                                        'alias_domains'}}),
    (('ui', 'jane@example.org'), {'account': ACCOUNT_KEYS}),
    (('ui', 'jane@example.org', '-d', 'full'),
     {'account': ACCOUNT_KEYS | {'disk_usage'}, 'aliases': list}),
    (('gu', '70000'), {'account': {'uid', 'gid', 'address'}}),
    (('ai', 'team@example.org'), {'alias': str, 'destinations': list}),
    (('cai', 'example.org'), {'domain': str, 'destinations': list}),
    (('ri', 'old@example.org'), {'relocated': {'address', 'destination'}}),
    (('adi', 'example.net'), {'aliasdomain': {'name', 'primary'}}),
    (('rli', 'relay.example'), {'relaydomain': {'name', 'transport',
                                                'recipients', 'note'}}),
    (('ld',), {'domains': list}),
    (('ll',), {'addresses': list}),
    (('la',), {'addresses': list}),
    (('lu',), {'addresses': list}),
    (('lr',), {'addresses': list}),
    (('lp',), {'schemes': list, 'encodings': list}),
]


@pytest.fixture
def data(vmm, db):
    for args in (('da', 'example.org'), ('ada', 'example.net', 'example.org'),
                 ('ua', 'jane@example.org', '-p', 'x'),
                 ('aa', 'team@example.org', 'jane@example.org'),
                 ('caa', 'example.org', 'jane@example.org'),
                 ('ra', 'old@example.org', 'new@example.com'),
                 ('rla', 'relay.example', '--recipient', 'a@relay.example')):
        assert vmm(*args).code == 0, args
    return db


@pytest.mark.parametrize('argv,expected', CASES,
                         ids=[' '.join(c[0]) for c in CASES])
def test_documented_keys(vmm, data, argv, expected):
    result = vmm('--json', *argv)
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert set(document) == set(expected)
    for key, shape in expected.items():
        if isinstance(shape, set):
            assert set(document[key]) == shape, key
        else:
            assert isinstance(document[key], shape), key
    # --json may also follow the subcommand
    assert json.loads(vmm(*argv, '--json').out) == document


def test_values_are_structured(vmm, data):
    domain = json.loads(vmm('--json', 'di', 'example.org').out)['domain']
    assert domain['quota'] == {'bytes': 0, 'messages': 0}
    assert domain['services'] == ['smtp', 'pop3', 'imap', 'sieve']
    assert domain['accounts'] == {'used': 1, 'limit': 0}
    assert domain['aliases'] == {'used': 2, 'limit': 0}
    assert domain['note'] is None
    listing = json.loads(vmm('--json', 'll').out)['addresses']
    assert {'address': 'jane@example.net', 'kind': 'account',
            'primary_domain': False} in listing
    domains = json.loads(vmm('--json', 'ld').out)['domains']
    assert {'name': 'relay.example', 'kind': 'relay',
            'primary': 'relay.example'} in domains


def test_errors_as_json(vmm, data):
    for argv, code in ((('ui', 'nobody@example.org'), 52),
                       (('da',), 2), (('nosuch',), 2)):
        result = vmm('--json', *argv)
        assert result.code == code
        assert result.out == ''
        lines = result.err.splitlines()
        assert len(lines) == 1
        error = json.loads(lines[0])
        assert error['code'] == code and error['error']


def test_unicode_stays_unicode(vmm, db):
    assert vmm('da', 'bücher.example').code == 0
    result = vmm('--json', 'ld')
    assert 'bücher.example' in result.out
    assert json.loads(result.out)['domains'][0]['name'] == 'bücher.example'


def test_listing_that_fails_half_way_is_still_one_document(capsys):
    from vmm.cli.output import Output
    from vmm.errors import VMMError

    def rows():
        yield {'address': 'a@example.org'}
        yield {'address': 'b@example.org'}
        raise VMMError('the database went away', 35)
    out = Output(json=True)
    with pytest.raises(VMMError):
        out.items('addresses', 'Addresses', rows())
    out.error('the database went away', 35)
    out.finish()
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {'addresses': [
        {'address': 'a@example.org'}, {'address': 'b@example.org'}]}
    assert json.loads(captured.err) == {'error': 'the database went away',
                                        'code': 35}
