"""domainadd, domaindelete, domaininfo, domainquota, domainservices,
domaintransport, domainnote, domainlimits."""

from vmm.cli import common
from vmm.cli.parser import add_command
from vmm.i18n import _, ngettext

DETAILS = ('accounts', 'aliasdomains', 'aliases', 'catchall', 'relocated',
           'full')


def format_quota(quota):
    from vmm.models.values import QuotaLimit
    storage = QuotaLimit.format_bytes(quota.bytes) if quota.bytes else \
        _('unlimited')
    messages = str(quota.messages) if quota.messages else _('unlimited')
    return _('Storage: %(storage)s; Messages: %(messages)s') % {
        'storage': storage, 'messages': messages}


def format_services(services):
    from vmm.models.values import SERVICES
    enabled = [name.upper() for name in SERVICES if getattr(services, name)]
    return ' '.join(enabled) if enabled else _('none')


def format_limit(used, limit):
    return '%d / %s' % (used, limit if limit else _('unlimited'))


def quota_json(quota):
    return {'bytes': quota.bytes, 'messages': quota.messages}


def services_json(services):
    from vmm.models.values import SERVICES
    return [name for name in SERVICES if getattr(services, name)]


def limit_rows(info):
    """Rows of used / limit for domaininfo and domainlimits."""
    def row(field, label, used, limit):
        return (field, label, format_limit(used, limit),
                {'used': used, 'limit': limit})
    counts = info.counts
    aliases = counts.aliases + (1 if counts.catchall else 0)
    return [
        row('alias_domains', _('Alias domains'), counts.alias_domains,
            info.max_alias_domains),
        row('accounts', _('Accounts'), counts.accounts, info.max_accounts),
        row('aliases', _('Aliases'), aliases, info.max_aliases),
    ]


def _postmaster(args, generated):
    if generated:
        common.print_generated(args, ('postmaster@' + generated[0],
                                      generated[1]))


@common.with_handler(report=_postmaster)
def do_domainadd(args, handler):
    from vmm.models.values import DomainName
    name = DomainName(args.fqdn)
    postmaster = generated = None
    if handler.config['domain.auto_postmaster']:
        postmaster, generated = common.read_password(
            handler, args.out, None, 'postmaster@' + name.unicode)
    shown = handler.domain_add(name, args.transport, args.note, postmaster)
    return (shown, postmaster) if generated else None


@common.with_handler
def do_domaindelete(args, handler):
    handler.domain_delete(args.fqdn, True if args.delete_directory else None,
                          True if args.force else None)


@common.with_handler
def do_domaininfo(args, handler):
    info = handler.domain_info(args.fqdn)
    rows = [
        ('name', _('Domain name'), info.name),
        ('gid', _('GID'), info.gid),
        ('directory', _('Domain directory'), info.directory),
        ('quota', _('Quota limit/user'), format_quota(info.quota),
         quota_json(info.quota)),
        ('services', _('Active services'), format_services(info.services),
         services_json(info.services)),
        ('transport', _('Transport'), info.transport),
    ] + limit_rows(info) + [
        ('relocated', _('Relocated'), info.counts.relocated),
        ('catchall', _('Catch-all destinations'), info.counts.catchall),
        ('note', _('Note'), info.note),
    ]
    args.out.info('domain', _('Domain information'), rows)
    details = DETAILS[:-1] if args.details == 'full' else \
        [args.details] if args.details else []
    titles = {'accounts': _('Available accounts'),
              'aliasdomains': _('Alias domains'),
              'aliases': _('Available aliases'),
              'catchall': _('Catch-all destinations'),
              'relocated': _('Relocated users')}
    from vmm.models.values import EmailAddress, display_domain
    for detail in details:
        shown = display_domain if detail == 'aliasdomains' else \
            EmailAddress.display
        args.out.items(detail, titles[detail],
                       (shown(v) for v in
                        handler.domain_details(args.fqdn, detail)))


def _report_reset(args, count):
    if count:
        args.out.line(ngettext('%d account lost its own setting',
                               '%d accounts lost their own setting', count)
                      % count)


@common.with_handler(report=_report_reset)
def do_domainquota(args, handler):
    return handler.domain_quota(args.fqdn, args.storage, args.messages,
                                args.force)


@common.with_handler(report=_report_reset)
def do_domainservices(args, handler):
    return handler.domain_services(args.fqdn, args.enable or (),
                                   args.disable or (), args.force)


@common.with_handler(report=_report_reset)
def do_domaintransport(args, handler):
    return handler.domain_transport(args.fqdn, args.transport, args.force)


@common.with_handler
def do_domainnote(args, handler):
    handler.domain_note(args.fqdn, None if args.delete else args.note)


