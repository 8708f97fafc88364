"""The bad-input corpus: every case gets its vmm(1) EXIT STATUS exit
status, exactly one ``Error:`` line on stderr, no traceback, and changes
nothing in the database or the mail tree.  Plus Hypothesis properties of
the value parsers: any text gives a value or a VMMError, never another
exception, and a valid value parses to itself again.

The cases run in-process (``vmm.cli.main``): a NUL cannot pass through a
real argv, and invalid UTF-8 in argv reaches Python as surrogate escapes
(``'a\\udcff@example.org'``), which is what is passed here.
"""

import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmm.errors import VMMError
from vmm.models.values import DomainName, EmailAddress, QuotaLimit, Transport

from cli_helpers import assert_error
from conftest import TEMPLATE_DB, Runner, take_snapshot, write_config

LONG_LABEL = 'a' * 64
LONG_NAME = '.'.join(['a' * 63] * 4) + '.example'       # 263 characters

CASES = [
    # -- malformed addresses
    (43, 'ua', 'jane', '-p', 'x'),
    (40, 'ua', 'jane@', '-p', 'x'),
    (47, 'ua', '@example.org', '-p', 'x'),
    (43, 'ua', 'a@b@example.org', '-p', 'x'),
    (47, 'ua', '.jane@example.org', '-p', 'x'),
    (47, 'ua', 'jane.@example.org', '-p', 'x'),
    (47, 'ua', 'ja..ne@example.org', '-p', 'x'),
    (47, 'ua', 'ja ne@example.org', '-p', 'x'),
    (47, 'ua', '"jane"@example.org', '-p', 'x'),
    (47, 'ua', 'jane(comment)@example.org', '-p', 'x'),
    (47, 'ua', 'jäne@example.org', '-p', 'x'),
    (47, 'ua', 'jane\u2028@example.org', '-p', 'x'),
    (39, 'ua', 'jane@example..org', '-p', 'x'),
    (39, 'ua', 'jane@-example.org', '-p', 'x'),
    (39, 'ua', 'jane@example.org.', '-p', 'x'),
    (39, 'ua', 'jane@[192.0.2.1]', '-p', 'x'),
    (39, 'ua', 'jane@localhost', '-p', 'x'),
    (43, 'ai', 'jane@@example.org'),
    (43, 'ui', ''),
    (43, 'aa', 'info@example.org', 'no-at-sign'),
    (40, 'aa', 'info@example.org', 'x@'),
    (43, 'ra', 'old2@example.org', 'a@b@c.example'),
    (47, 'caa', 'example.org', '@example.com'),
    (39, 'ud', 'jane@exa_mple.org'),
    (43, 'aa', 'info@example.org', '%x@example.com'),
    (43, 'aa', 'info@example.org', '%n'),
    # -- malformed domains
    (39, 'da', 'exa mple.org'),
    (39, 'da', 'example'),
    (2, 'da', '-example.org'),
    (39, 'da', '--', '-example.org'),
    (39, 'da', 'example-.org'),
    (39, 'da', 'exa_mple.org'),
    (39, 'da', '.example.org'),
    (39, 'da', 'example.org.'),
    (39, 'da', 'example..org'),
    (39, 'da', '192.0.2.1'),
    (39, 'da', 'example.123'),
    (40, 'da', ''),
    (39, 'di', 'exa*mple.org'),
    (39, 'ada', 'new.example', 'bad domain'),
    (39, 'dd', 'example.org/evil'),
    (39, 'rla', 'exa!mple.org'),
    # -- bad IDN and over-long names
    (39, 'da', 'xn--abc.example'),
    (39, 'da', 'XN--ABC.example'),
    (39, 'da', 'xn--.example'),
    (39, 'da', 'xn--zz.example'),
    (39, 'da', '💩.example'),
    (39, 'da', 'a\u200db.example'),
    (39, 'da', '\u0301ab.example'),
    (39, 'da', 'ab--cd.com'),
    (39, 'da', 'x.ab--cd.example'),
    (39, 'ua', 'jane@ab--cd.com', '-p', 'x'),
    (39, 'ua', 'jane@xn--abc.example', '-p', 'x'),
    (41, 'da', LONG_LABEL + '.example'),
    (41, 'da', LONG_NAME),
    (41, 'da', 'a.' * 127 + 'example'),
    (41, 'ua', 'jane@%s.example' % LONG_LABEL, '-p', 'x'),
    (41, 'aa', 'info@example.org', 'x@' + LONG_NAME),
    # -- over-long local parts
    (48, 'ua', 'a' * 65 + '@example.org', '-p', 'x'),
    (48, 'ua', 'ä' * 33 + '@example.org', '-p', 'x'),
    (48, 'aa', 'a' * 65 + '@example.org', 'x@example.com'),
    (48, 'ra', 'a' * 65 + '@example.org', 'x@example.com'),
    (48, 'aa', 'info@example.org', 'a' * 65 + '@example.com'),
    (48, 'ui', 'a' * 65 + '@example.org'),
    # -- control characters and NUL
    (43, 'ua', 'ja\x00ne@example.org', '-p', 'x'),
    (47, 'ua', 'jane\n@example.org', '-p', 'x'),
    (43, 'ua', 'jane@exa\x00mple.org', '-p', 'x'),
    (39, 'da', 'exa\x00mple.org'),
    (39, 'da', 'example.org\n'),
    (39, 'da', 'exa\tmple.org'),
    (39, 'da', 'exa\x7fmple.org'),
    (39, 'da', 'example.org\r'),
    (43, 'aa', 'info@example.org', 'x\x00@example.com'),
    (44, 'ua', 'joe@example.org', '-p', 'pw\x00'),
    (44, 'da', 'new.example', '-n', 'note\x00'),
    (44, 'uo', 'jane@example.org', '-n', 'red \x1b[31m'),
    (44, 'un', 'jane@example.org', '-n', 'two\nlines'),
    (44, 'do', 'example.org', '-n', 'bell\x07'),
    (44, 'dt', 'example.org', 'smtp:\x00'),
    (44, 'll', '-p', '%\x00%'),
    # -- invalid UTF-8 in argv (surrogate escapes)
    (47, 'ua', 'a\udcff@example.org', '-p', 'x'),
    (39, 'da', 'exa\udcffmple.org'),
    (39, 'ua', 'jane@exa\udcffmple.org', '-p', 'x'),
    (44, 'ua', 'joe@example.org', '-p', 'pw\udcff'),
    (44, 'uo', 'jane@example.org', '-n', '\udcff'),
    (44, 'un', 'jane@example.org', '-n', 'J\udcc3\udca9r\udcc3'),
    (44, 'lu', '-p', '\udcc3%'),
    (44, 'ut', 'jane@example.org', 'smtp:\udcff'),
    (47, 'aa', 'info@example.org', '\udcff@example.com'),
    (44, 'dq', 'example.org', '1\udcff'),
    (44, 'cg', 'misc.\udcff'),
    # -- SQL metacharacters
    (39, 'da', "example.org'; DROP TABLE users; --"),
    (47, 'ua', "x'; DROP TABLE users; --@example.org", '-p', 'x'),
    (47, 'ui', "' OR '1'='1@example.org"),
    (52, 'ui', "o'brien@example.org"),
    (53, 'ai', '%@example.org'),
    (52, 'ui', '_@example.org'),
    (58, 'ri', "%'--@example.org"),
    (44, 'lu', '-p', "%' OR 1=1 --"),
    (44, 'll', '-p', "%'; DELETE FROM alias; --@%"),
    (39, 'di', 'example.org; DROP TABLE domain_data'),
    (39, 'ai', "info@example.org' OR 'a'='a"),
    (2, 'gu', '1; DROP TABLE users'),
    (2, 'dl', 'example.org', '--accounts', '1; DROP TABLE users'),
    # -- ../ and absolute paths
    (39, 'da', '../../etc'),
    (39, 'da', '/etc/passwd'),
    (39, 'da', '..'),
    (47, 'ua', '../../root@example.org', '-p', 'x'),
    (47, 'ua', '..@example.org', '-p', 'x'),
    (39, 'dd', '/srv/mail', '--force', '--delete-directory'),
    (39, 'dd', '../example.org', '--force', '--delete-directory'),
    (44, 'ut', 'jane@example.org', '../../x'),
    (46, 'cg', '../etc/passwd'),
    (31, 'cs', 'misc.base_directory', '/srv/mail\x00/../etc'),
    (31, 'cs', 'misc.dovecot_version', '2.3\n[database]\nname = other'),
    (31, 'cs', 'misc.base_directory', '/srv/mail\udcff'),
    (31, 'cs', 'misc.base_directory', 'relative/../path'),
    # -- unknown services
    (65, 'us', 'jane@example.org', '-e', 'ftp'),
    (65, 'ds', 'example.org', '-d', 'IMAP'),
    (65, 'us', 'jane@example.org', '-d', 'imap', 'pop'),
    (65, 'ds', 'example.org', '-e', ''),
    (65, 'us', 'jane@example.org', '-e', 'imap;smtp'),
    (65, 'ds', 'example.org', '-e', 'managesieve'),
    # -- bad storage sizes
    (44, 'dq', 'example.org', '10X'),
    (44, 'dq', 'example.org', '1.5G'),
    (44, 'dq', 'example.org', ''),
    (44, 'uq', 'jane@example.org', '10 M'),
    (44, 'uq', 'jane@example.org', '1e6'),
    (44, 'uq', 'jane@example.org', '0x10'),
    (44, 'uq', 'jane@example.org', '１０M'),
    (44, 'uq', 'jane@example.org', '٣'),
    (44, 'uq', 'jane@example.org', '99999999999999999999G'),
    (44, 'uq', 'jane@example.org', 'domain2'),
    (44, 'uq', 'jane@example.org', '10MB'),
    (44, 'uq', 'jane@example.org', '1T'),
    (44, 'uq', 'jane@example.org', ' 10'),
    (44, 'uq', 'jane@example.org', '10 '),
    (44, 'dq', 'example.org', '\t10k'),
    (44, 'dq', 'example.org', '1G', '-m', ' 5'),
    # -- negative numbers
    (44, 'dq', 'example.org', '--', '-5'),
    (44, 'dq', 'example.org', '-5'),
    (44, 'dq', 'example.org', '1G', '-m', '-1'),
    (44, 'uq', 'jane@example.org', '1G', '-m', '-10'),
    (44, 'uq', 'jane@example.org', '1G', '-m', '1.5'),
    (2, 'gu', '-70000'),
    (2, 'dl', 'example.org', '--aliases', '-1'),
    (2, 'dl', 'example.org', '--alias-domains', '-0'),
    # -- bad transports
    (44, 'dt', 'example.org', 'smtp: relay'),
    (44, 'dt', 'example.org', ' smtp:'),
    (44, 'dt', 'example.org', 'smtp:\n[mx.example]'),
    (44, 'dt', 'example.org', 'x' * 271),
    (44, 'dt', 'example.org', 'smtp:' + 'x' * 266),
    (44, 'dt', 'example.org', ':nexthop'),
    (44, 'dt', 'example.org', ''),
    (44, 'ut', 'jane@example.org', 'smtp:\t'),
    (44, 'ut', 'jane@example.org', 'smtp:\u00a0x'),
    (44, 'da', 'new.example', '-t', 'bad transport'),
    (44, 'rla', 'new.example', '-t', 'lmtp:\x01'),
    (44, 'da', 'new.example', '-t', ''),
    (44, 'rla', 'new.example', '-t', ''),
    (44, 'dt', 'example.org', 'nocolon'),
    (44, 'ut', 'jane@example.org', 'nocolon'),
    (44, 'da', 'new.example', '-t', 'nocolon'),
    (44, 'dt', 'example.org', 'smtp:[host'),
    (44, 'rla', 'new.example', '-t', 'smtp:[host'),
    (44, 'ut', 'jane@example.org', 'smtp:host]'),
    (44, 'dt', 'example.org', 'smtp:[]'),
    (44, 'dt', 'example.org', 'smtp:[127.0.0.1]:99999'),
    (44, 'ut', 'jane@example.org', 'smtp:[127.0.0.1]:0'),
    (44, 'rla', 'new.example', '-t', 'smtp:mx.example:65536'),
    (44, 'dt', 'example.org', 'smtp:[mx.example]x'),
    (31, 'cs', 'domain.transport', 'nocolon'),
    (31, 'cs', 'misc.relay_transport', 'smtp:[host'),
    (31, 'cs', 'domain.directory_mode', '0777'),
    (31, 'cs', 'domain.directory_mode', '1023'),
    (31, 'cs', 'account.directory_mode', '700'),
    (31, 'cs', 'account.directory_mode', '0708'),
    (31, 'cs', 'account.password_length', '4'),
    # -- wrong patterns
    (44, 'ld', '-p', 'a%b'),
    (44, 'll', '-p', '%%@%%@x'),
    (44, 'll', '-p', 'a@b@c'),
    (44, 'lu', '-p', 'bad domain'),
    (44, 'lu', '-p', '\\'),
    (44, 'lu', '-p', ';--'),
    (44, 'ld', '-p', 'exa*mple.org'),
    (44, 'll', '-p', 'a\\b@example.org'),
    (44, 'la', '-p', '%@ex%ample%'),
    (44, 'lr', '-p', 'a b'),
    (44, 'ld', '-p', '%a\x00%'),
    (44, 'll', '-p', '%ü%@%'),
    # -- usage
    (2, 'da'),
    (2, 'ua', 'joe@example.org', '--bogus'),
    (2, 'nosuchcommand'),
    (2, 'us', 'jane@example.org', '-e'),
]


