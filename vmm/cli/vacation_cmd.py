"""uservacation: out-of-office replies through Dovecot's Sieve."""

import argparse

from vmm.cli import common
from vmm.cli.parser import add_command
from vmm.i18n import _


def iso_date(text):
    """A --from/--until date: YYYY-MM-DD."""
    from vmm.vacation import parse_date
    try:
        return parse_date(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def day_count(text):
    """--days: a whole number (its range is checked with exit 44)."""
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise argparse.ArgumentTypeError(
            _("invalid number of days: '%s'") % text)
    return int(text)


def read_message(args):
    """The reply's text from -m or --message-file (``-``: standard
    input), UTF-8."""
    import sys

    from vmm import errors
    from vmm.errors import VMMError
    if args.message is not None:
        return args.message
    name = args.message_file
    try:
        if name == '-':
            data = sys.stdin.buffer.read() if hasattr(sys.stdin, 'buffer') \
                else sys.stdin.read().encode('utf-8')
        else:
            with open(name, 'rb') as handle:
                data = handle.read()
    except OSError as err:
        raise VMMError(_('Cannot read the message file %(file)s: %(reason)s')
                       % {'file': name, 'reason': err.strerror or str(err)},
                       errors.INVALID_OPTION) from None
    try:
        return data.decode('utf-8-sig')
    except UnicodeDecodeError as err:
        raise VMMError(_('The message file %(file)s is not UTF-8 text (byte '
                         '%(pos)d)') % {'file': name, 'pos': err.start},
                       errors.INVALID_OPTION) from None


_ON_ONLY = ('subject', 'message', 'message_file', 'date_from', 'date_until',
            'days')


def _usage(args, message):
    """A usage error (exit 2) as argparse words it -- raised, not exited,
    so that a batch reports it for its line."""
    from vmm.cli.parser import usage_error
    return usage_error(message, 'uservacation')


def do_uservacation(args):
    """The arguments are checked before anything is opened."""
    if args.mode == 'on':
        if args.message is None and args.message_file is None:
            raise _usage(args, _('--on needs the text of the reply: -m TEXT '
                                 'or --message-file FILE'))
        if args.message_file == '-' and getattr(args, 'batch', None):
            raise _usage(args, _('--message-file - cannot read standard '
                                 'input inside a batch'))
    elif any(getattr(args, name) is not None for name in _ON_ONLY):
        raise _usage(args, _('-s, -m, --message-file, --from, --until and '
                             '--days go with --on only'))
    _uservacation(args)


@common.with_handler
def _uservacation(args, handler):
    from vmm import vacation
    if args.mode == 'on':
        vacation.vacation_on(handler, args.address, args.subject,
                             read_message(args), args.date_from,
                             args.date_until, args.days)
    elif args.mode == 'off':
        vacation.vacation_off(handler, args.address)
    else:
        _show(args, handler)


def _user_script(previous):
    """(text, JSON value) of the user's script kept after vmm's."""
    if previous is None or previous.kind == 'none':
        return _('none'), None
    if previous.kind == 'link':
        return (_("'%s' (runs after the vacation rule)") % previous.name,
                previous.name)
    return (_("~/.dovecot.sieve, kept as '%s' (runs after the vacation "
              'rule)') % previous.name, previous.name)


def _script_rows(settings, files):
    """The rows about the Sieve files in the home."""
    from vmm import vacation
    on = bool(settings and settings.active)
    if files['files'] == 'pending':
        return [('sieve_script', _('Sieve script'),
                 _('changed when the batch commits'), 'pending')]
    if files['files'] == 'unknown':
        return [('sieve_script', _('Sieve script'),
                 _('unknown: %s') % files['reason'], 'unknown')]
    state = files['state']
    if state[0] == 'ours':
        text, value = _user_script(files['previous'])
        rows = [('sieve_script', _('Sieve script'),
                 _('active (~/sieve/%s.sieve)') % vacation.SCRIPT_NAME,
                 'active'),
                ('user_script', _("User's own script"), text, value)]
        if not on:
            rows.append(('warning', _('Warning'),
                         _('the vacation script is active although the '
                           'vacation is off; run --off')))
        return rows
    if state[0] == 'link':
        own, value = _("'%s' (active)") % state[2], state[2]
    elif state[0] == 'file':
        own, value = _('~/.dovecot.sieve (active)'), '~/.dovecot.sieve'
    else:
        own, value = _('none'), None
    rows = [('sieve_script', _('Sieve script'),
             _('present but not active') if files['ours'] else
             _('not active'), 'inactive'),
            ('user_script', _("User's own script"), own, value)]
    if on:
        rows.append(('warning', _('Warning'),
                     _('another script was made active: no replies are '
                       'sent; run --on again')))
    return rows


def _status(settings):
    """(text, JSON value) of the vacation's state."""
    import datetime
    if settings is None:
        return _('off (never set)'), 'unset'
    if not settings.active:
        return _('off'), 'off'
    today = datetime.date.today()
    if settings.date_until and settings.date_until < today:
        return (_('on, but ended on %s') % settings.date_until.isoformat(),
                'ended')
    if settings.date_from and settings.date_from > today:
        return (_('on, from %s') % settings.date_from.isoformat(),
                'scheduled')
    return _('on'), 'on'


def _show(args, handler):
    from vmm import vacation
    account, settings, files = vacation.vacation_show(handler,
                                                      args.address)
    status, status_value = _status(settings)
    rows = [('address', _('Address'), account.unicode),
            ('status', _('Status'), status, status_value)]
    if settings is not None:
        none = _('none')
        dates = [(field, label, day.isoformat() if day else none,
                  day.isoformat() if day else None)
                 for field, label, day in (
                     ('from', _('From'), settings.date_from),
                     ('until', _('Until'), settings.date_until))]
        rows += [
            ('subject', _('Subject'), settings.subject or
             _('(default: "Auto: " and the subject answered)'),
             settings.subject or None),
        ] + dates + [
            ('days', _('Days'),
             _('%d (one reply per sender in that time)')
             % settings.days, settings.days),
        ]
    rows += _script_rows(settings, files)
    args.out.info('vacation', _('Vacation'), rows)
    if settings is not None:
        if args.out.json:
            args.out.field('message', settings.body)
        else:
            args.out.items('message', _('Message'),
                           settings.body.split('\n'))


def build_uservacation(sub, name, short):
    p = add_command(
        sub, name, short,
        _("switch an account's out-of-office reply on or off, or show it"),
        do_uservacation,
        description=_(
            "Switch the account's out-of-office reply on (or change it), "
            'off, or show it.  Dovecot answers each sender once every '
            '--days days (Sieve vacation), never mailing lists or '
            'automatic mail; the Sieve script the user had active keeps '
            'running after the vacation rule.'))
    p.add_argument('address', metavar='ADDRESS')
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument('--on', dest='mode', action='store_const', const='on',
                      help=_('switch the reply on, or change it'))
    mode.add_argument('--off', dest='mode', action='store_const',
                      const='off', help=_('switch the reply off'))
    mode.add_argument('--show', dest='mode', action='store_const',
                      const='show', help=_('show the settings'))
    p.add_argument('-s', '--subject',
                   help=_('the subject of the reply (one line; default: '
                          '"Auto: " and the subject answered)'))
    text = p.add_mutually_exclusive_group()
    text.add_argument('-m', '--message', metavar='TEXT',
                      help=_('the text of the reply'))
    text.add_argument('--message-file', metavar='FILE',
                      help=_('read the text of the reply from FILE (UTF-8; '
                             '- for standard input)'))
    p.add_argument('--from', dest='date_from', type=iso_date,
                   metavar='DATE',
                   help=_('reply from this day on (YYYY-MM-DD)'))
    p.add_argument('--until', dest='date_until', type=iso_date,
                   metavar='DATE',
                   help=_('reply until this day, inclusive (YYYY-MM-DD)'))
    p.add_argument('--days', type=day_count, metavar='N',
                   help=_('answer each sender at most once in N days '
                          '(default 7)'))
    p.set_defaults(vacation_parser=p)
    return p


BUILDERS = {
    'uservacation': build_uservacation,
}
