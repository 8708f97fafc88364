"""An out-of-office reply's settings and the checks of what users type
for them: nothing that could end a Sieve string early gets through."""

import datetime
import re

from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _
from vmm.text import has_control, printable

DEFAULT_DAYS = 7
MAX_DAYS = 3650
MAX_SUBJECT = 255
#: Well below Pigeonhole's default sieve_max_script_size (1M), even when
#: every line needs dot-stuffing.
MAX_BODY_BYTES = 500000


class Settings:
    """One account's vacation, as the ``vacation`` row holds it."""

    __slots__ = ('active', 'subject', 'body', 'date_from', 'date_until',
                 'days')

    def __init__(self, active, subject, body, date_from=None,
                 date_until=None, days=DEFAULT_DAYS):
        self.active = active
        self.subject = subject
        self.body = body
        self.date_from = date_from
        self.date_until = date_until
        self.days = days

    def __eq__(self, other):
        return isinstance(other, Settings) and all(
            getattr(self, name) == getattr(other, name)
            for name in self.__slots__)

    def __repr__(self):
        return 'Settings(%s)' % ', '.join(
            '%s=%r' % (name, getattr(self, name)) for name in self.__slots__)


def check_subject(text):
    """The subject: one line of at most MAX_SUBJECT characters, no
    control characters; '' (or None) for Pigeonhole's default ("Auto:"
    and the subject of the mail answered).  VMMError 44 otherwise."""
    if text is None:
        return ''
    if has_control(text):
        raise VMMError(_("Invalid subject: '%s' (it must be one line without "
                         'control characters)') % printable(text, 60),
                       errors.INVALID_OPTION)
    if len(text) > MAX_SUBJECT:
        raise VMMError(_('The subject is longer than %d characters')
                       % MAX_SUBJECT, errors.INVALID_OPTION)
    return text


def check_body(text):
    """The reply's text: line breaks normalised to LF, trailing empty
    lines removed; tabs and line breaks are the only control characters
    allowed; not empty; at most MAX_BODY_BYTES in UTF-8.  VMMError 44."""
    if text is None:
        text = ''
    text = text.replace('\r\n', '\n').replace('\r', '\n').rstrip('\n')
    for number, line in enumerate(text.split('\n'), 1):
        if has_control(line, '\t\u2028\u2029'):
            raise VMMError(_('Invalid message: line %(line)d contains a '
                             'control character or invalid Unicode: '
                             "'%(text)s'") % {'line': number,
                                              'text': printable(line, 60)},
                           errors.INVALID_OPTION)
    if not text.strip():
        raise VMMError(_('The message of a vacation must not be empty'),
                       errors.INVALID_OPTION)
    if len(text.encode('utf-8')) > MAX_BODY_BYTES:
        raise VMMError(_('The message is longer than %d bytes')
                       % MAX_BODY_BYTES, errors.INVALID_OPTION)
    return text


def check_days(days):
    """How often one sender is answered: every DAYS days, 1…MAX_DAYS."""
    if days is None:
        return DEFAULT_DAYS
    if isinstance(days, bool) or not isinstance(days, int) or \
            not 1 <= days <= MAX_DAYS:
        raise VMMError(_('Invalid number of days: %(days)s (1 to %(max)d)')
                       % {'days': days, 'max': MAX_DAYS},
                       errors.INVALID_OPTION)
    return days


def parse_date(text):
    """A date written YYYY-MM-DD; ValueError (translated) otherwise."""
    if not re.fullmatch(r'[0-9]{4}-[0-9]{2}-[0-9]{2}', text or ''):
        raise ValueError(_("invalid date: '%s' (use YYYY-MM-DD)")
                         % printable(text or '', 60))
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise ValueError(_("invalid date: '%s' (no such day)")
                         % text) from None


def check_dates(date_from, date_until):
    if date_from and date_until and date_until < date_from:
        raise VMMError(_('The vacation cannot end (%(until)s) before it '
                         'begins (%(from)s)')
                       % {'until': date_until.isoformat(),
                          'from': date_from.isoformat()},
                       errors.INVALID_OPTION)
