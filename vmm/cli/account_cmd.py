"""useradd, userdelete, userinfo, username, userpassword, usernote,
userquota, userservices, usertransport, getuser, listpwschemes."""

import argparse

from vmm.cli import common, output
from vmm.cli.domain_cmd import (
    _services,
    format_quota,
    format_services,
    quota_json,
    services_json,
)
from vmm.cli.parser import add_command
from vmm.i18n import _


def do_useradd(args):
    def work(handler):
        from vmm.models.values import EmailAddress
        address = EmailAddress(args.address)
        password, generated = common.read_password(
            handler, args.password, address.unicode)
        account = handler.user_add(address, password, note=args.note)
        return account.unicode, password if generated else None
    address, generated = common.run(args, work)
    if generated:
        output.line(_('Generated password for %(address)s: %(password)s')
                    % {'address': address, 'password': generated})


def do_userdelete(args):
    common.run(args, lambda h: h.user_delete(
        args.address, True if args.delete_directory else None, args.force))


def _inherited(value, inherited):
    return '%s %s' % (value, _('[domain default]')) if inherited else value


def do_userinfo(args):
    def work(handler):
        account = handler.user_info(args.address)
        effective = account.effective()
        fmt, root = account.mail_location
        show_du = args.details in ('du', 'full') or \
            handler.config['account.disk_usage']
        usage = handler.quota_usage(account)
        quota, services = effective['quota'], effective['services']
        rows = [
            ('address', _('Address'), account.unicode),
            ('name', _('Name'), account.name),
            ('uid', _('UID'), account.uid),
            ('gid', _('GID'), account.domain.gid),
            ('home', _('Home'), account.home),
            ('mail_location', _('Mail location'), '%s:~/%s' % (fmt, root)),
            ('quota', _('Quota limit'), _inherited(
                format_quota(quota), effective['quota_inherited']),
             dict(quota_json(quota),
                  inherited=effective['quota_inherited'])),
            ('quota_usage', _('Quota usage'), _format_usage(usage),
             None if usage is None else {'bytes': usage[0],
                                         'messages': usage[1]}),
            ('transport', _('Transport'), _inherited(
                effective['transport'], effective['transport_inherited']),
             {'transport': effective['transport'],
              'inherited': effective['transport_inherited']}),
            ('services', _('Services'), _inherited(
                format_services(services), effective['services_inherited']),
             {'enabled': services_json(services),
              'inherited': effective['services_inherited']}),
            ('note', _('Note'), account.note),
        ]
        if show_du:
            from vmm.models.values import QuotaLimit
            used = handler.disk_usage(account)
            rows.insert(5, ('disk_usage', _('Disk usage'),
                            QuotaLimit.format_bytes(used), used))
        output.info('account', _('Account information'), rows)
        if args.details in ('aliases', 'full'):
            from vmm.models.values import EmailAddress
            output.items('aliases', _('Aliases and catch-alls pointing '
                                      'here'),
                         ({'alias': EmailAddress.display(alias),
                           'destination': EmailAddress.display(dest)}
                          for alias, dest in account.aliases_pointing_here()),
                         text=lambda e: '%s → %s' % (e['alias'],
                                                     e['destination']))
    common.run(args, work)


def _format_usage(usage):
    if usage is None:
        return _('unknown')
    from vmm.models.values import QuotaLimit
    return _('Storage: %(storage)s; Messages: %(messages)d') % {
        'storage': QuotaLimit.format_bytes(usage[0]), 'messages': usage[1]}


def do_username(args):
    common.run(args, lambda h: h.user_name(
        args.address, None if args.delete else args.name))


def do_usernote(args):
    common.run(args, lambda h: h.user_note(
        args.address, None if args.delete else args.note))


def do_userpassword(args):
    def work(handler):
        from vmm.models.values import EmailAddress
        if args.hash is not None:
            if args.scheme is not None:
                raise _usage(_('-s/--scheme goes with a password, '
                                     'not with --hash (the hash names its '
                                     'scheme)'))
            return handler.user_password(args.address,
                                         password_hash=args.hash)
        address = EmailAddress(args.address)
        handler.account(address)
        password, generated = common.read_password(
            handler, args.password, address.unicode)
        handler.user_password(address, password, args.scheme)
        return password if generated else None
    generated = common.run(args, work)
    if generated:
        output.line(_('Generated password for %(address)s: %(password)s')
                    % {'address': args.address, 'password': generated})


def do_userquota(args):
    if args.storage == 'domain' and args.messages is not None:
        raise _usage(_('-m goes with a storage limit, not with '
                             '"domain"'))
    common.run(args, lambda h: h.user_quota(args.address, args.storage,
                                            args.messages))


def do_userservices(args):
    common.run(args, lambda h: h.user_services(
        args.address, args.enable or (), args.disable or (), args.reset))


def do_usertransport(args):
    common.run(args, lambda h: h.user_transport(args.address,
                                                args.transport))


def do_getuser(args):
    def work(handler):
        account = handler.get_user(args.uid)
        output.info('account', _('Account information'), [
            ('uid', _('UID'), account.uid),
            ('gid', _('GID'), account.domain.gid),
            ('address', _('Address'), account.unicode)])
    common.run(args, work)


