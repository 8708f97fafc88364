"""dkimadd, dkiminfo, dkimrotate, dkimactivate, dkimdelete."""

from vmm import dkim
from vmm.cli import common
from vmm.cli.parser import add_command
from vmm.i18n import _


def _state(state):
    return {'published': _('published'), 'active': _('active'),
            'retiring': _('retiring'), 'retired': _('retired')}[state]


def _report_new(args, selector):
    args.out.field('selector', selector)
    if not args.out.json:
        args.out.line(_('DKIM key %s added (published); publish its TXT '
                        'record as dkiminfo shows, then run dkimactivate')
                      % selector)


@common.with_handler(report=_report_new)
def do_dkimadd(args, handler):
    return handler.dkim_add(args.fqdn, args.selector, args.algorithm)


@common.with_handler(report=_report_new)
def do_dkimrotate(args, handler):
    return handler.dkim_rotate(args.fqdn, args.selector)


def _report_active(args, selector):
    args.out.field('selector', selector)
    if not args.out.json:
        args.out.line(_('DKIM key %s is active') % selector)


@common.with_handler(report=_report_active)
def do_dkimactivate(args, handler):
    return handler.dkim_activate(args.fqdn, not args.no_dns_check)


@common.with_handler(report=lambda args, removed: args.out.items(
    'deleted', _('Deleted DKIM keys'), removed))
def do_dkimdelete(args, handler):
    return handler.dkim_delete(args.fqdn, args.selector)


def _quoted(strings):
    return ' '.join('"%s"' % text for text in strings)


def key_json(key):
    """A key as dkiminfo --json writes it."""
    return {'selector': key.selector, 'algorithm': key.algorithm,
            'state': key.state, 'since': key.since.isoformat(),
            'records': [{'name': record.name, 'value': list(record.value)}
                        for record in key.records]}


def key_text(key):
    """A key's line and its records, one per line, as zone-file lines."""
    lines = ['%s  %s  %s  %s' % (
        key.selector, key.algorithm, _state(key.state),
        _('since %s') % key.since.strftime('%Y-%m-%d %H:%M %Z'))]
    lines += ['    %s. IN TXT ( %s )' % (record.name, _quoted(record.value))
              for record in key.records]
    return '\n\t'.join(lines)


@common.with_handler
def do_dkiminfo(args, handler):
    keys = handler.dkim_info(args.fqdn)
    args.out.items('keys', _('DKIM keys'),
                   (key_json(key) if args.out.json else key
                    for key in keys), text=key_text)


def _with_fqdn(sub, name, short, help_text, func):
    p = add_command(sub, name, short, help_text, func)
    p.add_argument('fqdn', metavar='FQDN')
    return p


def _selector(p, help_text):
    p.add_argument('-s', '--selector', metavar='SELECTOR', help=help_text)


def build_dkimadd(sub, name, short):
    p = _with_fqdn(sub, name, short,
                   _("create a domain's first DKIM key (published)"),
                   do_dkimadd)
    _selector(p, _('the selector (default: vmmYYYYMMDD)'))
    p.add_argument('--algorithm', choices=dkim.ALGORITHMS,
                   default=dkim.DEFAULT_ALGORITHM,
                   help=_('the key type (default: %(default)s)'))
    return p


def build_dkiminfo(sub, name, short):
    return _with_fqdn(sub, name, short,
                      _("show a domain's DKIM keys and their TXT records"),
                      do_dkiminfo)


def build_dkimrotate(sub, name, short):
    p = _with_fqdn(sub, name, short,
                   _('create the next DKIM key (published), same type as '
                     'the active one'), do_dkimrotate)
    _selector(p, _('the selector (default: vmmYYYYMMDD)'))
    return p


def build_dkimactivate(sub, name, short):
    p = _with_fqdn(sub, name, short,
                   _('sign with the newest published DKIM key once DNS '
                     'publishes it'), do_dkimactivate)
    p.add_argument('--no-dns-check', action='store_true',
                   help=_('do not ask DNS for its TXT record first'))
    return p


def build_dkimdelete(sub, name, short):
    p = _with_fqdn(sub, name, short,
                   _("delete a DKIM key, or all of a domain's"),
                   do_dkimdelete)
    _selector(p, _('the key to delete (default: all)'))
    return p


BUILDERS = {
    'dkimadd': build_dkimadd,
    'dkiminfo': build_dkiminfo,
    'dkimrotate': build_dkimrotate,
    'dkimactivate': build_dkimactivate,
    'dkimdelete': build_dkimdelete,
}
