"""dkimadd, dkiminfo, dkimrotate, dkimactivate, dkimdelete."""

from vmm import dkim
from vmm.cli import common, output
from vmm.cli.parser import add_command
from vmm.i18n import _


def _state(state):
    return {'published': _('published'), 'active': _('active'),
            'retiring': _('retiring'), 'retired': _('retired')}[state]


def _print_selector(message, selector):
    if output.json_mode():
        output.field('selector', selector)
    else:
        print(message % selector)


def do_dkimadd(args):
    selector = common.run(args, lambda h: h.dkim_add(
        args.fqdn, args.selector, args.algorithm))
    _print_selector(_('DKIM key %s added (published); publish its TXT '
                      'record as dkiminfo shows, then run dkimactivate'),
                    selector)


def do_dkimrotate(args):
    selector = common.run(args, lambda h: h.dkim_rotate(args.fqdn,
                                                        args.selector))
    _print_selector(_('DKIM key %s added (published); publish its TXT '
                      'record as dkiminfo shows, then run dkimactivate'),
                    selector)


def do_dkimactivate(args):
    selector = common.run(args, lambda h: h.dkim_activate(
        args.fqdn, not args.no_dns_check))
    _print_selector(_('DKIM key %s is active'), selector)


def do_dkimdelete(args):
    removed = common.run(args, lambda h: h.dkim_delete(args.fqdn,
                                                       args.selector))
    output.items('deleted', _('Deleted DKIM keys'), removed)


def _quoted(strings):
    return ' '.join('"%s"' % text for text in strings)


def do_dkiminfo(args):
    keys = common.run(args, lambda h: h.dkim_info(args.fqdn))
    if output.json_mode():
        output.items('keys', '', [dict(key, since=key['since'].isoformat())
                                  for key in keys])
        return
    title = _('DKIM keys')
    print(title)
    print('-' * len(title))
    if not keys:
        print('\t%s' % _('(none)'))
    for key in keys:
        print('\t%s  %s  %s  %s' % (
            key['selector'], key['algorithm'],
            _state(key['state']),
            _('since %s') % key['since'].strftime('%Y-%m-%d %H:%M %Z')))
        for record in key['records']:
            print('\t    %s. IN TXT ( %s )' % (record['name'],
                                              _quoted(record['value'])))
    print()


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