@pytest.fixture(scope='module')
def world(pg, tmp_path_factory):
    """One database, mail tree and vmm.cfg for the whole corpus: each case
    must leave them exactly as they are."""
    name = 'vmm_bad_input_%d' % os.getpid()
    pg.execute('CREATE DATABASE %s TEMPLATE %s' % (name, TEMPLATE_DB))
    base = tempfile.mkdtemp(prefix='vmm-test-mail-')
    os.chmod(base, 0o711)
    try:
        vmm = Runner(write_config(tmp_path_factory.mktemp('bad') /
                                  'vmm.cfg', pg, name, base))
        for args in [('da', 'example.org'), ('ada', 'example.net',
                                             'example.org'),
                     ('ua', 'jane@example.org', '-p', 'pw'),
                     ('aa', 'info@example.org', 'jane@example.org'),
                     ('ra', 'old@example.org', 'jane@example.net'),
                     ('caa', 'example.org', 'jane@example.org')]:
            assert vmm(*args).code == 0
        def snapshot():
            with open(vmm.config, encoding='utf-8') as handle:
                return take_snapshot(pg, name, base) + (handle.read(),)
        yield vmm, snapshot, snapshot()
    finally:
        pg.execute('DROP DATABASE %s WITH (FORCE)' % name)
        shutil.rmtree(base, ignore_errors=True)