def do_listpwschemes(args):
    from vmm.config import Config
    from vmm.password import ENCODINGS, list_schemes
    try:
        doveadm = Config.load(args.config)['bin.doveadm']
    except Exception:  # no usable vmm.cfg: list what vmm itself can do
        doveadm = '/usr/bin/doveadm'
    output.items('schemes', _('Usable password schemes'),
                 list_schemes(doveadm))
    output.items('encodings', _('Usable encoding suffixes'), ENCODINGS)


def _usage(message):
    from vmm import errors
    from vmm.errors import VMMError
    return VMMError(message, errors.USAGE)


def uid_number(text):
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(_("invalid UID: '%s'") % text)
    return int(text)


def build_useradd(sub, name, short):
    p = add_command(sub, name, short, _('create a new account'), do_useradd)
    p.add_argument('address', metavar='ADDRESS')
    p.add_argument('-n', '--note', help=_('a note on the account'))
    p.add_argument('-p', '--password',
                   help=_('the password (default: asked for, read from '
                          'standard input, or generated)'))
    return p


def build_userdelete(sub, name, short):
    p = add_command(sub, name, short, _('delete an account'), do_userdelete)
    p.add_argument('address', metavar='ADDRESS')
    p.add_argument('--delete-directory', action='store_true',
                   help=_("also remove the account's home directory"))
    p.add_argument('--force', action='store_true',
                   help=_('also remove alias destinations pointing at it'))
    return p


def build_userinfo(sub, name, short):
    p = add_command(sub, name, short, _('show information about an '
                                        'account'), do_userinfo)
    p.add_argument('address', metavar='ADDRESS')
    p.add_argument('-d', '--details', choices=('aliases', 'du', 'full'),
                   help=_('also show the aliases pointing here, the disk '
                          'usage, or both'))
    return p


def _delete_or_set(p, option, help_text):
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument('-d', '--delete', action='store_true',
                       help=_('delete it'))
    group.add_argument('-n', option, dest=option.lstrip('-'),
                       help=help_text)


def build_username(sub, name, short):
    p = add_command(sub, name, short, _("set or delete an account's real "
                                        "name"), do_username)
    p.add_argument('address', metavar='ADDRESS')
    _delete_or_set(p, '--name', _('the new name'))
    return p


def build_usernote(sub, name, short):
    p = add_command(sub, name, short, _("set or delete an account's note"),
                    do_usernote)
    p.add_argument('address', metavar='ADDRESS')
    _delete_or_set(p, '--note', _('the new note'))
    return p


def build_userpassword(sub, name, short):
    p = add_command(sub, name, short, _("change an account's password"),
                    do_userpassword)
    p.add_argument('address', metavar='ADDRESS')
    group = p.add_mutually_exclusive_group()
    group.add_argument('-p', '--password', help=_('the new password'))
    group.add_argument('--hash', metavar='PWHASH',
                       help=_('store this {SCHEME}hash as it is'))
    p.add_argument('-s', '--scheme',
                   help=_('the password scheme (default: '
                          'misc.password_scheme)'))
    return p


def build_userquota(sub, name, short):
    p = add_command(sub, name, short,
                    _("set an account's quota limit, or 'domain' for the "
                      "domain's"), do_userquota)
    p.add_argument('address', metavar='ADDRESS')
    p.add_argument('storage', metavar='STORAGE',
                   help=_("bytes with an optional suffix b, k, M or G; 0 = "
                          "unlimited; 'domain' = the domain's limit"))
    p.add_argument('-m', '--messages', metavar='MESSAGES',
                   help=_('the most messages; 0 = unlimited'))
    return p


def build_userservices(sub, name, short):
    p = add_command(sub, name, short,
                    _('set the services an account may use'),
                    do_userservices)
    p.add_argument('address', metavar='ADDRESS')
    group = _services(p)
    group.add_argument('-r', '--reset', action='store_true',
                       help=_("use the domain's services again"))
    return p


def build_usertransport(sub, name, short):
    p = add_command(sub, name, short,
                    _("set an account's transport, or 'domain' for the "
                      "domain's"), do_usertransport)
    p.add_argument('address', metavar='ADDRESS')
    p.add_argument('transport', metavar='TRANSPORT')
    return p


def build_getuser(sub, name, short):
    p = add_command(sub, name, short, _('show the account that has a UID'),
                    do_getuser)
    p.add_argument('uid', metavar='UID', type=uid_number)
    return p


def build_listpwschemes(sub, name, short):
    return add_command(sub, name, short,
                       _('list the usable password schemes'),
                       do_listpwschemes)


BUILDERS = {
    'useradd': build_useradd,
    'userdelete': build_userdelete,
    'userinfo': build_userinfo,
    'username': build_username,
    'userpassword': build_userpassword,
    'usernote': build_usernote,
    'userquota': build_userquota,
    'userservices': build_userservices,
    'usertransport': build_usertransport,
    'getuser': build_getuser,
    'listpwschemes': build_listpwschemes,
}
