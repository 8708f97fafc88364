"""vmm.text: one definition of a control character for every value vmm
takes, and how refused text is shown."""

import pytest

from vmm import errors
from vmm.errors import VMMError
from vmm.text import has_control, printable

REFUSED = ['\0', '\x1b', '\n', '\x7f', '\x85', '\x9f', '\u2028', '\u2029',
           '\udc80', '\ud800']
ACCEPTED = [' ', 'é', '\xa0', '\u200b', 'ß', '日本', '\U0001f600']


@pytest.mark.parametrize('char', REFUSED)
def test_control_characters(char):
    assert has_control('a%sb' % char)
    assert not has_control('a%sb' % char, allowed=char)


@pytest.mark.parametrize('text', ACCEPTED)
def test_text_without_control_characters(text):
    assert not has_control(text)


def test_printable_escapes_what_cannot_be_seen():
    assert printable('ok') == 'ok'
    assert printable('a\x1bb') == 'a\\x1bb'
    assert printable('a\u2028') == 'a\\u2028'
    assert printable('bad\udcffbyte') == 'bad\\xffbyte'
    assert printable('abcdef', 3) == 'abc…'
    assert printable('abc', 3) == 'abc'


@pytest.mark.parametrize('char', ['\x85', '\u2028', '\x1b'])
def test_every_kind_of_value_refuses_the_same_characters(char):
    """A domain name, a note, a transport's next hop, a password, a hash,
    a folder name, a vacation subject and a listing pattern: one rule."""
    from vmm import mailbox, vacation
    from vmm.models.listing import parse_pattern
    from vmm.models.values import DomainName, Transport, check_text
    from vmm.password import check_hash, hash_password
    checks = [
        lambda: DomainName('exa%smple.org' % char),
        lambda: check_text('a%sb' % char, 'note', multiline=True),
        lambda: Transport('smtp:[mail%s.example.org]' % char),
        lambda: hash_password('se%scret' % char, 'SHA512-CRYPT'),
        lambda: check_hash('{PLAIN}a%sb' % char),
        lambda: vacation.check_subject('a%sb' % char),
        lambda: parse_pattern('a%sb' % char),
    ]
    for check in checks:
        with pytest.raises(VMMError) as info:
            check()
        assert info.value.code in (errors.INVALID_OPTION,
                                   errors.DOMAIN_INVALID), check
    with pytest.raises(ValueError):
        mailbox.check_folder_name('a%sb' % char)