def _case_id(case):
    text = ' '.join(case[1:])
    return '%d:%s' % (case[0], text.encode('ascii', 'backslashreplace')
                      .decode('ascii')[:60])


@pytest.mark.parametrize('case', CASES, ids=[_case_id(c) for c in CASES])
def test_bad_input(world, case):
    vmm, snapshot, state = world
    code, args = case[0], case[1:]
    result = vmm(*args)
    assert_error(result, code)
    assert snapshot() == state, 'changed by %r' % (args,)


def test_corpus_size():
    assert len(CASES) >= 100


# -- Hypothesis: the value parsers ------------------------------------------

_ALPHABET = st.sampled_from(
    list('abcxyz09-.@%_ßüÄİK\u200d\u0301\u0660') +
    ['xn--', '\x00', '\n', 'ﬀ', '℡', '\udcff', '%n', '%d', '%=', '..'])
TEXT = st.one_of(st.text(), st.lists(_ALPHABET, max_size=24).map(''.join))
PROPERTY = settings(max_examples=300, deadline=None,
                    suppress_health_check=list(HealthCheck))


def _parse(parser, text):
    try:
        return parser(text)
    except VMMError as err:
        assert err.code in range(2, 75)
        assert '\n' not in err.msg
        return None


@PROPERTY
@given(TEXT)
def test_domain_name_parser(text):
    for candidate in (text, text + '.example'):
        name = _parse(DomainName, candidate)
        if name is not None:
            assert DomainName(name) == name
            assert DomainName(name.unicode) == name
            assert name.isascii() and name == name.lower()