@common.with_handler
def do_domainlimits(args, handler):
    if (args.accounts, args.aliases, args.alias_domains) == \
            (None, None, None):
        info = handler.domain_info(args.fqdn)
    else:
        info = handler.domain_limits(
            args.fqdn, accounts=args.accounts, aliases=args.aliases,
            alias_domains=args.alias_domains)
    args.out.info('limits', _('Domain limits'),
                  [('name', _('Domain name'), info.name)] + limit_rows(info))


def count(text):
    """A limit: a whole number ≥ 0 (0 = unlimited)."""
    import argparse
    if not text.isascii() or not text.isdigit() or int(text) > 2 ** 31 - 1:
        raise argparse.ArgumentTypeError(
            _("invalid number: '%s' (a whole number, 0 for unlimited)")
            % text)
    return int(text)


def _services(parser):
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument('-e', '--enable', nargs='+', metavar='SERVICE',
                       help=_('services to enable: imap, pop3, sieve, smtp'))
    group.add_argument('-d', '--disable', nargs='+', metavar='SERVICE',
                       help=_('services to disable'))
    return group


def _force(parser, text):
    parser.add_argument('--force', action='store_true', help=text)


def build_domainadd(sub, name, short):
    p = add_command(sub, name, short, _('create a new domain'), do_domainadd)
    p.add_argument('fqdn', metavar='FQDN')
    p.add_argument('-n', '--note', help=_('a note on the domain'))
    p.add_argument('-t', '--transport',
                   help=_('the transport of the domain (default: '
                          'domain.transport)'))
    return p


def build_domaindelete(sub, name, short):
    p = add_command(sub, name, short, _('delete a domain'), do_domaindelete)
    p.add_argument('fqdn', metavar='FQDN')
    p.add_argument('--delete-directory', action='store_true',
                   help=_("also remove the domain's directory"))
    _force(p, _('also delete its accounts, aliases, relocated users and '
                'catch-all destinations'))
    return p


def build_domaininfo(sub, name, short):
    p = add_command(sub, name, short, _('show information about a domain'),
                    do_domaininfo)
    p.add_argument('fqdn', metavar='FQDN')
    p.add_argument('-d', '--details', choices=DETAILS,
                   help=_('also list the domain\'s accounts, alias domains, '
                          'aliases, catch-all destinations, relocated users '
                          'or all of them'))
    return p


def build_domainquota(sub, name, short):
    p = add_command(sub, name, short,
                    _("set the default quota limit of a domain's accounts"),
                    do_domainquota)
    p.add_argument('fqdn', metavar='FQDN')
    p.add_argument('storage', metavar='STORAGE',
                   help=_('bytes, with an optional suffix b, k, M or G; '
                          '0 = unlimited'))
    p.add_argument('-m', '--messages', metavar='MESSAGES',
                   help=_('the most messages; 0 = unlimited'))
    _force(p, _("also reset accounts' own quota limits"))
    return p


def build_domainservices(sub, name, short):
    p = add_command(sub, name, short,
                    _("set the services a domain's accounts may use"),
                    do_domainservices)
    p.add_argument('fqdn', metavar='FQDN')
    _services(p)
    _force(p, _("also reset accounts' own service settings"))
    return p


def build_domaintransport(sub, name, short):
    p = add_command(sub, name, short,
                    _("set the default transport of a domain's accounts"),
                    do_domaintransport)
    p.add_argument('fqdn', metavar='FQDN')
    p.add_argument('transport', metavar='TRANSPORT')
    _force(p, _("also reset accounts' own transports"))
    return p


def build_domainnote(sub, name, short):
    p = add_command(sub, name, short, _('set or delete the note of a '
                                        'domain'), do_domainnote)
    p.add_argument('fqdn', metavar='FQDN')
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument('-d', '--delete', action='store_true',
                       help=_('delete the note'))
    group.add_argument('-n', '--note', help=_('the new note'))
    return p


def build_domainlimits(sub, name, short):
    p = add_command(sub, name, short,
                    _('show or set the most accounts, aliases and alias '
                      'domains a domain may have'), do_domainlimits)
    p.add_argument('fqdn', metavar='FQDN')
    p.add_argument('--accounts', type=count, metavar='N',
                   help=_('the most accounts; 0 = unlimited'))
    p.add_argument('--aliases', type=count, metavar='N',
                   help=_('the most aliases (a catch-all counts as one); '
                          '0 = unlimited'))
    p.add_argument('--alias-domains', type=count, metavar='N',
                   help=_('the most alias domains; 0 = unlimited'))
    return p


BUILDERS = {
    'domainadd': build_domainadd,
    'domaindelete': build_domaindelete,
    'domaininfo': build_domaininfo,
    'domainquota': build_domainquota,
    'domainservices': build_domainservices,
    'domaintransport': build_domaintransport,
    'domainnote': build_domainnote,
    'domainlimits': build_domainlimits,
}