@PROPERTY
@given(TEXT)
def test_email_address_parser(text):
    for candidate in (text, text + '@example.org', 'a@' + text + '.org'):
        address = _parse(EmailAddress, candidate)
        if address is not None:
            assert EmailAddress(str(address)) == address
            assert EmailAddress(address.unicode) == address
            assert len(address.localpart.encode()) <= 64


@PROPERTY
@given(TEXT)
def test_destination_parser(text):
    for candidate in (text + '@example.org', '%n@' + text + '.example'):
        destination = _parse(EmailAddress.parse_destination, candidate)
        if destination is not None:
            assert EmailAddress.parse_destination(destination) == \
                destination


@PROPERTY
@given(st.one_of(TEXT, st.from_regex(r'\A\s?[0-9]{1,22}[bkKMGT]?\s?\Z')))
def test_quota_parser(text):
    size = _parse(QuotaLimit.parse_bytes, text)
    if size is not None:
        assert isinstance(size, int) and 0 <= size <= 2 ** 63 - 1
        assert QuotaLimit.parse_bytes(str(size)) == size
        assert QuotaLimit.parse_bytes(QuotaLimit.format_bytes(size)) == size


@PROPERTY
@given(st.one_of(TEXT, st.from_regex(r'\A[a-z]{1,8}:\S{0,300}\Z')))
def test_transport_parser(text):
    transport = _parse(Transport, text)
    if transport is not None:
        assert Transport(transport) == transport
        assert len(transport) <= 270
        transport.encode('utf-8')       # storable


@pytest.mark.parametrize('case', [
    (47, 'ua', 'a\udcff@example.org', '-p', 'x'),
    (39, 'da', 'b\udcfcr.example'),
    (44, 'uo', 'jane@example.org', '-n', '\udcff\udcfe'),
], ids=['local part', 'domain', 'note'])
def test_invalid_utf8_through_a_real_argv(world, case):
    """The installed script, given bytes that are not UTF-8."""
    vmm, snapshot, state = world
    result = vmm(*case[1:], subprocess=True)
    assert_error(result, case[0])
    assert snapshot() == state


SECRET = 'Secret1'


@pytest.mark.parametrize('args', [
    ('ua', 's@example.org', '--pass', SECRET),
    ('ua', 's@example.org', '--pass=' + SECRET),
    ('ua', 's@example.org', '--passwd', SECRET, '-n', 'x'),
    ('up', 'jane@example.org', '--hahs', SECRET),
    ('up', 'jane@example.org', '-p', SECRET, '--bogus'),
    ('up', 'jane@example.org', '-p', SECRET, 'extra'),
    ('up', 'jane@example.org', '--hash', SECRET, '-p', SECRET),
    ('ui', 'jane@example.org', '-p' + SECRET),
    ('ui', 'jane@example.org', '-p', SECRET),
    ('gu', '--pass', SECRET),
    ('--pass', SECRET, 'ua', 's@example.org'),
    ('--pass=' + SECRET, 'ua', 's@example.org'),
    ('ua', '--pass', SECRET),
])
def test_usage_error_never_shows_a_password(world, args):
    """A mistyped option is followed by its value: a password must not
    end up on the screen (or in a terminal log) for it."""
    vmm, snapshot, state = world
    result = vmm(*args)
    assert_error(result, 2)
    assert SECRET not in result.err, result.err
    assert 'see `vmm help' in result.err
    batch = vmm('batch', input=' '.join(args) + '\n')
    assert batch.code == 2, batch
    assert SECRET not in batch.err, batch.err
    assert snapshot() == state
